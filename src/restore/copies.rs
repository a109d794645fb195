//! The best copy of a clip (issue 21, item 4): each store that holds it — the main store
//! and every mirror with a verified copy — priced and timed, and the cheapest copy that
//! meets the wait the user accepts chosen.
//!
//! The rule: among the copies that can be read (the local cache, a readable object in any
//! store, or an archived object in any store through a restore in that store), those ready
//! within `--max-wait` (no limit when not given) compete on price, then on time; with none
//! ready in time, the quickest wins (and the plan says so). A disk mirror (`fs`) is free and
//! immediate; a remote readable copy costs its download (GET and traffic, priced like the
//! main store's Standard); an archived copy costs its restore, in the class that store holds
//! it in. Ties go to the main store.
//!
//! A mirror's archived copy, when taken, is restored in that mirror (RestoreObject on the
//! mirror's bucket), polled and read there; like every restore it is checked for size and
//! CRC-64 against the catalog, and one that fails falls back to the main store (see
//! `restore::step`).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use crate::config::{Config, StoreKind};
use crate::cost;
use crate::msg::Msg;
use crate::store::{Backend, RestoreState, RestoreTier};

/// One copy of a clip, as the planner priced it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CopyOption {
    /// `primary`, a mirror's name, or `cache`.
    pub store: String,
    /// `cache`, `fs`, `s3` or `oss`.
    pub kind: &'static str,
    pub class: String,
    /// Readable now, without a restore.
    pub readable: bool,
    /// What taking the clip from this copy costs, CNY (not rounded).
    pub cny: f64,
    /// The longest it takes, hours (0: at once).
    pub hours: f64,
    /// The planner may take it (a disk that is away, or a copy of the wrong size, not).
    pub usable: bool,
    /// An archived copy whose restore is already running in that store: only its download
    /// is left to pay.
    pub restoring: bool,
    /// Why it is not usable, or what to know about it, in English (the CLI, `--json`)...
    pub note: Option<String>,
    /// ...and as a catalogue message, for the web page in its reader's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note_msg: Option<Msg>,
}

impl CopyOption {
    /// Sets the note, in English and as the message.
    pub fn noted(&mut self, m: Msg) {
        self.note = Some(m.en());
        self.note_msg = Some(m);
    }
}

/// The mirrors' backends, opened once per plan or step.
#[derive(Default)]
pub struct Mirrors {
    open: BTreeMap<String, Result<Arc<dyn Backend>, Msg>>,
}

impl Mirrors {
    /// Mirror `name`'s backend; `Err` (with what to do) when it is not configured any
    /// more, cannot be opened, or is a disk whose marker is missing (never read an empty
    /// mount point as the disk).
    pub fn get(&mut self, cfg: &Config, name: &str) -> Result<Arc<dyn Backend>, String> {
        self.get_msg(cfg, name).map_err(|m| m.en())
    }

    /// [`Mirrors::get`], its refusal as a catalogue message.
    pub fn get_msg(&mut self, cfg: &Config, name: &str) -> Result<Arc<dyn Backend>, Msg> {
        self.open
            .entry(name.to_string())
            .or_insert_with(|| open(cfg, name))
            .clone()
    }
}

fn open(cfg: &Config, name: &str) -> Result<Arc<dyn Backend>, Msg> {
    let Some(m) = cfg.store.mirror.iter().find(|m| m.name == name) else {
        return Err(crate::msg!("plan.note.mirror_gone", mirror = format!("{name:?}")));
    };
    if m.kind == StoreKind::Fs {
        crate::mirror::disk::present_msg(&cfg.mirror_root(m), name)?;
    }
    // Built where every mirror's backend is, so that a read-only replica is never written.
    crate::mirror::open_store(cfg, m).map_err(|e| {
        // The context names the mirror, which the message does already.
        let why = e.chain().skip(1).map(ToString::to_string).collect::<Vec<_>>();
        let why = if why.is_empty() {
            format!("{e:#}")
        } else {
            why.join(": ")
        };
        crate::msg!("health.detail.mirror_away", mirror = format!("{name:?}"), why = why)
    })
}

/// The kind of store `name` is (`primary` for the main store).
pub fn kind_of(cfg: &Config, name: &str) -> &'static str {
    if name == crate::config::PRIMARY {
        return cfg.store.kind.as_str();
    }
    match cfg.store.mirror.iter().find(|m| m.name == name) {
        Some(m) => m.kind.as_str(),
        None => "gone",
    }
}

