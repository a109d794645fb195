//! Prometheus metrics (`/metrics`): `camvault_*`, and the standard `process_*` of `serve` itself.
//!
//! Counters of what the pipeline did since start live in [`PipelineMetrics`] and are
//! updated where the work happens; everything about the state of the archive is read
//! from the catalog at scrape time, so the numbers are never out of step with it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use std::sync::atomic::AtomicU64;

use crate::catalog::Catalog;
use crate::config::Config;

/// Counters of the running pipeline; cheap to clone (shared handles).
#[derive(Clone, Default)]
pub struct PipelineMetrics {
    pub upload_bytes: Counter,
    pub upload_seconds: Counter<f64, AtomicU64>,
    pub upload_errors: Counter,
    pub verify_failures: Counter,
    pub verified: Counter,
    /// `serve`'s workers and their states (`camvault_worker_*`).
    pub workers: crate::workers::Board,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CameraState {
    camera: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CameraLabel {
    camera: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabel {
    rule: String,
}

/// Renders every metric in the Prometheus text format.
pub fn render(cfg: &Config, cat: &Catalog, pm: &PipelineMetrics, now_ms: i64) -> anyhow::Result<String> {
    // A new registry per scrape, dropped after it: label sets (cameras x states, classes,
    // rules) never accumulate across scrapes, whatever comes and goes.
    let mut r = Registry::default();
    let files = Family::<CameraState, Gauge>::default();
    let bytes = Family::<CameraState, Gauge>::default();
    for row in cat.stats_rows()? {
        // Purged files are still verified in the store; `local` only splits the cache.
        files
            .get_or_create(&CameraState {
                camera: row.camera.clone(),
                state: row.state.clone(),
            })
            .inc_by(row.files as i64);
        bytes
            .get_or_create(&CameraState {
                camera: row.camera,
                state: row.state,
            })
            .inc_by(row.bytes as i64);
    }
    r.register("camvault_files", "Recordings in the catalog by camera and state", files);
    r.register("camvault_bytes", "Bytes of recordings by camera and state", bytes);

    let s = cat.summary()?;
    let g = |v: i64| {
        let g = Gauge::<i64>::default();
        g.set(v);
        g
    };
    r.register(
        "camvault_pending_files",
        "Recordings not yet verified in the store",
        g((s.captured.files + s.uploaded.files + s.failed.files) as i64),
    );
    r.register(
        "camvault_failed_files",
        "Recordings whose upload or verification is failing",
        g(s.failed.files as i64),
    );
    r.register(
        "camvault_oldest_pending_seconds",
        "Age of the oldest recording not yet verified (0 when none)",
        g(s.oldest_pending_ms.map_or(0, |t| (now_ms - t).max(0) / 1000)),
    );
    r.register(
        "camvault_cache_bytes",
        "Verified recordings still kept in the local vault",
        g(s.cached.bytes as i64),
    );
    let free = crate::cache::free_bytes(&cfg.vault());
    if let Some(free) = free {
        r.register(
            "camvault_disk_free_bytes",
            "Free space on the vault's disk",
            g(free as i64),
        );
    }
    let silent = Family::<CameraLabel, Gauge>::default();
    for c in &s.cameras {
        if let Some(t) = c.last_capture_ms {
            silent
                .get_or_create(&CameraLabel { camera: c.id.clone() })
                .set((now_ms - t).max(0) / 1000);
        }
    }
    r.register(
        "camvault_camera_last_file_age_seconds",
        "Seconds since each camera's last recording arrived",
        silent,
    );

    let del = cat.deletion_summary(now_ms - 86_400_000)?;
    r.register(
        "camvault_deletion_attempts",
        "Attempts over SMB to delete, rename or overwrite (all time)",
        g(del.total as i64),
    );
    r.register(
        "camvault_deletion_attempts_denied",
        "Of those, refused by the share's protection",
        g(del.denied as i64),
    );

    if let Some(t) = s.last_backup_ms {
        r.register(
            "camvault_catalog_backup_age_seconds",
            "Seconds since the catalog was last backed up to the store",
            g((now_ms - t).max(0) / 1000),
        );
    }
    // The bucket's own count (GetBucketStat or a listing), from the last hourly check.
    if let Some(u) = cat.slot(&crate::catalog::kv::STORE_USAGE)? {
        let (objects, bytes) = (
            Family::<ClassLabel, Gauge>::default(),
            Family::<ClassLabel, Gauge>::default(),
        );
        for (class, (n, b)) in &u.classes {
            objects
                .get_or_create(&ClassLabel { class: class.clone() })
                .set(*n as i64);
            bytes.get_or_create(&ClassLabel { class: class.clone() }).set(*b as i64);
        }
        r.register("camvault_bucket_objects", "Objects in the bucket by storage class, as the store counts them (OSS GetBucketStat) or a listing sums them; every object, not only recordings", objects);
        r.register(
            "camvault_bucket_bytes",
            "Bytes in the bucket by storage class (real size), as the store counts them or a listing sums them",
            bytes,
        );
    }
    crate::miio::poll::register_metrics(&mut r, cat, now_ms);
    let class_files = Family::<ClassLabel, Gauge>::default();
    let class_bytes = Family::<ClassLabel, Gauge>::default();
    for (class, n, b) in cat.stored_by_class()? {
        class_files
            .get_or_create(&ClassLabel { class: class.clone() })
            .set(n as i64);
        class_bytes.get_or_create(&ClassLabel { class }).set(b as i64);
    }
    r.register(
        "camvault_stored_files",
        "Recordings in the store by the storage class last seen (HEAD during verification)",
        class_files,
    );
    r.register(
        "camvault_stored_bytes",
        "Bytes in the store by the storage class last seen",
        class_bytes,
    );
    r.register(
        "camvault_verify_lag_seconds",
        "Longest capture-to-verified time of recordings verified in the last hour",
        g(cat.verify_lag_ms(now_ms - 3_600_000)?.unwrap_or(0) / 1000),
    );
    r.register(
        "camvault_verify_mismatches",
        "Stored objects the scheduled verification finds missing or different now",
        g(s.verify_bad.len() as i64),
    );
    r.register(
        "camvault_restores_in_flight",
        "Restores not yet finished",
        g(s.restores.restores as i64),
    );
    r.register(
        "camvault_restore_clips_waiting",
        "Clips of those restores not yet downloaded and verified",
        g(s.restores.waiting as i64),
    );
    if let Some((at, ok, _)) = &s.last_drill {
        let drill = Family::<ResultLabel, Gauge>::default();
        drill
            .get_or_create(&ResultLabel {
                result: if *ok { "passed" } else { "failed" }.into(),
            })
            .set(at / 1000);
        r.register(
            "camvault_restore_drill_timestamp_seconds",
            "When the last restore drill ended, labelled by its result",
            drill,
        );
    }
    let bill = crate::cost::bill_now(cfg, cat, now_ms)?;
    let cost = Gauge::<f64, AtomicU64>::default();
    cost.set(bill.monthly_cny);
    r.register(
        "camvault_estimated_monthly_cost_cny",
        "Storage cost per month at today's volume and `[prices]` (see `camvault cost`)",
        cost,
    );
    let problems = crate::health::evaluate(cfg, &s, now_ms, free);
    let health = Family::<RuleLabel, Gauge>::default();
    for rule in crate::health::RULES.iter().copied() {
        health
            .get_or_create(&RuleLabel { rule: rule.into() })
            .set(problems.iter().filter(|p| p.rule == rule).count() as i64);
    }
    r.register(
        "camvault_health_problems",
        "Health rules currently failing, by rule",
        health,
    );

    r.register(
        "camvault_upload_bytes",
        "Bytes uploaded since start",
        pm.upload_bytes.clone(),
    );
    r.register(
        "camvault_upload_seconds",
        "Seconds spent uploading since start",
        pm.upload_seconds.clone(),
    );
    r.register(
        "camvault_upload_errors",
        "Failed upload attempts since start",
        pm.upload_errors.clone(),
    );
    r.register(
        "camvault_verify_failures",
        "Failed verifications since start",
        pm.verify_failures.clone(),
    );
    r.register(
        "camvault_verified",
        "Recordings verified since start",
        pm.verified.clone(),
    );

    register_stores(&mut r, cat, &s)?;
    register_process(&mut r);
    register_workers(&mut r, &pm.workers);
    register_notify(&mut r, cfg, cat)?;

    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &r)?;
    Ok(out)
}

/// Activity notifications per configured rule (`[[index.notify]]`), from the catalog, so
/// the counts survive restarts.
fn register_notify(r: &mut Registry, cfg: &Config, cat: &Catalog) -> anyhow::Result<()> {
    if cfg.index.notify.is_empty() {
        return Ok(());
    }
    let (sent, failed, held) = (
        Family::<RuleLabel, Counter>::default(),
        Family::<RuleLabel, Counter>::default(),
        Family::<RuleLabel, Gauge>::default(),
    );
    let states = cat.notify_rules()?;
    for rule in &cfg.index.notify {
        let l = RuleLabel {
            rule: rule.name.clone(),
        };
        let s = states
            .iter()
            .find(|(n, _)| *n == rule.name)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        sent.get_or_create(&l).inc_by(s.sent);
        failed.get_or_create(&l).inc_by(s.failed);
        held.get_or_create(&l).set(s.suppressed as i64);
    }
    r.register("camvault_notify_sent", "Activity notifications sent, by rule", sent);
    r.register(
        "camvault_notify_failed",
        "Activity notifications no channel took after the retries, by rule",
        failed,
    );
    r.register(
        "camvault_notify_held",
        "Matches held back by the rule's rate limit since its last message",
        held,
    );
    Ok(())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreState {
    store: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabel {
    store: String,
}

/// Copies per store (`primary`, then each mirror) and state: verified, pending, failing.
fn register_stores(r: &mut Registry, cat: &Catalog, s: &crate::catalog::Summary) -> anyhow::Result<()> {
    let copies = Family::<StoreState, Gauge>::default();
    let bytes = Family::<StoreLabel, Gauge>::default();
    for st in crate::mirror::stores(cat, s)? {
        for (state, n) in [
            ("verified", st.verified),
            ("pending", st.pending),
            ("failing", st.failing),
        ] {
            copies
                .get_or_create(&StoreState {
                    store: st.store.clone(),
                    state: state.into(),
                })
                .set(n as i64);
        }
        bytes
            .get_or_create(&StoreLabel { store: st.store })
            .set(st.verified_bytes as i64);
    }
    r.register(
        "camvault_store_copies",
        "Copies of recordings per store (primary and each mirror) by state: verified, pending, failing",
        copies,
    );
    r.register(
        "camvault_store_verified_bytes",
        "Bytes of recordings verified per store",
        bytes,
    );
    Ok(())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabel {
    worker: String,
}

/// Each worker's state, labelled by its name (see `crate::workers`).
fn register_workers(r: &mut Registry, board: &crate::workers::Board) {
    let runs = Family::<WorkerLabel, Counter>::default();
    let busy = Family::<WorkerLabel, Gauge>::default();
    let failures = Family::<WorkerLabel, Gauge>::default();
    let last_ok = Family::<WorkerLabel, Gauge<f64, AtomicU64>>::default();
    let last_err = Family::<WorkerLabel, Gauge<f64, AtomicU64>>::default();
    for s in board.snapshot() {
        let l = WorkerLabel { worker: s.name.clone() };
        runs.get_or_create(&l).inc_by(s.runs);
        busy.get_or_create(&l).set(s.busy as i64);
        failures.get_or_create(&l).set(s.failures as i64);
        // 0: never (Prometheus' convention for absent timestamps).
        last_ok.get_or_create(&l).set(s.last_ok_ms.unwrap_or(0) as f64 / 1000.0);
        last_err
            .get_or_create(&l)
            .set(s.last_error_ms.unwrap_or(0) as f64 / 1000.0);
    }
    r.register("camvault_worker_runs", "Passes a serve worker has started", runs);
    r.register("camvault_worker_busy", "Whether a serve worker is in a pass now", busy);
    r.register(
        "camvault_worker_failures",
        "Failed passes of a serve worker in a row (0: its last pass worked)",
        failures,
    );
    r.register(
        "camvault_worker_last_success_timestamp_seconds",
        "When a serve worker's last pass worked (0: never)",
        last_ok,
    );
    r.register(
        "camvault_worker_last_error_timestamp_seconds",
        "When a serve worker's last pass failed (0: never)",
        last_err,
    );
}

/// The standard process metrics Prometheus' own clients export (names as in
/// <https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics>), read
/// from `/proc/self` at scrape time: a leak or a busy loop shows on any dashboard.
fn register_process(r: &mut Registry) {
    let Some(u) = crate::selfwatch::Usage::read("self") else {
        return;
    };
    let gauge = |v: f64| {
        let g = Gauge::<f64, AtomicU64>::default();
        g.set(v);
        g
    };
    let cpu = Counter::<f64, AtomicU64>::default();
    cpu.inc_by(u.cpu_seconds);
    r.register(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds",
        cpu,
    );
    r.register(
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        gauge(u.rss_bytes as f64),
    );
    if let Some(n) = crate::selfwatch::open_fds() {
        r.register("process_open_fds", "Number of open file descriptors", gauge(n as f64));
    }
    r.register(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds",
        gauge(u.start_time),
    );
    r.register(
        "process_threads",
        "Number of OS threads in the process",
        gauge(u.threads as f64),
    );
}
