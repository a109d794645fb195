//! Reports shared by the surfaces: the status document (`status --json`, `/api/status`)
//! and time formatting in a camera's zone.

use anyhow::Result;
use serde_json::json;

use crate::catalog::Catalog;
use crate::config::Config;

/// The status document. `now` in ms since the epoch.
pub fn status_json(cfg: &Config, cat: &Catalog, now: i64) -> Result<serde_json::Value> {
    let s = cat.summary()?;
    let pending = s.captured.files + s.uploaded.files;
    let total = pending + s.verified.files + s.failed.files;
    let oldest_pending_secs = s.oldest_pending_ms.map(|t| ((now - t).max(0) / 1000) as u64);
    let del = cat.deletion_summary(now - 86_400_000)?;
    let problems = crate::health::check(cfg, &s, now);
    let cameras: Vec<_> = s
        .cameras
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "mac": c.mac,
                "timezone": c.tz,
                "files": c.files,
                "bytes": c.bytes,
                "last_start": c.last_start_ms.map(|t| rfc3339(t, &c.tz)),
                "last_capture": c.last_capture_ms.map(|t| rfc3339(t, "UTC")),
                // The promptest of the last files: recorded end to arrival (negative: the
                // camera's clock runs ahead).
                "arrival_lag_secs": c.min_lag_ms.map(|l| l / 1000),
            })
        })
        .collect();
    let out = json!({
        "files": {
            "total": total,
            "captured": s.captured.files,
            "uploaded": s.uploaded.files,
            "verified": s.verified.files,
            "pending": pending,
            "failed": s.failed.files,
            "cached": s.cached.files,
        },
        "bytes": {
            "total": s.captured.bytes + s.uploaded.bytes + s.verified.bytes + s.failed.bytes,
            "verified": s.verified.bytes,
            "pending": s.captured.bytes + s.uploaded.bytes,
            "failed": s.failed.bytes,
            "cached": s.cached.bytes,
        },
        "oldest_pending_secs": oldest_pending_secs,
        // Per store (the main store as "primary", then each mirror): verified, pending,
        // failing copies (issue 21).
        "stores": crate::mirror::stores(cat, &s)?,
        // The running `serve`'s own resource use (null when it is not running).
        "serve": crate::selfwatch::Sample::current(cat, now),
        // Its workers as it last recorded them (`crate::workers`; empty when not running).
        "workers": if crate::selfwatch::Sample::current(cat, now).is_some() { crate::workers::recorded(cat) } else { Vec::new() },
        "cameras": cameras,
        "deletion_attempts": {
            "total": del.total,
            "denied": del.denied,
            "last_24h": del.last_24h,
            "bursts": del.bursts.iter().map(|b| json!({
                "client": b.client,
                "user": b.user,
                "first": rfc3339(b.first_ms, "UTC"),
                "last": rfc3339(b.last_ms, "UTC"),
                "attempts": b.attempts,
                "denied": b.denied,
                "sample_path": b.sample,
            })).collect::<Vec<_>>(),
            "latest": del.latest.iter().map(|a| json!({
                "at": rfc3339(a.at_ms, "UTC"),
                "client": a.client,
                "user": a.user,
                "op": a.op,
                "path": a.path,
                "denied": a.denied,
            })).collect::<Vec<_>>(),
        },
        "recent_errors": s.recent_errors.iter().map(|(k, e)| json!({"key": k, "error": e})).collect::<Vec<_>>(),
    });
    let mut out = out;
    // The bucket's own numbers from the last hourly check, beside the catalog's.
    if let Some(u) = cat.slot(&crate::catalog::kv::STORE_USAGE)? {
        out["bucket"] = json!({
            "source": u.source,
            "as_of": crate::report::rfc3339(u.as_of_ms, "UTC"),
            "objects": u.objects,
            "bytes": u.bytes,
            "classes": u.classes.iter().map(|(c, (n, b))| (c.clone(), json!({"objects": n, "bytes": b}))).collect::<serde_json::Map<_, _>>(),
        });
    }
    // The cameras' SD card and NAS sync, as `serve` last read them over miIO.
    out["camera_devices"] = json!(crate::miio::poll::readings(cat).into_values().collect::<Vec<_>>());
    out["health"] = json!({
        "ok": problems.is_empty(),
        "problems": problems.iter().map(|p| json!({"rule": p.rule, "message": p.message, "detail": p.detail})).collect::<Vec<_>>(),
    });
    Ok(out)
}

