//! The cost model: what the archive costs now, and what it will cost.
//!
//! Storage is billed per GB-month by class; an object sits in Standard for
//! `tiering.transition_days` plus the day OSS takes to act ([`standard_days`]) and in the
//! archive class after that. IA and the archive classes bill at least 64 KB an object,
//! Standard its actual size; a transition is billed as a PUT of the source class. The
//! model takes month-end snapshots of a steady daily volume. With the user's plan (10 GB a
//! day, Standard ¥0.12, Deep Cold Archive ¥0.0075, 30 days) it gives ¥36.00 for month 1,
//! as their spreadsheet, and ¥61.88 for month 12 (their ¥60.75 counted exactly 30 days in
//! Standard). Every price comes from `[prices]` in the config; the defaults are Aliyun's
//! cn-beijing LRS list prices, with sources in docs/restore.md.

use serde::Serialize;

use crate::config::Prices;
use crate::store::RestoreTier;

/// One month-end snapshot of the model.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Month {
    pub month: u32,
    pub standard_gb: f64,
    pub archive_gb: f64,
    pub storage_cny: f64,
    pub requests_cny: f64,
    pub total_cny: f64,
}

/// Inputs of the model.
#[derive(Debug, Clone)]
pub struct Plan {
    pub daily_gb: f64,
    pub transition_days: u32,
    pub archive_class: String,
    /// Average recording size, for per-object fees and the 64 KB minimum.
    pub object_mb: f64,
}

/// Price per GB-month of a class.
pub fn storage_price(p: &Prices, class: &str) -> f64 {
    match class {
        "IA" => p.ia_gb_month,
        "Archive" => p.archive_gb_month,
        "ColdArchive" => p.cold_archive_gb_month,
        "DeepColdArchive" => p.deep_cold_archive_gb_month,
        _ => p.standard_gb_month,
    }
}

/// A price with the `[prices]` key it comes from, so every figure can be traced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Priced {
    pub key: &'static str,
    pub cny: f64,
}

/// What restoring objects of `class` at `tier` costs: (per GB retrieved, per 10,000
/// requests). Tiers a class does not have fall back to the one it does.
pub fn restore_prices(p: &Prices, class: &str, tier: RestoreTier) -> (Priced, Priced) {
    use RestoreTier::*;
    let pr = |key, cny| Priced { key, cny };
    match (class, tier) {
        ("IA", _) => (
            pr("ia_retrieval_gb", p.ia_retrieval_gb),
            pr("get_per_10k", p.get_per_10k),
        ),
        ("Archive", _) => (
            pr("archive_retrieval_gb", p.archive_retrieval_gb),
            pr("archive_restore_per_10k", p.archive_restore_per_10k),
        ),
        ("ColdArchive", Expedited) => (
            pr("cold_archive_expedited_gb", p.cold_archive_expedited_gb),
            pr("cold_archive_expedited_per_10k", p.cold_archive_expedited_per_10k),
        ),
        ("ColdArchive", Standard) => (
            pr("cold_archive_standard_gb", p.cold_archive_standard_gb),
            pr("cold_archive_standard_per_10k", p.cold_archive_standard_per_10k),
        ),
        ("ColdArchive", Bulk) => (
            pr("cold_archive_bulk_gb", p.cold_archive_bulk_gb),
            pr("cold_archive_bulk_per_10k", p.cold_archive_bulk_per_10k),
        ),
        ("DeepColdArchive", Expedited) => (
            pr("deep_cold_archive_expedited_gb", p.deep_cold_archive_expedited_gb),
            pr(
                "deep_cold_archive_expedited_per_10k",
                p.deep_cold_archive_expedited_per_10k,
            ),
        ),
        ("DeepColdArchive", _) => (
            pr("deep_cold_archive_standard_gb", p.deep_cold_archive_standard_gb),
            pr(
                "deep_cold_archive_standard_per_10k",
                p.deep_cold_archive_standard_per_10k,
            ),
        ),
        _ => (pr("standard (no retrieval fee)", 0.0), pr("get_per_10k", p.get_per_10k)),
    }
}

