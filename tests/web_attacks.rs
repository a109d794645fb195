//! The web and alert findings of issue 13, each performed as the attack it was, with real
//! HTTP requests (in parallel where the attack is parallel) against a real `serve`, and
//! asserted to fail now:
//! - finding 2: a burst of parallel logins gets only the limit's worth of password checks,
//!   and serve's memory stays bounded however many arrive at once;
//! - finding 4: slowloris connections are closed after the header timeout, and the
//!   connection cap keeps serve's descriptors bounded;
//! - finding 5: `from_ms=i64::MIN&to_ms=i64::MAX` no longer exports or restores everything;
//! - finding 6: thumbnails, transcodes and exports go through one bounded ffmpeg queue, a
//!   clip with no frame runs ffmpeg once, `HEAD` runs nothing, an aborted request kills its
//!   ffmpeg, and another site's `<img>`/`<video>` gets nothing on loopback;
//! - finding 7: a flood of `GET /login` does not expire the owner's form;
//! - finding 11: `::ffff:127.0.0.1` is loopback (Prometheus on a `[::]` listener).
//!
//! Finding 9 (alert secrets) is in tests/alerts.rs.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::web::*;
use common::*;

const PASSWORD: &str = "tuesday-3pm-door";
const CAMERA: &str = "78df72a1b2c3";

/// `serve`, stopped when dropped (a failing test must not leave it running).
impl Serving {
    fn pid(&self) -> u32 {
        self.0.id()
    }
    /// Resident memory, in MB (`VmRSS` of /proc/<pid>/status).
    fn rss_mb(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: u64 = s
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb / 1024
    }
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).unwrap().count()
    }
    /// The pids of serve's ffmpeg children running now.
    fn ffmpegs(&self) -> Vec<u32> {
        let me = self.pid().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                // pid (comm) state ppid ...
                let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
                let ppid = rest.split_whitespace().nth(1)?;
                (comm == "ffmpeg" && ppid == me).then_some(pid)
            })
            .collect()
    }
}

/// A connection to `port` on 127.0.0.1 from the source address `from` (any 127.x.y.z
/// works on Linux's loopback): how the tests act as many LAN clients.
fn connect_from(from: IpAddr, port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt
        .block_on(async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind(SocketAddr::new(from, 0))?;
            sock.connect(SocketAddr::new("127.0.0.1".parse().unwrap(), port)).await
        })
        .unwrap()
        .into_std()
        .unwrap();
    s.set_nonblocking(false).unwrap();
    s
}

fn http_from(from: IpAddr, port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    exchange(connect_from(from, port), port, method, path, headers, body)
}

fn get(port: u16, path: &str) -> Resp {
    http(port, "GET", path, &[], "")
}

fn lo(i: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, i])
}

/// A login form for a client at `from`: its pre-login cookie and CSRF token.
fn login_form(from: IpAddr, port: u16) -> (String, String) {
    let p = http_from(from, port, "GET", "/login", &[], "");
    assert_eq!(p.code, 200, "{}", p.text());
    (p.cookie(), csrf_of(&p.text()))
}

fn login_from(from: IpAddr, port: u16, form: &(String, String), password: &str) -> Resp {
    post_login_on(
        connect_from(from, port),
        port,
        &form.0,
        &[],
        &format!("password={password}&csrf={}", form.1),
    )
}

/// An env with a web password and `http.listen` = `listen` (a LAN-style address).
fn lan_env(listen: &str, extra: &str) -> Env {
    let env = Env::new(1, &format!("http.enabled = true\nhttp.listen = \"{listen}\"\n{extra}"));
    let out = with_stdin(&env, &["passwd"], PASSWORD);
    assert!(out.status.success(), "{}", stderr(&out));
    env
}