/// Formats a timestamp in a zone as `2024-05-21 13:05:30 +08:00`.
pub fn local_time(ms: i64, tz: &str) -> String {
    format_in_zone(ms, tz, "%Y-%m-%d %H:%M:%S %:z")
}

/// RFC 3339 with the zone's offset, for JSON.
pub fn rfc3339(ms: i64, tz: &str) -> String {
    format_in_zone(ms, tz, "%Y-%m-%dT%H:%M:%S%:z")
}

/// The zone named `tz`, UTC when the name is unknown.
pub fn zone(tz: &str) -> jiff::tz::TimeZone {
    crate::config::time_zone(tz).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// As [`local_time`], in a zone already looked up (a listing formats thousands of times).
pub fn local_time_in(ms: i64, zone: &jiff::tz::TimeZone) -> String {
    format_in(ms, zone, "%Y-%m-%d %H:%M:%S %:z")
}

/// As [`rfc3339`], in a zone already looked up.
pub fn rfc3339_in(ms: i64, zone: &jiff::tz::TimeZone) -> String {
    format_in(ms, zone, "%Y-%m-%dT%H:%M:%S%:z")
}

fn format_in_zone(ms: i64, tz: &str, pattern: &str) -> String {
    format_in(ms, &zone(tz), pattern)
}

fn format_in(ms: i64, zone: &jiff::tz::TimeZone, pattern: &str) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
        return ms.to_string();
    };
    // The two patterns above written out by hand: `strftime` parses its pattern and builds
    // a `Zoned` each time, and a day's `ls` formats 2,880 times (issue 18).
    let fast = match pattern {
        "%Y-%m-%dT%H:%M:%S%:z" => Some(('T', "")),
        "%Y-%m-%d %H:%M:%S %:z" => Some((' ', " ")),
        _ => None,
    };
    let offset = zone.to_offset(ts);
    let dt = offset.to_datetime(ts);
    let secs = offset.seconds();
    match fast {
        // `%:z` shows hours and minutes only; years beyond four digits get a sign.
        Some((t, gap)) if (0..=9999).contains(&dt.year()) && secs % 60 == 0 => {
            let (sign, abs) = if secs < 0 { ('-', -secs) } else { ('+', secs) };
            format!(
                "{:04}-{:02}-{:02}{t}{:02}:{:02}:{:02}{gap}{sign}{:02}:{:02}",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                abs / 3600,
                abs / 60 % 60
            )
        }
        _ => ts.to_zoned(zone.clone()).strftime(pattern).to_string(),
    }
}

#[cfg(test)]
mod tests {
    /// The hand-written formats give what `strftime` gives, in zones east and west of UTC,
    /// across their DST changes, before 1970 and at the edges of the range.
    #[test]
    fn times_are_formatted_as_strftime_does() {
        let mut rng = fastrand::Rng::with_seed(18);
        let mut times: Vec<i64> = (0..2000)
            .map(|_| rng.i64(-2_208_988_800_000..4_102_444_800_000))
            .collect();
        times.extend([0, -1, 1_711_846_800_000, 1_730_595_600_000, 253_402_207_200_000]);
        for tz in [
            "UTC",
            "Asia/Shanghai",
            "America/St_Johns",
            "Asia/Kathmandu",
            "Europe/Dublin",
            "Africa/Monrovia",
        ] {
            let zone = super::zone(tz);
            for &ms in &times {
                let ts = jiff::Timestamp::from_millisecond(ms).unwrap();
                let z = ts.to_zoned(zone.clone());
                assert_eq!(
                    super::rfc3339_in(ms, &zone),
                    z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                    "{tz} {ms}"
                );
                assert_eq!(
                    super::local_time_in(ms, &zone),
                    z.strftime("%Y-%m-%d %H:%M:%S %:z").to_string(),
                    "{tz} {ms}"
                );
            }
        }
    }
}