/// The tier actually asked for: one the class offers (Deep Cold Archive has no Bulk;
/// Archive has no tiers at all and takes any).
pub fn tier_for(class: &str, tier: RestoreTier) -> RestoreTier {
    match (class, tier) {
        ("DeepColdArchive" | "DEEP_ARCHIVE", RestoreTier::Bulk) => RestoreTier::Standard,
        _ => tier,
    }
}

/// How long a restored copy of OSS Archive stays readable at most: `Days` 1 to 7 (Cold
/// Archive and Deep Cold Archive: up to 365), "Restore objects",
/// alibabacloud.com/help/en/oss/user-guide/restore-objects-for-access.
pub const ARCHIVE_MAX_RESTORE_DAYS: u32 = 7;

/// The `Days` a restore of `class` can ask for: `days`, at most 7 for OSS Archive, which
/// refuses more.
pub fn restore_days(class: &str, days: u32) -> u32 {
    if class == "Archive" {
        days.min(ARCHIVE_MAX_RESTORE_DAYS)
    } else {
        days
    }
}

/// The longest a restore of `class` at `tier` takes, in hours, as OSS documents it.
pub fn restore_hours(class: &str, tier: RestoreTier) -> f64 {
    use RestoreTier::*;
    match (class, tier) {
        ("Archive", _) => 1.0 / 60.0,
        ("ColdArchive", Expedited) => 1.0,
        ("ColdArchive", Standard) => 5.0,
        ("ColdArchive", Bulk) => 12.0,
        ("DeepColdArchive", Expedited) => 12.0,
        ("DeepColdArchive", _) => 48.0,
        _ => 0.0,
    }
}

/// The cheapest tier a class offers (for drills).
pub fn cheapest_tier(class: &str) -> RestoreTier {
    match class {
        "ColdArchive" => RestoreTier::Bulk,
        _ => RestoreTier::Standard,
    }
}

/// Minimum storage days of a class, with its key.
pub fn min_days(p: &Prices, class: &str) -> Priced {
    let (key, d) = match class {
        "IA" => ("ia_min_days", p.ia_min_days),
        "Archive" => ("archive_min_days", p.archive_min_days),
        "ColdArchive" => ("cold_archive_min_days", p.cold_archive_min_days),
        "DeepColdArchive" => ("deep_cold_archive_min_days", p.deep_cold_archive_min_days),
        _ => ("standard (no minimum)", 0),
    };
    Priced { key, cny: d as f64 }
}

/// One line of an estimate: what, how many, at which price.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Line {
    pub what: String,
    pub quantity: f64,
    pub unit: &'static str,
    pub price: Priced,
    pub cny: f64,
}

impl Line {
    pub fn new(what: impl Into<String>, quantity: f64, unit: &'static str, price: Priced) -> Line {
        let per = if unit == "10k requests" {
            quantity / 10_000.0
        } else {
            quantity
        };
        Line {
            what: what.into(),
            quantity,
            unit,
            price,
            cny: per * price.cny,
        }
    }
}

/// What bringing back `gb` in `objects` objects of `class` costs at `tier`, kept readable
/// `days` days, downloaded over the internet. Cached clips cost nothing and are not here.
pub fn restore_estimate(p: &Prices, class: &str, tier: RestoreTier, objects: u64, gb: f64, days: u32) -> Vec<Line> {
    let (retrieval, request) = restore_prices(p, class, tier);
    let mut lines = Vec::new();
    if crate::store::is_archive_class(class) {
        lines.push(Line::new(
            format!("{class} restore requests ({})", tier.as_str()),
            objects as f64,
            "10k requests",
            request,
        ));
        lines.push(Line::new(format!("{class} data retrieval"), gb, "GB", retrieval));
        // The restored copy is billed as Standard while it is kept.
        let temp = Priced {
            key: "standard_gb_month",
            cny: p.standard_gb_month * days as f64 / 30.0,
        };
        lines.push(Line::new(
            format!("restored copy kept {days} day(s), billed as Standard for {days}/30 of a month"),
            gb,
            "GB",
            temp,
        ));
    } else if class == "IA" {
        lines.push(Line::new("IA data retrieval", gb, "GB", retrieval));
    }
    lines.push(Line::new(
        "GET requests",
        objects as f64,
        "10k requests",
        Priced {
            key: "get_per_10k",
            cny: p.get_per_10k,
        },
    ));
    lines.push(Line::new(
        "download traffic",
        gb,
        "GB",
        Priced {
            key: "outbound_gb",
            cny: p.outbound_gb,
        },
    ));
    lines
}

