//! `camvault cost`: the bill now and later, from the catalog or from a pure model.

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::cost::{model, storage_price, Plan};

const GB: f64 = 1e9;
const DAY_MS: i64 = 86_400_000;

pub struct ModelArgs {
    pub daily_gb: f64,
    pub transition_days: Option<u32>,
    pub months: u32,
    pub class: Option<String>,
    pub json: bool,
}

pub fn run_model(cfg: &Config, a: ModelArgs) -> Result<ExitCode> {
    if !(a.daily_gb.is_finite() && a.daily_gb >= 0.0) || a.months == 0 || a.months > 1200 {
        bail!("--daily-gb must be a number ≥ 0 and --months between 1 and 1200");
    }
    let plan = Plan {
        daily_gb: a.daily_gb,
        transition_days: a.transition_days.unwrap_or(cfg.tiering.transition_days),
        archive_class: a.class.unwrap_or_else(|| cfg.tiering.storage_class.clone()),
        object_mb: 7.0,
    };
    if !matches!(
        plan.archive_class.as_str(),
        "IA" | "Archive" | "ColdArchive" | "DeepColdArchive"
    ) {
        bail!(
            "--class {:?}: use IA, Archive, ColdArchive or DeepColdArchive",
            plan.archive_class
        );
    }
    let months = model(&plan, &cfg.prices, a.months);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&months)?);
        return Ok(ExitCode::SUCCESS);
    }
    let p = &cfg.prices;
    println!(
        "{} GB a day, Standard for {} days (¥{}/GB-month), then {} (¥{}/GB-month); prices as of {}",
        plan.daily_gb,
        plan.transition_days,
        p.standard_gb_month,
        plan.archive_class,
        storage_price(p, &plan.archive_class),
        p.taken
    );
    println!(
        "{:>5} {:>12} {:>12} {:>12}",
        "month", "Standard GB", "archive GB", "¥ / month"
    );
    for m in &months {
        println!(
            "{:>5} {:>12.0} {:>12.0} {:>12.2}",
            m.month, m.standard_gb, m.archive_gb, m.total_cny
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The bill now from the catalog, and where it goes at the observed daily volume.
pub fn run(cfg: &Config, json: bool) -> Result<ExitCode> {
    let cat = Catalog::open(&cfg.catalog(), false)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let t = cfg.tiering.transition_days as i64;
    let (standard, all) = cat.bytes_since(now - t * DAY_MS)?;
    let (last_week, _) = cat.bytes_since(now - 7 * DAY_MS)?;
    let (standard_gb, archive_gb) = (standard as f64 / GB, (all - standard) as f64 / GB);
    let daily_gb = last_week as f64 / GB / 7.0;
    let p = &cfg.prices;
    let arch = storage_price(p, &cfg.tiering.storage_class);
    let now_cny = standard_gb * p.standard_gb_month + archive_gb * arch;
    let project = |months: f64| {
        let std = daily_gb * t as f64;
        let total = standard_gb + archive_gb + daily_gb * 30.0 * months;
        std * p.standard_gb_month + (total - std).max(0.0) * arch
    };
    let rows = [(12.0, project(12.0)), (24.0, project(24.0)), (60.0, project(60.0))];
    if json {
        let v = serde_json::json!({
            "standard_gb": standard_gb, "archive_gb": archive_gb, "daily_gb": daily_gb,
            "monthly_cny_now": (now_cny * 100.0).round() / 100.0,
            "projection": rows.iter().map(|(m, c)| serde_json::json!({"months": m, "monthly_cny": (c * 100.0).round() / 100.0})).collect::<Vec<_>>(),
            "prices_taken": p.taken,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "stored: {standard_gb:.1} GB in Standard, {archive_gb:.1} GB past {t} days ({}), estimated by recording age",
        cfg.tiering.storage_class
    );
    println!(
        "storage now costs about ¥{now_cny:.2} a month (prices as of {}; `[prices]` in the config)",
        p.taken
    );
    println!("observed volume: {daily_gb:.2} GB a day (last 7 days)");
    for (m, c) in rows {
        println!("in {m:>2} months: about ¥{c:.2} a month");
    }
    Ok(ExitCode::SUCCESS)
}
