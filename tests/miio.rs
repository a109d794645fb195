//! The camera's SD card and NAS sync over miIO, against an independent implementation:
//! `tests/miio_sim.py`, a device built on python-miio's own protocol code (installed by
//! `.ci/run`). Success, a wrong token, a silent camera, a damaged reply, replayed and late
//! replies, and `serve`'s periodic poll into `status`, health and metrics.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const TOKEN: &str = "00112233445566778899aabbccddeeff";
const OTHER: &str = "ffeeddccbbaa99887766554433221100";
const MAC: &str = "5c02148a9e01";

struct Sim {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Sim {
    fn start(token: &str, mode: &str, extra: &[&str]) -> Sim {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(test_python())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/miio_sim.py"))
            .args([token, mode])
            .arg(log.path())
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .unwrap_or_else(|| {
                panic!("the simulator did not start (python-miio installed? .ci/run installs it): {line:?}")
            })
            .parse()
            .unwrap();
        Sim { child, port, log }
    }

    /// The requests the device accepted (parsed with its token).
    fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.log.path())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data dir whose camera `door` is the simulator at `port`, with `token` in a 0600 file.
fn env_for(port: u16, token: &str) -> Env {
    let env = Env::new(
        1,
        &format!(
            "[cameras.{MAC}]\nname = \"door\"\naddress = \"127.0.0.1:{port}\"\nmiio_token_file = \"door.token\"\nmiio_poll_secs = 10\n"
        ),
    );
    let f = env.root().join("door.token");
    std::fs::write(&f, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    env
}

fn probe(env: &Env) -> (Option<i32>, serde_json::Value, String) {
    let out = env.run(&["camera", "probe", "door", "--json"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    let v = serde_json::from_str(&stdout(&out)).unwrap_or(serde_json::Value::Null);
    assert!(
        !text.contains(TOKEN) && !text.contains(OTHER),
        "the token never shows: {text}"
    );
    assert!(
        !text.contains("share-pass-must-not-leak"),
        "nor the share's password: {text}"
    );
    (out.status.code(), v, text)
}

#[test]
fn reads_sd_card_and_nas_sync_from_python_miio() {
    let sim = Sim::start(TOKEN, "ok", &[]);
    let env = env_for(sim.port, TOKEN);
    let (code, v, text) = probe(&env);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(v["error"], serde_json::Value::Null, "{v:#}");
    assert_eq!(v["nas"]["state_text"], "on", "{v:#}");
    assert_eq!(v["nas"]["sync_interval_secs"], 300);
    assert_eq!(v["nas"]["retention_secs"], 604800);
    assert_eq!(v["nas"]["last_sync"], 1764000000);
    assert_eq!(
        v["nas"]["share_addr"], "127.0.0.1",
        "the byte-reversed address decoded: {v:#}"
    );
    assert_eq!(v["sd"]["status_text"], "normal");
    assert_eq!(
        (
            v["sd"]["total"].as_i64(),
            v["sd"]["free"].as_i64(),
            v["sd"]["used"].as_i64()
        ),
        (Some(30517), Some(12000), Some(18517))
    );
    // What the device saw: our requests carry its id, a stamp from its clock, fresh ids.
    let reqs = sim.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0]["method"], "nas_get_config");
    assert_eq!(reqs[1]["method"], "get_properties");
    assert_eq!(
        reqs[1]["params"][0],
        serde_json::json!({"did": "status", "siid": 4, "piid": 1})
    );
    for r in &reqs {
        assert_eq!(r["device_id"], 0x0A0B0C0D);
        assert!((r["ts"].as_i64().unwrap() - now_unix()).abs() < 30, "{r}");
    }
    assert_ne!(reqs[0]["id"], reqs[1]["id"]);
}

#[test]
fn a_wrong_token_is_a_clear_error_naming_the_camera() {
    let sim = Sim::start(TOKEN, "ok", &[]);
    let env = env_for(sim.port, OTHER);
    let t0 = Instant::now();
    let (code, v, text) = probe(&env);
    assert_eq!(code, Some(1), "{text}");
    let err = v["error"].as_str().unwrap_or_else(|| panic!("{text}"));
    assert!(
        err.contains("camera door") && err.contains("token is most likely wrong"),
        "{err}"
    );
    assert!(sim.requests().is_empty(), "the device accepted nothing");
    assert!(t0.elapsed() < Duration::from_secs(20), "bounded: {:?}", t0.elapsed());
    // A token that is not 32 hex digits is refused before anything is sent, naming the key.
    std::fs::write(env.root().join("door.token"), "not-a-token").unwrap();
    let out = env.run(&["camera", "probe", "door"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("cameras.{MAC}")) && stderr(&out).contains("32 hex digits"),
        "{}",
        stderr(&out)
    );
    // A token file others can read is refused too.
    std::fs::write(env.root().join("door.token"), TOKEN).unwrap();
    std::fs::set_permissions(env.root().join("door.token"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["camera", "probe", "door"]);
    assert!(
        !out.status.success() && stderr(&out).contains("chmod 600"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(TOKEN));
}

#[test]
fn a_silent_camera_times_out_with_bounded_retries() {
    let sim = Sim::start(TOKEN, "silent", &[]);
    let env = env_for(sim.port, TOKEN);
    let t0 = Instant::now();
    let (code, v, text) = probe(&env);
    let took = t0.elapsed();
    assert_eq!(code, Some(1), "{text}");
    let err = v["error"].as_str().unwrap();
    assert!(
        err.contains("no answer to the miIO hello") && err.contains("3 tries"),
        "{err}"
    );
    assert!(
        took >= Duration::from_secs(8) && took < Duration::from_secs(20),
        "3 attempts of 3 s: {took:?}"
    );
}

#[test]
fn damaged_replayed_and_late_replies_are_ignored() {
    for mode in ["bad-checksum", "replay"] {
        let sim = Sim::start(TOKEN, mode, &[]);
        let env = env_for(sim.port, TOKEN);
        let (code, v, text) = probe(&env);
        // The damaged or stale answers say "NAS off, error 99, card not working": believed,
        // they would fail the probe.
        assert_eq!(code, Some(0), "{mode}: {text}");
        assert_eq!(v["nas"]["state_text"], "on", "{mode}: {v:#}");
        assert_eq!(v["nas"]["error_code"], 0, "{mode}: {v:#}");
        assert_eq!(v["sd"]["status_text"], "normal", "{mode}: {v:#}");
        assert_eq!(
            sim.requests().len(),
            2,
            "{mode}: answered at the first attempt, no retry needed"
        );
    }
}

#[test]
fn serve_polls_into_status_health_and_metrics() {
    // SD card full (status 2) and a NAS sync error 5.
    let sim = Sim::start(TOKEN, "ok", &["2", "3", "5"]);
    let env = env_for(sim.port, TOKEN);
    let mut serve = env.serve();
    let s = env.wait_status(Duration::from_secs(30), |s| {
        s["camera_devices"].as_array().is_some_and(|a| !a.is_empty())
    });
    let d = &s["camera_devices"][0];
    assert_eq!(d["camera"], "door");
    assert_eq!(d["sd"]["status_text"], "no space left", "{d:#}");
    let problems = s["health"]["problems"].as_array().unwrap();
    let rules: Vec<&str> = problems.iter().map(|p| p["rule"].as_str().unwrap()).collect();
    assert!(
        rules.contains(&"sd_card") && rules.contains(&"nas_sync"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p["message"].as_str().unwrap().contains("NAS sync error 5")),
        "{problems:?}"
    );
    let human = env.ok(&["status"]);
    assert!(
        human.contains("device  door") && human.contains("SD card no space left"),
        "{human}"
    );

    // The metrics, rendered from the same catalog.
    let cfg = camvault::config::Config::load(&env.config()).unwrap();
    let cat = camvault::catalog::Catalog::open(&env.root().join("catalog.sqlite"), false).unwrap();
    let m = camvault::metrics::render(&cfg, &cat, &Default::default(), now_unix() * 1000).unwrap();
    assert!(m.contains("camvault_camera_sd_status{camera=\"door\"} 2"), "{m}");
    assert!(m.contains("camvault_camera_nas_error_code{camera=\"door\"} 5"), "{m}");
    assert!(m.contains("camvault_camera_miio_up{camera=\"door\"} 1"), "{m}");
    assert!(m.contains("camvault_health_problems"), "{m}");

    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let _ = serve.wait();
    let log = std::fs::read_to_string(env.serve_log()).unwrap();
    assert!(
        !log.contains(TOKEN) && !log.contains("share-pass-must-not-leak"),
        "{log}"
    );
    assert!(log.contains("reports its SD card full"), "{log}");

    // A token file others can read: serve runs on, and says monitoring is off, in health.
    std::fs::set_permissions(env.root().join("door.token"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut serve = env.serve();
    let s = env.wait_status(Duration::from_secs(30), |s| {
        s["health"]["problems"].as_array().is_some_and(|p| {
            p.iter()
                .any(|p| p["message"].as_str().unwrap_or("").contains("chmod 600"))
        })
    });
    let p = s["health"]["problems"].as_array().unwrap();
    assert!(
        p.iter().any(|p| p["rule"] == "camera_unreachable"
            && p["message"].as_str().unwrap().contains("monitoring over miIO is off")),
        "{p:?}"
    );
    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let _ = serve.wait();
}
