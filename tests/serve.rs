//! `serve` and `demo` as long-running processes: watching, settling, shutdown, crashes.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;

/// Sends SIGTERM to `serve`, waits for it, and returns its log.
fn sigterm(env: &Env, child: &mut Child) -> String {
    let st = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = poll(Duration::from_secs(30), || {
        child
            .try_wait()
            .unwrap()
            .ok_or("serve did not stop on SIGTERM".to_string())
    });
    let log = std::fs::read_to_string(env.serve_log()).unwrap();
    assert!(status.success(), "serve exited with {status:?}:\n{log}");
    log
}

#[test]
fn serve_captures_growing_files_once_and_stops_cleanly() {
    let env = Env::new(2, "cache.max_days = 36500");
    let mut serve = env.serve();
    let t = now_unix() - 600;
    let mut inputs = BTreeMap::new();
    for i in 0..10 {
        let data = bytes(i, 30_000);
        let rel = old_clip(t + i as i64 * 60);
        write(&env.inbox().join(&rel), &data);
        inputs.insert(rel, data);
    }
    // A new-layout file written in place in appends a second apart, as the C700 does.
    let rel = format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4");
    let path = env.inbox().join(&rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(&path).unwrap();
    let mut all = Vec::new();
    for part in 0..4 {
        let chunk = bytes(100 + part, 20_000);
        f.write_all(&chunk).unwrap();
        f.flush().unwrap();
        all.extend(chunk);
        std::thread::sleep(Duration::from_millis(1000)); // the camera's pace, not synchronisation
    }
    drop(f);
    inputs.insert(rel, all);

    let s = env.wait_status(Duration::from_secs(60), |s| s["files"]["verified"] == 11);
    assert_eq!(s["files"]["total"], 11, "each file captured exactly once: {s:#}");
    let mut stored: Vec<Vec<u8>> = env.objects().into_values().collect();
    let mut expected: Vec<Vec<u8>> = inputs.into_values().collect();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected);

    // A late backfill is captured too, while serving.
    env.put_old(&old_clip(t - 86_400), b"backfilled from yesterday");
    env.wait_status(Duration::from_secs(30), |s| s["files"]["verified"] == 12);

    let log = sigterm(&env, &mut serve);
    assert!(log.contains("stopped cleanly"), "{log}");
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_stores_each_file_once() {
    let env = Env::new(1, "cache.max_days = 36500\nupload.concurrency = 3");
    let inbox = env.inbox();
    let writer = std::thread::spawn(move || {
        let mut written = BTreeMap::new();
        let t = now_unix() - 3600;
        for i in 0..60u64 {
            let rel = if i % 3 == 0 {
                format!(
                    "XiaomiCamera_00_{NEW_MAC}/00_2025100314{:02}00_2025100314{:02}59.mp4",
                    i, i
                )
            } else {
                old_clip(t + i as i64 * 60)
            };
            let path = inbox.join(&rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut f = std::fs::File::create(&path).unwrap();
            let mut all = Vec::new();
            for part in 0..3 {
                let chunk = bytes(i * 10 + part, 40_000 + (i as usize * 997) % 50_000);
                f.write_all(&chunk).unwrap();
                all.extend(chunk);
                std::thread::sleep(Duration::from_millis(30));
            }
            written.insert(rel, all);
            std::thread::sleep(Duration::from_millis(60));
        }
        written
    });
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut kills = 0;
    while !writer.is_finished() || kills < 12 {
        let mut serve = env.serve();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(150 + rng % 1200)); // a random moment to crash at
        serve.kill().unwrap(); // SIGKILL
        serve.wait().unwrap();
        kills += 1;
    }
    let inputs = writer.join().unwrap();
    assert!(kills >= 12);

    let mut serve = env.serve();
    let s = env.wait_status(Duration::from_secs(120), |s| s["files"]["verified"] == inputs.len());
    sigterm(&env, &mut serve);
    assert_eq!(
        s["files"]["total"],
        inputs.len(),
        "no file captured twice or early: {s:#}"
    );
    assert_eq!(s["files"]["failed"], 0);

    let objects = env.objects();
    assert_eq!(objects.len(), inputs.len(), "each input stored exactly once");
    let mut stored: Vec<&Vec<u8>> = objects.values().collect();
    let mut expected: Vec<&Vec<u8>> = inputs.values().collect();
    stored.sort();
    expected.sort();
    assert!(stored == expected, "stored bytes equal the inputs");
    env.ok(&["verify", "--deep"]);
}

#[test]
fn demo_runs_end_to_end_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_camvault"))
        .args([
            "demo",
            "--dir",
            demo.to_str().unwrap(),
            "--interval",
            "1",
            "--duration",
            "9",
        ])
        .env_remove("CAMVAULT_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("status"), "tells where to look: {}", stdout(&out));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_camvault"))
        .args([
            "--config",
            demo.join("camvault.toml").to_str().unwrap(),
            "status",
            "--json",
        ])
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(s["files"]["verified"].as_u64().unwrap() >= 2, "{s:#}");
    let ids = camera_ids(&s);
    assert!(
        ids.iter().any(|i| i == "front-door") && ids.iter().any(|i| i == "garden"),
        "{ids:?}"
    );
}

