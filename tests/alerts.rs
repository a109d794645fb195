//! Alert channels against a local HTTP receiver that records what it gets.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use common::receiver::receiver;
use common::*;

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn channels(port: u16) -> String {
    let u = format!("http://127.0.0.1:{port}");
    format!(
        "[[alerts.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{u}/hook\"\n\
         [[alerts.channel]]\nname = \"ntfy\"\nkind = \"ntfy\"\nurl = \"{u}/camvault-topic\"\n\
         [[alerts.channel]]\nname = \"tg\"\nkind = \"telegram\"\nurl = \"{u}\"\ntoken = \"123:SECRETTOKEN\"\nchat_id = \"42\"\n\
         [[alerts.channel]]\nname = \"ding\"\nkind = \"dingtalk\"\nurl = \"{u}/robot/send?access_token=abc\"\nsecret = \"SECding\"\n\
         [[alerts.channel]]\nname = \"wecom\"\nkind = \"wecom\"\nurl = \"{u}/cgi-bin/webhook/send?key=k\"\n\
         [[alerts.channel]]\nname = \"feishu\"\nkind = \"feishu\"\nurl = \"{u}/open-apis/bot/v2/hook/x\"\nsecret = \"SECfeishu\"\n\
         [[alerts.channel]]\nname = \"bark\"\nkind = \"bark\"\nurl = \"{u}/barkkey\"\n"
    )
}

