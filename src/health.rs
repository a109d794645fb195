//! Health rules: what needs a person's attention, from the catalog and the machine.
//!
//! Each rule has a threshold in `[health]` (or `[cache]` for disk space). `status`,
//! `/healthz` and the `camvault_health_problems` metric all show the same list.

use crate::catalog::Summary;
use crate::config::{human_bytes, Config};
use crate::msg;
use crate::msg::Msg;

/// Every rule's name, as it appears in `Problem::rule` and the metric's `rule` label.
pub const RULES: &[&str] = &[
    "backlog",
    "upload_failures",
    "low_disk",
    "camera_silent",
    "catalog_backup",
    "verify_mismatch",
    "clock_skew",
    "lifecycle",
    "bucket_drift",
    "share_protection",
    "transition_late",
    "restore_expiring",
    "restore_drill",
    "resources",
    "sd_card",
    "nas_sync",
    "camera_unreachable",
    "mirror",
    "detector",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Stable name of the rule, for alert routing.
    pub rule: &'static str,
    /// What the rule is about when it can fire more than once (a camera id), else empty.
    pub subject: String,
    /// The English text (CLI, logs, alerts in English).
    pub message: String,
    /// The same as a catalogue key and arguments, for the pages and alerts in another
    /// language; `None` for a probe's verdict written by another part (its English stands).
    pub detail: Option<Msg>,
}

impl Problem {
    fn new(rule: &'static str, subject: String, detail: Msg) -> Problem {
        Problem {
            rule,
            subject,
            message: detail.en(),
            detail: Some(detail),
        }
    }
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
        Some(t) if now_ms - t > limit_ms => out.push(Problem::new(
            "catalog_backup",
            String::new(),
            msg!(
                "health.detail.backup_old",
                hours = (now_ms - t) / 3_600_000,
                limit = limit_ms / 3_600_000
            ),
        )),
        None if verified && s.first_capture_ms.is_some_and(|t| now_ms - t > limit_ms) => out.push(Problem::new(
            "catalog_backup",
            String::new(),
            msg!("health.detail.backup_never"),
        )),
        _ => {}
    }
    if let Some(t) = s.oldest_pending_ms {
        let age = (now_ms - t).max(0) / 1000;
        if age as u64 > h.max_pending_age_secs {
            out.push(Problem::new(
                "backlog",
                String::new(),
                msg!(
                    "health.detail.backlog",
                    min = age / 60,
                    limit = h.max_pending_age_secs / 60
                ),
            ));
        }
    }
    if let Some((key, why)) = s.verify_bad.iter().next() {
        out.push(Problem::new(
            "verify_mismatch",
            String::new(),
            verify_detail(s.verify_bad.len(), key, why),
        ));
    }
    if s.failed.files > h.max_failed_files {
        out.push(Problem::new(
            "upload_failures",
            String::new(),
            msg!("health.detail.upload_failures", n = s.failed.files),
        ));
    }
    if let Some(f) = free {
        if f < cfg.cache.min_free.0 {
            out.push(Problem::new(
                "low_disk",
                String::new(),
                msg!(
                    "health.detail.low_disk",
                    free = human_bytes(f),
                    min = cfg.cache.min_free
                ),
            ));
        }
    }
    for c in &s.cameras {
        if let Some(last) = c.last_capture_ms {
            let hours = (now_ms - last).max(0) / 3_600_000;
            let tz = crate::config::time_zone(&c.tz).unwrap_or(jiff::tz::TimeZone::UTC);
            let counted = silent_hours(last, now_ms, c.active_hours.as_ref(), &tz);
            if counted >= h.camera_silent_hours {
                let limit = h.camera_silent_hours;
                let detail = if c.active_hours.is_some() && counted < hours as u64 {
                    msg!(
                        "health.detail.silent_usual",
                        camera = c.id,
                        hours = hours,
                        counted = counted,
                        limit = limit
                    )
                } else {
                    msg!("health.detail.silent", camera = c.id, hours = hours, limit = limit)
                };
                out.push(Problem::new("camera_silent", c.id.clone(), detail));
            }
        }
        if let Some(lag) = c.min_lag_ms {
            let limit = h.clock_skew_minutes as i64 * 60_000;
            // Even the promptest recent file arrived before it ended: the clock runs ahead.
            // (A clock behind looks like slow uploads; `status` shows the arrival lag.)
            if lag < -limit {
                out.push(Problem::new(
                    "clock_skew",
                    c.id.clone(),
                    msg!("health.detail.clock_ahead", camera = c.id, min = -lag / 60_000),
                ));
            }
        }
    }
    for (probe, what) in &s.probes {
        use crate::catalog::kv;
        // The cameras' own state over miIO: one verdict per camera and rule.
        if let Some((rule, camera)) = crate::miio::poll::rule_of(probe) {
            push_verdict(&mut out, rule, camera, what);
            continue;
        }
        // A mirror away, full or filling up (issue 21): one problem per mirror.
        if let Some(name) = crate::mirror::probe_name(probe) {
            push_verdict(&mut out, "mirror", name.to_string(), what);
            continue;
        }
        let rule = match probe.as_str() {
            p if p == kv::LIFECYCLE_PROBE.name() => "lifecycle",
            p if p == kv::BUCKET_PROBE.name() => "bucket_drift",
            p if p == kv::SHARE_PROBE.name() => "share_protection",
            p if p == kv::RESOURCES_PROBE.name() => "resources",
            p if p == kv::CAMERA_WRITES_PROBE.name() => "share_refused_write",
            p if p == kv::DETECTOR_PROBE.name() => "detector",
            _ => continue,
        };
        push_verdict(&mut out, rule, String::new(), what);
    }
    if let (n @ 1.., Some(key)) = &s.transition_late {
        out.push(Problem::new(
            "transition_late",
            String::new(),
            msg!(
                "health.detail.transition_late",
                n = n,
                days = cfg.tiering.transition_days as u64 + h.transition_grace_days,
                key = key
            ),
        ));
    }
    if let Some(exp) = s.restores.first_expiry_ms {
        if exp - now_ms < 24 * 3_600_000 {
            out.push(Problem::new(
                "restore_expiring",
                String::new(),
                msg!(
                    "health.detail.restore_expiring",
                    hours = (exp - now_ms).max(0) / 3_600_000
                ),
            ));
        }
    }
    if let Some((at, false, what)) = &s.last_drill {
        out.push(Problem::new(
            "restore_drill",
            String::new(),
            msg!(
                "health.detail.drill_failed",
                at = crate::report::rfc3339(*at, "UTC"),
                what = what
            ),
        ));
    }
    out
}

