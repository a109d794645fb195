//! Alerts: tells people when something needs them, once, and again when it is over.
//!
//! Each health problem (see `health`) is an alert keyed by rule and subject. A new alert
//! is sent at once; one still present is sent again after `alerts.repeat_hours`; when it
//! clears, a recovery message follows. During `alerts.quiet_hours` nothing is sent and
//! messages wait. Events (a burst of deletion attempts) are sent once each. What was
//! sent is kept in the catalog, so a restart does not repeat anything.

pub mod channels;
pub mod email;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::health::Problem;

/// What an alert looks like once sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Active {
    pub rule: String,
    pub message: String,
    pub first_ms: i64,
    /// `None` while not yet sent (quiet hours, or every channel failed).
    pub last_sent_ms: Option<i64>,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `firing`, `repeat`, `resolved`, `event` or `test`.
    pub status: &'static str,
    pub key: String,
    pub title: String,
    pub body: String,
}

pub fn key(p: &Problem) -> String {
    if p.subject.is_empty() {
        p.rule.to_string()
    } else {
        format!("{}:{}", p.rule, p.subject)
    }
}

/// Decides what to send now. `active` is updated as if every message was delivered; the
/// caller restores it when delivery failed everywhere.
pub fn step(
    active: &mut BTreeMap<String, Active>,
    problems: &[Problem],
    now_ms: i64,
    repeat_ms: i64,
    quiet: bool,
) -> Vec<Message> {
    let mut out = Vec::new();
    if quiet {
        // Still track new problems, so that their age is right; send nothing.
        for p in problems {
            active.entry(key(p)).or_insert(Active {
                rule: p.rule.into(),
                message: p.message.clone(),
                first_ms: now_ms,
                last_sent_ms: None,
            });
        }
        return out;
    }
    for p in problems {
        let k = key(p);
        match active.get_mut(&k) {
            None => {
                active.insert(
                    k.clone(),
                    Active {
                        rule: p.rule.into(),
                        message: p.message.clone(),
                        first_ms: now_ms,
                        last_sent_ms: Some(now_ms),
                    },
                );
                out.push(Message {
                    status: "firing",
                    key: k,
                    title: format!("camvault: {}", p.rule.replace('_', " ")),
                    body: p.message.clone(),
                });
            }
            Some(a) => {
                a.message = p.message.clone();
                let due = a.last_sent_ms.is_none_or(|t| now_ms - t >= repeat_ms);
                if due {
                    let status = if a.last_sent_ms.is_none() { "firing" } else { "repeat" };
                    a.last_sent_ms = Some(now_ms);
                    out.push(Message {
                        status,
                        key: k,
                        title: format!("camvault: {} (still)", p.rule.replace('_', " ")),
                        body: p.message.clone(),
                    });
                }
            }
        }
    }
    let current: Vec<String> = problems.iter().map(key).collect();
    let gone: Vec<String> = active.keys().filter(|k| !current.contains(k)).cloned().collect();
    for k in gone {
        let a = active.remove(&k).expect("present");
        if a.last_sent_ms.is_some() {
            out.push(Message {
                status: "resolved",
                key: k,
                title: format!("camvault: {} resolved", a.rule.replace('_', " ")),
                body: format!("resolved after {} min: {}", (now_ms - a.first_ms) / 60_000, a.message),
            });
        }
    }
    out
}

/// The alerts raised and not yet resolved, by problem key.
pub const ACTIVE: JsonSlot<BTreeMap<String, Active>> = JsonSlot::new("alerts.active");
use crate::catalog::kv::{JsonSlot, ALERTS_LAST_EVENT as EVENT_KEY};

