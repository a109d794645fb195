//! Is every prefix that holds recordings under an enabled lifecycle rule that moves it to
//! the configured archive class?
//!
//! The prefixes come from the key template (camvault's own uploads), from the catalog
//! (every prefix `adopt` found recordings under) and, for `lifecycle check`, from a listing
//! of the bucket (recordings not adopted yet). A prefix is covered by one of camvault's
//! rules (`camvault`, `camvault:<prefix>`) that says exactly what the config asks, or by any
//! other enabled rule, without tag or size conditions, whose prefix contains it and that
//! moves objects to the configured class (its days are the owner's choice). What is not
//! covered is named with its objects, bytes and the extra monthly cost of leaving them in
//! Standard from `[prices]`. A rule that expires objects under a recording prefix would
//! delete recordings: that is always a failure, never fixed silently (the rule is the
//! owner's).

use std::collections::BTreeMap;

use crate::config::{human_bytes, Config};
use crate::store::lifecycle::{self, Rule};

/// Objects and bytes under a prefix: all, and those still in Standard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub objects: u64,
    pub bytes: u64,
    pub standard_objects: u64,
    pub standard_bytes: u64,
}

impl Counts {
    pub fn add(&mut self, size: u64, class: &str) {
        self.objects += 1;
        self.bytes += size;
        if class == "Standard" {
            self.standard_objects += 1;
            self.standard_bytes += size;
        }
    }
}