/// The verification's finding (`verify::check_head` writes its English into `verify.bad`)
/// as a message of its own when it is one of camvault's usual findings, so that its numbers
/// stay data and its words are translated; anything else is shown as it was written.
fn verify_detail(n: usize, key: &str, why: &str) -> Msg {
    let pair = |s: &str, sep: &str| -> Option<(String, String)> {
        let (a, b) = s.split_once(sep)?;
        Some((a.to_string(), b.strip_suffix(" expected")?.to_string()))
    };
    if why == "missing from the store" {
        return msg!("health.detail.verify_missing", n = n, key = key);
    }
    if let Some((got, want)) = why.strip_prefix("size ").and_then(|r| pair(r, " in the store, ")) {
        return msg!("health.detail.verify_size", n = n, key = key, got = got, want = want);
    }
    if let Some((got, want)) = why.strip_prefix("checksum ").and_then(|r| pair(r, " in the store, ")) {
        return msg!(
            "health.detail.verify_checksum",
            n = n,
            key = key,
            got = got,
            want = want
        );
    }
    msg!("health.detail.verify", n = n, key = key, why = why)
}

/// A probe's verdict as problems: one per message it holds (their catalogue keys make
/// them readable in every language; a second one gets `#1` after the subject, so that each
/// is its own alert), or one in English when it is plain text (an older camvault's).
fn push_verdict(out: &mut Vec<Problem>, rule: &'static str, subject: String, what: &str) {
    match crate::msg::from_stored(what).filter(|m| !m.is_empty()) {
        Some(msgs) => {
            for (i, m) in msgs.into_iter().enumerate() {
                let subject = if i == 0 {
                    subject.clone()
                } else {
                    format!("{subject}#{i}")
                };
                out.push(Problem::new(rule, subject, m));
            }
        }
        None => out.push(Problem {
            rule,
            subject,
            message: what.to_string(),
            detail: None,
        }),
    }
}

