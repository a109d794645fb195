//! `[[index.notify]]`: rules that turn fresh activity segments into messages on the alert
//! channels (src/index/notify.rs sends them). Checked at load against the cameras, their
//! zones and `alerts.channel`, so a typo is an error naming the rule, not a silent miss.

use serde::Deserialize;

use super::time::TimeWindow;

/// One rule: which segments, when, how often, and where to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyRule {
    /// Shown in the message and the logs; unique.
    pub name: String,
    /// A camera's name or MAC; empty: every camera.
    #[serde(default)]
    pub camera: String,
    /// A zone of that camera (of some camera when `camera` is empty); empty: anywhere.
    #[serde(default)]
    pub zone: String,
    /// A detector label (`person`, `car`, …); empty: any motion.
    #[serde(default)]
    pub label: String,
    /// `HH:MM-HH:MM` in the camera's zone (may wrap midnight); empty: all day.
    #[serde(default, rename = "window")]
    pub window_text: String,
    /// `window`, parsed when the config is loaded.
    #[serde(skip)]
    pub window: Option<TimeWindow>,
    /// The segment's peak activity, percent of the picture (0-100).
    #[serde(default)]
    pub min_activity: u8,
    /// The segment's length in seconds.
    #[serde(default)]
    pub min_duration_secs: u64,
    /// Channel names of `[[alerts.channel]]`; empty: every channel.
    #[serde(default)]
    pub channels: Vec<String>,
    /// At most one message per this many minutes; the segments in between are counted
    /// and the next message says how many there were.
    #[serde(default = "every_default")]
    pub every_minutes: u64,
    /// Whether `alerts.quiet_hours` silences this rule too (default: no, a rule with a
    /// window is its own schedule).
    #[serde(default)]
    pub quiet_hours: bool,
}

fn every_default() -> u64 {
    10
}

/// `window` as the config writes it: `None` for all day.
fn parse_window(s: &str) -> Result<Option<TimeWindow>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let w: TimeWindow = s
        .parse()
        .map_err(|e| format!("{e}: write the time of day as \"23:00-06:00\", or leave `window` out for all day"))?;
    if w.from == w.to {
        return Err("the window is empty (from = to); leave `window` out for all day".into());
    }
    Ok(Some(w))
}

impl super::Config {
    /// `[[index.notify]]` against the cameras, their zones and the channels.
    pub(super) fn validate_notify(&mut self) -> anyhow::Result<()> {
        use anyhow::bail;
        for (i, r) in self.index.notify.iter_mut().enumerate() {
            r.window = parse_window(&r.window_text).map_err(|e| {
                anyhow::anyhow!(
                    "`index.notify[{i}]` ({:?}): `window` = {:?}: {e}",
                    r.name,
                    r.window_text
                )
            })?;
        }
        let rules = &self.index.notify;
        if !(1..=24 * 60).contains(&self.index.notify_max_age_minutes) {
            bail!(
                "`index.notify_max_age_minutes` = {} must be between 1 and 1440 (default 60)",
                self.index.notify_max_age_minutes
            );
        }
        for (i, r) in rules.iter().enumerate() {
            let at = format!("`index.notify[{i}]` ({:?})", r.name);
            if r.name.trim().is_empty() || rules[..i].iter().any(|o| o.name == r.name) {
                bail!("{at}: `name` must be set and unique");
            }
            let known = |c: &String| {
                self.cameras
                    .iter()
                    .any(|(mac, cam)| cam.name == *c || super::normalize_mac(mac).as_deref() == Some(c.as_str()))
            };
            if !r.camera.is_empty() && !known(&r.camera) {
                let names: Vec<&str> = self.cameras.values().map(|c| c.name.as_str()).collect();
                bail!(
                    "{at}: camera {:?} is not configured (cameras: {names:?}); write a `name` or MAC of `[cameras.<mac>]`, or leave `camera` out for every camera",
                    r.camera
                );
            }
            if !r.zone.is_empty() {
                let has = |zones: &[crate::index::zones::Zone]| zones.iter().any(|z| z.name == r.zone);
                let found = if r.camera.is_empty() {
                    self.cameras.values().any(|c| has(&c.zones))
                } else {
                    has(self.zones_of(&r.camera))
                };
                if !found {
                    let whose = if r.camera.is_empty() {
                        "any camera".to_string()
                    } else {
                        format!("camera {:?}", r.camera)
                    };
                    bail!(
                        "{at}: zone {:?} is not a zone of {whose}; zones are set in `[[cameras.<mac>.zones]]`",
                        r.zone
                    );
                }
            }
            if r.min_activity > 100 {
                bail!("{at}: `min_activity` = {} is a percentage (0-100)", r.min_activity);
            }
            if r.every_minutes == 0 {
                bail!("{at}: `every_minutes` must be at least 1 (one message per rule per that many minutes)");
            }
            if self.alerts.channel.is_empty() {
                bail!("{at}: no `[[alerts.channel]]` to send to; add one (docs/monitoring.md) or remove the rule");
            }
            for c in &r.channels {
                if !self.alerts.channel.iter().any(|ch| ch.name == *c) {
                    bail!("{at}: channel {c:?} is not in `[[alerts.channel]]`");
                }
            }
        }
        Ok(())
    }
}
