//! `[prices]`: the price table of the cost model, and a store's own prices: a mirror in
//! another region (or on another disk) gives the keys that differ there in
//! `[store.mirror.prices]`, on top of `[prices]`.

use serde::{Deserialize, Serialize};

/// The price table of the cost model, in CNY. Defaults: Aliyun OSS list prices for
/// cn-beijing, locally redundant storage, as of `taken`; check the current price page.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prices {
    /// When the defaults were taken from the price page.
    pub taken: String,
    pub standard_gb_month: f64,
    pub ia_gb_month: f64,
    pub archive_gb_month: f64,
    pub cold_archive_gb_month: f64,
    pub deep_cold_archive_gb_month: f64,
    /// PUT requests per 10,000 (Standard).
    pub put_per_10k: f64,
    /// GET and HEAD requests per 10,000 (Standard).
    pub get_per_10k: f64,
    /// Lifecycle transition requests per 10,000: billed as PUT requests of the *source*
    /// class (Standard), not at an archive-class rate.
    pub transition_per_10k: f64,
    /// Outbound traffic to the internet per GB (downloads of restored clips; 0 on the
    /// internal endpoint).
    pub outbound_gb: f64,
    /// Data retrieval per GB: reading IA, restoring Archive, and restoring Cold Archive /
    /// Deep Cold Archive at each tier.
    pub ia_retrieval_gb: f64,
    pub archive_retrieval_gb: f64,
    pub cold_archive_expedited_gb: f64,
    pub cold_archive_standard_gb: f64,
    pub cold_archive_bulk_gb: f64,
    pub deep_cold_archive_expedited_gb: f64,
    pub deep_cold_archive_standard_gb: f64,
    /// RestoreObject requests per 10,000, by class and tier (Archive: the PUT price).
    pub archive_restore_per_10k: f64,
    pub cold_archive_expedited_per_10k: f64,
    pub cold_archive_standard_per_10k: f64,
    pub cold_archive_bulk_per_10k: f64,
    pub deep_cold_archive_expedited_per_10k: f64,
    pub deep_cold_archive_standard_per_10k: f64,
    /// Smallest billable object size.
    pub min_billable_kb: f64,
    /// Minimum storage durations in days: an object moved out or deleted sooner is billed
    /// for the rest.
    pub ia_min_days: u32,
    pub archive_min_days: u32,
    pub cold_archive_min_days: u32,
    pub deep_cold_archive_min_days: u32,
    /// Add request fees to `total_cny`.
    pub include_requests: bool,
    /// A disk mirror's disk (issue 21): its one-off price per TB, CNY, and its capacity in
    /// TB. `cost` counts the disks a disk mirror needs for the footage, bought once (no
    /// monthly fee, no restore fee).
    pub disk_cny_per_tb: f64,
    pub disk_tb: f64,
}

impl Prices {
    /// These prices with the keys of `over` (a subset of `[prices]`) replaced: the prices
    /// of a store whose region (or disk) differs. `what` names the table in errors, e.g.
    /// "`store.mirror.prices` of mirror \"hk\"".
    pub fn with(&self, over: &toml::Table, what: &str) -> anyhow::Result<Prices> {
        let mut all = toml::Table::try_from(self)?;
        for (k, v) in over {
            if !all.contains_key(k) {
                let keys: Vec<&str> = all.keys().map(String::as_str).collect();
                anyhow::bail!(
                    "{what}: `{k}` is not a price; use keys of `[prices]`: {}",
                    keys.join(", ")
                );
            }
            all.insert(k.clone(), v.clone());
        }
        let p: Prices = toml::Value::Table(all)
            .try_into()
            .map_err(|e| anyhow::anyhow!("{what}: {}", e.to_string().trim_end()))?;
        p.validate().map_err(|e| anyhow::anyhow!("{what}: {e:#}"))?;
        Ok(p)
    }

    /// The disk keys must be usable numbers: a price ≥ 0, a capacity > 0.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.disk_cny_per_tb.is_finite() && self.disk_cny_per_tb >= 0.0) {
            anyhow::bail!(
                "`prices.disk_cny_per_tb` = {}: the one-off price of a disk per TB in CNY, a number ≥ 0 (e.g. 150)",
                self.disk_cny_per_tb
            );
        }
        if !(self.disk_tb.is_finite() && self.disk_tb > 0.0 && self.disk_tb <= 1000.0) {
            anyhow::bail!(
                "`prices.disk_tb` = {}: the capacity of one mirror disk in TB, a number above 0 (e.g. 4)",
                self.disk_tb
            );
        }
        Ok(())
    }
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            taken: "2025-01".into(),
            standard_gb_month: 0.12,
            ia_gb_month: 0.08,
            archive_gb_month: 0.033,
            cold_archive_gb_month: 0.015,
            deep_cold_archive_gb_month: 0.0075,
            put_per_10k: 0.01,
            get_per_10k: 0.01,
            transition_per_10k: 0.01,
            outbound_gb: 0.5,
            ia_retrieval_gb: 0.0325,
            archive_retrieval_gb: 0.06,
            cold_archive_expedited_gb: 0.2,
            cold_archive_standard_gb: 0.06,
            cold_archive_bulk_gb: 0.03,
            deep_cold_archive_expedited_gb: 0.2,
            deep_cold_archive_standard_gb: 0.03,
            archive_restore_per_10k: 0.1,
            cold_archive_expedited_per_10k: 30.0,
            cold_archive_standard_per_10k: 3.0,
            cold_archive_bulk_per_10k: 0.3,
            deep_cold_archive_expedited_per_10k: 50.0,
            deep_cold_archive_standard_per_10k: 5.0,
            min_billable_kb: 64.0,
            ia_min_days: 30,
            archive_min_days: 60,
            cold_archive_min_days: 180,
            deep_cold_archive_min_days: 180,
            include_requests: false,
            // A 4 TB external USB hard disk at about ¥600 (late 2025 street prices): enter yours.
            disk_cny_per_tb: 150.0,
            disk_tb: 4.0,
        }
    }
}
