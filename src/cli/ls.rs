//! `camvault ls`: recordings by camera and time.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use crate::catalog::Catalog;
use crate::config::{human_bytes, Config};

pub fn run(
    cfg: Config,
    camera: Option<String>,
    from: Option<String>,
    to: Option<String>,
    all: bool,
    as_json: bool,
) -> Result<ExitCode> {
    let tz = cfg.zone_of(camera.as_deref());
    let from_ms = from
        .map(|f| super::times::parse(&f, &tz, "--from"))
        .transpose()?
        .map_or(i64::MIN, |t| t.as_millisecond());
    let to_ms = to
        .map(|t| super::times::parse(&t, &tz, "--to"))
        .transpose()?
        .map_or(i64::MAX, |t| t.as_millisecond());
    let cat = Catalog::open(&cfg.catalog(), false)?;
    let rows = cat.list_files(camera.as_deref(), from_ms, to_ms, usize::MAX >> 1, all)?;
    // Each camera's zone looked up once, not twice a row.
    let mut zones: std::collections::HashMap<String, jiff::tz::TimeZone> = Default::default();
    let mut zone_of = |tz: &str| {
        zones
            .entry(tz.to_string())
            .or_insert_with(|| crate::report::zone(tz))
            .clone()
    };
    if as_json {
        let out: Vec<_> = rows
            .iter()
            .map(|r| {
                let zone = zone_of(&r.tz);
                json!({
                    "camera": r.camera,
                    "start": crate::report::rfc3339_in(r.start_ms, &zone),
                    "end": r.end_ms.map(|e| crate::report::rfc3339_in(e, &zone)),
                    "key": r.key,
                    "size": r.size,
                    "state": r.state,
                    "local": r.local,
                    "codec": r.codec,
                    "duration_ms": r.duration_ms,
                    "width": r.width,
                    "height": r.height,
                    "warning": r.warning,
                    "error": r.last_error,
                })
            })
            .collect();
        println!("{}", serde_json::to_string(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        eprintln!("no recordings match");
    }
    for r in &rows {
        let state = if r.local {
            r.state.as_str().to_string()
        } else {
            format!("{}*", r.state.as_str())
        };
        println!(
            "{}  {:<9} {:>10}  {}",
            crate::report::local_time_in(r.start_ms, &zone_of(&r.tz)),
            state,
            human_bytes(r.size),
            r.key
        );
        if let Some(w) = &r.warning {
            println!("    warning: {w}");
        }
    }
    if rows.iter().any(|r| !r.local) {
        eprintln!("* = only in the store (local copy purged)");
    }
    Ok(ExitCode::SUCCESS)
}
