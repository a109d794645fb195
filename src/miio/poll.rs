//! `serve`'s periodic poll of the cameras over miIO, and where its answers are kept.
//!
//! The latest reading of every camera is one JSON document in the catalog's key-value table
//! (`miio.cameras`), read by `status`, `/api/status` and `/metrics`. Each camera's three
//! verdicts are health probes (`probe.sdcard.<id>`, `probe.nassync.<id>`,
//! `probe.miio.<id>`): empty when fine, so the health rules see them like every other probe.
//! A camera that does not answer is asked again later and later (up to an hour), never in
//! a tight loop; a poll takes at most a few seconds per camera (3 attempts of 3 s).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::camera::{self, Reading, Target};
use crate::catalog::Catalog;
use crate::config::Config;

/// The catalog key of the latest readings (camera id → [`Reading`]).
pub const KV: &str = "miio.cameras";
/// Probe prefixes and the health rule each one feeds.
pub const PROBES: [(&str, &str); 3] = [
    ("probe.sdcard.", "sd_card"),
    ("probe.nassync.", "nas_sync"),
    ("probe.miio.", "camera_unreachable"),
];

/// The health rule and camera of a probe key written here, if it is one.
pub fn rule_of(probe: &str) -> Option<(&'static str, String)> {
    PROBES
        .iter()
        .find_map(|(prefix, rule)| probe.strip_prefix(prefix).map(|id| (*rule, id.to_string())))
}

/// The latest readings, by camera id.
pub fn readings(cat: &Catalog) -> BTreeMap<String, Reading> {
    cat.kv_get(KV)
        .ok()
        .flatten()
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

/// Records one reading and its verdicts.
pub fn record(cat: &Catalog, r: &Reading) -> Result<()> {
    let mut all = readings(cat);
    all.insert(r.camera.clone(), r.clone());
    cat.kv_set(KV, &serde_json::to_string(&all)?)?;
    for ((prefix, _), verdict) in PROBES.iter().zip(camera::problems(r)) {
        // A message with its key, so that each page and alert shows it in its language.
        let text = crate::msg::to_stored(verdict.as_slice());
        cat.kv_set(&format!("{prefix}{}", r.camera), &text)?;
    }
    Ok(())
}

/// Forgets readings and verdicts of cameras no longer polled (removed from the config).
fn forget_others(cat: &Catalog, keep: &[Target]) -> Result<()> {
    let mut all = readings(cat);
    let before = all.len();
    all.retain(|id, _| keep.iter().any(|t| &t.id == id));
    if all.len() != before {
        cat.kv_set(KV, &serde_json::to_string(&all)?)?;
    }
    for (probe, _) in cat.summary()?.probes {
        if let Some((_, id)) = rule_of(&probe) {
            if id != "config" && !keep.iter().any(|t| t.id == id) {
                cat.kv_set(&probe, "")?;
            }
        }
    }
    Ok(())
}

/// Polls every camera with an address and a token until `stop`. Started by `serve`.
pub async fn run(cfg: Config, cat: Arc<Catalog>, stop: CancellationToken) {
    // A token file that cannot be read, or readable by others, is a health problem too:
    // otherwise monitoring would be off without anyone seeing it.
    let config_probe = format!("{}config", PROBES[2].0);
    let targets = match camera::targets(&cfg) {
        Ok(t) => t,
        Err(e) => {
            let msg = crate::msg!("health.detail.miio_off", error = format!("{e:#}"));
            warn!("{msg}");
            if let Err(e) = cat.kv_set(&config_probe, &crate::msg::to_stored(&[msg])) {
                warn!("recording it: {e:#}");
            }
            // Idle until serve stops: a worker that ended would read as a fault in `status`.
            stop.cancelled().await;
            return;
        }
    };
    if let Err(e) = cat.kv_set(&config_probe, "") {
        warn!("camera monitoring: {e:#}");
    }
    if let Err(e) = forget_others(&cat, &targets) {
        warn!("camera monitoring: {e:#}");
    }
    if targets.is_empty() {
        stop.cancelled().await;
        return;
    }
    info!(
        "polling {} camera(s) over miIO for their SD card and NAS sync: {}",
        targets.len(),
        targets.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
    );
    // Per camera: when it is due, how many polls in a row failed, the last verdicts logged.
    let mut due = vec![tokio::time::Instant::now(); targets.len()];
    let mut failures = vec![0u32; targets.len()];
    let mut logged: Vec<[Option<String>; 3]> = vec![Default::default(); targets.len()];
    loop {
        for (i, t) in targets.iter().enumerate() {
            if tokio::time::Instant::now() < due[i] {
                continue;
            }
            let r = tokio::select! {
                _ = stop.cancelled() => return,
                r = camera::read(t, None) => r,
            };
            let verdicts = camera::problems(&r).map(|m| m.map(|m| m.en()));
            for (v, old) in verdicts.iter().zip(logged[i].iter()) {
                if v != old {
                    match v {
                        Some(msg) => warn!("{msg}"),
                        None => info!("camera {}: {} is fine again", t.id, describe_old(old)),
                    }
                }
            }
            logged[i] = verdicts;
            if let Err(e) = record(&cat, &r) {
                warn!("recording camera {}'s state: {e:#}", t.id);
            }
            // Unreachable: wait longer each time, up to an hour.
            failures[i] = if r.error.is_some() {
                failures[i].saturating_add(1)
            } else {
                0
            };
            let wait = t
                .poll
                .saturating_mul(1 << failures[i].min(6))
                .min(Duration::from_secs(3600).max(t.poll));
            due[i] = tokio::time::Instant::now() + wait;
        }
        let next = due.iter().min().copied().unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
        }
    }
}

