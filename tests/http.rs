//! The HTTP endpoint of `serve`: /metrics parsed as Prometheus text, /healthz, /api/status.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;

fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

fn metric(samples: &[prometheus_parse::Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[test]
fn metrics_health_and_status_over_http() {
    let port = free_port();
    let env = Env::new(
        1,
        &format!("http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\"\ncache.max_days = 36500"),
    );
    for i in 0..3 {
        env.put_old(&old_clip(now_unix() - 600 - i * 60), &bytes(i as u64, 1000));
    }
    let mut serve = env.serve();
    env.wait_status(Duration::from_secs(30), |s| s["files"]["verified"] == 3);
    wait_port("127.0.0.1", port, "the HTTP endpoint", Duration::from_secs(20));

    let (code, text) = get(port, "/metrics");
    assert_eq!(code, 200);
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let s = &parsed.samples;
    assert_eq!(
        metric(
            s,
            "camvault_files",
            &[("camera", "78df72a1b2c3"), ("state", "verified")]
        ),
        Some(3.0)
    );
    assert_eq!(
        metric(
            s,
            "camvault_bytes",
            &[("camera", "78df72a1b2c3"), ("state", "verified")]
        ),
        Some(3000.0)
    );
    assert_eq!(metric(s, "camvault_pending_files", &[]), Some(0.0));
    assert_eq!(metric(s, "camvault_verified_total", &[]), Some(3.0));
    assert_eq!(metric(s, "camvault_upload_bytes_total", &[]), Some(3000.0));
    assert_eq!(metric(s, "camvault_cache_bytes", &[]), Some(3000.0));
    assert!(metric(s, "camvault_disk_free_bytes", &[]).unwrap() > 0.0);
    // The standard process metrics, of the serve process itself (issue 20).
    let proc_stat = std::fs::read_to_string(format!("/proc/{}/stat", serve.id())).unwrap();
    let threads: f64 = proc_stat[proc_stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(17)
        .unwrap()
        .parse()
        .unwrap();
    let rss = metric(s, "process_resident_memory_bytes", &[]).unwrap();
    assert!(rss > 1e6 && rss < 1e9, "RSS {rss}");
    assert!(metric(s, "process_cpu_seconds_total", &[]).unwrap() > 0.0);
    assert!(metric(s, "process_open_fds", &[]).unwrap() >= 3.0);
    assert!(metric(s, "process_threads", &[]).unwrap() >= threads.min(2.0));
    let started = metric(s, "process_start_time_seconds", &[]).unwrap();
    assert!((now_unix() as f64 - started).abs() < 300.0, "started {started}");
    assert!(metric(
        s,
        "camvault_camera_last_file_age_seconds",
        &[("camera", "78df72a1b2c3")]
    )
    .is_some());
    assert_eq!(
        metric(s, "camvault_health_problems", &[("rule", "upload_failures")]),
        Some(0.0)
    );
    assert_eq!(
        metric(s, "camvault_stored_bytes", &[("class", "Standard")]),
        Some(3000.0)
    );
    assert_eq!(metric(s, "camvault_stored_files", &[("class", "Standard")]), Some(3.0));
    let lag = metric(s, "camvault_verify_lag_seconds", &[]).unwrap();
    assert!(
        (0.0..60.0).contains(&lag),
        "captured and verified within a minute: {lag}"
    );
    assert_eq!(metric(s, "camvault_verify_mismatches", &[]), Some(0.0));
    assert_eq!(metric(s, "camvault_restores_in_flight", &[]), Some(0.0));
    assert_eq!(metric(s, "camvault_restore_clips_waiting", &[]), Some(0.0));
    // 3000 bytes in Standard at ¥0.12/GB-month.
    let cost = metric(s, "camvault_estimated_monthly_cost_cny", &[]).unwrap();
    assert!((cost - 3000.0 / 1e9 * 0.12).abs() < 1e-12, "{cost}");
    for rule in [
        "clock_skew",
        "lifecycle",
        "share_protection",
        "transition_late",
        "restore_expiring",
        "restore_drill",
        "resources",
    ] {
        assert_eq!(
            metric(s, "camvault_health_problems", &[("rule", rule)]),
            Some(0.0),
            "{rule}"
        );
    }
    assert!(
        s.iter()
            .all(|x| x.metric.starts_with("camvault_") || x.metric.starts_with("process_")),
        "every metric is camvault_* or the standard process_*"
    );

    let (code, body) = get(port, "/healthz");
    assert_eq!(code, 200, "{body}");
    let (code, body) = get(port, "/api/status");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["files"]["verified"], 3);

    // The store goes away and a new clip cannot be stored: /healthz says so with 503.
    std::fs::rename(env.store(), env.root().join("store-away")).unwrap();
    env.put_old(&old_clip(now_unix() - 100), b"waiting");
    env.wait_status(Duration::from_secs(30), |s| s["files"]["failed"] == 1);
    let (code, body) = get(port, "/healthz");
    assert_eq!(code, 503, "{body}");
    let h: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["problems"][0]["rule"], "upload_failures", "{h:#}");
    let (_, text) = get(port, "/metrics");
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert_eq!(metric(&parsed.samples, "camvault_failed_files", &[]), Some(1.0));
    assert!(metric(&parsed.samples, "camvault_upload_errors_total", &[]).unwrap() >= 1.0);
    assert_eq!(
        metric(
            &parsed.samples,
            "camvault_health_problems",
            &[("rule", "upload_failures")]
        ),
        Some(1.0)
    );

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    assert!(serve.wait().unwrap().success());
}

#[test]
fn non_loopback_listen_is_refused() {
    // Without an admin who can log in, `serve` refuses (other commands run: `camvault user
    // add` must work on this config).
    let env = Env::new(1, "http.enabled = true\nhttp.listen = \"0.0.0.0:8640\"");
    env.ok(&["status"]);
    let err = common::web::serve_refuses(&env);
    assert!(err.contains("http.listen") && err.contains("loopback"), "{err}");
}