/// The storage bill as it stands, from the catalog.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Bill {
    pub standard_gb: f64,
    pub archive_gb: f64,
    /// Observed over the last 7 days.
    pub daily_gb: f64,
    pub monthly_cny: f64,
}

/// What storage costs a month now: objects younger than the transition age in Standard,
/// the rest in the archive class (by recording age, which is close to upload age).
pub fn bill_now(cfg: &crate::config::Config, cat: &crate::catalog::Catalog, now_ms: i64) -> anyhow::Result<Bill> {
    const DAY_MS: i64 = 86_400_000;
    const GB: f64 = 1e9;
    let in_standard_ms = (standard_days(cfg.tiering.transition_days) * DAY_MS as f64) as i64;
    let (standard, all) = cat.bytes_since(now_ms - in_standard_ms)?;
    let (last_week, _) = cat.bytes_since(now_ms - 7 * DAY_MS)?;
    let (standard_gb, archive_gb) = (standard as f64 / GB, all.saturating_sub(standard) as f64 / GB);
    let p = &cfg.prices;
    Ok(Bill {
        standard_gb,
        archive_gb,
        daily_gb: last_week as f64 / GB / 7.0,
        monthly_cny: standard_gb * p.standard_gb_month
            + archive_gb * storage_price(p, cfg.tiering.storage_class.as_str()),
    })
}

/// Days an object of an N-day rule really spends in Standard, on average. OSS rounds the
/// last-modified time up to the next 00:00 UTC, counts N days from there, and its daily
/// run (from 08:00 UTC+8) finishes within the following day: N+1 to N+2 days, N+1 on
/// average for uploads spread over the day. Sources: "Why objects are not deleted or
/// transitioned" (alibabacloud.com/help/en/oss/user-guide/the-reason-why-objects-in-a-bucket-are-not-deleted-or-why-the-storage-class-of-the-objects-is-not-converted)
/// and "Reasons why OSS lifecycle rules do not take effect" (help.aliyun.com), 2026-12.
pub fn standard_days(transition_days: u32) -> f64 {
    f64::from(transition_days) + 1.0
}

/// Billable GB of `gb` stored in `class` as objects of `object_mb`: IA and the archive
/// classes bill each object at least 64 KB, Standard bills the actual size.
fn billable(gb: f64, class: &str, object_mb: f64, min_kb: f64) -> f64 {
    if class == "Standard" || object_mb * 1024.0 >= min_kb || object_mb <= 0.0 {
        gb
    } else {
        gb * (min_kb / 1024.0) / object_mb
    }
}

/// Month-end snapshots for `months` months (30-day months).
pub fn model(plan: &Plan, p: &Prices, months: u32) -> Vec<Month> {
    let archive_price = storage_price(p, &plan.archive_class);
    let objects_per_day = if plan.object_mb > 0.0 {
        plan.daily_gb * 1024.0 / plan.object_mb
    } else {
        0.0
    };
    (1..=months)
        .map(|m| {
            let days = 30.0 * m as f64;
            let t = standard_days(plan.transition_days);
            let standard_gb = plan.daily_gb * days.min(t);
            let archive_gb = plan.daily_gb * (days - t).max(0.0);
            let storage_cny = billable(standard_gb, "Standard", plan.object_mb, p.min_billable_kb)
                * p.standard_gb_month
                + billable(archive_gb, &plan.archive_class, plan.object_mb, p.min_billable_kb) * archive_price;
            // This month's uploads (PUT) and transitions of objects that reached the age.
            let puts = objects_per_day * 30.0;
            let transitions = if days > t {
                objects_per_day * 30.0_f64.min(days - t)
            } else {
                0.0
            };
            let requests_cny = puts / 10_000.0 * p.put_per_10k + transitions / 10_000.0 * p.transition_per_10k;
            let round = |x: f64| (x * 100.0).round() / 100.0;
            Month {
                month: m,
                standard_gb: round(standard_gb),
                archive_gb: round(archive_gb),
                storage_cny: round(storage_cny),
                requests_cny: round(requests_cny),
                total_cny: round(storage_cny + if p.include_requests { requests_cny } else { 0.0 }),
            }
        })
        .collect()
}