/// Runs `f(i)` for `n` clients at once (released together), returning their results in order.
fn burst<T: Send + 'static>(n: usize, f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let go = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (f, go) = (f.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                f(i)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Finding 2: 30 parallel wrong passwords from one client were all checked (the limit is
/// 5), and 30 parallel Argon2 hashes took serve from 40 MB to 934 MB, for good. Now the
/// attempts are counted before hashing and hashes run one at a time: exactly 5 are
/// checked, the rest refused; and a burst from 40 addresses leaves memory bounded.
#[test]
fn parallel_logins_get_the_limit_and_memory_stays_bounded() {
    let port = free_port();
    let env = lan_env(&format!("0.0.0.0:{port}"), "");
    let serve = serve_on(&env, port);
    // One right login first: Argon2's memory is then part of the baseline.
    let ok = login_from(lo(1), port, &login_form(lo(1), port), PASSWORD);
    assert_eq!(ok.code, 303, "{}", ok.text());
    let before = serve.rss_mb();

    // One client, 30 wrong passwords at once, each with its own valid form.
    let forms: Vec<_> = (0..30).map(|_| login_form(lo(2), port)).collect();
    let forms = Arc::new(forms);
    let codes = burst(30, move |i| {
        let r = login_from(lo(2), port, &forms[i], "wrong");
        (r.code, r.text().contains("Wrong password"))
    });
    let checked = codes.iter().filter(|(c, w)| *c == 401 && *w).count();
    let limited = codes.iter().filter(|(c, _)| *c == 429).count();
    assert_eq!((checked, limited), (5, 25), "{codes:?}");
    // Even the right password now waits: the burst used the client's attempts.
    assert_eq!(login_from(lo(2), port, &login_form(lo(2), port), PASSWORD).code, 429);
    let log = std::fs::read_to_string(env.serve_log()).unwrap();
    assert_eq!(log.matches("failed web login").count(), 5, "5 passwords checked");

    // 40 clients at once (each under its own limit): hashes wait their turn or are
    // refused, they do not all run at once.
    let forms: Vec<_> = (0..40).map(|i| login_form(lo(10 + i as u8), port)).collect();
    let forms = Arc::new(forms);
    let codes = burst(40, move |i| login_from(lo(10 + i as u8), port, &forms[i], "wrong").code);
    assert!(codes.iter().all(|c| *c == 401 || *c == 503), "{codes:?}");
    assert!(codes.contains(&401));
    let after = serve.rss_mb();
    eprintln!("serve RSS: {before} MB before the bursts, {after} MB after");
    assert!(
        after < before + 40,
        "RSS grew from {before} MB to {after} MB: hashes ran in parallel"
    );
    // The owner, from an address that did not fail, still logs in.
    let ok = login_from(lo(100), port, &login_form(lo(100), port), PASSWORD);
    assert_eq!(ok.code, 303, "{}", ok.text());
}

/// Finding 7: 10,000 `GET /login` in a few seconds dropped every pending login form (the
/// session map's cap), so the owner's form answered "The form expired". The form is now
/// a signed token: a flood stores nothing, and the owner's form still logs in.
#[test]
fn a_login_page_flood_does_not_expire_the_owners_form() {
    let port = free_port();
    let env = lan_env(&format!("0.0.0.0:{port}"), "");
    let serve = serve_on(&env, port);
    let owner = login_form(lo(1), port);
    let before = serve.rss_mb();
    let flooded = burst(8, move |i| {
        let mut n = 0;
        for _ in 0..1_260 {
            let r = http_from(lo(50 + i as u8), port, "GET", "/login", &[], "");
            n += (r.code == 200) as usize;
        }
        n
    });
    assert_eq!(
        flooded.iter().sum::<usize>(),
        10_080,
        "every flood request was answered"
    );
    let after = serve.rss_mb();
    eprintln!("serve RSS: {before} MB before the flood, {after} MB after");
    let ok = login_from(lo(1), port, &owner, PASSWORD);
    assert_eq!(
        (ok.code, ok.header("location").as_deref()),
        (303, Some("/")),
        "{}",
        ok.text()
    );
    // A forged or tampered form token is still refused.
    let forged = (owner.0.clone(), "0".repeat(64));
    assert_eq!(login_from(lo(1), port, &forged, PASSWORD).code, 403);
    let mut other = owner.clone();
    other.0.push('0');
    assert_eq!(login_from(lo(1), port, &other, PASSWORD).code, 403);
}