/// A prefix's source, the catalog's counts, and a listing's counts when one was made.
pub type Known = (&'static str, Counts, Option<Counts>);

/// One prefix that holds recordings and what the bucket's rules do to it.
#[derive(Debug, Clone)]
pub struct PrefixState {
    pub prefix: String,
    /// Where camvault knows it from: "key template", "adopted", "bucket listing".
    pub source: &'static str,
    /// From the catalog, and from a listing when one was made.
    pub catalog: Counts,
    pub listed: Option<Counts>,
    /// The rule that covers it, if one does.
    pub covered_by: Option<String>,
    /// Why it is not covered: the rules that come close and what is wrong with each.
    pub why_not: Vec<String>,
    /// Rules that would delete recordings under it.
    pub deletes: Vec<String>,
    /// The same as (rule id, its prefix, days), for the health rule's message.
    pub deleting: Vec<(String, String, String)>,
}

impl PrefixState {
    /// Standard bytes: the listing's when there is one (it is what the bill counts).
    pub fn standard(&self) -> (u64, u64) {
        let c = self.listed.unwrap_or(self.catalog);
        (c.standard_objects, c.standard_bytes)
    }
}

/// The rules camvault wants for these prefixes: its own rule for every prefix that no
/// other enabled rule covers (and that no shorter prefix of its own already covers).
pub fn wanted(cfg: &Config, prefixes: &[String], rules: &[Rule]) -> anyhow::Result<Vec<Rule>> {
    let template_rule = lifecycle::wanted(cfg)?;
    let (days, class) = (cfg.tiering.transition_days, cfg.tiering.storage_class.as_str());
    let mut sorted: Vec<&String> = prefixes.iter().collect();
    sorted.sort_by_key(|p| (p.len(), p.as_str()));
    sorted.dedup();
    let mut ours: Vec<Rule> = Vec::new();
    for p in sorted {
        let theirs = rules
            .iter()
            .filter(|r| !lifecycle::is_ours(&r.id))
            .any(|r| covers(r, p, class, None));
        let by_ours = ours.iter().any(|r| p.starts_with(&r.prefix));
        if by_ours {
            continue;
        }
        if *p == template_rule.prefix {
            // The template's rule is always camvault's own unless the owner's covers it
            // (then adding ours would be a second rule with the same action on the same
            // objects, which OSS refuses).
            if !theirs {
                ours.push(template_rule.clone());
            }
        } else if !theirs {
            ours.push(lifecycle::rule_with_id(&lifecycle::rule_id_for(p), p, days, class));
        }
    }
    Ok(ours)
}

/// Whether `r` moves every object under `prefix` to `class`; a rule of camvault's must
/// also say exactly `want` (the config's days and class, nothing deleted).
fn covers(r: &Rule, prefix: &str, class: &str, want: Option<&Rule>) -> bool {
    if !r.enabled || r.conditional || !prefix.starts_with(&r.prefix) {
        return false;
    }
    match want {
        Some(w) => r.transitions == w.transitions && r.expiration_days.is_none(),
        None => r.transitions.iter().any(|(_, c)| c == class),
    }
}

/// Each prefix's state under the bucket's rules.
pub fn assess(cfg: &Config, prefixes: &BTreeMap<String, Known>, rules: &[Rule]) -> Vec<PrefixState> {
    let (days, class) = (cfg.tiering.transition_days, cfg.tiering.storage_class.as_str());
    let want = lifecycle::camvault_rule("", days, class);
    prefixes
        .iter()
        .map(|(p, (source, catalog, listed))| {
            let mut why_not = Vec::new();
            let mut covered_by = None;
            let mut deletes = Vec::new();
            let mut deleting = Vec::new();
            for r in rules {
                let contains = p.starts_with(&r.prefix);
                // A rule on a narrower prefix still reaches some of the recordings.
                let touches = contains || r.prefix.starts_with(p.as_str());
                if touches && r.enabled {
                    if let Some(d) = r.expiration_days {
                        let whole = if r.prefix.is_empty() { "(the whole bucket)" } else { r.prefix.as_str() };
                        deleting.push((r.id.clone(), whole.to_string(), d.to_string()));
                        deletes.push(format!(
                            "rule {:?} DELETES every object under {:?} {d} days after upload: it would delete recordings; remove its expiration in the bucket's lifecycle settings",
                            r.id,
                            if r.prefix.is_empty() { "(the whole bucket)" } else { r.prefix.as_str() }
                        ));
                    }
                }
                if !contains {
                    continue;
                }
                let ours = lifecycle::is_ours(&r.id);
                if covers(r, p, class, ours.then_some(&want)) {
                    covered_by.get_or_insert_with(|| r.id.clone());
                    continue;
                }
                why_not.push(if !r.enabled {
                    format!("rule {:?} covers it but is DISABLED", r.id)
                } else if r.conditional {
                    format!("rule {:?} covers it only for objects with some tag or size", r.id)
                } else if ours {
                    format!("camvault's rule {:?} differs from the config: {}", r.id, r.describe())
                } else if r.transitions.is_empty() {
                    format!("rule {:?} covers it but moves nothing", r.id)
                } else {
                    let to: Vec<String> = r.transitions.iter().map(|(d, c)| format!("{c} after {d} days")).collect();
                    format!("rule {:?} moves it to {}, not {class}", r.id, to.join(", "))
                });
            }
            if covered_by.is_none() && why_not.is_empty() {
                why_not.push(NO_RULE.into());
            }
            PrefixState {
                prefix: p.clone(),
                source,
                catalog: *catalog,
                listed: *listed,
                covered_by,
                why_not,
                deletes,
                deleting,
            }
        })
        .collect()
}

/// The report's lines and whether everything is covered and nothing deletes recordings.
pub fn report(cfg: &Config, states: &[PrefixState]) -> (Vec<String>, bool) {
    let p = &cfg.prices;
    let class = cfg.tiering.storage_class.as_str();
    let extra_per_gb = crate::cost::storage_price(p, "Standard") - crate::cost::storage_price(p, class);
    let mut lines = Vec::new();
    let mut ok = true;
    let (mut n, mut bytes) = (0u64, 0u64);
    for s in states {
        let counts = s.listed.unwrap_or(s.catalog);
        let what = format!(
            "{:?} ({}): {} object(s), {}",
            s.prefix,
            s.source,
            counts.objects,
            human_bytes(counts.bytes)
        );
        match &s.covered_by {
            Some(id) => lines.push(format!("ok: {what}: moved to {class} by rule {id:?}")),
            None => {
                ok = false;
                let (so, sb) = s.standard();
                n += so;
                bytes += sb;
                lines.push(format!(
                    "NOT COVERED: {what}, {so} object(s) / {} still in Standard, about {:.2} CNY a month more than in {class}: {}",
                    human_bytes(sb),
                    sb as f64 / 1e9 * extra_per_gb,
                    s.why_not.join("; ")
                ));
            }
        }
        for d in &s.deletes {
            ok = false;
            lines.push(format!("DANGER: {d}"));
        }
    }
    if n > 0 || bytes > 0 {
        lines.push(format!(
            "in all {n} recording(s), {} left in Standard: about {:.2} CNY a month more than in {class} (prices of {}: standard_gb_month {} - {} per GB); `camvault lifecycle apply` adds a rule for each uncovered prefix",
            human_bytes(bytes),
            bytes as f64 / 1e9 * extra_per_gb,
            p.taken,
            p.standard_gb_month,
            crate::cost::storage_price(p, class)
        ));
    } else if !ok && states.iter().any(|s| s.covered_by.is_none()) {
        lines.push("`camvault lifecycle apply` adds a rule for each uncovered prefix".into());
    }
    (lines, ok)
}

/// The one-line problem for the health rule, from the catalog's prefixes only.
pub fn problem(cfg: &Config, states: &[PrefixState]) -> Option<crate::msg::Msg> {
    if let Some((rule, prefix, days)) = states.iter().flat_map(|s| s.deleting.iter()).next() {
        return Some(crate::msg!(
            "health.detail.lifecycle_deletes",
            rule = format!("{rule:?}"),
            prefix = format!("{prefix:?}"),
            days = days
        ));
    }
    let bad: Vec<&PrefixState> = states.iter().filter(|s| s.covered_by.is_none()).collect();
    if bad.is_empty() {
        return None;
    }
    let (objects, bytes) = bad
        .iter()
        .map(|s| s.standard())
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    let extra = bytes as f64 / 1e9
        * (crate::cost::storage_price(&cfg.prices, "Standard")
            - crate::cost::storage_price(&cfg.prices, cfg.tiering.storage_class.as_str()));
    // A prefix no rule comes near is named alone; otherwise with what the close rules do
    // (the rules' own ids and settings, shown as data).
    let names: Vec<String> = bad
        .iter()
        .map(|s| match s.why_not.as_slice() {
            [only] if only == NO_RULE => format!("{:?}", s.prefix),
            why => format!("{:?} ({})", s.prefix, why.join("; ")),
        })
        .collect();
    Some(crate::msg!(
        "health.detail.lifecycle_uncovered",
        class = cfg.tiering.storage_class,
        prefixes = names.join(", "),
        objects = objects,
        bytes = human_bytes(bytes),
        extra = format!("{extra:.2}")
    ))
}

/// Why a prefix is not covered when no rule comes near it.
const NO_RULE: &str = "no lifecycle rule covers it";

/// The prefixes camvault knows from the config and the catalog, with the catalog's counts.
pub fn known_prefixes(cfg: &Config, cat: Option<&crate::catalog::Catalog>) -> anyhow::Result<BTreeMap<String, Known>> {
    let template = lifecycle::wanted(cfg)?.prefix;
    let mut out = BTreeMap::new();
    let mut names = vec![(template, "key template")];
    if let Some(cat) = cat {
        for p in cat.recording_prefixes()? {
            names.push((p.prefix, "adopted"));
        }
    }
    for (p, source) in names {
        let counts = match cat {
            Some(cat) => {
                let u = cat.under_prefix(&p)?;
                Counts {
                    objects: u.objects,
                    bytes: u.bytes,
                    standard_objects: u.standard_objects,
                    standard_bytes: u.standard_bytes,
                }
            }
            None => Counts::default(),
        };
        out.entry(p).or_insert((source, counts, None));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(xml: &str) -> Vec<Rule> {
        lifecycle::parse(&format!("<LifecycleConfiguration>{xml}</LifecycleConfiguration>")).unwrap()
    }

    fn cfg() -> Config {
        let mut c = Config::default();
        c.tiering.transition_days = 30;
        c.tiering.storage_class = crate::config::StorageClass::DeepColdArchive;
        c
    }

    fn state(rs: &[Rule], prefix: &str) -> PrefixState {
        let mut m = BTreeMap::new();
        let mut c = Counts::default();
        c.add(2_000_000_000, "Standard");
        m.insert(prefix.to_string(), ("adopted", c, None));
        assess(&cfg(), &m, rs).remove(0)
    }

    const SEED: &str = "<Rule><ID>seed</ID><Prefix>videos/</Prefix><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition></Rule>";

    #[test]
    fn the_seeds_rule_misses_the_ossfs_prefix() {
        let rs = rules(SEED);
        let s = state(&rs, "camera_videos/xiaomi_camera_videos/78DF72A1B2C3/");
        assert_eq!(s.covered_by, None);
        let (lines, ok) = report(&cfg(), &[s]);
        assert!(!ok);
        let text = lines.join("\n");
        // 2 GB × (0.12 − 0.0075) CNY with the default prices.
        let extra = 2.0 * (cfg().prices.standard_gb_month - cfg().prices.deep_cold_archive_gb_month);
        assert!(text.contains(&format!("{extra:.2} CNY a month more")), "{text}");
        assert!(text.contains("no lifecycle rule covers it"), "{text}");
        // The seed's own rule covers the template prefix: camvault adds no second rule there.
        let want = wanted(
            &cfg(),
            &[
                "videos/".into(),
                "camera_videos/xiaomi_camera_videos/78DF72A1B2C3/".into(),
            ],
            &rs,
        )
        .unwrap();
        assert_eq!(want.len(), 1);
        assert_eq!(want[0].id, "camvault:camera_videos/xiaomi_camera_videos/78DF72A1B2C3/");
        let after = rules(&format!("{SEED}{}", want[0].xml));
        assert!(state(&after, "camera_videos/xiaomi_camera_videos/78DF72A1B2C3/")
            .covered_by
            .is_some());
    }

    #[test]
    fn other_class_disabled_conditional_and_expiring_rules_do_not_cover() {
        let p = "camera_videos/XiaomiCamera_00_5C02148A9E01/";
        for (xml, needle) in [
            ("<Rule><ID>ia</ID><Prefix>camera_videos/</Prefix><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>IA</StorageClass></Transition></Rule>", "moves it to IA after 30 days, not DeepColdArchive"),
            ("<Rule><ID>off</ID><Prefix>camera_videos/</Prefix><Status>Disabled</Status><Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition></Rule>", "is DISABLED"),
            ("<Rule><ID>tagged</ID><Prefix>camera_videos/</Prefix><Status>Enabled</Status><Tag><Key>k</Key><Value>v</Value></Tag><Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition></Rule>", "some tag or size"),
        ] {
            let s = state(&rules(xml), p);
            assert!(s.covered_by.is_none(), "{xml}");
            assert!(s.why_not.join(";").contains(needle), "{:?}", s.why_not);
        }
        let s = state(&rules("<Rule><ID>purge</ID><Prefix></Prefix><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition><Expiration><Days>365</Days></Expiration></Rule>"), p);
        assert_eq!(s.covered_by.as_deref(), Some("purge"), "it does move them");
        let (lines, ok) = report(&cfg(), std::slice::from_ref(&s));
        assert!(!ok, "but it deletes them");
        assert!(
            lines
                .join("\n")
                .contains("DELETES every object under \"(the whole bucket)\" 365 days"),
            "{lines:?}"
        );
        assert!(problem(&cfg(), &[s]).unwrap().en().contains("would delete recordings"));
    }
}