/// One evaluation: health problems and new events to every channel. Returns how many
/// messages went out.
pub async fn run_once(
    cfg: &crate::config::Config,
    catalog: &crate::catalog::Catalog,
    client: &reqwest::Client,
) -> anyhow::Result<usize> {
    let now = jiff::Timestamp::now();
    let summary = catalog.summary()?;
    let problems = crate::health::check(cfg, &summary, now.as_millisecond());
    let local = jiff::Zoned::now();
    let minute = local.hour() as u32 * 60 + local.minute() as u32;
    let quiet = in_quiet_hours(cfg.alerts.quiet_hours, minute);
    let before = catalog.slot(&ACTIVE)?.unwrap_or_default();
    let mut active = before.clone();
    let mut messages = step(
        &mut active,
        &problems,
        now.as_millisecond(),
        cfg.alerts.repeat_hours as i64 * 3_600_000,
        quiet,
    );
    let last_event = catalog.slot(&EVENT_KEY)?.unwrap_or(0);
    let events = if quiet {
        Vec::new()
    } else {
        catalog.events_after(last_event)?
    };
    for (_, _, kind, message) in &events {
        messages.push(Message {
            status: "event",
            key: kind.clone(),
            title: format!("camvault: {}", kind.replace('_', " ")),
            body: message.clone(),
        });
    }
    if cfg.alerts.channel.is_empty() || messages.is_empty() {
        catalog.set_slot(&ACTIVE, &active)?;
        if let Some((id, ..)) = events.last() {
            catalog.set_slot(&EVENT_KEY, id)?;
        }
        return Ok(0);
    }
    let mut delivered = 0;
    for m in &messages {
        let mut any = false;
        for ch in &cfg.alerts.channel {
            match channels::send(client, ch, m).await {
                Ok(()) => any = true,
                Err(e) => tracing::warn!("alert not delivered: {e}"),
            }
        }
        if any {
            delivered += 1;
        } else if let Some(a) = active.get_mut(&m.key) {
            // Nobody got it: send again at the next evaluation.
            a.last_sent_ms = before.get(&m.key).and_then(|b| b.last_sent_ms);
        }
    }
    catalog.set_slot(&ACTIVE, &active)?;
    if let Some((id, ..)) = events.last() {
        catalog.set_slot(&EVENT_KEY, id)?;
    }
    if delivered == 0 {
        // Every channel refused: `serve` backs off instead of retrying each interval.
        anyhow::bail!(
            "no alert channel took the {} message(s); they are sent again later. Check `alerts.channel` with `camvault alerts test`",
            messages.len()
        );
    }
    Ok(delivered)
}

/// Whether `minute` (after local midnight) is inside `alerts.quiet_hours`.
pub fn in_quiet_hours(quiet: Option<crate::config::TimeWindow>, minute: u32) -> bool {
    quiet.is_some_and(|w| w.contains(minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(rule: &'static str, subject: &str) -> Problem {
        Problem {
            rule,
            subject: subject.into(),
            message: format!("{rule} {subject}"),
        }
    }

    #[test]
    fn dedup_repeat_recovery() {
        let mut active = BTreeMap::new();
        let h = 3_600_000;
        let sent = step(&mut active, &[p("low_disk", "")], 0, 24 * h, false);
        assert_eq!(sent.iter().map(|m| m.status).collect::<Vec<_>>(), ["firing"]);
        assert!(
            step(&mut active, &[p("low_disk", "")], h, 24 * h, false).is_empty(),
            "no duplicate within the repeat interval"
        );
        let sent = step(
            &mut active,
            &[p("low_disk", ""), p("camera_silent", "door")],
            25 * h,
            24 * h,
            false,
        );
        assert_eq!(
            sent.iter().map(|m| (m.status, m.key.as_str())).collect::<Vec<_>>(),
            [("repeat", "low_disk"), ("firing", "camera_silent:door")]
        );
        let sent = step(&mut active, &[p("camera_silent", "door")], 26 * h, 24 * h, false);
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].status, sent[0].key.as_str()), ("resolved", "low_disk"));
        assert!(sent[0].body.contains("after 1560 min"));
    }

    #[test]
    fn quiet_hours_hold_messages() {
        let mut active = BTreeMap::new();
        assert!(step(&mut active, &[p("backlog", "")], 0, 1000, true).is_empty());
        let sent = step(&mut active, &[p("backlog", "")], 10, 1000, false);
        assert_eq!(sent[0].status, "firing", "sent once the quiet hours end");
        // A problem that came and went during quiet hours is never announced as resolved.
        let mut active = BTreeMap::new();
        step(&mut active, &[p("backlog", "")], 0, 1000, true);
        assert!(step(&mut active, &[], 10, 1000, false).is_empty());
        // As the config reads `alerts.quiet_hours`.
        let spec = |s: &str| {
            crate::config::Config::parse(&format!("[alerts]\nquiet_hours = {s:?}\n"))
                .unwrap()
                .alerts
                .quiet_hours
        };
        assert!(in_quiet_hours(spec("22:00-07:00"), 23 * 60));
        assert!(in_quiet_hours(spec("22:00-07:00"), 6 * 60));
        assert!(!in_quiet_hours(spec("22:00-07:00"), 12 * 60));
        assert!(!in_quiet_hours(spec(""), 0));
    }
}