/// Finding 11: with `listen = "[::]:port"` a local Prometheus arrives as
/// `::ffff:127.0.0.1`, which was not loopback: /metrics answered 401.
#[test]
fn an_ipv4_mapped_loopback_client_is_local() {
    let port = free_port();
    let env = lan_env(&format!("[::]:{port}"), "");
    let _serve = serve_on(&env, port);
    for path in ["/metrics", "/healthz"] {
        let r = get(port, path);
        assert_eq!(r.code, 200, "{path} from 127.0.0.1 via [::]: {}", r.text());
    }
    // The pages still need a login from there (loopback is not a session).
    assert_eq!(get(port, "/api/status").code, 401);
}

/// One slowloris connection: sends a request line, then a header line now and then.
struct Trickle(TcpStream);

impl Trickle {
    fn open(port: u16) -> Trickle {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
        s.set_nonblocking(true).unwrap();
        Trickle(s)
    }
    /// Sends one more header line; false once the server has closed the connection.
    fn tick(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return false,
                Ok(_) => continue, // an error page before the close
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        self.0.write_all(b"X-Slow: 1\r\n").is_ok()
    }
}

/// Finding 4: 20 connections trickling a header line every 5 s stayed open past 30 s,
/// and serve's descriptors grew with every one. Now a header must arrive whole within
/// the header timeout (10 s), and at most `http.max_connections` are open: 40 trickling
/// connections are all closed, and serve holds at most the cap's worth of them.
#[test]
fn slowloris_connections_are_closed_and_capped() {
    let port = free_port();
    let env = Env::new(
        1,
        &format!("http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\"\nhttp.max_connections = 16"),
    );
    let serve = serve_on(&env, port);
    let fds0 = serve.fds();
    let t0 = Instant::now();
    let mut open: Vec<Trickle> = (0..40).map(|_| Trickle::open(port)).collect();
    let mut most_fds = 0;
    while !open.is_empty() && t0.elapsed() < Duration::from_secs(45) {
        std::thread::sleep(Duration::from_secs(1));
        open.retain_mut(Trickle::tick);
        most_fds = most_fds.max(serve.fds());
    }
    let took = t0.elapsed();
    eprintln!(
        "slowloris: {} of 40 still open after {took:?}; serve's descriptors {fds0} -> at most {most_fds}",
        open.len()
    );
    assert!(
        open.is_empty(),
        "{} trickling connections still open after {took:?}",
        open.len()
    );
    assert!(most_fds <= fds0 + 16 + 4, "descriptors grew from {fds0} to {most_fds}");
    // An idle connection (nothing sent) is closed too, and a normal request still works.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let t1 = Instant::now();
    let mut buf = [0u8; 64];
    assert!(matches!(idle.read(&mut buf), Ok(0) | Err(_)));
    assert!(
        t1.elapsed() < Duration::from_secs(20),
        "idle connection closed after the timeout"
    );
    assert_eq!(get(port, "/healthz").code, 200);
}

/// A real HEVC clip like the cameras record.
/// A directory with an `ffmpeg` that logs each run to `ffmpeg.log` and then runs the real
/// one, at the input's own pace (`-re`) while a file `slow` exists beside it.
fn counting_ffmpeg(env: &Env) -> PathBuf {
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v ffmpeg"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{dir}/ffmpeg.log'\nif [ -e '{dir}/slow' ]; then exec '{real}' -re \"$@\"; fi\nexec '{real}' \"$@\"\n",
        dir = bin.display()
    );
    let p = bin.join("ffmpeg");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn ffmpeg_runs(bin: &Path) -> usize {
    std::fs::read_to_string(bin.join("ffmpeg.log")).map_or(0, |s| s.lines().count())
}

