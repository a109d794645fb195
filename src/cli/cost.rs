//! `camvault cost`: the bill now and later, from the catalog or from a pure model.

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::cost::{bill_now, model, plan_options, storage_price, Bill, Plan, Site};

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
        archive_class: a.class.unwrap_or_else(|| cfg.tiering.storage_class.to_string()),
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
        // Each month also prices every mirror's copy (issue 21) when mirrors are configured.
        let mut v = serde_json::to_value(&months)?;
        if !cfg.store.mirror.is_empty() {
            for (m, row) in months.iter().zip(v.as_array_mut().into_iter().flatten()) {
                let copies = crate::mirror::cost::model_copies(cfg, plan.daily_gb, plan.object_mb, m.month);
                let monthly: f64 = copies.iter().map(|c| c.monthly_cny).sum();
                row["copies"] = serde_json::to_value(&copies)?;
                row["all_copies_monthly_cny"] = serde_json::json!(((m.total_cny + monthly) * 100.0).round() / 100.0);
            }
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
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
    if let Some(last) = months.last() {
        print_copies(
            cfg,
            &crate::mirror::cost::model_copies(cfg, plan.daily_gb, plan.object_mb, last.month),
            last.total_cny,
            &format!("month {}", last.month),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Each mirror's copy beside the main store's bill (issue 21): monthly fees of remote
/// copies, the one-off price of a disk mirror's disks.
fn print_copies(cfg: &Config, copies: &[crate::mirror::cost::CopyCost], primary_cny: f64, when: &str) {
    if copies.is_empty() {
        return;
    }
    println!("copies ({when}):");
    println!(
        "  {:<12} {:<4} {:<16} ¥{primary_cny:.2} a month",
        crate::config::PRIMARY,
        crate::restore::copies::kind_of(cfg, crate::config::PRIMARY),
        cfg.tiering.storage_class.as_str()
    );
    let mut monthly = primary_cny;
    for c in copies {
        let p = cfg.prices_of(&c.store);
        let own = if c.own_prices {
            format!(" (its own prices, as of {}: `[store.mirror.prices]`)", p.taken)
        } else {
            String::new()
        };
        if c.kind == "fs" {
            println!(
                "  {:<12} {:<4} {:<16} ¥{:.2} once: {} disk(s) of {} TB at ¥{}/TB (prices.disk_tb, prices.disk_cny_per_tb), no monthly fee{own}",
                c.store, c.kind, c.class, c.one_off_cny, c.disks, p.disk_tb, p.disk_cny_per_tb
            );
        } else {
            monthly += c.monthly_cny;
            println!(
                "  {:<12} {:<4} {:<16} ¥{:.2} a month{own}",
                c.store, c.kind, c.class, c.monthly_cny
            );
        }
    }
    println!("  all copies: ¥{:.2} a month", (monthly * 100.0).round() / 100.0);
}

/// The bill now from the catalog, and where it goes at the observed daily volume.
pub fn run(cfg: &Config, json: bool) -> Result<ExitCode> {
    let cat = Catalog::open(&cfg.catalog(), false)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let t = cfg.tiering.transition_days;
    let p = &cfg.prices;
    let Bill {
        standard_gb,
        archive_gb,
        daily_gb,
        monthly_cny: now_cny,
    } = bill_now(cfg, &cat, now)?;
    let arch = storage_price(p, cfg.tiering.storage_class.as_str());
    let project = |months: f64| {
        let std = daily_gb * t as f64;
        let total = standard_gb + archive_gb + daily_gb * 30.0 * months;
        std * p.standard_gb_month + (total - std).max(0.0) * arch
    };
    let rows = [(12.0, project(12.0)), (24.0, project(24.0)), (60.0, project(60.0))];
    // The bill so far: byte-days by class, PUTs and restore requests made.
    let (std_bd, arch_bd, puts, restores) = cat.usage_so_far(now, t as i64 * 86_400_000)?;
    let storage_so_far = (std_bd * p.standard_gb_month + arch_bd * arch) / GB / 30.0;
    let (_, restore_fee) = crate::cost::restore_prices(p, cfg.tiering.storage_class.as_str(), cfg.restore.tier);
    let requests_so_far = puts as f64 / 10_000.0 * p.put_per_10k + restores as f64 / 10_000.0 * restore_fee.cny;
    let mirror_requests = mirror_restore_requests(cfg, &cat)?;
    let copies = copies_now(cfg, &cat, now)?;
    if json {
        let v = serde_json::json!({
            "copies": copies,
            "so_far": {"storage_cny": storage_so_far, "requests_cny": requests_so_far, "puts": puts, "restore_requests": restores,
                "mirrors": mirror_requests},
            "standard_gb": standard_gb, "archive_gb": archive_gb, "daily_gb": daily_gb,
            "monthly_cny_now": (now_cny * 100.0).round() / 100.0,
            "projection": rows.iter().map(|(m, c)| serde_json::json!({"months": m, "monthly_cny": (c * 100.0).round() / 100.0})).collect::<Vec<_>>(),
            "prices_taken": p.taken,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "so far: about ¥{storage_so_far:.2} of storage and ¥{requests_so_far:.2} of requests ({puts} uploads, {restores} restore requests; prices.put_per_10k, prices.{})",
        restore_fee.key
    );
    for m in &mirror_requests {
        println!(
            "  and ¥{:.2} of restore requests sent to mirror {:?} ({} requests; its prices.{})",
            m.requests_cny, m.store, m.restore_requests, m.price_key
        );
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
    print_copies(cfg, &copies, (now_cny * 100.0).round() / 100.0, "now");
    Ok(ExitCode::SUCCESS)
}

/// Restore requests sent to one mirror so far, and their fee.
#[derive(serde::Serialize)]
struct MirrorRequests {
    store: String,
    restore_requests: u64,
    requests_cny: f64,
    /// The `[prices]` key they are billed at, in the mirror's own prices.
    price_key: &'static str,
}

/// The restores camvault asked of each mirror (a mirror's archived copy restored in that
/// mirror), billed at that mirror's prices for its class, as the main store's line bills
/// its own at `[prices]`. A mirror no longer configured is billed at `[prices]`.
fn mirror_restore_requests(cfg: &Config, cat: &Catalog) -> Result<Vec<MirrorRequests>> {
    let mut out = Vec::new();
    for (store, n) in cat.mirror_restore_requests()? {
        let class = match cfg.store.mirror.iter().find(|m| m.name == store) {
            Some(m) => cfg.for_mirror(m).tiering.storage_class,
            None => cfg.tiering.storage_class,
        };
        let (_, fee) = crate::cost::restore_prices(&cfg.prices_of(&store), class.as_str(), cfg.restore.tier);
        out.push(MirrorRequests {
            requests_cny: n as f64 / 10_000.0 * fee.cny,
            store,
            restore_requests: n,
            price_key: fee.key,
        });
    }
    Ok(out)
}

/// Each mirror's copy now: a remote one billed like the main store by its own plan (on
/// the bytes it holds verified), a disk one as the disks its verified bytes fill.
fn copies_now(cfg: &Config, cat: &Catalog, now: i64) -> Result<Vec<crate::mirror::cost::CopyCost>> {
    let counts = cat.copy_counts()?;
    let mut out = Vec::new();
    for m in &cfg.store.mirror {
        let held = counts
            .iter()
            .find(|c| c.store == m.name)
            .map_or(0, |c| c.verified_bytes) as f64
            / GB;
        let mc = cfg.for_mirror(m);
        let kind = crate::restore::copies::kind_of(cfg, &m.name);
        if m.kind == crate::config::StoreKind::Fs {
            let (disks, one_off_cny) = crate::mirror::cost::disks(&mc.prices, held);
            out.push(crate::mirror::cost::CopyCost {
                store: m.name.clone(),
                kind,
                class: "disk".into(),
                monthly_cny: 0.0,
                disks,
                one_off_cny,
                own_prices: m.prices.is_some(),
            });
            continue;
        }
        // The main store's split by age, scaled to what this mirror holds, at its prices.
        let b = bill_now(&mc, cat, now)?;
        let all = b.standard_gb + b.archive_gb;
        let share = if all > 0.0 { (held / all).min(1.0) } else { 0.0 };
        out.push(crate::mirror::cost::CopyCost {
            store: m.name.clone(),
            kind,
            class: mc.tiering.storage_class.as_str().to_string(),
            monthly_cny: (b.monthly_cny * share * 100.0).round() / 100.0,
            disks: 0,
            one_off_cny: 0.0,
            own_prices: m.prices.is_some(),
        });
    }
    Ok(out)
}

pub struct PlanArgs {
    pub daily_gb: Option<f64>,
    pub restores_per_month: f64,
    pub restore_gb: f64,
    pub restore_age_days: f64,
    pub json: bool,
}

/// `cost plan`: every transition age and class for this site, and a recommendation.
pub fn run_plan(cfg: &Config, a: PlanArgs) -> Result<ExitCode> {
    let observed = Catalog::open(&cfg.catalog(), false).ok().and_then(|cat| {
        let now = jiff::Timestamp::now().as_millisecond();
        cat.bytes_since(now - 7 * DAY_MS).ok().map(|(b, _)| b as f64 / GB / 7.0)
    });
    // A few clips of a demo or a new install say nothing about a real camera's volume.
    let observed = observed.filter(|g| *g >= 0.1);
    let daily_gb = a.daily_gb.or(observed).unwrap_or(10.0);
    let volume_note = match (a.daily_gb, observed) {
        (Some(_), _) => "(--daily-gb)",
        (None, Some(_)) => "(observed over the last 7 days)",
        (None, None) => "(assumed: too little recorded yet to measure; pass --daily-gb)",
    };
    if !(daily_gb.is_finite() && daily_gb > 0.0)
        || a.restore_gb < 0.0
        || a.restores_per_month < 0.0
        || a.restore_age_days < 0.0
    {
        bail!("--daily-gb must be a number > 0; --restore-gb, --restores-per-month and --restore-age-days ≥ 0");
    }
    // The cache keeps the newer of max_days and what max_bytes holds at this volume.
    let cache_days = (cfg.cache.max_days as f64).min(cfg.cache.max_bytes.0 as f64 / (daily_gb * GB));
    let site = Site {
        daily_gb,
        cache_days,
        restores_per_month: a.restores_per_month,
        restore_gb: a.restore_gb,
        restore_age_days: a.restore_age_days,
        object_mb: 7.0,
    };
    let options = plan_options(&site, &cfg.prices);
    let best = &options[0];
    let current = options
        .iter()
        .find(|o| o.class == cfg.tiering.storage_class.as_str() && o.transition_days == cfg.tiering.transition_days);
    let copies = crate::mirror::cost::model_copies(cfg, daily_gb, site.object_mb, 12);
    // The disks are priced as the (first) disk mirror's, when there is one.
    let disk = cfg.store.mirror.iter().find(|m| m.kind == crate::config::StoreKind::Fs);
    let has_disk = disk.is_some();
    let disk_prices = disk.map_or_else(|| cfg.prices.clone(), |m| cfg.mirror_prices(m));
    let savings = current.map(|c| crate::mirror::cost::disk_savings(&disk_prices, &site, c));
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "copies": copies, "disk_mirror_savings": savings, "has_disk_mirror": has_disk,
                "daily_gb": daily_gb, "cache_days": cache_days, "restore_age_days": site.restore_age_days,
                "restores_per_month": site.restores_per_month, "restore_gb": site.restore_gb,
                "recommended": best, "current": current, "options": options, "prices_taken": cfg.prices.taken,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{daily_gb:.1} GB a day {volume_note}; the local cache keeps about {cache_days:.0} day(s) (cache.max_days, cache.max_bytes); {} restore(s) a month of {} GB of footage about {} days old",
        site.restores_per_month, site.restore_gb, site.restore_age_days
    );
    println!(
        "monthly bill after a year, prices as of {} (`[prices]`):",
        cfg.prices.taken
    );
    println!(
        "{:<16} {:>5} {:>9} {:>9} {:>9} {:>9}  typical restore",
        "class", "days", "storage", "requests", "restores", "total"
    );
    for o in &options {
        let mark = if std::ptr::eq(o, best) {
            " <- recommended"
        } else if current.is_some_and(|c| std::ptr::eq(o, c)) {
            " <- current config"
        } else {
            ""
        };
        println!(
            "{:<16} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  from {}{}{mark}",
            o.class,
            o.transition_days,
            o.storage_cny,
            o.requests_cny,
            o.restores_cny,
            o.total_cny,
            o.restore_from,
            if o.restore_hours > 0.0 {
                format!(", up to {} h", o.restore_hours)
            } else {
                String::new()
            }
        );
    }
    println!();
    println!(
        "recommended: {} after {} day(s), about ¥{:.2} a month after a year.",
        best.class, best.transition_days, best.total_cny
    );
    let why = if best.restore_from == "cache" {
        format!(
            "the footage people replay ({} days old) is still in the local cache, so archiving early costs no restores",
            site.restore_age_days
        )
    } else {
        format!(
            "typical restores come from {}: their fees are counted above",
            best.restore_from
        )
    };
    println!("why: {why}.");
    let min = crate::cost::min_days(&cfg.prices, &best.class);
    println!(
        "{} bills each object at least {} days (prices.{}); camvault never deletes recordings, so that adds nothing.",
        best.class, min.cny, min.key
    );
    match current {
        Some(c) if c.total_cny > best.total_cny => println!(
            "the config now ({} after {} days) costs about ¥{:.2}: set `tiering.transition_days = {}` and `tiering.storage_class = \"{}\"`, then `camvault lifecycle apply`.",
            c.class, c.transition_days, c.total_cny, best.transition_days, best.class
        ),
        Some(c) if std::ptr::eq(c, best) => println!("the config already uses it."),
        Some(c) => println!(
            "the config now ({} after {} days) costs the same.",
            c.class, c.transition_days
        ),
        None => println!(
            "the config's {} after {} days is not among the compared ages.",
            cfg.tiering.storage_class, cfg.tiering.transition_days
        ),
    }
    print_copies(
        cfg,
        &copies,
        current.map_or(best.total_cny, |c| c.total_cny),
        "after a year, the config's plan",
    );
    if let Some(s) = savings {
        let verb = if has_disk { "saves" } else { "would save" };
        if s.restore_cny > 0.0 {
            println!(
                "a disk mirror at home {verb} about ¥{:.2} a year on expected restores: {} restore(s) a year × ¥{:.2} each (from {}, up to {} h; from the disk: free, at once), against ¥{:.2} once for {} disk(s) of {} TB holding a year of footage.",
                s.saved_cny_year, s.restores_per_year, s.restore_cny, s.from, s.hours, s.disk_one_off_cny, s.disks, disk_prices.disk_tb
            );
        } else {
            println!(
                "a disk mirror at home {verb} nothing on restores here: the footage people replay comes from {} at no fee (it still is a second copy: ¥{:.2} once for {} disk(s)).",
                s.from, s.disk_one_off_cny, s.disks
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
