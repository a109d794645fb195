//! Issue 17: the server's own sentences in the reader's language. Health problems found by
//! `serve`'s probes (a camera that does not answer miIO, the bucket's lifecycle rule, a
//! recording the catalog does not know, serve's own memory) are raised for real and must
//! read in Chinese with their values on the Chinese dashboard; the 421, 403 and 500 answers
//! come with their text in the request's language; and the HEVC pass-through (which this
//! machine's Chromium cannot decode) is chosen by a page whose browser says it can, and
//! is the camera's stream copied, starting within 2 s.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use camvault::config::Lang;
use common::web::*;
use common::*;

const CAMERA: &str = "78df72a1b2c3";

fn json(r: &Resp) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

/// A problem's detail (key and arguments, as `/api/status` has it) rendered in `lang`.
fn render(detail: &serde_json::Value, lang: Lang) -> String {
    let m =
        camvault::msg::from_stored(&detail.to_string()).unwrap_or_else(|| panic!("not a catalogue message: {detail}"));
    m[0].render(lang)
}

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Every kind of probe problem that can be raised on this machine, in both languages, over
/// HTTP and on the dashboard in Chromium; then the error answers in Chinese.
#[test]
fn probe_problems_and_error_answers_in_chinese() {
    needs!(PYTHON, FFMPEG, CHROMIUM);
    // A camera address that takes the miIO hello and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let port = free_port();
    let env = Env::new(
        1,
        &format!(
            "http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\"\nhealth.max_rss = \"16 MiB\"\nhealth.resource_minutes = 1\n\
             [cameras.{CAMERA}]\naddress = \"{silent_addr}\"\nmiio_token_file = \"door.token\"\nmiio_poll_secs = 10\n"
        ),
    );
    let token = env.root().join("door.token");
    std::fs::write(&token, "00112233445566778899aabbccddeeff\n").unwrap();
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // Two clips of today on the box.
    let t = now_unix() - 3 * 3600;
    for i in 0..2 {
        env.put_old(&old_clip(t + i * 60), &hevc(2));
    }
    env.ok(&["ingest", "--once"]);
    // The fs store's emulated lifecycle: a rule for another prefix only.
    let rules = "<LifecycleConfiguration><Rule><ID>elsewhere</ID><Prefix>other/</Prefix><Status>Enabled</Status>\
                 <Transition><Days>30</Days><StorageClass>Archive</StorageClass></Transition></Rule></LifecycleConfiguration>";
    write(&env.store().join(".camvault/lifecycle.xml"), rules.as_bytes());
    // A recording in the bucket the catalog does not know.
    let stranger = format!("camera_videos/{}", old_clip(t - 7200));
    write(&env.store().join(&stranger), &bytes(9, 3000));

    let _serve = serve_on(&env, port);
    let want = ["camera_unreachable", "lifecycle", "bucket_drift", "resources"];
    let status = poll(Duration::from_secs(200), || {
        let s = json(&http(port, "GET", "/api/status", &[], ""));
        let rules: Vec<String> = s["health"]["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["rule"].as_str().unwrap_or("").to_string())
            .collect();
        if want.iter().all(|w| rules.iter().any(|r| r == w)) {
            Ok(s)
        } else {
            Err(format!("problems so far: {rules:?}; rss {}", s["serve"]))
        }
    });
    let problems = status["health"]["problems"].as_array().unwrap();
    let find = |rule: &str| problems.iter().find(|p| p["rule"] == rule).unwrap().clone();
    // Each: its key, its English as before (for the CLI, logs, scripts), and in Chinese the
    // sentence with the values filled in.
    let cases: [(&str, &str, Vec<String>, Vec<String>); 4] = [
        (
            "camera_unreachable",
            "health.detail.miio_silent",
            vec![
                format!("does not answer the miIO hello at {silent_addr}"),
                "3 tries".into(),
            ],
            vec![
                format!("摄像头 {CAMERA} 在 {silent_addr} 没有回应 miIO 握手（尝试 3 次"),
                "无法监控它的存储卡".into(),
            ],
        ),
        (
            "lifecycle",
            "health.detail.lifecycle_uncovered",
            vec!["recordings not under a lifecycle rule to".into(), "\"videos/\"".into()],
            vec!["有录像不在转为".into(), "\"videos/\"".into(), "共 2 个对象".into()],
        ),
        (
            "bucket_drift",
            "health.detail.bucket_unknown",
            vec![format!(
                "the bucket holds 1 recording(s) the catalog does not know (e.g. {stranger})"
            )],
            vec![format!("存储桶里有 1 个目录中没有记录的录像（例如 {stranger}）")],
        ),
        (
            "resources",
            "health.detail.rss",
            vec![
                "has stayed above `health.max_rss` = 16".into(),
                " for 1 min: a leak".into(),
            ],
            vec![
                "camvault 服务进程的常驻内存（".into(),
                "已连续 1 分钟高于 `health.max_rss` = 16".into(),
            ],
        ),
    ];
    let mut browser_cases = Vec::new();
    for (rule, key, en, zh) in &cases {
        let p = find(rule);
        assert_eq!(p["detail"]["key"], *key, "{p:#}");
        let english = p["message"].as_str().unwrap();
        assert_eq!(
            english,
            render(&p["detail"], Lang::En),
            "the English is the catalogue's"
        );
        for w in en {
            assert!(english.contains(w.as_str()), "{rule}: {w:?} in {english:?}");
        }
        let chinese = render(&p["detail"], Lang::Zh);
        for w in zh {
            assert!(chinese.contains(w.as_str()), "{rule}: {w:?} in {chinese:?}");
        }
        browser_cases.push(serde_json::json!({"rule": rule, "en": en, "zh": zh}));
    }
    assert!(
        env.ok(&["status"]).contains("does not answer the miIO hello"),
        "the CLI stays English"
    );
    // /api/status for a Chinese reader: each problem's `text` is the Chinese sentence.
    for (accept, lang) in [("zh-CN,zh;q=0.9", Lang::Zh), ("en", Lang::En)] {
        let s = json(&http(port, "GET", "/api/status", &[("Accept-Language", accept)], ""));
        for (rule, _, en, zh) in &cases {
            let p = s["health"]["problems"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["rule"] == *rule)
                .unwrap();
            let text = p["text"].as_str().unwrap();
            for w in if lang == Lang::Zh { zh } else { en } {
                assert!(
                    text.contains(w.as_str()),
                    "/api/status in {accept}: {rule}: {w:?} in {text:?}"
                );
            }
            assert_eq!(has_chinese(text), lang == Lang::Zh, "{text}");
        }
    }

    // The answers outside the pages, in the request's language.
    let zh = [("Accept-Language", "zh-CN,zh;q=0.9")];
    // 421: a name that is not this machine (DNS rebinding).
    let r = http(port, "GET", "/api/status", &[("Host", "evil.example:80"), zh[0]], "");
    assert_eq!(r.code, 421);
    let e = json(&r);
    assert_eq!(e["key"], "api.host_refused", "{e}");
    assert!(
        e["error"].as_str().unwrap().starts_with("this camvault answers only"),
        "{e}"
    );
    assert!(
        e["text"]
            .as_str()
            .unwrap()
            .starts_with("此 camvault 只接受以 127.0.0.1"),
        "{e}"
    );
    assert_eq!(r.header("content-language").as_deref(), Some("zh-CN"));
    // The same in English for a browser asking for English, and for a script asking nothing.
    let r = http(
        port,
        "GET",
        "/api/status",
        &[("Host", "evil.example"), ("Accept-Language", "en")],
        "",
    );
    assert_eq!(json(&r)["text"], json(&r)["error"]);
    // 403: another site's page making the browser fetch the API; the language menu's cookie.
    let r = http(
        port,
        "GET",
        "/api/status",
        &[("Sec-Fetch-Site", "cross-site"), ("Cookie", "camvault_lang=zh-CN")],
        "",
    );
    assert_eq!(r.code, 403);
    let e = json(&r);
    assert_eq!(e["key"], "api.cross_site", "{e}");
    assert_eq!(e["text"], "此请求来自其他网站：请直接打开 camvault 自己的页面", "{e}");
    // 403: a POST without the session's CSRF token, from a page's session.
    let shell = http(port, "GET", "/", &zh, "");
    let cookie = shell.cookie();
    let r = http(
        port,
        "POST",
        "/api/restore/plan",
        &[("Cookie", &cookie), zh[0], ("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(r.code, 403);
    assert_eq!(json(&r)["text"], "安全校验失败：请刷新页面", "{}", r.text());
    // 404: a camera the catalog does not have, named (it was a 500 once).
    let r = http(port, "GET", "/api/day?camera=nosuchcam&date=2026-01-02", &zh, "");
    assert_eq!(r.code, 404);
    let e = json(&r);
    assert_eq!(e["key"], "api.no_camera", "{e}");
    let text = e["text"].as_str().unwrap();
    assert!(text.contains("nosuchcam") && has_chinese(text), "{e}");
    // 400: a day past the calendar's last one is the caller's mistake (it was a 500 once),
    // and so is a month or a search range out of it.
    let r = http(
        port,
        "GET",
        &format!("/api/day?camera={CAMERA}&date=9999-12-31"),
        &zh,
        "",
    );
    assert_eq!(r.code, 400, "{}", r.text());
    let e = json(&r);
    assert_eq!(e["key"], "api.date_range", "{e}");
    let text = e["text"].as_str().unwrap();
    assert!(
        text.contains("9999-12-31") && text.contains("1900") && has_chinese(text),
        "{e}"
    );
    for path in [
        format!("/api/month?camera={CAMERA}&month=9999-12"),
        format!("/api/activity/month?camera={CAMERA}&month=0100-01"),
        "/api/search?from=2026-01-01&to=9999-12-31".to_string(),
        "/api/activity?from=9999-12-31".to_string(),
    ] {
        let r = http(port, "GET", &path, &zh, "");
        assert_eq!(
            (r.code, json(&r)["key"].as_str()),
            (400, Some("api.date_range")),
            "{path}: {}",
            r.text()
        );
    }
    let r = http(port, "GET", "/api/activity?from=2026-13-45", &zh, "");
    assert_eq!(
        (r.code, json(&r)["key"].as_str()),
        (400, Some("api.bad_from_to")),
        "{}",
        r.text()
    );
    // 500: an unexpected failure (the catalog damaged under `serve`: a table gone) keeps its
    // cause as data.
    let catalog = rusqlite::Connection::open(env.root().join("catalog.sqlite")).unwrap();
    catalog.busy_timeout(Duration::from_secs(5)).unwrap();
    catalog
        .execute_batch("ALTER TABLE index_hours RENAME TO index_hours_away")
        .unwrap();
    let r = http(
        port,
        "GET",
        &format!("/api/activity/month?camera={CAMERA}&month=2026-01"),
        &zh,
        "",
    );
    catalog
        .execute_batch("ALTER TABLE index_hours_away RENAME TO index_hours")
        .unwrap();
    assert_eq!(r.code, 500, "{}", r.text());
    let e = json(&r);
    assert_eq!(e["key"], "api.internal", "{e}");
    let text = e["text"].as_str().unwrap();
    assert!(
        text.starts_with("camvault 内部出错：")
            && text.contains("index_hours")
            && text.contains("`camvault serve` 的日志"),
        "{e}"
    );
    assert!(e["error"].as_str().unwrap().starts_with("camvault failed: "), "{e}");
    assert!(has_chinese(text));

    // The dashboard in Chinese and in English, in Chromium.
    browser(
        "problems",
        serde_json::json!({
            "base": format!("http://127.0.0.1:{port}"),
            "camera": CAMERA,
            "problems": browser_cases,
            "stranger": stranger,
        }),
    );
    drop(silent);
}

/// The HEVC pass-through: a browser that says it decodes HEVC (Chromium with its detection
/// overridden; its own build here has no HEVC decoder) asks for `v=hevc`; the answer is the
/// camera's HEVC copied packet for packet with the A-law audio as AAC, and it starts within
/// 2 s. When the browser then cannot play it, the page falls back to 720p H.264.
#[test]
fn hevc_pass_through_is_chosen_copied_and_quick() {
    needs!(PYTHON, FFMPEG, CHROMIUM);
    let port = free_port();
    let env = Env::new(1, &format!("http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\""));
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("cam.mov");
    hevc_clip(&src, 6, "1280x720", true);
    let t = now_unix() - 3 * 3600;
    env.put_old(&old_clip(t), &std::fs::read(&src).unwrap());
    env.put_old(&old_clip(t + 60), &std::fs::read(&src).unwrap());
    env.ok(&["ingest", "--once"]);
    let _serve = serve_on(&env, port);
    let local = jiff::Timestamp::from_second(t)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap());
    let day = local.date().to_string();
    let d = json(&http(
        port,
        "GET",
        &format!("/api/day?camera={CAMERA}&date={day}"),
        &[],
        "",
    ));
    let id = d["clips"][1]["id"].as_i64().unwrap();

    // Over HTTP: the first bytes within 2 s, a fragmented MP4 of the same HEVC.
    let t0 = Instant::now();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET /media/play/{id}?v=hevc HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 1];
    s.read_exact(&mut first).unwrap();
    let first_byte = t0.elapsed();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let mut all = first.to_vec();
    all.extend(rest);
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(all.starts_with(b"HTTP/1.0 200") || all.starts_with(b"HTTP/1.1 200"));
    eprintln!("hevc pass-through: first byte after {first_byte:?}");
    assert!(first_byte < Duration::from_secs(2), "first byte after {first_byte:?}");
    let out = dir.path().join("out.mp4");
    std::fs::write(&out, &all[split..]).unwrap();
    assert!(all[split..].windows(4).any(|w| w == b"moof"), "fragmented MP4");
    let probe = |p: &Path, stream: &str| {
        let o = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", stream, "-count_packets"])
            .args([
                "-show_entries",
                "stream=codec_name,codec_tag_string,nb_read_packets",
                "-of",
                "csv=p=0",
            ])
            .arg(p)
            .output()
            .unwrap();
        assert!(o.status.success(), "ffprobe {}: {}", p.display(), stderr(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let (v_in, v_out) = (probe(&src, "v:0"), probe(&out, "v:0"));
    assert!(v_out.starts_with("hevc,hvc1,"), "{v_out}");
    assert_eq!(
        v_in.rsplit(',').next(),
        v_out.rsplit(',').next(),
        "the same number of video frames: {v_in} / {v_out}"
    );
    assert_eq!(v_in.rsplit(',').next(), Some("60"), "6 s at 10 fps: {v_in}");
    assert!(probe(&src, "a:0").starts_with("pcm_alaw"), "the camera's A-law");
    assert!(probe(&out, "a:0").starts_with("aac,mp4a"), "converted to AAC");

    // In Chromium: the page's choice, then the fallback.
    browser(
        "hevc",
        serde_json::json!({
            "base": format!("http://127.0.0.1:{port}"),
            "camera": CAMERA,
            "day": day,
            "clip": d["clips"][0]["id"],
        }),
    );
}