/// A loopback serve over two captured clips (a real video and a file that is none), with
/// the counting ffmpeg first in its PATH; returns the clips' ids (video, not a video).
fn media_env(port: u16, video_secs: u32) -> (Env, Serving, PathBuf, i64, i64) {
    // The index (its own stage, through the same queue) would add ffmpeg runs these
    // tests count: they count the web's.
    let env = Env::new(
        1,
        &format!("http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\"\nindex.enabled = false"),
    );
    let t = now_unix() - 2 * 3600;
    env.put_old(&old_clip(t), &hevc(video_secs));
    env.put_old(&old_clip(t + 60), b"not a video at all");
    env.ok(&["ingest", "--once"]);
    let bin = counting_ffmpeg(&env);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let log = std::fs::File::create(env.serve_log()).unwrap();
    let serve = Serving(
        env.cmd(&["serve"])
            .env("PATH", path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_port("127.0.0.1", port, "the web interface", Duration::from_secs(30));
    let ids: Vec<i64> = {
        let c = rusqlite::Connection::open_with_flags(
            env.root().join("catalog.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut st = c.prepare("SELECT id FROM files ORDER BY start_ms").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(ids.len(), 2);
    // The capture-time thumbnail stage has been over both clips: its ffmpegs are done.
    let thumb = env.root().join(format!("webcache/thumbs/{}.jpg", ids[0]));
    wait_for(Duration::from_secs(60), "the thumbnail stage", || {
        thumb.is_file()
            && catalog_count(
                &env,
                "SELECT CAST(value AS INTEGER) FROM kv WHERE key = 'web.thumbs_after_id'",
            ) >= ids[1]
    });
    wait_for(Duration::from_secs(30), "the stage's ffmpegs to end", || {
        serve.ffmpegs().is_empty()
    });
    (env, serve, bin, ids[0], ids[1])
}

/// Samples serve's running ffmpegs while `f` runs; returns f's result and the most seen at once.
fn most_ffmpegs_during<T: Send + 'static>(serve: &Serving, f: impl FnOnce() -> T + Send + 'static) -> (T, usize) {
    let t = std::thread::spawn(f);
    let mut most = 0;
    while !t.is_finished() {
        most = most.max(serve.ffmpegs().len());
        std::thread::sleep(Duration::from_millis(5));
    }
    (t.join().unwrap(), most)
}

/// Finding 6: reads that start work. 20 parallel thumbnail requests for a clip with no
/// frame ran 20 ffmpegs, and again on every request; `HEAD /media/play` started a
/// transcode; another site's page could start them through the browser. Now: one ffmpeg
/// at a time, once per clip that has no frame, none for a HEAD or another site.
#[test]
fn media_reads_start_at_most_one_bounded_ffmpeg() {
    needs!(FFMPEG);
    let port = free_port();
    let (env, serve, bin, video, bad) = media_env(port, 2);
    let runs0 = ffmpeg_runs(&bin);

    // 20 at once for the clip that is no video.
    let (codes, most) = most_ffmpegs_during(&serve, move || {
        burst(20, move |_| get(port, &format!("/media/thumb/{bad}")).code)
    });
    let runs = ffmpeg_runs(&bin) - runs0;
    eprintln!("20 thumbnail requests for a clip with no frame: {runs} ffmpeg runs, at most {most} at once");
    assert!(most <= 1, "{most} ffmpegs ran at once");
    assert!(
        (1..=2).contains(&runs),
        "{runs} ffmpeg runs for one clip (one per seek position)"
    );
    assert!(codes.iter().all(|c| *c == 404 || *c == 503), "{codes:?}");
    // Asked again: answered from memory, no ffmpeg.
    let codes = burst(20, move |_| get(port, &format!("/media/thumb/{bad}")).code);
    assert!(codes.iter().all(|c| *c == 404), "{codes:?}");
    assert_eq!(ffmpeg_runs(&bin) - runs0, runs, "no ffmpeg for a known failure");
    // The same for a transcode of it.
    let r = get(port, &format!("/media/play/{bad}"));
    assert_eq!(r.code, 500);
    let r2 = get(port, &format!("/media/play/{bad}"));
    assert!(r2.text().contains("ffmpeg failed"), "{}", r2.text());
    assert_eq!(ffmpeg_runs(&bin) - runs0, runs + 1, "one transcode attempt, remembered");

    // HEAD does no work: no ffmpeg, nothing cached, but it says what a GET would send.
    let runs1 = ffmpeg_runs(&bin);
    let h = http(port, "HEAD", &format!("/media/play/{video}"), &[], "");
    assert_eq!(h.code, 200);
    assert_eq!(h.header("content-type").as_deref(), Some("video/mp4"));
    let (from, to) = (now_unix() * 1000 - 3 * 3_600_000, now_unix() * 1000);
    let h = http(
        port,
        "HEAD",
        &format!("/media/export?camera={CAMERA}&from_ms={from}&to_ms={to}"),
        &[],
        "",
    );
    assert_eq!(h.code, 200);
    assert_eq!(ffmpeg_runs(&bin), runs1, "HEAD ran ffmpeg");
    assert!(!env.root().join(format!("webcache/play/{video}-720p.mp4")).exists());

    // Another site's page (<video src="http://127.0.0.1:8640/media/play/1">): the browser
    // says where the request comes from, and it is refused before any work.
    let play = format!("/media/play/{video}");
    for h in [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
        ("Origin", "http://evil.example"),
        ("Referer", "http://evil.example/page.html"),
    ] {
        let r = http(port, "GET", &play, &[h], "");
        assert_eq!(r.code, 403, "{h:?}: {}", r.text());
        let r = http(port, "GET", &format!("/media/thumb/{video}"), &[h], "");
        assert_eq!(r.code, 403, "{h:?}");
    }
    assert_eq!(ffmpeg_runs(&bin), runs1, "a cross-site request ran ffmpeg");
    // camvault's own page (same origin), and the CLI/curl (no browser headers), still play.
    let r = http(
        port,
        "GET",
        &play,
        &[
            ("Sec-Fetch-Site", "same-origin"),
            ("Referer", &format!("http://127.0.0.1:{port}/day/x/y")),
        ],
        "",
    );
    assert_eq!(r.code, 200, "{}", r.text());
    assert!(r.body.windows(4).any(|w| w == b"moof"));
    assert_eq!(get(port, &format!("/media/thumb/{video}")).code, 200);
}

/// Finding 6 (continued): a request that goes away takes its ffmpeg with it. An export
/// whose client left kept its ffmpeg running after the job's slot was given back, and a
/// transcode went on for the cache after its viewer left.
#[test]
fn an_aborted_export_or_transcode_kills_its_ffmpeg() {
    needs!(FFMPEG);
    let port = free_port();
    let (env, serve, bin, video, _) = media_env(port, 20);
    // From now on ffmpeg reads at the clips' own pace: a 20 s clip takes 20 s.
    std::fs::write(bin.join("slow"), "").unwrap();

    let (from, to) = (now_unix() * 1000 - 3 * 3_600_000, now_unix() * 1000);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /media/export?camera={CAMERA}&from_ms={from}&to_ms={to} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    wait_for(Duration::from_secs(10), "the export's ffmpeg", || {
        !serve.ffmpegs().is_empty()
    });
    for pid in serve.ffmpegs() {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        eprintln!("running: {}", String::from_utf8_lossy(&cmd).replace('\0', " "));
    }
    drop(s);
    let t0 = Instant::now();
    wait_for(Duration::from_secs(8), "the export's ffmpeg to be killed", || {
        serve.ffmpegs().is_empty()
    });
    eprintln!("export ffmpeg gone {:?} after its client left", t0.elapsed());

    // A transcode: the viewer reads the first bytes, then leaves.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET /media/play/{video} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut first = [0u8; 1024];
    let n = s.read(&mut first).unwrap();
    assert!(
        n > 0 && first.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    assert!(!serve.ffmpegs().is_empty(), "the transcode runs");
    drop(s);
    let t0 = Instant::now();
    wait_for(Duration::from_secs(8), "the transcode's ffmpeg to be killed", || {
        serve.ffmpegs().is_empty()
    });
    eprintln!("transcode ffmpeg gone {:?} after its viewer left", t0.elapsed());
    let play = env.root().join("webcache/play");
    assert!(
        files_under(&play).is_empty(),
        "no half-made transcode left: {:?}",
        files_under(&play)
    );
    // The slot is free again: a new request is served (not 503).
    std::fs::remove_file(bin.join("slow")).unwrap();
    let r = get(port, &format!("/media/play/{video}"));
    assert_eq!(r.code, 200, "{}", r.text());
}

/// Finding 5: `to_ms - from_ms` wrapped, so `from_ms=i64::MIN&to_ms=i64::MAX` passed the
/// 2-day export limit and the 31-day restore limit: the export sent everything and a
/// restore of the whole history was created.
#[test]
fn wrapping_time_ranges_are_refused() {
    needs!(FFMPEG);
    let port = free_port();
    let env = Env::new(1, &format!("http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\""));
    let t = now_unix() - 2 * 3600;
    env.put_old(&old_clip(t), &hevc(1));
    env.put_old(&old_clip(t - 40 * 86_400), &hevc(1));
    env.ok(&["ingest", "--once"]);
    let _serve = serve_on(&env, port);
    let (min, max) = (i64::MIN, i64::MAX);
    for (a, b) in [(min, max), (min, t * 1000), (-1, max), (0, 86_400_000)] {
        let r = get(port, &format!("/media/export?camera={CAMERA}&from_ms={a}&to_ms={b}"));
        assert_eq!(r.code, 400, "export {a}..{b}: {}", r.text());
        assert!(
            r.text().contains("years 2000-2200") || r.text().contains("range of up to"),
            "{}",
            r.text()
        );
    }
    // A restore needs this page's session and token.
    let shell = get(port, "/");
    let (cookie, csrf) = (shell.cookie(), csrf_of(&shell.text()));
    let post = |path: &str, a: i64, b: i64| {
        http(
            port,
            "POST",
            path,
            &[
                ("Content-Type", "application/json"),
                ("Cookie", &cookie),
                ("X-CSRF-Token", &csrf),
            ],
            &format!(r#"{{"camera":"{CAMERA}","from_ms":{a},"to_ms":{b}}}"#),
        )
    };
    for path in ["/api/restore/plan", "/api/restore"] {
        for (a, b) in [(min, max), (min, 0), (t * 1000, max)] {
            let r = post(path, a, b);
            assert_eq!(r.code, 400, "{path} {a}..{b}: {}", r.text());
        }
        // 41 days, computed without wrapping, is still over the limit.
        let r = post(path, (t - 41 * 86_400) * 1000, t * 1000);
        assert_eq!(r.code, 400, "{}", r.text());
    }
    assert_eq!(
        catalog_count(&env, "SELECT COUNT(*) FROM restores"),
        0,
        "no restore was created"
    );
    // A sane range still works.
    let r = post("/api/restore/plan", t * 1000 - 1000, t * 1000 + 1000);
    assert_eq!(r.code, 200, "{}", r.text());
    let r = get(
        port,
        &format!(
            "/media/export?camera={CAMERA}&from_ms={}&to_ms={}",
            t * 1000 - 1000,
            t * 1000 + 1000
        ),
    );
    assert_eq!(r.code, 200, "{}", r.text());
}

/// This machine's address on its default route, if it has a non-loopback one.
fn lan_address() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?; // no packet is sent
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Finding 4 (continued): one LAN client cannot take every connection slot: past 32 open
/// connections from one address, more are closed at once, and others still get in.
#[test]
fn one_client_cannot_take_every_connection() {
    let Some(ip) = lan_address() else {
        eprintln!("no LAN address on this machine: the per-client cap is not exercised");
        return;
    };
    let port = free_port();
    let env = lan_env(&format!("0.0.0.0:{port}"), "http.max_connections = 64");
    let _serve = serve_on(&env, port);
    let conns: Vec<TcpStream> = (0..48).map(|_| TcpStream::connect((ip, port)).unwrap()).collect();
    // The server closes the ones over the cap at once; the others stay open (idle, well
    // within the header timeout for the 2 s this looks).
    let mut is_closed = vec![false; conns.len()];
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        for (c, done) in conns.iter().zip(is_closed.iter_mut()) {
            c.set_nonblocking(true).unwrap();
            let mut b = [0u8; 16];
            match (&*c).read(&mut b) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Ok(0) | Err(_) => *done = true,
                Ok(_) => panic!("an answer to nothing"),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let closed = is_closed.iter().filter(|c| **c).count();
    assert_eq!(closed, 48 - 32, "over the per-client cap are closed");
    // Another client (here: loopback) is still served while those 32 are held.
    assert_eq!(get(port, "/healthz").code, 200);
    drop(conns);
}