/// The site as `cost plan` sees it.
#[derive(Debug, Clone)]
pub struct Site {
    pub daily_gb: f64,
    /// Days of recordings the local cache keeps (restores younger than this are free).
    pub cache_days: f64,
    pub restores_per_month: f64,
    pub restore_gb: f64,
    /// How old the footage people restore typically is, in days.
    pub restore_age_days: f64,
    pub object_mb: f64,
}

/// One tiering choice, priced.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Choice {
    pub class: String,
    pub transition_days: u32,
    /// The monthly bill after a year: storage, requests, and the expected restores.
    pub storage_cny: f64,
    pub requests_cny: f64,
    pub restores_cny: f64,
    pub total_cny: f64,
    /// Where a typical restore comes from: `cache`, `Standard` or the archive class.
    pub restore_from: String,
    /// The longest a typical restore waits for the store, hours.
    pub restore_hours: f64,
}

pub const PLAN_DAYS: [u32; 6] = [1, 7, 14, 30, 60, 90];
pub const PLAN_CLASSES: [&str; 4] = ["IA", "Archive", "ColdArchive", "DeepColdArchive"];

/// Every transition age × class at month 12, cheapest first (ties: the later transition,
/// which keeps more footage instantly readable).
pub fn plan_options(site: &Site, p: &Prices) -> Vec<Choice> {
    let mut out = Vec::new();
    for class in PLAN_CLASSES {
        for days in PLAN_DAYS {
            let m = &model(
                &Plan {
                    daily_gb: site.daily_gb,
                    transition_days: days,
                    archive_class: class.into(),
                    object_mb: site.object_mb,
                },
                p,
                12,
            )[11];
            let from = if site.restore_age_days < site.cache_days {
                "cache"
            } else if site.restore_age_days < standard_days(days) {
                "Standard"
            } else {
                class
            };
            let (restores_cny, hours) = if from == "cache" {
                (0.0, 0.0)
            } else {
                let objects = (site.restore_gb * 1e3 / site.object_mb.max(0.001)).ceil() as u64;
                let tier = RestoreTier::Standard;
                let one: f64 = restore_estimate(p, from, tier, objects, site.restore_gb, 1)
                    .iter()
                    .map(|l| l.cny)
                    .sum();
                (one * site.restores_per_month, restore_hours(from, tier))
            };
            let round = |x: f64| (x * 100.0).round() / 100.0;
            out.push(Choice {
                class: class.into(),
                transition_days: days,
                storage_cny: m.storage_cny,
                requests_cny: m.requests_cny,
                restores_cny: round(restores_cny),
                total_cny: round(m.storage_cny + m.requests_cny + restores_cny),
                restore_from: from.into(),
                restore_hours: hours,
            });
        }
    }
    out.sort_by(|a, b| {
        a.total_cny
            .total_cmp(&b.total_cny)
            .then(b.transition_days.cmp(&a.transition_days))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_plan() -> Plan {
        Plan {
            daily_gb: 10.0,
            transition_days: 30,
            archive_class: "DeepColdArchive".into(),
            object_mb: 7.0,
        }
    }

    #[test]
    fn reproduces_the_users_figures() {
        let p = Prices::default();
        let months = model(&user_plan(), &p, 12);
        assert_eq!(months[0].standard_gb, 300.0);
        assert_eq!(months[0].archive_gb, 0.0);
        assert_eq!(months[0].storage_cny, 36.00);
        // Their spreadsheet's ¥60.75 for month 12 counts exactly 30 days in Standard; OSS
        // keeps each object about a day longer (see `standard_days`): 310 GB, not 300.
        assert_eq!(months[11].standard_gb, 310.0);
        assert_eq!(months[11].archive_gb, 3290.0);
        assert_eq!(months[11].storage_cny, 61.88);
    }

    #[test]
    fn earlier_transition_is_cheaper_and_prices_trace_to_the_table() {
        let p = Prices::default();
        let mut plan = user_plan();
        plan.transition_days = 3;
        let early = model(&plan, &p, 12);
        assert!(early[11].storage_cny < 60.75 / 2.0 + 5.0, "{:?}", early[11]);
        let doubled = Prices {
            deep_cold_archive_gb_month: p.deep_cold_archive_gb_month * 2.0,
            ..p.clone()
        };
        let m = model(&user_plan(), &doubled, 12);
        assert_eq!(
            m[11].storage_cny,
            ((310.0 * 0.12 + 2.0 * 3290.0 * 0.0075) * 100.0_f64).round() / 100.0,
            "the archive price comes from the table"
        );
    }

    #[test]
    fn plan_recommends_an_early_deep_cold_archive_when_the_cache_covers_replays() {
        let p = Prices::default();
        let site = Site {
            daily_gb: 10.0,
            cache_days: 30.0,
            restores_per_month: 2.0,
            restore_gb: 1.0,
            restore_age_days: 3.0,
            object_mb: 7.0,
        };
        let opts = plan_options(&site, &p);
        assert_eq!(opts.len(), PLAN_DAYS.len() * PLAN_CLASSES.len());
        let best = &opts[0];
        assert_eq!((best.class.as_str(), best.transition_days), ("DeepColdArchive", 1));
        assert_eq!(best.restore_from, "cache");
        let today = opts
            .iter()
            .find(|o| o.class == "DeepColdArchive" && o.transition_days == 30)
            .unwrap();
        assert_eq!(
            today.storage_cny, 61.88,
            "the user's current plan: their spreadsheet's ¥60.75 plus the day OSS takes to act"
        );
        assert!(best.total_cny < today.total_cny * 0.55, "{best:?} vs {today:?}");
        // Replays of old footage make the archive's retrieval fees count.
        let old = Site {
            restore_age_days: 45.0,
            restores_per_month: 30.0,
            restore_gb: 20.0,
            ..site
        };
        let opts = plan_options(&old, &p);
        let dca1 = opts
            .iter()
            .find(|o| o.class == "DeepColdArchive" && o.transition_days == 1)
            .unwrap();
        assert_eq!(dca1.restore_from, "DeepColdArchive");
        assert!(dca1.restores_cny > 0.0 && dca1.restore_hours == 48.0, "{dca1:?}");
        let doubled = Prices {
            deep_cold_archive_standard_gb: p.deep_cold_archive_standard_gb * 2.0,
            ..p.clone()
        };
        let again = plan_options(&old, &doubled);
        let dca1b = again
            .iter()
            .find(|o| o.class == "DeepColdArchive" && o.transition_days == 1)
            .unwrap();
        assert!(
            dca1b.restores_cny > dca1.restores_cny,
            "retrieval price comes from the table"
        );
    }

    #[test]
    fn restore_estimate_traces_every_line_to_a_price_key() {
        let p = Prices::default();
        let lines = restore_estimate(&p, "DeepColdArchive", RestoreTier::Expedited, 100, 2.0, 3);
        let keys: Vec<&str> = lines.iter().map(|l| l.price.key).collect();
        assert_eq!(
            keys,
            [
                "deep_cold_archive_expedited_per_10k",
                "deep_cold_archive_expedited_gb",
                "standard_gb_month",
                "get_per_10k",
                "outbound_gb"
            ]
        );
        assert_eq!(lines[0].cny, 100.0 / 10_000.0 * 50.0);
        assert_eq!(lines[1].cny, 2.0 * 0.2);
        assert_eq!(lines[4].cny, 2.0 * 0.5);
        assert_eq!(restore_hours("DeepColdArchive", RestoreTier::Expedited), 12.0);
        assert_eq!(restore_hours("DeepColdArchive", RestoreTier::Standard), 48.0);
    }

    #[test]
    fn tiny_objects_are_billed_at_64_kb() {
        let p = Prices::default();
        let plan = Plan {
            daily_gb: 1.0,
            transition_days: 30,
            archive_class: "DeepColdArchive".into(),
            object_mb: 1.0 / 32.0,
        };
        assert_eq!(
            model(&plan, &p, 1)[0].storage_cny,
            3.6,
            "Standard bills the actual size: 30 GB at ¥0.12"
        );
        // Month 2: 31 GB in Standard as they are, 29 GB in Deep Cold Archive billed as 58 GB.
        assert_eq!(
            model(&plan, &p, 2)[1].storage_cny,
            ((31.0 * 0.12 + 58.0 * 0.0075) * 100.0_f64).round() / 100.0
        );
    }
}