fn describe_old(old: &Option<String>) -> &'static str {
    match old.as_deref() {
        Some(m) if m.contains("SD card") => "the SD card",
        Some(m) if m.contains("NAS") => "NAS sync",
        _ => "miIO",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct CameraLabel {
    camera: String,
}

/// The cameras' SD card and NAS sync gauges, from the latest readings.
pub fn register_metrics(r: &mut prometheus_client::registry::Registry, cat: &Catalog, now_ms: i64) {
    use prometheus_client::metrics::{family::Family, gauge::Gauge};
    let readings = readings(cat);
    if readings.is_empty() {
        return;
    }
    let fam = || Family::<CameraLabel, Gauge>::default();
    let (up, age, sd_status, sd_total, sd_free, sd_used) = (fam(), fam(), fam(), fam(), fam(), fam());
    let (nas_state, nas_error, nas_interval, nas_last) = (fam(), fam(), fam(), fam());
    for (id, rd) in &readings {
        let l = CameraLabel { camera: id.clone() };
        up.get_or_create(&l).set(rd.error.is_none() as i64);
        age.get_or_create(&l).set((now_ms - rd.at_ms).max(0) / 1000);
        if let Some(s) = &rd.sd {
            for (fam, v) in [
                (&sd_status, s.status),
                (&sd_total, s.total),
                (&sd_free, s.free),
                (&sd_used, s.used),
            ] {
                if let Some(v) = v {
                    fam.get_or_create(&l).set(v);
                }
            }
        }
        if let Some(n) = &rd.nas {
            nas_state.get_or_create(&l).set(n.state);
            nas_error.get_or_create(&l).set(n.error_code);
            nas_interval.get_or_create(&l).set(n.sync_interval_secs);
            if let Some(t) = n.last_sync {
                nas_last.get_or_create(&l).set(t);
            }
        }
    }
    r.register(
        "camvault_camera_miio_up",
        "1 when the camera answered its last miIO poll, 0 when it did not (unreachable or wrong token)",
        up,
    );
    r.register(
        "camvault_camera_miio_poll_age_seconds",
        "Seconds since the camera's last miIO poll",
        age,
    );
    r.register("camvault_camera_sd_status", "The camera's memory-card status (MIoT: 0 normal, 1 no card, 2 no space, 3 not working, 4 formatting, 5 ejected)", sd_status);
    r.register(
        "camvault_camera_sd_total",
        "The camera's memory-card size, in the camera's unit (MB on documented models)",
        sd_total,
    );
    r.register(
        "camvault_camera_sd_free",
        "The camera's free memory-card space, in the camera's unit",
        sd_free,
    );
    r.register(
        "camvault_camera_sd_used",
        "The camera's used memory-card space, in the camera's unit",
        sd_used,
    );
    r.register(
        "camvault_camera_nas_state",
        "The camera's NAS sync state (python-miio NASState: 2 off, 3 on)",
        nas_state,
    );
    r.register(
        "camvault_camera_nas_error_code",
        "The error code of the camera's NAS sync (0 = none)",
        nas_error,
    );
    r.register(
        "camvault_camera_nas_sync_interval_seconds",
        "The camera's NAS sync interval (300 realtime, 3600 hourly, 86400 daily)",
        nas_interval,
    );
    r.register(
        "camvault_camera_nas_last_sync_timestamp_seconds",
        "When the camera last synced to the NAS, as it reports (Unix seconds)",
        nas_last,
    );
}
