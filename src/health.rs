//! Health rules: what needs a person's attention, from the catalog and the machine.
//!
//! Each rule has a threshold in `[health]` (or `[cache]` for disk space). `status`,
//! `/healthz` and the `camvault_health_problems` metric all show the same list.

use crate::catalog::Summary;
use crate::config::{human_bytes, Config};

/// Every rule's name, as it appears in `Problem::rule` and the metric's `rule` label.
pub const RULES: &[&str] = &[
    "backlog",
    "upload_failures",
    "low_disk",
    "camera_silent",
    "catalog_backup",
    "verify_mismatch",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Stable name of the rule, for alert routing.
    pub rule: &'static str,
    /// What the rule is about when it can fire more than once (a camera id), else empty.
    pub subject: String,
    pub message: String,
}

/// Evaluates every rule against the vault's disk as it is now.
pub fn check(cfg: &Config, s: &Summary, now_ms: i64) -> Vec<Problem> {
    evaluate(cfg, s, now_ms, crate::cache::free_bytes(&cfg.vault()))
}

/// Evaluates every rule. `free` is the free space on the vault's disk, if known.
pub fn evaluate(cfg: &Config, s: &Summary, now_ms: i64, free: Option<u64>) -> Vec<Problem> {
    let h = &cfg.health;
    let mut out = Vec::new();
    // Only once there is something to back up, and after the first backup was due.
    let verified = s.verified.files > 0;
    let limit_ms = 2 * h.catalog_backup_hours as i64 * 3_600_000;
    match s.last_backup_ms {
        Some(t) if now_ms - t > limit_ms => out.push(Problem {
            rule: "catalog_backup",
            subject: String::new(),
            message: format!(
                "the last catalog backup in the store is {} h old (limit {} h); is the store reachable?",
                (now_ms - t) / 3_600_000,
                limit_ms / 3_600_000
            ),
        }),
        None if verified && s.first_capture_ms.is_some_and(|t| now_ms - t > limit_ms) => out.push(Problem {
            rule: "catalog_backup",
            subject: String::new(),
            message: "the catalog has never been backed up to the store".into(),
        }),
        _ => {}
    }
    if let Some(t) = s.oldest_pending_ms {
        let age = (now_ms - t).max(0) / 1000;
        if age as u64 > h.max_pending_age_secs {
            out.push(Problem {
                rule: "backlog",
                subject: String::new(),
                message: format!(
                    "the oldest recording not yet verified in the store has waited {} min (limit {} min); is the store reachable? see `camvault status`",
                    age / 60,
                    h.max_pending_age_secs / 60
                ),
            });
        }
    }
    if let Some((key, why)) = s.verify_bad.iter().next() {
        out.push(Problem {
            rule: "verify_mismatch",
            subject: String::new(),
            message: format!(
                "{} stored object(s) missing or different, e.g. {key}: {why}; run `camvault verify` and see docs/monitoring.md",
                s.verify_bad.len()
            ),
        });
    }
    if s.failed.files > h.max_failed_files {
        out.push(Problem {
            rule: "upload_failures",
            subject: String::new(),
            message: format!(
                "{} file(s) failing to upload or verify; they are retried with backoff, `camvault status` shows why",
                s.failed.files
            ),
        });
    }
    if let Some(f) = free {
        if f < cfg.cache.min_free.0 {
            out.push(Problem {
                rule: "low_disk",
                subject: String::new(),
                message: format!(
                    "{} free on the vault's disk, below `cache.min_free` = {}",
                    human_bytes(f),
                    cfg.cache.min_free
                ),
            });
        }
    }
    for c in &s.cameras {
        if let Some(last) = c.last_capture_ms {
            let hours = (now_ms - last).max(0) / 3_600_000;
            if hours as u64 >= h.camera_silent_hours {
                out.push(Problem {
                    rule: "camera_silent",
                    subject: c.id.clone(),
                    message: format!(
                        "camera {} sent nothing for {hours} h (limit {} h): check its power, network and NAS settings",
                        c.id, h.camera_silent_hours
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{CameraSummary, Counts};

    #[test]
    fn rules_fire_at_their_thresholds() {
        let cfg = Config::parse(
            "[health]\nmax_pending_age_secs = 600\ncamera_silent_hours = 2\n[cache]\nmin_free = \"1 GiB\"\n",
        )
        .unwrap();
        let now = 10 * 3_600_000;
        let mut s = Summary::default();
        assert!(evaluate(&cfg, &s, now, Some(2 << 30)).is_empty());
        s.oldest_pending_ms = Some(now - 601_000);
        s.failed = Counts { files: 1, bytes: 5 };
        s.cameras.push(CameraSummary {
            id: "door".into(),
            last_capture_ms: Some(now - 2 * 3_600_000),
            ..Default::default()
        });
        s.cameras.push(CameraSummary {
            id: "garden".into(),
            last_capture_ms: Some(now - 3_500_000),
            ..Default::default()
        });
        let rules: Vec<_> = evaluate(&cfg, &s, now, Some(1 << 20))
            .into_iter()
            .map(|p| (p.rule, p.message))
            .collect();
        let names: Vec<_> = rules.iter().map(|r| r.0).collect();
        assert_eq!(names, ["backlog", "upload_failures", "low_disk", "camera_silent"]);
        assert!(rules[3].1.contains("door"));
    }
}
