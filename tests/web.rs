//! The web interface: security at the HTTP level (login off loopback, sessions, CSRF, the
//! login rate limit, headers, no secret in pages or logs), the JSON and media endpoints,
//! and real headless Chromium sessions (tests/web_browser.py) over a fixture of real HEVC
//! clips, some archived in the fs store, that also take screenshots (into
//! `$CAMVAULT_SCREENSHOTS`, e.g. docs/screenshots, else under target/).

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::web::*;
use common::*;

const DAY: i64 = 86_400;
const PASSWORD: &str = "tuesday-3pm-door";

fn get(port: u16, path: &str, cookie: &str) -> Resp {
    http(port, "GET", path, &[("Cookie", cookie)], "")
}

fn local(unix: i64) -> jiff::Zoned {
    jiff::Timestamp::from_second(unix)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
}

/// Local noon (Asia/Shanghai) `days` days ago, as a Unix time.
fn noon_days_ago(days: i64) -> i64 {
    local(now_unix() - days * DAY)
        .date()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
        .as_second()
        + 12 * 3600
}

fn listen(addr: &str) -> String {
    format!("http.enabled = true\nhttp.listen = \"{addr}\"")
}

#[test]
fn off_loopback_needs_a_password_sessions_csrf_and_a_rate_limit() {
    let port = free_port();
    let env = Env::new(1, &listen(&format!("0.0.0.0:{port}")));
    // Without a password (or an admin account) `serve` refuses a LAN address, and says how
    // to set one; other commands run (`camvault user add` must).
    env.ok(&["status"]);
    let err = serve_refuses(&env);
    assert!(err.contains("camvault passwd"), "{err}");

    let out = with_stdin(&env, &["passwd"], PASSWORD);
    assert!(out.status.success(), "{}", stderr(&out));
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    assert!(cfg.contains("password_hash = \"$argon2id$"), "{cfg}");
    assert!(!cfg.contains(PASSWORD), "only the hash is stored");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.config()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the config stays private");
    let hash = cfg
        .lines()
        .find_map(|l| l.strip_prefix("password_hash = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    env.ok(&["status"]);

    let _serve = serve_on(&env, port);
    // Every page, API and media route needs a login; /healthz and /metrics stay open.
    let r = get(port, "/", "");
    assert_eq!((r.code, r.header("location").as_deref()), (303, Some("/login")));
    for path in ["/api/status", "/api/dashboard", "/media/clip/1", "/media/thumb/1"] {
        assert_eq!(get(port, path, "").code, 401, "{path}");
    }
    assert_eq!(
        get(port, "/healthz", "").code,
        200,
        "open to Prometheus on this machine"
    );
    // From another address (this machine's LAN address, when it has one) they need a login too.
    if let Some(ip) = lan_address() {
        for path in ["/metrics", "/healthz"] {
            let mut s = std::net::TcpStream::connect((ip, port)).unwrap();
            write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            assert_eq!(&out[9..12], "401", "{path} from {ip}");
        }
    }

    // The login page: security headers, a pre-login cookie and its CSRF token.
    let page = get(port, "/login", "");
    assert_eq!(page.code, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(page.header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(page.header("referrer-policy").as_deref(), Some("same-origin"));
    let set = page.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    let (pre, token) = (page.cookie(), csrf_of(&page.text()));
    let form = |pw: &str, t: &str| format!("password={pw}&csrf={t}");
    let post_login = |cookie: &str, body: &str| post_login(port, cookie, &[], body);

    // Login CSRF: a POST without the form's token is refused even with the right password.
    assert_eq!(post_login(&pre, &form(PASSWORD, &"0".repeat(64))).code, 403);
    assert_eq!(post_login("", &form(PASSWORD, &token)).code, 403);
    // The right password: a new session id (the pre-login one is not promoted).
    let ok = post_login(&pre, &form(PASSWORD, &token));
    assert_eq!(
        (ok.code, ok.header("location").as_deref()),
        (303, Some("/")),
        "{}",
        ok.text()
    );
    let session = ok.cookie();
    assert_ne!(session, pre);
    assert_eq!(
        get(port, "/api/status", &pre).code,
        401,
        "the pre-login cookie is no login"
    );
    let shell = get(port, "/", &session);
    assert_eq!(shell.code, 200);
    let csrf = csrf_of(&shell.text());
    assert_eq!(get(port, "/api/status", &session).code, 200);

    // CSRF on state-changing requests: no token, a wrong token, a foreign Origin.
    let body = r#"{"camera":"x","from_ms":0,"to_ms":1000}"#;
    let post = |headers: &[(&str, &str)]| {
        let mut h = vec![("Cookie", session.as_str()), ("Content-Type", "application/json")];
        h.extend_from_slice(headers);
        http(port, "POST", "/api/restore", &h, body)
    };
    assert_eq!(post(&[]).code, 403);
    assert_eq!(post(&[("X-CSRF-Token", &"f".repeat(64))]).code, 403);
    assert_eq!(
        post(&[("X-CSRF-Token", &csrf), ("Origin", "https://evil.example")]).code,
        403
    );
    let r = post(&[("X-CSRF-Token", &csrf)]);
    assert!(r.code != 403 && r.code != 401, "{} {}", r.code, r.text());

    // Rate limit: after 5 wrong passwords from this address, even the right one waits.
    for i in 0..5 {
        let p = get(port, "/login", "");
        let r = post_login(&p.cookie(), &form("wrong", &csrf_of(&p.text())));
        assert_eq!(r.code, 401, "attempt {i}");
        assert!(r.text().contains("Wrong password"));
    }
    let p = get(port, "/login", "");
    let r = post_login(&p.cookie(), &form(PASSWORD, &csrf_of(&p.text())));
    assert_eq!(r.code, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some_and(|s| s.parse::<u64>().unwrap() > 0));
    // The session from before still works; logging out ends it.
    assert_eq!(get(port, "/api/status", &session).code, 200);
    let r = http(
        port,
        "POST",
        "/logout",
        &[("Cookie", &session), ("X-CSRF-Token", &csrf)],
        "",
    );
    assert_eq!(r.code, 303);
    assert_eq!(get(port, "/api/status", &session).code, 401);

    // Neither the password nor its hash ever shows in a page or the log.
    let log = std::fs::read_to_string(env.serve_log()).unwrap();
    assert!(log.contains("failed web login"), "failures are logged: {log}");
    for secret in [PASSWORD, hash.as_str()] {
        assert!(!log.contains(secret), "secret in the log");
        for path in ["/login", "/metrics", "/healthz"] {
            assert!(!get(port, path, "").text().contains(secret), "secret in {path}");
        }
        assert!(!get(port, "/api/status", &ok.cookie()).text().contains(secret));
    }
}

#[test]
fn loopback_needs_no_login_but_posts_need_the_csrf_token() {
    needs!(FFMPEG);
    let port = free_port();
    let env = Env::new(1, &listen(&format!("127.0.0.1:{port}")));
    // Yesterday noon: the two clips a minute apart are on the same local day whatever the hour.
    let t = noon_days_ago(1);
    env.put_old(&old_clip(t), &hevc(2));
    env.put_old(&old_clip(t + 60), b"not a video");
    env.ok(&["ingest", "--once"]);
    let _serve = serve_on(&env, port);

    assert_eq!(get(port, "/login", "").header("location").as_deref(), Some("/"));
    // DNS rebinding: a page served as evil.example whose name now points at 127.0.0.1.
    for path in ["/", "/api/status", "/metrics"] {
        let r = http(port, "GET", path, &[("Host", "evil.example:80")], "");
        assert_eq!(r.code, 421, "{path}");
    }
    assert_eq!(http(port, "GET", "/api/status", &[("Host", "localhost")], "").code, 200);
    let shell = get(port, "/", "");
    assert_eq!(shell.code, 200);
    let set = shell.header("set-cookie").unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let (cookie, csrf) = (shell.cookie(), csrf_of(&shell.text()));
    assert!(shell.header("content-security-policy").is_some());

    let day = local(t).date().to_string();
    let d: serde_json::Value =
        serde_json::from_slice(&get(port, &format!("/api/day?camera=78df72a1b2c3&date={day}"), "").body).unwrap();
    let clips = d["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 2, "{d:#}");
    assert!(clips.iter().all(|c| c["tier"] == "local" && c["playable"] == true));
    assert_eq!(clips[0]["start"], local(t).strftime("%H:%M:%S").to_string());
    let id = clips[0]["id"].as_i64().unwrap();

    // Range requests on the original clip.
    let whole = get(port, &format!("/media/clip/{id}"), "");
    assert_eq!(whole.code, 200);
    assert_eq!(whole.header("accept-ranges").as_deref(), Some("bytes"));
    let len = whole.body.len();
    let part = http(
        port,
        "GET",
        &format!("/media/clip/{id}"),
        &[("Range", "bytes=10-19")],
        "",
    );
    assert_eq!(part.code, 206);
    assert_eq!(part.header("content-range"), Some(format!("bytes 10-19/{len}")));
    assert_eq!(part.body, whole.body[10..20]);
    let tail = http(port, "GET", &format!("/media/clip/{id}"), &[("Range", "bytes=-5")], "");
    assert_eq!(tail.body, whole.body[len - 5..]);
    let past = http(
        port,
        "GET",
        &format!("/media/clip/{id}"),
        &[("Range", &format!("bytes={len}-"))],
        "",
    );
    assert_eq!(past.code, 416);
    // Transcoded for browsers without HEVC: H.264 in fragmented MP4, with ranges too.
    let play = get(port, &format!("/media/play/{id}"), "");
    assert_eq!(play.code, 200, "{}", play.text());
    let probe = env.root().join("play.mp4");
    std::fs::write(&probe, &play.body).unwrap();
    let codec = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&probe)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&codec.stdout).trim(), "h264");
    let audio = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&probe)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&audio.stdout).trim(), "aac", "A-law became AAC");
    assert!(play.body.windows(4).any(|w| w == b"moof"), "fragmented MP4");
    // Streamed the first time, then served from the cache with ranges.
    let again = http(port, "GET", &format!("/media/play/{id}"), &[("Range", "bytes=0-9")], "");
    assert_eq!(again.code, 206);
    assert_eq!(again.body, play.body[..10]);
    // A thumbnail: a JPEG.
    let th = get(port, &format!("/media/thumb/{id}"), "");
    assert_eq!(th.code, 200);
    assert_eq!(&th.body[..3], &[0xff, 0xd8, 0xff]);
    // Thumbnails also go to the store under thumbs/ (Standard), for when the clip is gone.
    let thumbs = poll(Duration::from_secs(30), || {
        let t: Vec<_> = env
            .all_objects()
            .into_iter()
            .filter(|(k, _)| k.starts_with("thumbs/"))
            .collect();
        if t.is_empty() {
            Err("no thumbnail in the store".into())
        } else {
            Ok(t)
        }
    });
    assert_eq!(thumbs.len(), 1, "one thumbnail, the non-video has none");
    let key = clips[0]["key"].as_str().unwrap();
    let want = format!(
        "thumbs/{}.jpg",
        key.strip_prefix("videos/").unwrap().strip_suffix(".mp4").unwrap()
    );
    assert_eq!(thumbs[0].0, want);
    assert_eq!(thumbs[0].1, th.body, "the same JPEG as served");
    assert!(env.objects().keys().all(|k| !k.starts_with("thumbs/")));
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.store().join(".camvault/meta").join(format!("{want}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["storage_class"], "Standard");
    // A box that lost its thumbnail and the clip (a new disk, a rebuilt catalog) gets it
    // back from the store.
    std::fs::remove_file(env.root().join(format!("webcache/thumbs/{id}.jpg"))).unwrap();
    let vault = env.vault().join(key);
    std::fs::rename(&vault, env.root().join("aside.mp4")).unwrap();
    let again = get(port, &format!("/media/thumb/{id}"), "");
    assert_eq!((again.code, &again.body), (200, &th.body));
    std::fs::rename(env.root().join("aside.mp4"), &vault).unwrap();
    // The second "clip" is no video: transcoding says why instead of hanging.
    let bad = get(port, &format!("/media/play/{}", clips[1]["id"]), "");
    assert_eq!(bad.code, 500);
    assert!(bad.text().contains("ffmpeg failed"), "{}", bad.text());
    // Export: the range's cached clips as one MP4.
    let (a, b) = (t * 1000 - 1000, t * 1000 + 1000);
    let ex = get(
        port,
        &format!("/media/export?camera=78df72a1b2c3&from_ms={a}&to_ms={b}"),
        "",
    );
    assert_eq!(ex.code, 200, "{}", ex.text());
    assert!(ex.header("content-disposition").unwrap().starts_with("attachment"));
    assert!(ex.body.windows(4).any(|w| w == b"ftyp"));

    // No login, but a POST still needs this session's token: another site cannot restore.
    let body = format!(r#"{{"camera":"78df72a1b2c3","from_ms":{a},"to_ms":{b}}}"#);
    let json = [("Content-Type", "application/json")];
    assert_eq!(http(port, "POST", "/api/restore/plan", &json, &body).code, 403);
    let with = |token: &str| {
        http(
            port,
            "POST",
            "/api/restore/plan",
            &[
                ("Content-Type", "application/json"),
                ("Cookie", &cookie),
                ("X-CSRF-Token", token),
            ],
            &body,
        )
    };
    assert_eq!(with("").code, 403);
    let plan = with(&csrf);
    assert_eq!(plan.code, 200, "{}", plan.text());
    let p: serde_json::Value = serde_json::from_slice(&plan.body).unwrap();
    assert_eq!(p["local"]["clips"], 1, "{p:#}");
}

/// A camera the catalog does not know (a typo in the address, a camera that never
/// recorded here): the day, month and activity calendar answer 404 naming it and saying
/// what to check, in the reader's language, not a 500; a known camera still answers.
#[test]
fn an_unknown_camera_is_a_404_that_names_it() {
    let port = free_port();
    let env = Env::new(1, &listen(&format!("127.0.0.1:{port}")));
    let t = now_unix() - 3600;
    env.put_old(&old_clip(t), b"a clip");
    env.ok(&["ingest", "--once"]);
    let _serve = serve_on(&env, port);
    for path in [
        "/api/day?camera=nosuch&date=2026-01-01",
        "/api/month?camera=nosuch&month=2026-01",
        "/api/activity/month?camera=nosuch&month=2026-01",
    ] {
        let r = get(port, path, "");
        assert_eq!(r.code, 404, "{path}: {}", r.text());
        let j: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(j["key"], "api.no_camera", "{path}: {j}");
        let error = j["error"].as_str().unwrap();
        assert!(
            error.contains("no camera \"nosuch\"") && error.contains("the dashboard lists them"),
            "{path}: the camera and what to do: {error}"
        );
        let zh = http(port, "GET", path, &[("Accept-Language", "zh-CN")], "");
        assert_eq!(zh.code, 404);
        let j: serde_json::Value = serde_json::from_slice(&zh.body).unwrap();
        assert!(
            j["text"].as_str().unwrap().contains("这里没有摄像头 \"nosuch\""),
            "{path}: in Chinese: {j}"
        );
    }
    let date = local(t).date();
    let r = get(port, &format!("/api/day?camera=78df72a1b2c3&date={date}"), "");
    assert_eq!(r.code, 200, "{}", r.text());
    assert!(r.text().contains("\"clips\""), "{}", r.text());
}

#[test]
fn a_missing_ffmpeg_is_named_on_playback() {
    needs!(FFMPEG);
    let port = free_port();
    let env = Env::new(1, &listen(&format!("127.0.0.1:{port}")));
    let t = now_unix() - 3600;
    env.put_old(&old_clip(t), &hevc(1));
    env.ok(&["ingest", "--once"]);
    // A PATH without ffmpeg for serve.
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = std::fs::File::create(env.serve_log()).unwrap();
    let child = env
        .cmd(&["serve"])
        .env("PATH", &bin)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let _serve = Serving(child);
    wait_port("127.0.0.1", port, "the web interface", Duration::from_secs(30));
    let r = get(port, "/media/play/1", "");
    assert_eq!(r.code, 501);
    assert!(r.text().contains("ffmpeg is not installed"), "{}", r.text());
}

/// This machine's address on its default route, if it has a non-loopback one.
/// One request from this machine's LAN address (not loopback), as a phone on the LAN.
fn from_lan(ip: std::net::IpAddr, port: u16, path: &str, cookie: &str) -> Resp {
    let h: Vec<(&str, &str)> = if cookie.is_empty() {
        vec![]
    } else {
        vec![("Cookie", cookie)]
    };
    exchange(
        std::net::TcpStream::connect((ip, port)).unwrap(),
        port,
        "GET",
        path,
        &h,
        "",
    )
}

/// Issue 17: a LAN `http.listen` needs an admin who can log in, and accounts made with
/// `camvault user add` are enough (no `http.password_hash`). With only a viewer, or nobody,
/// `serve` refuses to start and says what to run. The attack: a LAN client without an
/// account gets a redirect to the login or 401, never data; with the admin's login it does.
#[test]
fn a_lan_listen_with_only_catalog_accounts() {
    let port = free_port();
    let env = Env::new(1, &listen(&format!("0.0.0.0:{port}")));
    env.put_old(&old_clip(noon_days_ago(1)), &hevc(2));
    env.ok(&["ingest", "--once"]);
    let err = serve_refuses(&env);
    assert!(
        err.contains("not a loopback address")
            && err.contains("camvault user add NAME --role admin")
            && err.contains("camvault passwd"),
        "says what to run: {err}"
    );
    let add = |name: &str, role: &str| {
        let mut p = env
            .cmd(&["user", "add", name, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(p.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        let out = p.wait_with_output().unwrap();
        assert!(out.status.success(), "user add {name}: {}", stderr(&out));
    };
    add("kid", "viewer");
    let err = serve_refuses(&env);
    assert!(
        err.contains("1 viewer(s) but no admin"),
        "a viewer cannot administer: {err}"
    );
    add("mum", "admin");
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    assert!(!cfg.contains("password_hash = \"$"), "no password in the config: {cfg}");
    let _serve = serve_on(&env, port);
    let Some(ip) = lan_address() else {
        eprintln!("no LAN address on this machine: the LAN requests are made on loopback only");
        return;
    };
    // No account: a redirect to the login page or 401, and nothing of the vault.
    let r = from_lan(ip, port, "/", "");
    assert_eq!((r.code, r.header("location").as_deref()), (303, Some("/login")));
    for path in [
        "/api/status",
        "/api/dashboard",
        "/api/cameras",
        "/media/clip/1",
        "/healthz",
        "/metrics",
    ] {
        let r = from_lan(ip, port, path, "");
        assert_eq!(r.code, 401, "{path}: {}", r.text());
        assert!(!r.text().contains("78df72a1b2c3"), "{path} leaks a camera id");
    }
    // A forged session cookie is no account either.
    assert_eq!(from_lan(ip, port, "/api/cameras", "camvault_session=forged").code, 401);
    // The admin account logs in from the LAN and sees the camera.
    let form = from_lan(ip, port, "/login", "");
    let (cookie, token) = (form.cookie(), csrf_of(&form.text()));
    let r = post_login_on(
        std::net::TcpStream::connect((ip, port)).unwrap(),
        port,
        &cookie,
        &[],
        &format!("user=mum&password={PASSWORD}&csrf={token}"),
    );
    assert_eq!(r.code, 303, "{}", r.text());
    let r = from_lan(ip, port, "/api/cameras", &r.cookie());
    assert_eq!(r.code, 200);
    assert!(r.text().contains("78df72a1b2c3"), "{}", r.text());
}

fn lan_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?; // no packet is sent
    Some(s.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

#[test]
fn browser_timeline_playback_calendar_search_and_restore() {
    needs!(PYTHON, FFMPEG, CHROMIUM);
    let port = free_port();
    let env = Env::new(
        1,
        &format!(
            // No drill: it would restore one of the archived clips behind the test's back.
            "{}\nrestore.poll_secs = 1\nrestore.poll_max_secs = 1\nstore.fs.restore_standard_secs = 1\nrestore.drill_days = 0",
            listen(&format!("127.0.0.1:{port}"))
        ),
    );
    // Three clips today (same local day), two forty days ago at local noon.
    let now = now_unix();
    let since_midnight = local(now).time().hour() as i64 * 3600 + local(now).time().minute() as i64 * 60;
    // 20 minutes apart: on a 24-hour bar a minute is less than a pixel.
    // Shortly after midnight, the clips are of yesterday evening: never in the future.
    let base = if since_midnight > 4000 {
        now - 3600
    } else {
        now - since_midnight - 3 * 3600
    };
    let today: Vec<i64> = (0..3).map(|i| base + i * 1200).collect();
    let noon = noon_days_ago(40);
    let old = [noon, noon + 60];
    let clip = hevc(3);
    for t in today.iter().chain(old.iter()) {
        env.put_old(&old_clip(*t), &clip);
    }
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["cached"], 3, "the old clips left the cache");
    // A month later in the store, with the lifecycle rule: the old clips are archived.
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    let fmt = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    env.ok(&[
        "restore",
        "--from",
        &fmt(noon - 60),
        "--to",
        &fmt(noon + 120),
        "--dry-run",
    ]);

    // A recording in the bucket the catalog does not know: the dashboard's bucket card
    // shows the bucket's count beside the catalog's, disagreeing.
    let stranger = format!("camera_videos/{}", old_clip(noon - 3600));
    write(&env.store().join(&stranger), &bytes(5, 3000));

    let _serve = serve_on(&env, port);
    let day = |t: i64| local(t).date().to_string();
    browser(
        "ui",
        serde_json::json!({
            "base": format!("http://127.0.0.1:{port}"),
            "camera": "78df72a1b2c3",
            "today": day(today[0]),
            "tomorrow": local(today[0]).date().tomorrow().unwrap().to_string(),
            "today_clips": today.iter().map(|t| local(*t).strftime("%H:%M:%S").to_string()).collect::<Vec<_>>(),
            "old_day": day(noon),
            "old_clips": old.len(),
            "stranger": stranger,
            "clips": today.len() + old.len(),
        }),
    );
}

/// The bucket's own numbers on the dashboard's JSON (issue 14, item 4): after the first
/// hourly check, `/api/dashboard` has the bucket's count (the same as `/api/status`)
/// beside the catalog's, and says whether they disagree, with the `bucket_drift` detail;
/// once the stranger is gone, they agree.
#[test]
fn the_dashboard_has_the_buckets_numbers_beside_the_catalogs() {
    let port = free_port();
    let env = Env::new(1, &listen(&format!("127.0.0.1:{port}")));
    let t = now_unix() - 5 * 3600;
    for i in 0..2 {
        env.put_old(&old_clip(t + i * 60), &bytes(i as u64, 3000));
    }
    env.ok(&["ingest", "--once"]);
    let stranger = format!("camera_videos/{}", old_clip(t + 600));
    write(&env.store().join(&stranger), &bytes(9, 3000));
    let json = |path: &str| -> serde_json::Value { serde_json::from_str(&get(port, path, "").text()).unwrap() };

    let serve = serve_on(&env, port);
    wait_for(Duration::from_secs(30), "the hourly check's bucket numbers", || {
        json("/api/dashboard")["bucket"]["state"] == "disagree"
    });
    let (d, s) = (json("/api/dashboard"), json("/api/status"));
    let b = &d["bucket"];
    assert_eq!(b["source"], "listing", "{b:#}");
    assert_eq!(b["objects"], s["bucket"]["objects"], "the same count as /api/status");
    assert!(
        b["objects"].as_u64().unwrap() >= 3,
        "2 clips and the stranger at least: {b:#}"
    );
    assert_eq!(
        b["classes"]["Standard"]["objects"],
        s["bucket"]["classes"]["Standard"]["objects"]
    );
    assert_eq!(b["catalog"]["objects"], 2, "{b:#}");
    assert_eq!(b["catalog"]["bytes"], 6000, "{b:#}");
    assert!(b["as_of_ms"].as_i64().unwrap() > 0);
    assert!(b["drift"].as_str().unwrap().contains(&stranger), "{b:#}");
    drop(serve);

    std::fs::remove_file(env.store().join(&stranger)).unwrap();
    let _serve = serve_on(&env, port);
    wait_for(Duration::from_secs(30), "the bucket and the catalog to agree", || {
        json("/api/dashboard")["bucket"]["state"] == "agree"
    });
    assert!(json("/api/dashboard")["bucket"]["drift"].is_null());
}

#[test]
fn browser_login_off_loopback() {
    needs!(PYTHON, CHROMIUM);
    let port = free_port();
    // Plain HTTP in the test, so the cookie cannot be Secure-only.
    let env = Env::new(
        1,
        &format!("{}\nhttp.secure_cookie = false", listen(&format!("0.0.0.0:{port}"))),
    );
    let out = with_stdin(&env, &["passwd"], PASSWORD);
    assert!(out.status.success(), "{}", stderr(&out));
    let _serve = serve_on(&env, port);
    browser(
        "login",
        serde_json::json!({"base": format!("http://127.0.0.1:{port}"), "password": PASSWORD}),
    );
}

#[test]
fn a_restore_started_over_http_shows_restoring_then_its_progress() {
    let port = free_port();
    // A slow archive: the restore stays in progress for the whole test.
    let env = Env::new(
        1,
        &format!(
            "{}\nrestore.poll_secs = 1\nrestore.poll_max_secs = 1\nstore.fs.restore_standard_secs = 36000\nrestore.drill_days = 0",
            listen(&format!("127.0.0.1:{port}"))
        ),
    );
    let t0 = noon_days_ago(40);
    for i in 0..2 {
        env.put_old(&old_clip(t0 + i * 60), &bytes(i as u64, 5000));
    }
    env.ok(&["ingest", "--once"]);
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    let _serve = serve_on(&env, port);
    let shell = get(port, "/", "");
    let (cookie, csrf) = (shell.cookie(), csrf_of(&shell.text()));
    let body = format!(
        r#"{{"camera":"78df72a1b2c3","from_ms":{},"to_ms":{}}}"#,
        (t0 - 60) * 1000,
        (t0 + 600) * 1000
    );
    let post = |path: &str| {
        let h = [
            ("Content-Type", "application/json"),
            ("Cookie", cookie.as_str()),
            ("X-CSRF-Token", csrf.as_str()),
        ];
        let r = http(port, "POST", path, &h, &body);
        assert_eq!(r.code, 200, "{path}: {}", r.text());
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()
    };
    // The store cannot be read while planning (its disk unmounted): 502, saying why, and
    // no restore starts.
    let away = env.root().join("store-unmounted");
    std::fs::rename(env.store(), &away).unwrap();
    let h = [
        ("Content-Type", "application/json"),
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    let refused: Vec<Resp> = ["/api/restore/plan", "/api/restore"]
        .iter()
        .map(|path| http(port, "POST", path, &h, &body))
        .collect();
    std::fs::rename(&away, env.store()).unwrap();
    for r in refused {
        assert_eq!(r.code, 502, "{}", r.text());
        let e: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(e["key"], "api.plan_failed", "{e}");
        let error = e["error"].as_str().unwrap();
        assert!(
            error.starts_with("cannot plan the restore: ") && error.contains("does not exist"),
            "{e}"
        );
    }
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM restores"), 0);
    let plan = post("/api/restore/plan");
    assert_eq!(plan["archive"]["clips"], 2, "{plan:#}");
    assert_eq!(plan["hours"], 48.0, "Deep Cold Archive, standard tier: {plan:#}");
    assert!(plan["total_cny"].as_f64().unwrap() >= 0.0);
    let tiers: Vec<(&str, f64)> = plan["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tier"].as_str().unwrap(), t["hours"].as_f64().unwrap()))
        .collect();
    assert_eq!(tiers, [("expedited", 12.0), ("standard", 48.0)]);
    let cost = |i: usize| plan["tiers"][i]["total_cny"].as_f64().unwrap();
    assert!(cost(0) >= cost(1), "expedited costs at least as much: {plan:#}");
    assert_eq!(cost(1), plan["total_cny"].as_f64().unwrap(), "the chosen tier's total");
    let id = post("/api/restore")["id"].as_i64().unwrap();

    let day = local(t0).date().to_string();
    poll(Duration::from_secs(30), || {
        let d: serde_json::Value =
            serde_json::from_slice(&get(port, &format!("/api/day?camera=78df72a1b2c3&date={day}"), "").body).unwrap();
        let p: serde_json::Value = serde_json::from_slice(&get(port, &format!("/api/restore/{id}"), "").body).unwrap();
        let tiers: Vec<&str> = d["clips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["tier"].as_str().unwrap())
            .collect();
        if tiers == ["restoring", "restoring"] && p["states"]["requested"] == 2 {
            assert_eq!(p["restore"]["state"], "active");
            assert_eq!((p["total"].as_u64(), p["done"].as_u64()), (Some(2), Some(0)));
            assert!(p["merged"].is_null());
            return Ok(());
        }
        Err(format!("{tiers:?} {p:#}"))
    });
}

/// Issue 17: every page in English and Chinese on a desktop and a phone, the installable
/// app, nothing fetched for a clip before it is played, and a longer clip (1280×720 HEVC
/// with A-law, as Chromium without HEVC gets it: 720p H.264) played to its end without a
/// stall, its first frame soon (the bound is loose: the test machines are shared).
#[test]
fn browser_languages_phone_app_and_playback_without_stall() {
    let port = free_port();
    let env = Env::new(
        1,
        &format!(
            "{}\nrestore.poll_secs = 1\nrestore.poll_max_secs = 1\nstore.fs.restore_standard_secs = 36000\nrestore.drill_days = 0",
            listen(&format!("127.0.0.1:{port}"))
        ),
    );
    let now = now_unix();
    let since_midnight = local(now).time().hour() as i64 * 3600 + local(now).time().minute() as i64 * 60;
    let base = if since_midnight > 4000 {
        now - 3600
    } else {
        now - since_midnight - 3 * 3600
    };
    let today: Vec<i64> = (0..3).map(|i| base + i * 1200).collect();
    let long_secs = 12;
    let long = {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("long.mov");
        hevc_clip(&p, long_secs, "1280x720", true);
        std::fs::read(p).unwrap()
    };
    let short = hevc(3);
    env.put_old(&old_clip(today[0]), &short);
    env.put_old(&old_clip(today[1]), &short);
    env.put_old(&old_clip(today[2]), &long);
    let noon = noon_days_ago(40);
    for t in [noon, noon + 60] {
        env.put_old(&old_clip(t), &short);
    }
    env.ok(&["ingest", "--once"]);
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    // A health problem with a detail (numbers, the camera): the camera last sent 30 h ago.
    rusqlite::Connection::open(env.root().join("catalog.sqlite"))
        .unwrap()
        .execute("UPDATE cameras SET last_capture_ms = ?1", [(now - 30 * 3600) * 1000])
        .unwrap();
    let _serve = serve_on(&env, port);
    // A restore of the archived day (a slow archive: it stays in progress), for its page.
    let shell = get(port, "/", "");
    let (cookie, csrf) = (shell.cookie(), csrf_of(&shell.text()));
    let body = format!(
        r#"{{"camera":"78df72a1b2c3","from_ms":{},"to_ms":{}}}"#,
        (noon - 60) * 1000,
        (noon + 600) * 1000
    );
    let h = [
        ("Content-Type", "application/json"),
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    let r = http(port, "POST", "/api/restore", &h, &body);
    assert_eq!(r.code, 200, "{}", r.text());
    let restore_id = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["id"]
        .as_i64()
        .unwrap();
    server_messages_carry_their_keys(&env, port, &cookie, restore_id);
    browser(
        "i18n",
        serde_json::json!({
            "base": format!("http://127.0.0.1:{port}"),
            "camera": "78df72a1b2c3",
            "today": local(today[0]).date().to_string(),
            "today_clips": today.iter().map(|t| local(*t).strftime("%H:%M:%S").to_string()).collect::<Vec<_>>(),
            "long_clip": local(today[2]).strftime("%H:%M:%S").to_string(),
            "long_secs": long_secs,
            "restore_id": restore_id,
        }),
    );
}

/// Issue 17: the server's messages (health details, API errors, a restore's errors) come with
/// a catalogue key and arguments beside the English text, which the CLI and logs keep; the
/// browser session then checks that a Chinese page shows them in Chinese. The restore's
/// clips are taken out of the store so that it fails with camvault's own error text.
fn server_messages_carry_their_keys(env: &Env, port: u16, cookie: &str, restore_id: i64) {
    let json = |path: &str| serde_json::from_slice::<serde_json::Value>(&get(port, path, cookie).body).unwrap();
    let d = json("/api/dashboard");
    let problems = d["health"]["problems"].as_array().unwrap();
    let silent = problems
        .iter()
        .find(|p| p["rule"] == "camera_silent")
        .unwrap_or_else(|| panic!("no camera_silent problem: {problems:?}"));
    assert_eq!(silent["detail"]["key"], "health.detail.silent", "{silent}");
    assert_eq!(silent["detail"]["args"]["hours"], "30", "{silent}");
    assert!(
        silent["message"].as_str().unwrap().contains("sent nothing for 30 h"),
        "the English text stays: {silent}"
    );
    assert!(
        env.ok(&["status"]).contains("sent nothing for 30 h (limit 24 h)"),
        "the CLI stays English"
    );
    let r = get(port, "/api/day?camera=78df72a1b2c3&date=2026-13-45", cookie);
    assert_eq!(r.code, 400);
    let e: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(e["key"], "api.bad_date", "{e}");
    assert_eq!(e["error"], r#"date "2026-13-45": use YYYY-MM-DD"#, "{e}");
    let progress = || json(&format!("/api/restore/{restore_id}"));
    for i in progress()["items"].as_array().unwrap() {
        std::fs::remove_file(env.store().join(i["key"].as_str().unwrap())).unwrap();
    }
    wait_for(
        Duration::from_secs(60),
        "the restore fails: its clips left the store",
        || progress()["restore"]["state"] == "failed",
    );
    let p = progress();
    assert_eq!(p["error_msg"]["key"], "restore.err.failed_items", "{p}");
    assert_eq!(p["error_msg"]["args"]["error"]["key"], "restore.err.missing", "{p}");
    assert_eq!(p["items"][0]["error_msg"]["key"], "restore.err.missing", "{p}");
    assert!(
        p["restore"]["error"]
            .as_str()
            .unwrap()
            .contains("missing from the store"),
        "{p}"
    );
}

/// Issue 17: the page's language (cookie, then Accept-Language, then `http.language`), the
/// app's manifest and service worker with their types under the CSP, and the playback
/// variants: 720p and full-size H.264, and the camera's HEVC passed through untouched.
#[test]
fn languages_app_files_and_playback_variants() {
    let port = free_port();
    let env = Env::new(
        1,
        &format!("{}\nhttp.language = \"zh-CN\"", listen(&format!("127.0.0.1:{port}"))),
    );
    let t = noon_days_ago(1);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.mov");
    hevc_clip(&src, 2, "1920x1080", true);
    env.put_old(&old_clip(t), &std::fs::read(&src).unwrap());
    env.ok(&["ingest", "--once"]);
    let _serve = serve_on(&env, port);

    // The language.
    let lang_of = |headers: &[(&str, &str)]| {
        let r = http(port, "GET", "/", headers, "");
        assert_eq!(r.code, 200);
        let html = r.text();
        let at = html.find("<html lang=\"").unwrap() + 12;
        (html[at..].split('"').next().unwrap().to_string(), html)
    };
    let (l, html) = lang_of(&[]);
    assert_eq!(l, "zh-CN", "http.language when the browser asks for nothing");
    assert!(html.contains(">总览<") && html.contains("id=\"strings\""), "{html}");
    assert_eq!(lang_of(&[("Accept-Language", "en-US,en;q=0.9")]).0, "en");
    assert_eq!(
        lang_of(&[("Accept-Language", "fr, de")]).0,
        "zh-CN",
        "none we speak: the default"
    );
    assert_eq!(
        lang_of(&[("Accept-Language", "en-US"), ("Cookie", "camvault_lang=zh-CN")]).0,
        "zh-CN",
        "the viewer's choice beats the browser's"
    );
    let (_, en) = lang_of(&[("Accept-Language", "en")]);
    let strings_at = en.find("id=\"strings\">").unwrap() + 13;
    let block = &en[strings_at..en[strings_at..].find("</script>").unwrap() + strings_at];
    let v: serde_json::Value = serde_json::from_str(block).expect("the page's catalogue is JSON");
    assert_eq!(v["nav.dashboard"], "Dashboard");
    let off = http(port, "GET", "/offline", &[("Accept-Language", "zh-CN")], "");
    assert!(off.code == 200 && off.text().contains("无法连接"), "{}", off.text());

    // The installable app's files, with their types, under the CSP that lets them work.
    let m = get(port, "/manifest.webmanifest", "");
    assert_eq!(m.code, 200);
    assert_eq!(m.header("content-type").as_deref(), Some("application/manifest+json"));
    let man: serde_json::Value = serde_json::from_slice(&m.body).unwrap();
    assert_eq!(man["start_url"], "/");
    assert_eq!(man["display"], "standalone");
    for icon in man["icons"].as_array().unwrap() {
        let r = get(port, icon["src"].as_str().unwrap(), "");
        assert_eq!(r.code, 200, "{icon}");
        assert_eq!(r.header("content-type").as_deref(), icon["type"].as_str(), "{icon}");
        if icon["type"] == "image/png" {
            assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n", "{icon}");
            let size: u32 = icon["sizes"]
                .as_str()
                .unwrap()
                .split('x')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(u32::from_be_bytes(r.body[16..20].try_into().unwrap()), size, "{icon}");
        }
    }
    let sw = get(port, "/sw.js", "");
    assert_eq!(sw.code, 200);
    assert_eq!(
        sw.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(sw.header("cache-control").as_deref(), Some("no-cache"));
    assert!(sw.text().contains("/media/"), "the worker names what it never caches");
    let csp = sw.header("content-security-policy").unwrap();
    for d in [
        "worker-src 'self'",
        "manifest-src 'self'",
        "script-src 'self'",
        "default-src 'none'",
    ] {
        assert!(csp.contains(d), "{d} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");

    // Playback variants.
    let day = local(t).date().to_string();
    let d: serde_json::Value =
        serde_json::from_slice(&get(port, &format!("/api/day?camera=78df72a1b2c3&date={day}"), "").body).unwrap();
    assert!(d["timezone"].as_str().is_some_and(|z| !z.is_empty()), "{d:#}");
    let id = d["clips"][0]["id"].as_i64().unwrap();
    let probe = |v: &str| {
        let r = get(port, &format!("/media/play/{id}?v={v}"), "");
        assert_eq!(r.code, 200, "{v}: {}", r.text());
        assert!(r.body.windows(4).any(|w| w == b"moof"), "{v}: fragmented MP4");
        let p = dir.path().join(format!("{v}.mp4"));
        std::fs::write(&p, &r.body).unwrap();
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,codec_tag_string,height",
                "-of",
                "csv=p=0",
            ])
            .arg(&p)
            .output()
            .unwrap();
        (String::from_utf8_lossy(&out.stdout).trim().to_string(), p)
    };
    let (s720, _) = probe("720p");
    assert!(s720.contains("h264,avc1,720") && s720.contains("aac"), "{s720}");
    let (full, _) = probe("full");
    assert!(full.contains("h264,avc1,1080") && full.contains("aac"), "{full}");
    let (hevc_out, hevc_path) = probe("hevc");
    assert!(
        hevc_out.contains("hevc,hvc1,1080") && hevc_out.contains("aac"),
        "{hevc_out}"
    );
    // Untouched: the same HEVC packets as the camera's file.
    let packets = |p: &Path| {
        let o = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(p)
            .args(["-map", "0:v", "-c", "copy", "-f", "md5", "-"])
            .output()
            .unwrap();
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(
        packets(&hevc_path),
        packets(&src),
        "the HEVC was passed through untouched"
    );
    assert_eq!(get(port, &format!("/media/play/{id}?v=8k"), "").code, 400);
}

/// A clip with motion like tests/index.rs's scenes: a white square crossing a textured,
/// slightly noisy picture from 1 s to 6 s (HEVC, like the cameras').
fn moving_clip(secs: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.mp4");
    let g = format!(
        "nullsrc=s=320x180:r=10:d={secs},geq=lum='110+45*sin(X/9)*cos(Y/7)+20*sin((X+Y)/23)':cb=120:cr=135,format=yuv420p[bg];\
         color=c=white:s=24x24:r=10:d={secs}[o];\
         [bg][o]overlay=x='20+(t-1)*50':y=70:enable='between(t,1,6)',noise=alls=5:allf=t"
    );
    common::scenes::hevc_from_graph(&out, &g, "log-level=error", false);
    std::fs::read(out).unwrap()
}

/// Issue 15, items 5 and 6 over HTTP and in Chromium: serve indexes two clips with motion;
/// `/api/activity` finds their moments (frame, date, where they live), `/api/activity/month`
/// counts them per day, the clip search still answers, "restore these results" plans
/// exactly the listed clips; the activity page, the day's activity strip (hover: the frame)
/// and the calendar's activity show them, in English and Chinese.
#[test]
fn activity_search_strip_and_calendar_over_http_and_in_chromium() {
    needs!(FFMPEG);
    let port = free_port();
    let env = Env::new(
        1,
        &format!("{}\nindex.interval_secs = 1", listen(&format!("127.0.0.1:{port}"))),
    );
    let t = noon_days_ago(1);
    let clip = moving_clip(8);
    env.put_old(&old_clip(t), &clip);
    env.put_old(&old_clip(t + 600), &clip);
    env.ok(&["ingest", "--once"]);
    let _serve = serve_on(&env, port);
    let cam = "78df72a1b2c3";
    let day = local(t).date().to_string();
    let json = |path: &str| -> serde_json::Value {
        let r = get(port, path, "");
        assert_eq!(r.code, 200, "{path}: {}", r.text());
        serde_json::from_slice(&r.body).unwrap()
    };
    let q = format!("/api/activity?camera={cam}&from={day}&to={day}");
    let hits = poll(Duration::from_secs(120), || {
        let v = json(&q);
        let n = v["results"].as_array().unwrap().len();
        let clips: std::collections::BTreeSet<String> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["key"].to_string())
            .collect();
        if clips.len() == 2 {
            Ok(v["results"].as_array().unwrap().clone())
        } else {
            Err(format!("{n} moment(s) so far"))
        }
    });
    for h in &hits {
        assert_eq!(h["date"], day.as_str(), "{h:#}");
        assert_eq!(h["lives"], "local", "{h:#}");
        assert!(h["peak"].as_u64().unwrap() > 0);
        let f = get(port, h["frame_url"].as_str().unwrap(), "");
        assert_eq!(
            (f.code, f.header("content-type").as_deref()),
            (200, Some("image/jpeg")),
            "{h:#}"
        );
        assert!(f.body.starts_with(&[0xff, 0xd8]), "a JPEG");
    }
    // Filters: nothing lasts ten minutes; a window of the day without the clips; a bad window.
    assert!(json(&format!("{q}&min_duration=600"))["results"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(json(&format!("{q}&time=03:00-04:00"))["results"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        json(&format!("{q}&time=11:00-13:00"))["results"]
            .as_array()
            .unwrap()
            .len(),
        hits.len()
    );
    let bad = get(port, &format!("{q}&time=25:00-01:00"), "");
    assert!(bad.code >= 400 && bad.text().contains("HH:MM-HH:MM"), "{}", bad.text());
    // The calendar's activity per day.
    let month = json(&format!("/api/activity/month?camera={cam}&month={}", &day[..7]));
    assert_eq!(month["days"][&day].as_u64(), Some(hits.len() as u64), "{month:#}");
    // The clip search (by time) still answers.
    let s = json(&format!("/api/search?camera={cam}&from={day}&to={day}"));
    assert_eq!(s["clips"].as_array().unwrap().len(), 2, "{s:#}");
    // "Restore these results": a plan of exactly the listed clip, not the day around it.
    let shell = get(port, "/", "");
    let (cookie, csrf) = (shell.cookie(), csrf_of(&shell.text()));
    let key = hits[0]["key"].as_str().unwrap();
    let body =
        serde_json::json!({"camera": "", "from_ms": 0, "to_ms": 4_000_000_000_000i64, "keys": [key]}).to_string();
    let r = http(
        port,
        "POST",
        "/api/restore/plan",
        &[
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert_eq!(r.code, 200, "{}", r.text());
    let plan: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let items = plan["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{plan:#}");
    assert_eq!(items[0]["key"], key);
    // Too many listed clips: refused with what to do.
    let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    let body = serde_json::json!({"camera": "", "from_ms": 0, "to_ms": 1, "keys": many}).to_string();
    let r = http(
        port,
        "POST",
        "/api/restore/plan",
        &[
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert!(r.code == 400 && r.text().contains("narrow the search"), "{}", r.text());

    if !ready(&CHROMIUM) || !ready(&PYTHON) {
        return;
    }
    browser(
        "activity",
        serde_json::json!({
            "base": format!("http://127.0.0.1:{port}"),
            "camera": cam,
            "day": day,
            "moments": hits.len(),
        }),
    );
}