/// Kills `serve` when a test fails before stopping it, so a failed resource test does not
/// leave a busy process behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU time (user + system) in seconds and resident memory in bytes of a running process,
/// from `/proc/<pid>/stat` (fields 14, 15 and 24; see proc(5)).
fn usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces: the fields that follow start after its ')'.
    let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap();
    let pages: u64 = rest[21].parse().unwrap();
    // SAFETY: sysconf only reads configuration values.
    let (hz, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    (ticks as f64 / hz as f64, pages * page as u64)
}

/// Issue 20: an idle `serve` answered the `IN_OPEN` its own directory scans raised by
/// scanning again, burning a core and queueing events without bound. This is a resource
/// bound, not a timing test. The fixed watcher uses well under 1 % of a core here;
/// the bound is 10 % so a loaded CI machine (other tests, other processes, a slow disk)
/// cannot fail it, while the bug (a whole core, 100 %) cannot pass it. Memory likewise:
/// the bug grew by megabytes per second; 100 more clips through capture, upload and
/// verification cost a fixed-size server a little allocator and SQLite cache, so 16 MB is
/// far above normal and far below the bug.
#[test]
fn idle_serve_costs_nothing_and_memory_stays_flat_while_clips_arrive() {
    let env = Env::new(2, "cache.max_days = 36500");
    // A few hundred finished clips in 50 hour folders, as a camera leaves after two days.
    let t = now_unix() - 3 * 86_400;
    for i in 0..300 {
        env.put_old(&old_clip(t + i * 600), &bytes(i as u64, 4_000));
    }
    let mut serve = KillOnDrop(env.serve());
    let pid = serve.0.id();
    env.wait_status(Duration::from_secs(120), |s| s["files"]["verified"] == 300);

    // `status` shows the running serve's own resource use (recorded by serve itself).
    let s = env.status();
    assert_eq!(s["serve"]["pid"], pid, "{s:#}");
    assert!(s["serve"]["rss_bytes"].as_u64().unwrap() > 1 << 20, "{s:#}");
    assert!(env
        .ok(&["status"])
        .contains(&format!("serve   running: pid {pid}, RSS ")));

    // Idle: nothing arrives. The window is what is measured, not a wait for an event.
    let (cpu0, rss0) = usage(pid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let (cpu1, rss1) = usage(pid);
    let share = (cpu1 - cpu0) / t0.elapsed().as_secs_f64();
    assert!(
        share < 0.10,
        "idle serve used {:.1} % of a core over {:?} (RSS {} -> {} kB)",
        share * 100.0,
        t0.elapsed(),
        rss0 / 1024,
        rss1 / 1024
    );

    // 100 clips arrive, a few at a time, in both layouts; memory must not follow them.
    for i in 0..100u64 {
        let rel = if i % 2 == 0 {
            old_clip(now_unix() - 1800 + i as i64)
        } else {
            format!(
                "XiaomiCamera_00_{NEW_MAC}/00_20251003{:02}{:02}00_20251003{:02}{:02}59.mp4",
                10 + i / 60,
                i % 60,
                10 + i / 60,
                i % 60
            )
        };
        env.put_old(&rel, &bytes(1000 + i, 20_000));
        if i % 10 == 9 {
            std::thread::sleep(Duration::from_millis(200)); // the cameras' pace, not synchronisation
        }
    }
    env.wait_status(Duration::from_secs(120), |s| s["files"]["verified"] == 400);
    let (_, rss2) = usage(pid);
    let grew = rss2.saturating_sub(rss1);
    assert!(
        grew < 16 << 20,
        "RSS grew by {} kB while 100 clips arrived ({} -> {} kB)",
        grew / 1024,
        rss1 / 1024,
        rss2 / 1024
    );
    eprintln!(
        "idle CPU {:.2} % of a core; RSS {} kB idle, {} kB after 100 more clips",
        share * 100.0,
        rss1 / 1024,
        rss2 / 1024
    );
    let log = sigterm(&env, &mut serve.0);
    assert!(log.contains("stopped cleanly"), "{log}");
    assert!(
        env.status()["serve"].is_null(),
        "a stopped serve is not shown as running"
    );
}

/// The events that mean "something new": a folder renamed into the inbox (one
/// `IN_MOVED_TO` for the folder, nothing for its files) and files written in place are
/// found without the periodic rescan, which is pushed out of the test's reach.
#[test]
fn watcher_finds_a_folder_renamed_in_and_new_files_without_a_rescan() {
    let env = Env::new(1, "cache.max_days = 36500\ncapture.rescan_secs = 86400");
    let mut serve = KillOnDrop(env.serve());
    let log_has = |what: &str| {
        std::fs::read_to_string(env.serve_log())
            .unwrap_or_default()
            .contains(what)
    };
    wait_for(Duration::from_secs(30), "the watcher to start", || {
        log_has("watching the inbox")
    });
    let outside = env.root().join("staging");
    let t = now_unix() - 7200;
    for i in 0..5 {
        let rel = old_clip(t + i * 60);
        let name = std::path::Path::new(&rel).file_name().unwrap().to_owned();
        write(&outside.join("2099010100").join(name), &bytes(i as u64, 3000));
        age(
            &outside
                .join("2099010100")
                .join(std::path::Path::new(&rel).file_name().unwrap()),
            3600,
        );
    }
    let cam = env.inbox().join("xiaomi_camera_videos").join(OLD_MAC);
    std::fs::create_dir_all(&cam).unwrap();
    std::fs::rename(outside.join("2099010100"), cam.join("2099010100")).unwrap();
    env.wait_status(Duration::from_secs(60), |s| s["files"]["verified"] == 5);
    env.put_old(&old_clip(t + 3600), b"one more, written in place");
    env.wait_status(Duration::from_secs(60), |s| s["files"]["verified"] == 6);
    sigterm(&env, &mut serve.0);
}

/// Issue 18, item 3: a test whose tool is missing is skipped with what to install, except
/// under `.ci/run` (CAMVAULT_REQUIRE_TOOLS=1), where it fails with the same message.
#[test]
fn a_missing_test_tool_skips_here_and_fails_under_ci() {
    let missing = Tool {
        name: "a tool no machine has",
        ready: || has_on_path("camvault-no-such-tool"),
        install: "apt-get install camvault-no-such-tool",
    };
    assert!(!ready_or(&missing, false), "skipped, not failed, outside CI");
    let failed = std::panic::catch_unwind(|| ready_or(&missing, true)).unwrap_err();
    let msg = failed.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("apt-get install camvault-no-such-tool") && msg.contains(REQUIRE_TOOLS),
        "{msg}"
    );
    assert!(ready_or(
        &Tool {
            ready: || true,
            ..missing
        },
        true
    ));
}

