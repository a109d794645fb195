//! `camvault ls`: recordings by camera and time.

use std::process::ExitCode;

use std::io::Write;

use anyhow::Result;
use serde::ser::{SerializeSeq, Serializer as _};
use serde::Serialize;

use crate::catalog::{Catalog, State};
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
        // Written row by row into one buffer, in the key order serde_json's maps gave
        // (sorted): no `Value` per row (a day's listing is 1,440 rows, issue 18).
        #[derive(Serialize)]
        struct Row<'a> {
            camera: &'a str,
            codec: &'a Option<String>,
            duration_ms: Option<i64>,
            end: Option<String>,
            error: &'a Option<String>,
            height: Option<u32>,
            key: &'a str,
            local: bool,
            size: u64,
            start: String,
            state: State,
            warning: &'a Option<String>,
            width: Option<u32>,
        }
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let mut ser = serde_json::Serializer::new(&mut out);
        let mut seq = ser.serialize_seq(Some(rows.len()))?;
        for r in &rows {
            let zone = zone_of(&r.tz);
            seq.serialize_element(&Row {
                camera: &r.camera,
                codec: &r.codec,
                duration_ms: r.duration_ms,
                end: r.end_ms.map(|e| crate::report::rfc3339_in(e, &zone)),
                error: &r.last_error,
                height: r.height,
                key: &r.key,
                local: r.local,
                size: r.size,
                start: crate::report::rfc3339_in(r.start_ms, &zone),
                state: r.state,
                warning: &r.warning,
                width: r.width,
            })?;
        }
        seq.end()?;
        writeln!(out)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        eprintln!("no recordings match");
    }
    // One write for the whole listing, not one per line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    for r in &rows {
        let state = if r.local {
            r.state.as_str().to_string()
        } else {
            format!("{}*", r.state.as_str())
        };
        writeln!(
            out,
            "{}  {:<9} {:>10}  {}",
            crate::report::local_time_in(r.start_ms, &zone_of(&r.tz)),
            state,
            human_bytes(r.size),
            r.key
        )?;
        if let Some(w) = &r.warning {
            writeln!(out, "    warning: {w}")?;
        }
    }
    out.flush()?;
    if rows.iter().any(|r| !r.local) {
        eprintln!("* = only in the store (local copy purged)");
    }
    Ok(ExitCode::SUCCESS)
}
