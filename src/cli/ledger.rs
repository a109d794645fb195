//! `camvault ledger`: per camera and hour, recorded, arrived, verified, and why anything is missing.

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::ledger::{hours, Habits};

pub fn run(
    cfg: Config,
    camera: Option<String>,
    from: Option<String>,
    to: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    let cat = Catalog::open(&cfg.catalog(), false)?;
    let summary = cat.summary()?;
    let cameras: Vec<_> = summary
        .cameras
        .iter()
        .filter(|c| camera.as_ref().is_none_or(|want| *want == c.id))
        .collect();
    if cameras.is_empty() {
        match camera {
            Some(c) => bail!("no camera {c:?} in the catalog (see `camvault status`)"),
            None => bail!("no camera has sent anything yet"),
        }
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let mut all = Vec::new();
    for c in cameras {
        let tz = crate::config::time_zone(&c.tz).unwrap_or(jiff::tz::TimeZone::UTC);
        let to_ms = match &to {
            Some(t) => super::times::parse(t, &tz, "--to")?.as_millisecond(),
            None => now,
        };
        let from_ms = match &from {
            Some(f) => super::times::parse(f, &tz, "--from")?.as_millisecond(),
            None => to_ms - 24 * 3_600_000,
        };
        if to_ms <= from_ms {
            bail!("--to must be after --from");
        }
        if to_ms - from_ms > 62 * 86_400_000 {
            bail!("at most 62 days at a time: narrow --from/--to");
        }
        let files = cat.list(Some(&c.id), from_ms - 3_600_000, to_ms, usize::MAX >> 1)?;
        let habits = Habits {
            active: c.active_hours.as_ref(),
            tz: tz.clone(),
            silent_hours: cfg.health.camera_silent_hours,
            now_ms: now,
        };
        let rows = hours(&c.id, &files, from_ms, to_ms, &habits);
        if !json {
            println!("camera {} ({}):", c.id, c.tz);
            println!(
                "  {:<25} {:>5} {:>8} {:>8}  note",
                "hour", "files", "verified", "recorded"
            );
            for h in &rows {
                println!(
                    "  {:<25} {:>5} {:>8} {:>6.0} m  {}",
                    super::local_time(h.hour_ms, &c.tz),
                    h.files,
                    h.verified,
                    h.recorded_min,
                    h.note
                );
            }
        }
        all.extend(rows);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(ExitCode::SUCCESS)
}