#[test]
fn every_channel_gets_its_format_and_signature() {
    let (port, got) = receiver(200);
    let env = Env::new(1, &channels(port));
    let out = env.run(&["alerts", "test"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(!stdout(&out).contains("SECRETTOKEN"), "no secret in the output");
    let reqs = got.lock().unwrap().clone();
    assert_eq!(reqs.len(), 7, "{reqs:#?}");
    let by = |p: &str| {
        reqs.iter()
            .find(|r| r.path.starts_with(p))
            .unwrap_or_else(|| panic!("no request to {p}: {reqs:#?}"))
            .clone()
    };

    let hook: serde_json::Value = serde_json::from_slice(&by("/hook").body).unwrap();
    assert_eq!(
        (hook["source"].as_str(), hook["status"].as_str()),
        (Some("camvault"), Some("test"))
    );
    let ntfy = by("/camvault-topic");
    assert_eq!(ntfy.headers["title"], "camvault: test message");
    assert!(ntfy.text().contains("camvault can reach you"));
    let tg: serde_json::Value = serde_json::from_slice(&by("/bot123:SECRETTOKEN/sendMessage").body).unwrap();
    assert_eq!(tg["chat_id"], "42");

    let ding = by("/robot/send");
    let q: BTreeMap<&str, &str> = ding
        .path
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let ts: i64 = q["timestamp"].parse().unwrap();
    assert!(
        (jiff::Timestamp::now().as_millisecond() - ts).abs() < 60_000,
        "timestamp in ms, recent"
    );
    assert_eq!(
        percent_decode(q["sign"]),
        hmac_b64(b"SECding", format!("{ts}\nSECding").as_bytes()),
        "DingTalk signature"
    );
    let d: serde_json::Value = serde_json::from_slice(&ding.body).unwrap();
    assert_eq!(d["msgtype"], "text");
    assert!(d["text"]["content"].as_str().unwrap().contains("test message"));

    let w: serde_json::Value = serde_json::from_slice(&by("/cgi-bin/webhook/send").body).unwrap();
    assert_eq!(w["msgtype"], "text");
    let f: serde_json::Value = serde_json::from_slice(&by("/open-apis/bot/v2/hook/x").body).unwrap();
    let fts: i64 = f["timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        f["sign"].as_str().unwrap(),
        hmac_b64(format!("{fts}\nSECfeishu").as_bytes(), b""),
        "Feishu signature"
    );
    assert_eq!(f["msg_type"], "text");
    let b: serde_json::Value = serde_json::from_slice(&by("/barkkey").body).unwrap();
    assert_eq!(b["group"], "camvault");

    let out = env.run(&["alerts", "test", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"));
}

#[test]
fn serve_alerts_once_repeats_never_and_recovers() {
    let (port, got) = receiver(200);
    let env = Env::new(
        1,
        &format!(
            "alerts.interval_secs = 1\nstore.fs.root = \"away\"\n[[alerts.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n"
        ),
    );
    env.put_old(&old_clip(now_unix() - 600), b"clip");
    let mut serve = env.serve();
    let wait_for = |pred: &dyn Fn(&[serde_json::Value]) -> bool| {
        poll(Duration::from_secs(40), || {
            let msgs: Vec<serde_json::Value> = got
                .lock()
                .unwrap()
                .iter()
                .map(|r| serde_json::from_slice(&r.body).unwrap())
                .collect();
            if pred(&msgs) {
                Ok(msgs)
            } else {
                Err(format!("timed out; got {msgs:#?}"))
            }
        })
    };
    let msgs = wait_for(&|m| m.iter().any(|x| x["status"] == "firing"));
    assert_eq!(
        msgs.iter().find(|x| x["status"] == "firing").unwrap()["key"],
        "upload_failures"
    );
    // A deletion attempt in the share's audit log becomes one event.
    let log = env.root().join("samba/log.smbd");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let t = jiff::Zoned::now().strftime("%Y/%m/%d %H:%M:%S").to_string();
    let mut lines = String::new();
    for i in 0..50 {
        lines.push_str(&format!(
            "  camvault|{t}|192.168.1.20|camera|unlinkat|fail (Permission denied)|/srv/inbox/{i}.mp4\n"
        ));
    }
    std::fs::write(&log, lines).unwrap();
    let msgs = wait_for(&|m| m.iter().any(|x| x["status"] == "event"));
    let events: Vec<_> = msgs.iter().filter(|x| x["status"] == "event").collect();
    assert_eq!(events.len(), 1, "one event for a burst of 50");
    assert!(events[0]["message"].as_str().unwrap().contains("192.168.1.20"));
    // The store comes back: the file is stored and a recovery message follows.
    std::fs::create_dir(env.root().join("away")).unwrap();
    let msgs = wait_for(&|m| m.iter().any(|x| x["status"] == "resolved"));
    assert_eq!(
        msgs.iter().filter(|x| x["status"] == "firing").count(),
        1,
        "sent once, not every second: {msgs:#?}"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    assert!(serve.wait().unwrap().success());
}

/// A real SMTP relay (aiosmtpd) that requires STARTTLS and AUTH, with a throwaway CA.
struct Relay {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn relay() -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
    // A throwaway CA and a server certificate it signs (rustls refuses a self-signed leaf).
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let st = std::process::Command::new("openssl")
            .args(args)
            .current_dir(d)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "openssl {args:?} (.ci/run installs openssl)");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=camvault test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        "cert.pem",
        "-extfile",
        "ext.cnf",
    ]);
    let port = free_port();
    let child = std::process::Command::new(test_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py"))
        .arg(port.to_string())
        .args([&cert, &key])
        .arg(dir.path())
        .spawn()
        .unwrap();
    wait_port("127.0.0.1", port, "the SMTP relay", Duration::from_secs(30));
    Relay { child, port, dir }
}

fn mails(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

#[test]
fn email_goes_through_starttls_with_auth() {
    needs!(PYTHON);
    let relay = relay();
    let channel = |password: &str| {
        format!(
            "[[alerts.channel]]\nname = \"mail\"\nkind = \"email\"\nurl = \"smtp://localhost:{}\"\n\
             username = \"camvault\"\npassword = \"{password}\"\nfrom = \"camvault <cam@example.com>\"\n\
             to = [\"family@example.com\", \"Dad <dad@example.com>\"]\nca_file = \"{}\"\n",
            relay.port,
            relay.dir.path().join("ca.pem").display()
        )
    };
    let env = Env::new(1, &channel("relay-secret"));
    // The config holds a password: it must be private.
    std::fs::set_permissions(env.config(), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = env.ok(&["alerts", "test", "mail"]);
    assert!(out.contains("mail"), "{out}");
    let got = mails(relay.dir.path());
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["tls"], true, "STARTTLS before anything else");
    assert_eq!(m["user"], "camvault");
    assert_eq!(m["from"], "cam@example.com");
    assert_eq!(m["to"], serde_json::json!(["family@example.com", "dad@example.com"]));
    let data = m["data"].as_str().unwrap();
    assert!(data.contains("Subject: camvault"), "{data}");
    assert!(data.contains("test"), "{data}");

    // A wrong password: a clear error naming the channel, no secret in it, exit non-zero.
    let env = Env::new(1, &channel("wrong-password-123"));
    std::fs::set_permissions(env.config(), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = env.run(&["alerts", "test", "mail"]);
    assert!(!out.status.success());
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("mail"), "{all}");
    assert!(!all.contains("wrong-password-123"), "the password leaked: {all}");
    assert_eq!(mails(relay.dir.path()).len(), 1, "nothing more delivered");

    // Bad addresses are refused when the config is read.
    let env = Env::new(1, &channel("x").replace("family@example.com", "family at home"));
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("\"family at home\" is not an e-mail address"),
        "{}",
        stderr(&out)
    );
}

/// An activity notification (src/index/notify.rs) by e-mail carries the segment's frame
/// as a JPEG attachment, through the same real relay.
#[test]
fn an_activity_mail_carries_the_frame_as_an_attachment() {
    needs!(PYTHON);
    assert!(has("ffmpeg"), "ffmpeg is needed (.ci/run installs it)");
    let relay = relay();
    let env = Env::new(
        1,
        &format!(
            "[[alerts.channel]]\nname = \"mail\"\nkind = \"email\"\nurl = \"smtp://localhost:{}\"\n\
             username = \"camvault\"\npassword = \"relay-secret\"\nfrom = \"cam@example.com\"\n\
             to = [\"family@example.com\"]\nca_file = \"{}\"\n",
            relay.port,
            relay.dir.path().join("ca.pem").display()
        ),
    );
    let frame = env.root().join("frame.jpg");
    let st = std::process::Command::new("ffmpeg")
        .args([
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=s=320x180",
            "-frames:v",
            "1",
        ])
        .arg(&frame)
        .status()
        .unwrap();
    assert!(st.success());
    let jpeg = std::fs::read(&frame).unwrap();
    let cfg = camvault::config::Config::load(&env.config()).unwrap();
    let msg = camvault::alerts::Message {
        status: "event",
        key: "notify:gate".into(),
        title: "camvault: gate (gate)".into(),
        body: "Activity at gate".into(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = camvault::alerts::channels::client();
    rt.block_on(camvault::alerts::picture::send(
        &client,
        &cfg.alerts.channel[0],
        &msg,
        Some(&jpeg),
    ))
    .unwrap();
    let got = mails(relay.dir.path());
    assert_eq!(got.len(), 1);
    let data = got[0]["data"].as_str().unwrap().replace("\r\n", "\n");
    assert!(
        data.contains("multipart/mixed") && data.contains("Activity at gate"),
        "{data}"
    );
    let at = data.find("Content-Type: image/jpeg").expect("a JPEG part");
    let part = &data[at..];
    let body_at = part.find("\n\n").unwrap() + 2;
    let b64: String = part[body_at..]
        .lines()
        .take_while(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .concat();
    let attached = base64::engine::general_purpose::STANDARD.decode(b64.trim()).unwrap();
    assert_eq!(&attached[..2], &[0xFF, 0xD8]);
    assert_eq!(attached, jpeg, "the frame, byte for byte");
}

#[test]
fn a_finished_restore_is_announced_once() {
    let (port, got) = receiver(200);
    let env = Env::new(
        1,
        &format!(
            "alerts.interval_secs = 1\n[[alerts.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n"
        ),
    );
    let t = now_unix() - 600;
    env.put_old(&old_clip(t), b"clip");
    env.ok(&["ingest", "--once"]);
    let from = jiff::Timestamp::from_second(t - 60).unwrap().to_string();
    let to = jiff::Timestamp::from_second(t + 60).unwrap().to_string();
    // The clip is in the local cache: copied at once, the restore is done.
    let out = env.ok(&["restore", "--from", &from, "--to", &to]);
    assert!(out.contains("restore #1: done"), "{out}");
    let mut serve = env.serve();
    let msg = poll(Duration::from_secs(30), || {
        got.lock()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap())
            .find(|m| m["key"] == "restore_ready")
            .ok_or("no restore_ready message".to_string())
    });
    assert_eq!(msg["status"], "event");
    let body = msg["message"].as_str().unwrap();
    assert!(
        body.contains("restore #1") && body.contains("1 clip(s) ready in"),
        "{body}"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    assert!(serve.wait().unwrap().success());
    let n = got
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.text().contains("restore_ready"))
        .count();
    assert_eq!(n, 1, "announced once");
}

/// A receiver that refuses every request the way web servers and proxies do, echoing the
/// request line (and so the URL's keys) in its error page.
fn echoing_refuser() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim_end().is_empty() {
                    break;
                }
            }
            let body = format!(
                "<html><body>Cannot {} <a href=\"{}\">retry</a></body></html>",
                line.trim(),
                line.split_whitespace().nth(1).unwrap_or("")
            );
            let mut s = stream;
            let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    port
}

/// Issue 13, finding 9: `alerts test` printed WeCom's `key=` and DingTalk's `access_token=`.
/// Every channel's credentials, in each one's real URL shape, against a server that echoes
/// the URL: none of them reaches the output, and each failure still names its channel.
#[test]
fn failing_channels_print_no_credential_of_any_kind() {
    let port = echoing_refuser();
    let u = format!("http://127.0.0.1:{port}");
    let secrets = [
        "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa",                             // WeCom key
        "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b", // DingTalk access_token
        "SEC0123456789abcdefdingsign",                                      // DingTalk signing secret
        "2d3f1a9c-0b7e-4c55-9a31-6e2f8d4b7c10",                             // Feishu hook id
        "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",                     // Telegram bot token
        "Xq8zPLm3nVtR5wKc2hJd7f",                                           // Bark device key
        "camvault-h7Qk29xLw",                                               // ntfy topic
        "QmFzaWMgZG9vcjpwYXNz",                                             // ntfy auth= parameter
        "XXXXXXXXXXXXXXXXXXXXXXXX",                                         // Slack-style webhook key
        "hunter22pw",                                                       // a password in a webhook URL
    ];
    let cfg = format!(
        "[[alerts.channel]]\nname = \"wecom\"\nkind = \"wecom\"\nurl = \"{u}/cgi-bin/webhook/send?key={}\"\n\
         [[alerts.channel]]\nname = \"ding\"\nkind = \"dingtalk\"\nurl = \"{u}/robot/send?access_token={}\"\nsecret = \"{}\"\n\
         [[alerts.channel]]\nname = \"feishu\"\nkind = \"feishu\"\nurl = \"{u}/open-apis/bot/v2/hook/{}\"\n\
         [[alerts.channel]]\nname = \"tg\"\nkind = \"telegram\"\nurl = \"{u}\"\ntoken = \"{}\"\nchat_id = \"42\"\n\
         [[alerts.channel]]\nname = \"bark\"\nkind = \"bark\"\nurl = \"{u}/{}\"\n\
         [[alerts.channel]]\nname = \"ntfy\"\nkind = \"ntfy\"\nurl = \"{u}/{}\"\n\
         [[alerts.channel]]\nname = \"ntfyauth\"\nkind = \"ntfy\"\nurl = \"{u}/door?auth={}\"\n\
         [[alerts.channel]]\nname = \"slack\"\nkind = \"webhook\"\nurl = \"{u}/services/T0AAAAAAA/B0BBBBBBB/{}\"\n\
         [[alerts.channel]]\nname = \"basic\"\nkind = \"webhook\"\nurl = \"http://door:{}@127.0.0.1:{port}/x\"\n",
        secrets[0], secrets[1], secrets[2], secrets[3], secrets[4], secrets[5], secrets[6], secrets[7], secrets[8], secrets[9],
    );
    let env = Env::new(1, &cfg);
    let out = env.run(&["alerts", "test"]);
    assert_eq!(out.status.code(), Some(1), "every channel failed");
    let text = format!("{}\n{}", stdout(&out), stderr(&out));
    for name in [
        "wecom", "ding", "feishu", "tg", "bark", "ntfy", "ntfyauth", "slack", "basic",
    ] {
        assert!(
            text.contains(&format!("FAIL  channel {name}: HTTP 404")),
            "{name}: {text}"
        );
    }
    assert!(text.contains("Cannot POST"), "the server's answer is shown: {text}");
    for s in secrets {
        assert!(!text.contains(s), "{s} in the output:\n{text}");
    }
}