/// What reading `bytes` from a copy of `class` costs and takes: a disk mirror nothing; a
/// readable object its download; an archived one its restore at `tier` for `days`.
pub fn price(
    cfg: &Config,
    disk: bool,
    class: &str,
    readable: bool,
    tier: RestoreTier,
    bytes: u64,
    days: u32,
) -> (f64, f64) {
    price_at(&cfg.prices, disk, class, readable, tier, bytes, days)
}

/// [`price`] at the prices `p` of the store that holds the copy (a mirror's own
/// `[store.mirror.prices]`: [`Config::prices_of`]).
pub fn price_at(
    p: &crate::config::Prices,
    disk: bool,
    class: &str,
    readable: bool,
    tier: RestoreTier,
    bytes: u64,
    days: u32,
) -> (f64, f64) {
    if disk && readable {
        return (0.0, 0.0);
    }
    let gb = bytes as f64 / 1e9;
    let (class, hours) = if readable {
        ("Standard", 0.0)
    } else {
        let tier = cost::tier_for(class, tier);
        (class, cost::restore_hours(class, tier))
    };
    let tier = cost::tier_for(class, tier);
    let cny = cost::restore_estimate(p, class, tier, 1, gb, days)
        .iter()
        .map(|l| l.cny)
        .sum();
    (cny, hours)
}

/// The copies of one clip in the mirrors that hold it verified, with a HEAD each.
pub async fn mirror_options(
    cfg: &Config,
    mirrors: &mut Mirrors,
    copies: &[crate::catalog::best_copy::MirrorCopy],
    size: u64,
    tier: RestoreTier,
    days: u32,
) -> Vec<CopyOption> {
    let mut out = Vec::new();
    for c in copies {
        let kind = kind_of(cfg, &c.store);
        let class = c.storage_class.clone().unwrap_or_else(|| "Standard".into());
        let mut o = CopyOption {
            store: c.store.clone(),
            kind,
            class,
            readable: false,
            cny: 0.0,
            hours: 0.0,
            usable: false,
            restoring: false,
            note: None,
            note_msg: None,
        };
        let store = match mirrors.get_msg(cfg, &c.store) {
            Ok(s) => s,
            Err(why) => {
                o.noted(why);
                out.push(o);
                continue;
            }
        };
        match store.head(&c.key).await {
            Ok(Some(h)) => {
                o.class = h.storage_class.clone();
                o.readable = h.readable();
                let p = cfg.prices_of(&c.store);
                o.restoring = !o.readable && h.restore == RestoreState::InProgress;
                // Already being restored: only the download is left (as for the main store).
                let (class, readable) = if o.restoring {
                    ("Standard", true)
                } else {
                    (h.storage_class.as_str(), o.readable)
                };
                let (cny, _) = price_at(&p, kind == "fs", class, readable, tier, size, days);
                let (_, hours) = price_at(&p, kind == "fs", &h.storage_class, o.readable, tier, size, days);
                (o.cny, o.hours) = (cny, hours);
                // Readable now, or archived and restored in this mirror when taken; a
                // read-only mirror (a replica) is never asked for anything.
                let read_only = cfg.store.mirror.iter().any(|m| m.name == c.store && m.read_only);
                o.usable = o.readable || (crate::store::is_archive_class(&h.storage_class) && !read_only);
                if read_only && !o.readable {
                    o.noted(crate::msg!("plan.note.mirror_read_only"));
                } else if o.restoring {
                    o.noted(crate::msg!("plan.note.mirror_restoring"));
                } else if !o.readable && cost::restore_days(&h.storage_class, days) < days {
                    o.noted(crate::msg!(
                        "plan.note.archive_days",
                        max = cost::ARCHIVE_MAX_RESTORE_DAYS,
                        days = days
                    ));
                }
                if h.size != size {
                    o.usable = false;
                    o.noted(crate::msg!("plan.note.mirror_size", theirs = h.size, ours = size));
                }
            }
            Ok(None) => o.noted(crate::msg!("plan.note.mirror_missing")),
            Err(e) => o.noted(crate::msg!(
                "plan.note.mirror_unreachable",
                mirror = format!("{:?}", c.store),
                error = e
            )),
        }
        out.push(o);
    }
    out
}

/// The index of the copy to take, among `options` (ties: the first), or `None` when none
/// is usable; `true` when it meets `max_wait_hours`.
pub fn choose(options: &[CopyOption], max_wait_hours: Option<f64>) -> Option<(usize, bool)> {
    let usable = || options.iter().enumerate().filter(|(_, o)| o.usable);
    let in_time = |o: &CopyOption| max_wait_hours.is_none_or(|w| o.hours <= w);
    let cheapest = usable()
        .filter(|(_, o)| in_time(o))
        .min_by(|(i, a), (j, b)| a.cny.total_cmp(&b.cny).then(a.hours.total_cmp(&b.hours)).then(i.cmp(j)));
    if let Some((i, _)) = cheapest {
        return Some((i, true));
    }
    usable()
        .min_by(|(i, a), (j, b)| a.hours.total_cmp(&b.hours).then(a.cny.total_cmp(&b.cny)).then(i.cmp(j)))
        .map(|(i, _)| (i, false))
}

