//! The cost model: what the archive costs now, and what it will cost.
//!
//! Storage is billed per GB-month by class; an object sits in Standard for
//! `tiering.transition_days` and in the archive class after that. The model takes
//! month-end snapshots of a steady daily volume. With the user's plan (10 GB a day,
//! Standard ¥0.12, Deep Cold Archive ¥0.0075, 30 days) it gives ¥36.00 for month 1 and
//! ¥60.75 for month 12, the figures of their own spreadsheet. Every price comes from
//! `[prices]` in the config; the defaults are Aliyun's cn-beijing LRS list prices.

use serde::Serialize;

use crate::config::Prices;

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

/// Billable GB of `gb` stored as objects of `object_mb` (each billed at least 64 KB).
fn billable(gb: f64, object_mb: f64, min_kb: f64) -> f64 {
    if object_mb * 1024.0 >= min_kb || object_mb <= 0.0 {
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
            let t = plan.transition_days as f64;
            let standard_gb = plan.daily_gb * days.min(t);
            let archive_gb = plan.daily_gb * (days - t).max(0.0);
            let storage_cny = billable(standard_gb, plan.object_mb, p.min_billable_kb) * p.standard_gb_month
                + billable(archive_gb, plan.object_mb, p.min_billable_kb) * archive_price;
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
        assert_eq!(months[11].archive_gb, 3300.0);
        assert_eq!(months[11].storage_cny, 60.75);
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
            36.0 + 2.0 * 24.75,
            "the archive price comes from the table"
        );
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
            7.2,
            "30 GB billed as 60 GB at ¥0.12"
        );
    }
}
