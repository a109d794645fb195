//! What each copy costs (issue 21, item 6): a remote mirror is billed like the main store,
//! by its own class and lifecycle plan (`[store.mirror.tiering]`, else `[tiering]`) at its
//! own prices (`[prices]` with its `[store.mirror.prices]` on top: another region's); a
//! disk mirror is a one-off purchase, `prices.disk_tb`-TB disks at
//! `prices.disk_cny_per_tb` (its own, if it has them), as many as the footage fills, and
//! no fee after. And what a
//! disk mirror saves: each restore that would come from the main store's archive (or its
//! Standard download) comes from the disk, free and at once — expected restores a year ×
//! the cost of one.

use serde::Serialize;

use crate::config::{Config, Prices, StoreKind};
use crate::cost::{self, Month, Plan};

/// One copy's price in a model month.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CopyCost {
    pub store: String,
    /// `fs`, `s3` or `oss`.
    pub kind: &'static str,
    /// Where the copy ends up: the mirror's archive class, or `disk`.
    pub class: String,
    /// Monthly fee (remote copies), CNY.
    pub monthly_cny: f64,
    /// Disks bought so far and their one-off price (disk copies), CNY.
    pub disks: u32,
    pub one_off_cny: f64,
    /// Priced with the store's own `[store.mirror.prices]` rather than `[prices]` alone.
    pub own_prices: bool,
}

/// The disks that hold `gb` of footage, and their price.
pub fn disks(p: &Prices, gb: f64) -> (u32, f64) {
    if gb <= 0.0 {
        return (0, 0.0);
    }
    let n = (gb / (p.disk_tb * 1000.0)).ceil() as u32;
    (n, round2(n as f64 * p.disk_tb * p.disk_cny_per_tb))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Each mirror's copy at the end of model month `month`, for `daily_gb` a day of
/// recordings of `object_mb` each (`cost --model`, `cost plan`).
pub fn model_copies(cfg: &Config, daily_gb: f64, object_mb: f64, month: u32) -> Vec<CopyCost> {
    cfg.store
        .mirror
        .iter()
        .map(|m| {
            let p = cfg.mirror_prices(m);
            if m.kind == StoreKind::Fs {
                let gb = daily_gb * 30.0 * month as f64;
                let (disks, one_off_cny) = disks(&p, gb);
                return CopyCost {
                    store: m.name.clone(),
                    kind: "fs",
                    class: "disk".into(),
                    monthly_cny: 0.0,
                    disks,
                    one_off_cny,
                    own_prices: m.prices.is_some(),
                };
            }
            let t = m.tiering.as_ref().unwrap_or(&cfg.tiering);
            let plan = Plan {
                daily_gb,
                transition_days: t.transition_days,
                archive_class: t.storage_class.as_str().to_string(),
                object_mb,
            };
            let months: Vec<Month> = cost::model(&plan, &p, month.max(1));
            let last = months.last().map(|m| m.total_cny).unwrap_or(0.0);
            CopyCost {
                store: m.name.clone(),
                kind: m.kind.as_str(),
                class: plan.archive_class,
                monthly_cny: last,
                disks: 0,
                one_off_cny: 0.0,
                own_prices: m.prices.is_some(),
            }
        })
        .collect()
}

/// What a disk mirror saves on expected restores.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Savings {
    pub restores_per_year: f64,
    /// One typical restore as the main store bills it (0 when it comes from the cache).
    pub restore_cny: f64,
    /// Where it comes from without the disk, and how long it takes there.
    pub from: String,
    pub hours: f64,
    pub saved_cny_year: f64,
    /// The disks for a year of footage, bought once.
    pub disks: u32,
    pub disk_one_off_cny: f64,
}

/// Expected restores a year × the cost of one from the main store (the option `cost
/// plan` priced for the config's class and age), against the disks a year of footage
/// needs.
pub fn disk_savings(p: &Prices, site: &cost::Site, current: &cost::Choice) -> Savings {
    let per_year = site.restores_per_month * 12.0;
    let one = if site.restores_per_month > 0.0 {
        current.restores_cny / site.restores_per_month
    } else {
        0.0
    };
    let (disks, disk_one_off_cny) = disks(p, site.daily_gb * 365.0);
    Savings {
        restores_per_year: per_year,
        restore_cny: round2(one),
        from: current.restore_from.clone(),
        hours: current.restore_hours,
        saved_cny_year: round2(current.restores_cny * 12.0),
        disks,
        disk_one_off_cny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_are_bought_whole_at_the_table_s_price() {
        let p = Prices {
            disk_cny_per_tb: 150.0,
            disk_tb: 4.0,
            ..Prices::default()
        };
        assert_eq!(disks(&p, 0.0), (0, 0.0));
        assert_eq!(
            disks(&p, 3_650.0),
            (1, 600.0),
            "a year at 10 GB a day fits one 4 TB disk"
        );
        assert_eq!(disks(&p, 4_001.0), (2, 1200.0));
    }

    #[test]
    fn savings_are_restores_a_year_times_one_restore() {
        let p = Prices::default();
        let site = cost::Site {
            daily_gb: 10.0,
            cache_days: 7.0,
            restores_per_month: 2.0,
            restore_gb: 1.0,
            restore_age_days: 60.0,
            object_mb: 7.0,
        };
        let opts = cost::plan_options(&site, &p);
        let current = opts
            .iter()
            .find(|o| o.class == "DeepColdArchive" && o.transition_days == 30)
            .unwrap();
        assert_eq!(current.restore_from, "DeepColdArchive");
        let s = disk_savings(&p, &site, current);
        // One restore of 1 GB from Deep Cold Archive, standard tier (prices.*):
        // 143 requests × ¥5/10k + 1 GB × ¥0.03 retrieval + 1 GB × ¥0.12/30 kept a day
        // + 143 GET × ¥0.01/10k + 1 GB × ¥0.5 traffic.
        let objects = (1.0e3_f64 / 7.0).ceil();
        let one = objects / 1e4 * 5.0 + 0.03 + 0.12 / 30.0 + objects / 1e4 * 0.01 + 0.5;
        assert!((s.restore_cny - round2(one)).abs() < 1e-9, "{s:?} vs {one}");
        assert_eq!(s.restores_per_year, 24.0);
        assert!(
            (s.saved_cny_year - round2(round2(one * 2.0) * 12.0)).abs() < 0.011,
            "{s:?}"
        );
        assert_eq!((s.disks, s.disk_one_off_cny), (1, 600.0));
        assert_eq!((s.from.as_str(), s.hours), ("DeepColdArchive", 48.0));
    }
}