/// A plain HTTP GET on 127.0.0.1 (loopback needs no login); the body.
fn http_get(port: u16, path: &str) -> String {
    use std::io::Read;
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    body.to_string()
}

/// Issue 18, item 7: serve's stages are named workers; each one's runs, failures and last
/// success or error show in `/metrics` (labelled by worker), `/api/status` and `status`; a
/// failing worker shows its error there under its name (and in the log once, not every
/// second); SIGTERM stops every worker within the shutdown deadline.
#[test]
fn workers_show_in_metrics_api_and_status_and_stop_within_the_deadline() {
    let port = free_port();
    let env = Env::new(
        1,
        &format!(
            "http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\"\ncache.max_days = 36500\nsamba.audit_log = \"audit-is-a-folder\""
        ),
    );
    // The share's audit log is a folder: the `share-audit` worker fails every pass.
    std::fs::create_dir_all(env.root().join("audit-is-a-folder")).unwrap();
    let mut serve = KillOnDrop(env.serve());
    wait_port("127.0.0.1", port, "serve's web interface", Duration::from_secs(60));
    env.put_old(&old_clip(now_unix() - 600), &bytes(1, 5_000));
    env.wait_status(Duration::from_secs(60), |s| s["files"]["verified"] == 1);

    let names = [
        "inbox",
        "uploads",
        "cache",
        "manifests",
        "catalog-backup",
        "verify",
        "tiers",
        "alerts",
        "restores",
        "miio",
        "web",
        "thumbnails",
        "index",
        "notify",
        "share-audit",
        "selfwatch",
    ];
    let mut metrics = String::new();
    wait_for(
        Duration::from_secs(30),
        "the cache worker's second pass in /metrics",
        || {
            metrics = http_get(port, "/metrics");
            metrics.contains("camvault_worker_runs_total{worker=\"cache\"} ")
                && !metrics.contains("camvault_worker_runs_total{worker=\"cache\"} 1\n")
                && metrics.contains("camvault_worker_failures{worker=\"share-audit\"} 2")
        },
    );
    for n in names {
        assert!(
            metrics.contains(&format!("camvault_worker_runs_total{{worker=\"{n}\"}}")),
            "{n}:\n{metrics}"
        );
        assert!(metrics.contains(&format!(
            "camvault_worker_last_success_timestamp_seconds{{worker=\"{n}\"}}"
        )));
    }
    assert!(metrics.contains("camvault_worker_busy{worker=\"web\"} 1"), "{metrics}");
    assert!(
        metrics.contains("camvault_worker_failures{worker=\"cache\"} 0"),
        "{metrics}"
    );

    let api: serde_json::Value = serde_json::from_str(&http_get(port, "/api/status")).unwrap();
    let worker = |name: &str| -> serde_json::Value {
        api["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {api:#}"))
            .clone()
    };
    let cache = worker("cache");
    assert!(
        cache["runs"].as_u64().unwrap() >= 2 && cache["last_ok_ms"].as_i64().is_some(),
        "{cache:#}"
    );
    assert_eq!(cache["schedule"], "every 1 s");
    let audit = worker("share-audit");
    assert!(audit["failures"].as_u64().unwrap() >= 2, "{audit:#}");
    assert!(
        audit["last_error"]
            .as_str()
            .unwrap()
            .contains("reading the share's audit log"),
        "{audit:#}"
    );
    assert_eq!(worker("web")["schedule"], "service");

    // `status` (another process) shows what serve recorded: every worker, the failing one.
    let s = env.status();
    let recorded: Vec<&str> = s["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(recorded, names, "{s:#}");
    assert!(
        env.ok(&["status"]).contains("workers 16 running"),
        "{}",
        env.ok(&["status"])
    );

    // Logged once for the streak, not once per pass.
    let log = std::fs::read_to_string(env.serve_log()).unwrap();
    assert_eq!(
        log.matches("share-audit: reading the share's audit log").count(),
        1,
        "{log}"
    );

    let t0 = Instant::now();
    let log = sigterm(&env, &mut serve.0);
    // serve's SHUTDOWN_DEADLINE (src/cli/serve.rs).
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "stopped after {:?}",
        t0.elapsed()
    );
    assert!(log.contains("stopped cleanly"), "{log}");
    assert_eq!(
        env.status()["workers"],
        serde_json::json!([]),
        "a stopped serve has no workers"
    );
}