/// Whole hours between `last_ms` and `now_ms` that count towards silence: all of them, or
/// only the camera's usual active hours once learned.
pub fn silent_hours(last_ms: i64, now_ms: i64, active: Option<&[bool; 24]>, tz: &jiff::tz::TimeZone) -> u64 {
    let hours = ((now_ms - last_ms).max(0) / 3_600_000) as u64;
    let Some(active) = active else {
        return hours;
    };
    // Capped: past four weeks of silence every hour counts the same anyway.
    (1..=hours.min(24 * 28))
        .filter(|i| {
            jiff::Timestamp::from_millisecond(last_ms + *i as i64 * 3_600_000)
                .map(|t| active[t.to_zoned(tz.clone()).hour() as usize])
                .unwrap_or(true)
        })
        .count() as u64
        + hours.saturating_sub(24 * 28)
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

    #[test]
    fn an_event_camera_quiet_at_night_is_not_silent() {
        let cfg = Config::parse("[health]\ncamera_silent_hours = 6\n").unwrap();
        let tz = jiff::tz::TimeZone::UTC;
        // Recordings every day between 08:00 and 20:00 for a week: active hours learned.
        let day0 = 20_000 * 24i64; // an hour bucket at midnight UTC
        let buckets: Vec<i64> = (0..7).flat_map(|d| (8..20).map(move |h| day0 + d * 24 + h)).collect();
        let active = crate::catalog::learn_active_hours(&buckets, &tz).expect("a week is enough");
        assert!(active[8] && active[19] && !active[20] && !active[3]);
        assert_eq!(
            crate::catalog::learn_active_hours(&buckets[..24], &tz),
            None,
            "two days are not"
        );
        let last = (day0 + 7 * 24 + 19) * 3_600_000 + 50 * 60_000; // day 7, 19:50
        let mut s = Summary::default();
        s.cameras.push(CameraSummary {
            id: "door".into(),
            tz: "UTC".into(),
            last_capture_ms: Some(last),
            active_hours: Some(active),
            ..Default::default()
        });
        // 07:50 next morning: 12 h without a file, none of them usual.
        let morning = last + 12 * 3_600_000;
        assert!(evaluate(&cfg, &s, morning, None).is_empty());
        // 13:50: six usual hours (08..13) passed without a file.
        let afternoon = last + 18 * 3_600_000;
        let p = evaluate(&cfg, &s, afternoon, None);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message.contains("18 h, 6 h of them in its usual active hours"),
            "{}",
            p[0].message
        );
        // Without the learned hours, the night would already count.
        s.cameras[0].active_hours = None;
        assert_eq!(evaluate(&cfg, &s, morning, None).len(), 1);
    }

    #[test]
    fn clock_probes_transitions_and_restores() {
        let cfg = Config::parse("[health]\nclock_skew_minutes = 10\n").unwrap();
        let now = 1_000 * 86_400_000;
        let mut s = Summary::default();
        s.cameras.push(CameraSummary {
            id: "door".into(),
            tz: "UTC".into(),
            min_lag_ms: Some(-9 * 60_000),
            ..Default::default()
        });
        assert!(evaluate(&cfg, &s, now, None).is_empty(), "within the limit");
        s.cameras[0].min_lag_ms = Some(-25 * 60_000);
        s.probes
            .insert("probe.lifecycle".into(), "camvault's rule is missing".into());
        s.probes
            .insert("probe.share".into(), "the share lets the camera delete".into());
        s.transition_late = (4, Some("videos/door/a.mp4".into()));
        s.restores.first_expiry_ms = Some(now + 5 * 3_600_000);
        s.last_drill = Some((now - 1000, false, "checksum differs".into()));
        let p = evaluate(&cfg, &s, now, None);
        let names: Vec<_> = p.iter().map(|p| p.rule).collect();
        assert_eq!(
            names,
            [
                "clock_skew",
                "lifecycle",
                "share_protection",
                "transition_late",
                "restore_expiring",
                "restore_drill"
            ]
        );
        assert!(p[0].message.contains("25 min ahead"), "{}", p[0].message);
        assert!(p[3].message.contains("33 days"), "30 + 3 grace: {}", p[3].message);
        assert!(p[4].message.contains("5 h"), "{}", p[4].message);
        for p in &p {
            assert!(RULES.contains(&p.rule), "{} is listed for the metric", p.rule);
        }
    }

    #[test]
    fn probe_verdicts_with_keys_are_problems_in_every_language() {
        use crate::config::Lang;
        let cfg = Config::parse("").unwrap();
        let mut s = Summary::default();
        let unknown = crate::msg!("health.detail.bucket_unknown", n = 1, key = "v/x.mp4");
        let rss = crate::msg!("health.detail.rss", rss = "40 MiB", max = "16 MiB", min = 1);
        let cpu = crate::msg!("health.detail.cpu", pct = 93, min = 1, max = 50);
        s.probes.insert(
            "probe.bucket".into(),
            crate::msg::to_stored(std::slice::from_ref(&unknown)),
        );
        s.probes
            .insert("probe.resources".into(), crate::msg::to_stored(&[rss, cpu]));
        s.probes
            .insert("probe.miio.door".into(), "an older camvault's English".into());
        let p = evaluate(&cfg, &s, 0, None);
        let got: Vec<_> = p.iter().map(|p| (p.rule, p.subject.as_str())).collect();
        assert_eq!(
            got,
            [
                ("bucket_drift", ""),
                ("camera_unreachable", "door"),
                ("resources", ""),
                ("resources", "#1"),
            ],
            "each message its own problem, and alert"
        );
        assert_eq!(p[0].detail.as_ref(), Some(&unknown));
        assert_eq!(p[0].message, unknown.en());
        assert!(p[0].detail.as_ref().unwrap().render(Lang::Zh).contains("v/x.mp4"));
        assert_eq!(
            (p[1].detail.as_ref(), p[1].message.as_str()),
            (None, "an older camvault's English")
        );
        assert!(p[3].message.contains("93 % of a core"), "{}", p[3].message);

        // A mirror's problem (issue 21): the unplugged disk, keyed like the other probes.
        let mut s = Summary::default();
        let away = crate::mirror::disk::present_msg(std::path::Path::new("/nonexistent/usb"), "usb").unwrap_err();
        s.probes.insert(
            crate::mirror::probe_key("usb"),
            crate::msg::to_stored(std::slice::from_ref(&away)),
        );
        let p = evaluate(&cfg, &s, 0, None);
        assert_eq!((p[0].rule, p[0].subject.as_str()), ("mirror", "usb"));
        assert_eq!(
            p[0].detail.as_ref().map(|d| d.key),
            Some("health.detail.mirror_unplugged")
        );
        assert!(p[0].message.contains("camvault mirror init usb"), "{}", p[0].message);
        let zh = p[0].detail.as_ref().unwrap().render(Lang::Zh);
        assert!(zh.contains("镜像") && zh.contains("camvault mirror init usb"), "{zh}");

        // The verification's usual findings: their numbers are data, their words translated.
        let mut s = Summary::default();
        s.verify_bad
            .insert("v/a.mp4".into(), "size 5 in the store, 7 expected".into());
        let p = evaluate(&cfg, &s, 0, None);
        let d = p[0].detail.as_ref().unwrap();
        assert_eq!(d.key, "health.detail.verify_size");
        assert!(
            p[0].message.contains("v/a.mp4: size 5 in the store, 7 expected"),
            "{}",
            p[0].message
        );
        assert!(d.render(Lang::Zh).contains("存储中的大小为 5，应为 7"));
        s.verify_bad.insert("v/a.mp4".into(), "something new".into());
        let p = evaluate(&cfg, &s, 0, None);
        assert_eq!(p[0].detail.as_ref().unwrap().key, "health.detail.verify");
    }
}
