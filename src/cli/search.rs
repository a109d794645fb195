//! `camvault search …`: the moments with activity, from the index alone (so it works for
//! archived footage at no cost), and `--restore`: a restore of exactly the matching clips.

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::catalog::index::{Hit, Query};
use crate::catalog::Catalog;
use crate::config::Config;

/// `camvault search`'s arguments, flattened into the command (`cli::Command::Search`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Camera id (configured name or MAC)
    #[arg(long)]
    pub camera: Option<String>,
    /// From this time: RFC 3339, or `YYYY-MM-DD[ HH:MM]` in the camera's zone
    #[arg(long)]
    pub from: Option<String>,
    /// Up to (excluding) this time, same forms as --from
    #[arg(long)]
    pub to: Option<String>,
    /// A window of the day on every day, HH:MM-HH:MM (23:00-06:00 wraps midnight)
    #[arg(long)]
    pub time: Option<String>,
    /// Only activity touching this zone (`[[cameras.<mac>.zones]]`)
    #[arg(long)]
    pub zone: Option<String>,
    /// Only segments the detector labelled so (person, car, …)
    #[arg(long)]
    pub label: Option<String>,
    /// Least peak activity, percent of the picture's grid
    #[arg(long, default_value_t = 0)]
    pub min_activity: u8,
    /// Least duration of a segment, seconds
    #[arg(long, default_value_t = 0)]
    pub min_duration: u32,
    /// At most this many results, newest first
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
    /// Plan (and with --yes request) a restore of exactly the matching clips
    #[arg(long)]
    pub restore: bool,
    /// Restore tier [default: restore.tier]
    #[arg(long, requires = "restore")]
    pub tier: Option<super::TierArg>,
    /// With --restore: show the plan, request nothing
    #[arg(long, requires = "restore")]
    pub dry_run: bool,
    /// With --restore: confirm the cost without asking
    #[arg(long, requires = "restore")]
    pub yes: bool,
}

pub use crate::index::parse_window;

/// The query of the arguments (times in the camera's zone, else the default zone).
pub fn query(cfg: &Config, a: &Args) -> Result<Query> {
    let tz = cfg.zone_of(a.camera.as_deref());
    let from_ms = match &a.from {
        Some(f) => super::times::parse(f, &tz, "--from")?.as_millisecond(),
        None => 0,
    };
    let to_ms = match &a.to {
        Some(t) => super::times::parse(t, &tz, "--to")?.as_millisecond(),
        None => i64::MAX,
    };
    if to_ms <= from_ms {
        bail!("--to must be after --from");
    }
    if !(1..=10_000).contains(&a.limit) {
        bail!("--limit {}: between 1 and 10000", a.limit);
    }
    Ok(Query {
        camera: a.camera.clone(),
        from_ms,
        to_ms,
        tod: a.time.as_deref().map(parse_window).transpose()?,
        zone: a.zone.clone(),
        label: a.label.clone(),
        min_peak: a.min_activity,
        min_duration_ms: a.min_duration as i64 * 1000,
        limit: a.limit,
    })
}

pub fn run(cfg: Config, a: Args) -> Result<ExitCode> {
    let q = query(&cfg, &a)?;
    if let Some(z) = &q.zone {
        let known = cfg.cameras.values().any(|c| c.zones.iter().any(|x| &x.name == z));
        if !known {
            bail!("--zone {z:?}: no camera has a zone of that name; zones are `[[cameras.<mac>.zones]]` in the config");
        }
    }
    let cat = Catalog::open(&cfg.catalog(), false)?;
    let hits = cat.search(&q)?;
    if a.restore {
        return restore(cfg, &hits, &a);
    }
    if a.json {
        let out: Vec<serde_json::Value> = hits.iter().map(|h| json(&cfg, h)).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        println!("no activity matches (see `camvault index` for what is indexed)");
        return Ok(ExitCode::SUCCESS);
    }
    for h in &hits {
        let tz = cfg.camera_by_id(&h.camera).tz;
        let when = jiff::Timestamp::from_millisecond(h.start_ms)
            .map(|t| t.to_zoned(tz).strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let list = |l: &[String]| if l.is_empty() { "-".to_string() } else { l.join(",") };
        println!(
            "{:<10} {when}  {:>4}s  activity {:>3}%  {:<16} {:<16} {:<9} {} +{:.0}s",
            h.camera,
            (h.end_ms - h.start_ms) / 1000,
            h.peak,
            list(&h.zones),
            list(&h.labels),
            h.lives,
            h.key,
            h.offset_s
        );
    }
    if hits.len() == q.limit {
        println!("(the first {} matches, newest first; --limit N for more)", q.limit);
    }
    Ok(ExitCode::SUCCESS)
}

/// A result as the JSON of `--json` and the API: the hit plus its pictures.
pub fn json(cfg: &Config, h: &Hit) -> serde_json::Value {
    let dir = crate::index::clip_dir(cfg, h.file_id);
    let mut v = serde_json::to_value(h).unwrap_or_default();
    let frame = dir.join(crate::index::frame_name(h.ordinal as usize));
    v["frame"] = serde_json::json!(frame.is_file().then(|| frame.to_string_lossy().into_owned()));
    let sprite = dir.join(crate::index::SPRITE);
    v["sprite"] = serde_json::json!(sprite.is_file().then(|| sprite.to_string_lossy().into_owned()));
    v
}

/// `--restore`: a restore plan of exactly the clips that matched.
fn restore(cfg: Config, hits: &[Hit], a: &Args) -> Result<ExitCode> {
    let mut keys: Vec<String> = hits.iter().map(|h| h.key.clone()).collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        bail!("no activity matches: nothing to restore");
    }
    let from_ms = hits.iter().map(|h| h.clip_start_ms).min().unwrap_or(0);
    let to_ms = hits.iter().map(|h| h.end_ms).max().unwrap_or(0);
    let req = crate::restore::Request {
        camera: a.camera.clone(),
        from_ms,
        to_ms,
        key: None,
        keys,
        tier: a.tier.map_or(cfg.restore.tier, Into::into),
        days: cfg.restore.days,
        merge: false,
        out_dir: String::new(),
        drill: false,
        max_wait_hours: None,
    };
    super::restore::plan_and_start(cfg, req, a.dry_run, false, a.yes, a.json)
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_windows_parse_and_wrap() {
        assert_eq!(super::parse_window("14:30-15:30").unwrap(), (52_200, 55_800));
        assert_eq!(super::parse_window("23:00-06:00").unwrap(), (82_800, 21_600));
        for bad in ["14:30", "25:00-01:00", "10:00-10:00", "ab-cd", "10:60-11:00"] {
            let e = super::parse_window(bad).unwrap_err().to_string();
            assert!(e.contains("--time"), "{bad}: {e}");
        }
    }
}