/// One store's copies of a plan's clips, summed: the table `restore` prints and the web
/// page shows (issue 21). Only clips whose copies were priced count (those not taken from
/// the cache, when a mirror holds one or a wait is given).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoreCopies {
    pub store: String,
    pub kind: &'static str,
    /// Its copies' classes, each once.
    pub classes: Vec<String>,
    /// Clips it holds a copy of.
    pub clips: usize,
    /// Of those, readable now / usable by the planner.
    pub readable: usize,
    pub usable: usize,
    /// What taking every one of those clips from it would cost, CNY, and take at most, hours.
    pub cny: f64,
    pub hours: f64,
    /// Clips the plan takes from it, and their bytes.
    pub chosen: usize,
    pub chosen_bytes: u64,
    /// Its copies' notes, each once (at most [`MAX_NOTES`]), as catalogue messages.
    pub notes: Vec<Msg>,
}

/// The notes a [`StoreCopies`] keeps at most (each clip's copy may have its own).
pub const MAX_NOTES: usize = 5;

/// Every store's [`StoreCopies`] in `items`: the main store first, then the mirrors by name.
pub fn by_store(items: &[super::PlanItem]) -> Vec<StoreCopies> {
    let mut out: Vec<StoreCopies> = Vec::new();
    for i in items {
        for o in &i.copies {
            let at = match out.iter().position(|s| s.store == o.store) {
                Some(at) => at,
                None => {
                    out.push(StoreCopies {
                        store: o.store.clone(),
                        kind: o.kind,
                        classes: Vec::new(),
                        clips: 0,
                        readable: 0,
                        usable: 0,
                        cny: 0.0,
                        hours: 0.0,
                        chosen: 0,
                        chosen_bytes: 0,
                        notes: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let s = &mut out[at];
            if !s.classes.contains(&o.class) {
                s.classes.push(o.class.clone());
            }
            s.clips += 1;
            s.readable += o.readable as usize;
            s.usable += o.usable as usize;
            s.cny += o.cny;
            s.hours = s.hours.max(o.hours);
            if i.store.as_deref() == Some(o.store.as_str()) && i.source != super::Source::Cache {
                s.chosen += 1;
                s.chosen_bytes += i.clip.size;
            }
            if let Some(m) = &o.note_msg {
                if !s.notes.contains(m) && s.notes.len() < MAX_NOTES {
                    s.notes.push(m.clone());
                }
            }
        }
    }
    out.sort_by(|a, b| {
        (a.store != crate::config::PRIMARY)
            .cmp(&(b.store != crate::config::PRIMARY))
            .then(a.store.cmp(&b.store))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(store: &str, cny: f64, hours: f64, usable: bool) -> CopyOption {
        CopyOption {
            store: store.into(),
            kind: "fs",
            class: "Standard".into(),
            readable: hours == 0.0,
            cny,
            hours,
            usable,
            restoring: false,
            note: None,
            note_msg: None,
        }
    }

    #[test]
    fn the_cheapest_copy_in_time_wins_else_the_quickest() {
        let opts = [
            o("primary", 0.5, 48.0, true),
            o("usb", 0.0, 0.0, true),
            o("sh", 0.02, 0.0, true),
        ];
        assert_eq!(choose(&opts, None), Some((1, true)), "the free disk");
        assert_eq!(
            choose(&opts[..1], Some(1.0)),
            Some((0, false)),
            "none in time: the quickest"
        );
        let opts = [
            o("primary", 0.5, 48.0, true),
            o("usb", 0.0, 0.0, false),
            o("hz", 1.0, 12.0, true),
        ];
        assert_eq!(choose(&opts, None), Some((0, true)), "the unusable disk is skipped");
        assert_eq!(
            choose(&opts, Some(24.0)),
            Some((2, true)),
            "the wait rules out the 48 h copy"
        );
        let ties = [o("primary", 0.1, 0.0, true), o("s3", 0.1, 0.0, true)];
        assert_eq!(choose(&ties, None), Some((0, true)), "ties go to the main store");
        assert_eq!(choose(&[o("usb", 0.0, 0.0, false)], None), None);
    }
}
