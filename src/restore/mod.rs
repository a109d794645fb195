//! Restore: bringing clips back from the archive classes, to a directory people can open.
//!
//! `plan` decides where each clip of a range comes from — the local cache (copied at
//! once), the store in a readable class or an already restored copy (downloaded at once),
//! or an archive class (a RestoreObject first) — and what that costs and how long it takes.
//! With mirrors (issue 21) every copy is priced and the best taken ([`copies`]): a mirror's
//! readable copy is read from it, a mirror's archived copy is restored in that mirror.
//! `start` records the plan in the catalog, each clip with the store it uses; `step` moves
//! every open clip one stage on in that store: request, poll with backoff, download, verify
//! the size and CRC-64 against the catalog. Both `serve` and `restore --wait` drive `step`,
//! and all state is in the catalog, so a restart at any point resumes where it stopped, in
//! the same store. Two restores that share a clip ask each store only once. When the last clip of a restore is in, the clips are merged if asked, and a
//! `restore_ready` event goes out through the alert channels.
//!
//! Invariant: nothing here writes to a store (the main one or a mirror) except RestoreObject
//! requests.

pub mod copies;
pub mod merge;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use futures_util::StreamExt;
use serde::Serialize;

use crate::catalog::restores::{Candidate, ItemRow, ItemState, ItemUpdate, NewRestore, RestoreRow, RestoreStatus};
use crate::catalog::{kv, Catalog};
use crate::config::Config;
use crate::cost::{self, Line};
use crate::store::{Backend, ErrorKind, RestoreAnswer, RestoreState, RestoreTier};

/// What to bring back.
#[derive(Debug, Clone)]
pub struct Request {
    pub camera: Option<String>,
    pub from_ms: i64,
    pub to_ms: i64,
    /// One clip by key instead of a range (`camvault get`).
    pub key: Option<String>,
    /// Exactly these clips instead of a range (`camvault search --restore`).
    pub keys: Vec<String>,
    pub tier: RestoreTier,
    pub days: u32,
    pub merge: bool,
    /// Where the clips go; empty = `restore.dir/<id>`.
    pub out_dir: String,
    pub drill: bool,
    /// The longest wait the user accepts, hours: the cheapest copy ready within it is
    /// taken (`None`: no limit, the cheapest copy). See [`copies`].
    pub max_wait_hours: Option<f64>,
}

/// Where a clip comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The vault copy on local disk.
    Cache,
    /// The store, readable now (Standard or IA, or a restored copy).
    Store,
    /// An archive class: a restore first, in the store `PlanItem::store` names (the main
    /// store, or a mirror holding the cheaper archived copy).
    Archive,
    /// A mirror's readable copy (issue 21): `PlanItem::store` names it.
    Mirror,
    /// Not in the store and not on disk (not uploaded yet and purged cannot happen, so
    /// this is a store that lost it): shown, never silently dropped.
    Missing,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Store => "store",
            Source::Archive => "archive",
            // Recorded as `store` with the mirror in `restore_item_stores`.
            Source::Mirror => "store",
            Source::Missing => "missing",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanItem {
    #[serde(flatten)]
    pub clip: Candidate,
    pub source: Source,
    /// The class the store reports now.
    pub class: String,
    /// A restore of it is already running (asked by an earlier restore): nothing to pay again.
    pub restoring: bool,
    pub note: Option<String>,
    /// The store it is read from: `primary`, a mirror's name; `None` for the cache.
    pub store: Option<String>,
    /// Every copy considered, with its price and time (issue 21): the main store's
    /// first, then each mirror's. Empty when the clip is taken from the cache.
    pub copies: Vec<copies::CopyOption>,
    /// What the main store's HEAD said of it (`note` before a mirror was chosen), as a
    /// catalogue message: the main store's copy's note on the web page.
    #[serde(skip)]
    pub store_note: Option<crate::msg::Msg>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    pub estimate: Vec<Line>,
    pub total_cny: f64,
    /// The longest the slowest restore may take, per the store's documentation.
    pub hours: f64,
    pub tier: RestoreTier,
    pub days: u32,
    pub max_wait_hours: Option<f64>,
}

impl Plan {
    pub fn count(&self, s: Source) -> (usize, u64) {
        self.items
            .iter()
            .filter(|i| i.source == s)
            .fold((0, 0), |(n, b), i| (n + 1, b + i.clip.size))
    }
}

const GB: f64 = 1e9;
/// The clips one restore takes at most: a month of one-minute clips from three cameras
/// fits; a range that wrapped or spans years does not (each clip costs a HEAD, and on the
/// archive classes a billed retrieval).
pub const MAX_CLIPS: usize = 150_000;

/// Looks at every clip of the range and prices the restore.
pub async fn plan(cfg: &Config, cat: &Catalog, store: &dyn Backend, req: &Request) -> Result<Plan> {
    // One more than allowed, to tell "exactly the limit" from "too many".
    let clips = if req.keys.is_empty() {
        cat.restore_candidates(
            req.camera.as_deref(),
            req.from_ms,
            req.to_ms,
            req.key.as_deref(),
            MAX_CLIPS + 1,
        )?
    } else {
        let mut clips = Vec::new();
        for k in req.keys.iter().take(MAX_CLIPS + 1) {
            clips.extend(cat.restore_candidates(None, 0, 0, Some(k), 1)?);
        }
        clips
    };
    if clips.len() > MAX_CLIPS {
        bail!("the range holds more than {MAX_CLIPS} clips: restore a shorter range (or one camera) at a time");
    }
    let heads = futures_util::stream::iter(clips.into_iter().map(|clip| async move {
        // A drill proves the archive, so it never takes the local copy.
        if clip.cached && !req.drill {
            return Ok::<_, anyhow::Error>((clip, None));
        }
        let h = store.head(&clip.key).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((clip, Some(h)))
    }))
    .buffered(16)
    .collect::<Vec<_>>()
    .await;
    let mut items = Vec::with_capacity(heads.len());
    for h in heads {
        let (clip, head) = h?;
        let item = match head {
            None => PlanItem {
                class: clip.storage_class.clone().unwrap_or_else(|| "local".into()),
                source: Source::Cache,
                restoring: false,
                note: None,
                store: None,
                copies: Vec::new(),
                store_note: None,
                clip,
            },
            Some(None) => PlanItem {
                class: String::new(),
                source: Source::Missing,
                restoring: false,
                note: Some(if clip.stored {
                    "missing from the store: run `camvault verify`".into()
                } else {
                    "not uploaded yet and not on local disk".into()
                }),
                store: None,
                copies: Vec::new(),
                store_note: None,
                clip,
            },
            Some(Some(h)) => {
                cat.set_storage_class(&clip.key, &h.storage_class)?;
                let (source, note) = match h.restore {
                    _ if !crate::store::is_archive_class(&h.storage_class) => (Source::Store, None),
                    // 0: readable without an end (S3 Glacier Instant Retrieval).
                    RestoreState::Ready { expires_ms: 0 } => (Source::Store, None),
                    RestoreState::Ready { expires_ms } => (
                        Source::Store,
                        Some(crate::msg!(
                            "plan.note.restored_until",
                            until = crate::report::rfc3339(expires_ms, "UTC")
                        )),
                    ),
                    RestoreState::InProgress => (Source::Archive, Some(crate::msg!("plan.note.restoring"))),
                    RestoreState::None if cost::restore_days(&h.storage_class, req.days) < req.days => (
                        Source::Archive,
                        Some(crate::msg!(
                            "plan.note.archive_days",
                            max = cost::ARCHIVE_MAX_RESTORE_DAYS,
                            days = req.days
                        )),
                    ),
                    RestoreState::None => (Source::Archive, None),
                };
                PlanItem {
                    class: h.storage_class,
                    restoring: h.restore == RestoreState::InProgress,
                    source,
                    note: note.as_ref().map(crate::msg::Msg::en),
                    store: Some(crate::config::PRIMARY.to_string()),
                    copies: Vec::new(),
                    store_note: note,
                    clip,
                }
            }
        };
        items.push(item);
    }
    // The best copy of each clip not taken from the cache (a drill proves the main
    // store's archive, so it never reads a mirror).
    if (!cfg.store.mirror.is_empty() || req.max_wait_hours.is_some()) && !req.drill {
        let mut mirrors = copies::Mirrors::default();
        for item in items.iter_mut().filter(|i| i.source != Source::Cache) {
            best_copy(cfg, cat, &mut mirrors, item, req).await?;
        }
    }
    let (estimate, hours) = estimate(cfg, &items, req.tier, req.days);
    let hours = hours.max(
        items
            .iter()
            .filter(|i| i.source == Source::Mirror)
            .flat_map(|i| i.copies.iter().filter(|o| Some(&o.store) == i.store.as_ref()))
            .map(|o| o.hours)
            .fold(0.0, f64::max),
    );
    // `+ 0.0`: an empty sum is -0.0, which would print as "¥-0.00".
    let total_cny = (estimate.iter().map(|l| l.cny).sum::<f64>() * 100.0).round() / 100.0 + 0.0;
    Ok(Plan {
        items,
        estimate,
        total_cny,
        hours,
        tier: req.tier,
        days: req.days,
        max_wait_hours: req.max_wait_hours,
    })
}

/// Prices the main store's copy of `item` (as HEAD found it) and every mirror's verified
/// copy, and takes the best ([`copies::choose`]).
async fn best_copy(
    cfg: &Config,
    cat: &Catalog,
    mirrors: &mut copies::Mirrors,
    item: &mut PlanItem,
    req: &Request,
) -> Result<()> {
    let found = cat.verified_mirror_copies(item.clip.file_id)?;
    if found.is_empty() && req.max_wait_hours.is_none() {
        return Ok(());
    }
    let mut options = Vec::new();
    if matches!(item.source, Source::Store | Source::Archive) {
        let readable = item.source == Source::Store;
        let (mut cny, hours) = copies::price(cfg, false, &item.class, readable, req.tier, item.clip.size, req.days);
        if item.restoring {
            // Already asked: only the download is left to pay.
            cny = copies::price(cfg, false, "Standard", true, req.tier, item.clip.size, req.days).0;
        }
        options.push(copies::CopyOption {
            store: crate::config::PRIMARY.to_string(),
            kind: copies::kind_of(cfg, crate::config::PRIMARY),
            class: item.class.clone(),
            readable,
            cny,
            hours,
            usable: true,
            restoring: item.restoring,
            note: item.note.clone(),
            note_msg: item.store_note.clone(),
        });
    }
    options.extend(copies::mirror_options(cfg, mirrors, &found, item.clip.size, req.tier, req.days).await);
    let chosen = copies::choose(&options, req.max_wait_hours);
    if let Some((i, in_time)) = chosen {
        let o = &options[i];
        if o.store != crate::config::PRIMARY {
            // A mirror's archived copy is restored in that mirror: an archive item whose
            // `store` names it.
            item.source = if o.readable { Source::Mirror } else { Source::Archive };
            item.class = o.class.clone();
            item.restoring = o.restoring;
            let how = if o.readable { "" } else { ": restored in that mirror" };
            item.note = Some(format!("from mirror {:?} ({}, {}){how}", o.store, o.kind, o.class));
            if let Some(n) = o.note.as_ref().filter(|_| !o.readable) {
                item.note = item.note.take().map(|m| format!("{m}; {n}"));
            }
            item.store = Some(o.store.clone());
        }
        if !in_time {
            let wait = req.max_wait_hours.unwrap_or_default();
            let note = format!("no copy is ready within {wait} h: the quickest is taken");
            item.note = Some(match item.note.take() {
                Some(n) => format!("{n}; {note}"),
                None => note,
            });
        }
    }
    item.copies = options;
    Ok(())
}

/// Cost lines per class and the longest wait.
fn estimate(cfg: &Config, items: &[PlanItem], tier: RestoreTier, days: u32) -> (Vec<Line>, f64) {
    let mut by_class: BTreeMap<(&str, bool), (u64, u64)> = BTreeMap::new();
    for i in items {
        let archived = match i.source {
            // Already being restored: only the download is left to pay.
            Source::Archive if i.restoring => false,
            Source::Archive => true,
            Source::Store => false,
            // A disk mirror is free; a remote one is downloaded like a readable object.
            Source::Mirror if i.store.as_deref().is_some_and(|n| copies::kind_of(cfg, n) == "fs") => continue,
            Source::Mirror => false,
            Source::Cache | Source::Missing => continue,
        };
        let e = by_class.entry((i.class.as_str(), archived)).or_default();
        e.0 += 1;
        e.1 += i.clip.size;
    }
    let mut lines = Vec::new();
    let mut hours: f64 = 0.0;
    for ((class, archived), (n, bytes)) in by_class {
        // A readable object (Standard, or a restored copy) is just downloaded.
        let class = if archived { class } else { "Standard" };
        lines.extend(cost::restore_estimate(
            &cfg.prices,
            class,
            tier,
            n,
            bytes as f64 / GB,
            days,
        ));
        if archived {
            hours = hours.max(cost::restore_hours(class, tier));
        }
    }
    (lines, hours)
}

/// Records a plan as a restore; nothing is requested until `step`.
pub fn start(cat: &Catalog, req: &Request, plan: &Plan, now_ms: i64) -> Result<i64> {
    let items: Vec<(i64, &str)> = plan
        .items
        .iter()
        .filter(|i| i.source != Source::Missing)
        .map(|i| (i.clip.file_id, i.source.as_str()))
        .collect();
    if items.is_empty() {
        bail!("nothing to restore: no clip of the range is on local disk or in the store");
    }
    let tier = serde_json::to_value(req.tier)?
        .as_str()
        .unwrap_or("standard")
        .to_string();
    // Clips read (`store`) or restored (`archive`) in a mirror: the item keeps the
    // mirror's name, so a restart polls and reads the same store.
    let mirrors: Vec<(i64, &str)> = plan
        .items
        .iter()
        .filter(|i| matches!(i.source, Source::Mirror | Source::Archive))
        .filter_map(|i| Some((i.clip.file_id, i.store.as_deref()?)))
        .filter(|(_, s)| *s != crate::config::PRIMARY)
        .collect();
    cat.create_restore_from(
        &NewRestore {
            camera: req.camera.as_deref(),
            from_ms: req.from_ms,
            to_ms: req.to_ms,
            tier: &tier,
            days: req.days,
            out_dir: &req.out_dir,
            merge: req.merge,
            kind: if req.drill { "drill" } else { "user" },
            est_cost_cny: plan.total_cny,
        },
        &items,
        &mirrors,
        now_ms,
    )
}

/// Where a restore's clips go.
pub fn out_dir(cfg: &Config, r: &RestoreRow) -> PathBuf {
    if r.out_dir.is_empty() {
        cfg.restore_dir().join(r.id.to_string())
    } else {
        PathBuf::from(&r.out_dir)
    }
}

/// A clip's path under the restore directory: its key without the template's fixed prefix.
fn clip_path(cfg: &Config, dir: &Path, key: &str) -> PathBuf {
    let prefix = cfg.store.key_template.prefix();
    // Keys come from the store too (adopted ones): never `..` or a too-long name here.
    dir.join(crate::keys::local_path(key.strip_prefix(prefix).unwrap_or(key)))
}

/// What one `step` did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Progress {
    pub requested: usize,
    pub done: usize,
    pub failed: usize,
    pub finished_restores: usize,
}

/// Wait before the next poll: `poll_secs`, doubling per poll, at most `poll_max_secs`.
fn backoff_ms(cfg: &Config, polls: u32) -> i64 {
    let secs = cfg.restore.poll_secs.saturating_mul(1u64 << polls.min(20));
    secs.min(cfg.restore.poll_max_secs) as i64 * 1000
}

/// One pass of `serve`'s restores worker at `now_ms`: every due clip one stage on
/// ([`step`]), a drill if one is due ([`drill_if_due`]); returns how long to wait before
/// the next pass: until the next poll is due, between 1 s and a minute (a restore started
/// meanwhile in the web interface wakes the worker sooner).
pub async fn pass(cfg: &Config, cat: &Catalog, store: &dyn Backend, now_ms: i64) -> Result<std::time::Duration> {
    let p = step(cfg, cat, store, now_ms).await?;
    if p.finished_restores > 0 {
        tracing::info!("{} restore(s) finished", p.finished_restores)
    }
    match drill_if_due(cfg, cat, store, now_ms).await {
        Ok(Some(id)) => tracing::info!("restore drill #{id} started"),
        Ok(None) => {}
        Err(e) => tracing::warn!("restore drill: {e:#}"),
    }
    let next = cat.next_restore_poll_ms()?.unwrap_or(i64::MAX);
    Ok(std::time::Duration::from_millis(
        next.saturating_sub(now_ms).clamp(1_000, 60_000) as u64,
    ))
}

/// Moves every due clip of every active restore one stage on, then finishes restores
/// whose clips are all in.
pub async fn step(cfg: &Config, cat: &Catalog, store: &dyn Backend, now_ms: i64) -> Result<Progress> {
    let mut p = Progress::default();
    let mut restores: BTreeMap<i64, RestoreRow> = BTreeMap::new();
    let mut mirrors = copies::Mirrors::default();
    for item in cat.due_restore_items(now_ms, 256)? {
        let r = match restores.get(&item.restore_id) {
            Some(r) => r.clone(),
            None => match cat.restore(item.restore_id)? {
                Some(r) => restores.entry(r.id).or_insert(r).clone(),
                None => continue,
            },
        };
        step_item(cfg, cat, store, &mut mirrors, &r, &item, now_ms, &mut p).await?;
    }
    for id in cat.restores_settled()? {
        if let Some(r) = cat.restore(id)? {
            finish(cfg, cat, &r, now_ms)?;
            p.finished_restores += 1;
        }
    }
    Ok(p)
}

/// One clip's step: what every stage of it needs at hand.
struct Step<'a> {
    cfg: &'a Config,
    cat: &'a Catalog,
    r: &'a RestoreRow,
    item: &'a ItemRow,
    /// Where its verified copy goes.
    dest: PathBuf,
    now_ms: i64,
}

impl Step<'_> {
    /// Moves the item (as read) to `to` with what the step learned.
    fn update(
        &self,
        to: ItemState,
        requested_ms: Option<i64>,
        expires_ms: Option<i64>,
        next_poll_ms: i64,
        path: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        let u = ItemUpdate {
            requested_ms,
            expires_ms,
            next_poll_ms,
            path,
            error,
        };
        if !self.cat.update_restore_item(self.item, to, &u)? {
            // Cancelled (or moved on) while this step ran: the newer state stands.
            tracing::debug!(restore = self.r.id, key = %self.item.key, "restore item changed during its step");
        }
        Ok(())
    }

    /// The verified copy is in place.
    fn done(&self, p: &mut Progress, expires_ms: Option<i64>) -> Result<()> {
        p.done += 1;
        let path = self.dest.to_string_lossy();
        self.update(ItemState::Done, None, expires_ms, 0, Some(&path), None)
    }

    /// The item ends as failed, saying why.
    fn fail(&self, p: &mut Progress, expires_ms: Option<i64>, why: &str) -> Result<()> {
        p.failed += 1;
        self.update(ItemState::Failed, None, expires_ms, 0, None, Some(why))
    }

    /// The store is away or busy: same state, tried again after the first backoff.
    fn retry(&self, e: &str) -> Result<()> {
        let next = self.now_ms + backoff_ms(self.cfg, 0);
        self.update(self.item.state, None, None, next, None, Some(e))
    }
}

/// What a step against one store came to.
enum Flow {
    /// The item was moved on, or left to try again.
    Settled,
    /// A mirror's copy is gone or its bytes are not the catalogued ones: the main store's
    /// copy is the next (the main store's own damage ends the item instead).
    Damaged(String),
    /// A mirror that cannot be opened (no longer configured, a disk unplugged).
    Away(String),
}

#[allow(clippy::too_many_arguments)]
async fn step_item(
    cfg: &Config,
    cat: &Catalog,
    store: &dyn Backend,
    mirrors: &mut copies::Mirrors,
    r: &RestoreRow,
    item: &ItemRow,
    now_ms: i64,
    p: &mut Progress,
) -> Result<()> {
    let s = Step {
        cfg,
        cat,
        r,
        item,
        dest: clip_path(cfg, &out_dir(cfg, r), &item.key),
        now_ms,
    };
    if item.source == "cache" {
        let vault = cfg.vault().join(&item.key);
        // Gone when the cache keeper purged it since the plan: then it comes from the store.
        if let Ok(f) = tokio::fs::File::open(&vault).await {
            return match save_verified(f, &s.dest, item).await {
                Ok(()) => s.done(p, None),
                Err(e) => s.fail(p, None, &e.to_string()),
            };
        }
    }
    // A mirror's copy (issue 21): read, or restored and read, in that mirror and checked
    // like any other; when it cannot be had or does not match, the main store's copy is
    // the next, but only if it is readable: a restore the user did not approve is never
    // asked for here.
    let mut mirror_failed: Option<(String, bool)> = None;
    if let Some(name) = &item.store {
        let flow = if item.source == "archive" {
            match mirrors.get(cfg, name) {
                Ok(m) => from_store(&s, &*m, Some(name.as_str()), None, p).await?,
                Err(e) => Flow::Away(e),
            }
        } else {
            match read_mirror(cfg, mirrors, name, item, &s.dest).await {
                Ok(()) => return s.done(p, None),
                Err(SaveError::Mismatch(e)) => Flow::Damaged(format!("mirror {name:?}'s copy of {} {e}", item.key)),
                Err(SaveError::Io(e)) => Flow::Away(e),
            }
        };
        match flow {
            Flow::Settled => return Ok(()),
            Flow::Damaged(why) => {
                tracing::warn!(restore = r.id, "{why}; trying the main store");
                cat.record_event("verify_mismatch", &why)?;
                // Copied again by `mirror backfill` (or the upload worker, from the vault).
                cat.copy_missing(item.file_id, name, &why)?;
                mirror_failed = Some((why, true));
            }
            // No longer configured: nothing will bring it back, so waiting cannot help.
            Flow::Away(e) => {
                let gone = !cfg.store.mirror.iter().any(|m| &m.name == name);
                mirror_failed = Some((e, gone))
            }
        }
    }
    // The main store's damage ends the item there: it never answers `Damaged`.
    from_store(&s, store, None, mirror_failed.as_ref(), p).await.map(|_| ())
}

/// One stage of a clip in one store — `mirror` names it, `None` is the main store: read it
/// when readable, else ask for its restore (once) and poll until the restored copy can be
/// read. `mirror_failed`: the clip's mirror could not give it (why, and whether waiting
/// cannot help: its copy is damaged, or it is no longer configured); then only a readable
/// main copy is taken, no restore is asked for, and the item's requested/ready state is the
/// mirror's, not this store's. A mirror that is only away is waited for, at most
/// `restore.mirror_wait_days` from the restore's start, rather than retried for ever.
async fn from_store(
    s: &Step<'_>,
    store: &dyn Backend,
    mirror: Option<&str>,
    mirror_failed: Option<&(String, bool)>,
    p: &mut Progress,
) -> Result<Flow> {
    let (cfg, cat, item, now_ms) = (s.cfg, s.cat, s.item, s.now_ms);
    let in_store = |e: &dyn std::fmt::Display| match mirror {
        Some(n) => format!("mirror {n:?}: {e}"),
        None => e.to_string(),
    };
    // The item's "requested" and "ready" speak of this store.
    let own = mirror_failed.is_none();
    let head = match store.head(&item.key).await {
        Ok(h) => h,
        Err(e) => {
            s.retry(&in_store(&e))?;
            return Ok(Flow::Settled);
        }
    };
    let Some(head) = head else {
        if let Some(n) = mirror {
            return Ok(Flow::Damaged(format!("mirror {n:?}'s copy of {} is missing", item.key)));
        }
        let missing = crate::msg!("restore.err.missing").en();
        match mirror_failed {
            // Say what the mirror's copy came to as well: it was the one planned.
            Some((why, _)) => s.fail(p, None, &format!("{why}; the main store: {missing}"))?,
            None => s.fail(p, None, &missing)?,
        }
        return Ok(Flow::Settled);
    };
    let expires = match head.restore {
        RestoreState::Ready { expires_ms } if expires_ms > 0 => Some(expires_ms),
        _ => None,
    };
    let ready_here = own && item.state == ItemState::Ready;
    // A restored copy that could not be downloaded yet: "ready" with its expiry, so that
    // the `restore_expiring` rule warns before the store drops it.
    let retry_ready = |e: &str| {
        let state = if expires.is_some() && own {
            ItemState::Ready
        } else {
            item.state
        };
        s.update(state, None, expires, now_ms + backoff_ms(cfg, 0), None, Some(e))
    };
    if let Some((why, hopeless)) = mirror_failed {
        if !head.readable() {
            let waited = now_ms - s.r.created_ms;
            let wait_ms = (cfg.restore.mirror_wait_days as i64).saturating_mul(86_400_000);
            if *hopeless || waited >= wait_ms {
                let waited = if *hopeless {
                    String::new()
                } else {
                    format!(
                        " (waited {} days for it: restore.mirror_wait_days)",
                        waited / 86_400_000
                    )
                };
                let why = format!(
                    "{why}{waited}; the main store's copy is archived ({}): start the restore again to have it restored (billed)",
                    head.storage_class
                );
                s.fail(p, None, &why)?;
            } else {
                // The mirror is away (a disk unplugged, a region down): wait for it rather
                // than pay for a restore the user did not approve.
                s.retry(why)?;
            }
            return Ok(Flow::Settled);
        }
    }
    // When the restored copy expired before it was read (see the archive arm below).
    let mut expired = item.expires_ms.filter(|&e| own && e <= now_ms);
    // "ready" means the store answered a restore with 200 (already restored): read even
    // when HEAD lags behind and does not show the restored copy yet, unless its expiry
    // has passed (then the copy is gone, and reads would fail, or time out, for ever).
    if head.readable() || (ready_here && expired.is_none()) {
        match store.get(&item.key).await {
            Ok(reader) => {
                match save_verified(reader, &s.dest, item).await {
                    Ok(()) => s.done(p, expires)?,
                    Err(SaveError::Mismatch(e)) => {
                        if let Some(n) = mirror {
                            let why = format!("mirror {n:?}'s restored copy of {} {e}", item.key);
                            return Ok(Flow::Damaged(why));
                        }
                        cat.record_event("verify_mismatch", &format!("{}: restored copy {e}", item.key))?;
                        s.fail(p, expires, &e)?;
                    }
                    Err(SaveError::Io(e)) => retry_ready(&in_store(&e))?,
                }
                return Ok(Flow::Settled);
            }
            // It expired between HEAD and GET (by the store's clock), or HEAD was ahead of
            // GET: ask again below.
            Err(e) if e.kind == ErrorKind::Archived => {
                expired = expired.or(expires.filter(|&x| own && x <= store.now_ms()));
            }
            Err(e) => {
                retry_ready(&in_store(&e))?;
                return Ok(Flow::Settled);
            }
        }
    }
    request(s, store, mirror, &head, expired, p).await?;
    Ok(Flow::Settled)
}

/// The archived object is not readable: poll the running restore, or ask for one (once per
/// expiry, and not again when an overlapping restore asked this store already).
async fn request(
    s: &Step<'_>,
    store: &dyn Backend,
    mirror: Option<&str>,
    head: &crate::store::ObjectMeta,
    expired: Option<i64>,
    p: &mut Progress,
) -> Result<()> {
    let (cfg, cat, r, item, now_ms) = (s.cfg, s.cat, s.r, s.item, s.now_ms);
    let in_store = |e: &dyn std::fmt::Display| match mirror {
        Some(n) => format!("mirror {n:?}: {e}"),
        None => e.to_string(),
    };
    match head.restore {
        RestoreState::InProgress => {
            let requested = item.requested_ms.or(Some(now_ms));
            s.update(
                ItemState::Requested,
                requested,
                None,
                now_ms + backoff_ms(cfg, item.polls + 1),
                None,
                None,
            )
        }
        _ if !crate::store::is_archive_class(&head.storage_class) => s.retry(&in_store(&"not readable yet")),
        _ => {
            // The restored copy expired before it could be read (the downloads kept
            // failing, or nobody ran `serve`): ask once more, and say so; a second
            // expiry ends the clip, so a download that never works does not pay for
            // restores for ever.
            if let Some(at) = expired {
                let when = crate::report::rfc3339(at, "UTC");
                if item.sent >= 2 {
                    let why = format!(
                        "the restored copy expired again ({when}) before it could be downloaded; \
                         not asked a third time: check the disk and the network, then restore again"
                    );
                    return s.fail(p, None, &why);
                }
                tracing::warn!(restore = r.id, key = %item.key, "the restored copy expired at {when} before it was downloaded; asking the store again");
            }
            if item.state == ItemState::Pending {
                let here = mirror.unwrap_or(crate::config::PRIMARY);
                if let Some(at) = cat.restore_requested_elsewhere(item.file_id, r.id, here)? {
                    // An overlapping restore asked this store already: wait for its copy.
                    return s.update(
                        ItemState::Requested,
                        Some(at),
                        None,
                        now_ms + backoff_ms(cfg, 0),
                        None,
                        None,
                    );
                }
            }
            let asked: RestoreTier =
                serde_json::from_value(serde_json::Value::String(r.tier.clone())).unwrap_or(RestoreTier::Standard);
            let tier = cost::tier_for(&head.storage_class, asked);
            match store
                .restore(&item.key, cost::restore_days(&head.storage_class, r.days), tier)
                .await
            {
                Ok(RestoreAnswer::AlreadyRestored) => {
                    // Read at once; if the store keeps saying "restored" but refusing the
                    // read, do not hammer it.
                    let next = if item.state == ItemState::Ready {
                        now_ms + backoff_ms(cfg, 1)
                    } else {
                        now_ms
                    };
                    s.update(
                        ItemState::Ready,
                        item.requested_ms.or(Some(now_ms)),
                        None,
                        next,
                        None,
                        None,
                    )
                }
                Ok(answer @ (RestoreAnswer::Started | RestoreAnswer::AlreadyInProgress)) => {
                    if answer == RestoreAnswer::Started {
                        p.requested += 1;
                        cat.count_restore_request(r.id, item.file_id)?;
                    }
                    // A store whose HEAD does not show restores gets polled with backoff too.
                    let polls = if item.state == ItemState::Requested {
                        item.polls + 1
                    } else {
                        0
                    };
                    let requested = item.requested_ms.or(Some(now_ms));
                    let note = expired.map(|at| {
                        format!(
                            "the restored copy expired at {} before it was downloaded; asked the store again (once)",
                            crate::report::rfc3339(at, "UTC")
                        )
                    });
                    s.update(
                        ItemState::Requested,
                        requested,
                        None,
                        now_ms + backoff_ms(cfg, polls),
                        None,
                        note.as_deref(),
                    )
                }
                Err(e) if e.kind == ErrorKind::Transient => s.retry(&in_store(&e)),
                Err(e) => s.fail(p, None, &in_store(&e)),
            }
        }
    }
}

/// Reads a clip from mirror `name` into `dest`, checked against the catalog.
async fn read_mirror(
    cfg: &Config,
    mirrors: &mut copies::Mirrors,
    name: &str,
    item: &ItemRow,
    dest: &Path,
) -> Result<(), SaveError> {
    let m = mirrors.get(cfg, name).map_err(SaveError::Io)?;
    let reader = m
        .get(&item.key)
        .await
        .map_err(|e| SaveError::Io(format!("mirror {name:?}: {e}")))?;
    save_verified(reader, dest, item).await
}

/// Streams a clip to `dest` (through a temporary file), checking size and CRC-64 against
/// the catalog before it takes its name.
/// Why a clip could not be saved: its bytes are not the ones catalogued (a failure for
/// good, recorded as a verification mismatch), or the download or the disk failed (tried
/// again).
#[derive(Debug, thiserror::Error)]
enum SaveError {
    #[error("{0}")]
    Mismatch(String),
    #[error("{0}")]
    Io(String),
}

async fn save_verified(
    reader: impl tokio::io::AsyncRead + Unpin,
    dest: &Path,
    item: &ItemRow,
) -> Result<(), SaveError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|e| SaveError::Io(format!("cannot create {}: {e}", parent.display())))?;
    // A short name of its own: `with_extension` on the clip's name can give `..` (a clip
    // named `..mp4`) or pass the 255-byte file name limit.
    let tmp = parent.join(format!(".camvault-part.{}", fastrand::u64(..)));
    let mut out = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| SaveError::Io(format!("cannot write {}: {e}", tmp.display())))?;
    let result = crate::upload::body::copy_with_crc(reader, &mut out).await;
    drop(out);
    let check = match result {
        Err(e) => Err(SaveError::Io(format!("download of {} broke off: {e}", item.key))),
        Ok((_, n)) if n != item.size => Err(SaveError::Mismatch(format!("size {n} read, {} expected", item.size))),
        Ok((crc, _)) => match &item.crc64 {
            Some(want) if *want != crate::store::crc_hex(crc) => Err(SaveError::Mismatch(format!(
                "checksum {} read, {want} expected",
                crate::store::crc_hex(crc)
            ))),
            _ => Ok(()),
        },
    };
    match check {
        Ok(()) => tokio::fs::rename(&tmp, dest)
            .await
            .map_err(|e| SaveError::Io(format!("cannot write {}: {e}", dest.display()))),
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e)
        }
    }
}

/// A restore's error when clips failed (stored in English; the web API sends the key).
pub fn failed_items(failed: usize, total: usize, first: &ItemRow) -> crate::msg::Msg {
    crate::msg!(
        "restore.err.failed_items",
        failed = failed,
        total = total,
        key = first.key,
        error = first.error.as_deref().unwrap_or("")
    )
}

/// The message key of an item's error when it is one of the restore's own fixed texts
/// (not another system's words).
pub fn item_error_key(text: &str) -> Option<&'static str> {
    ["restore.err.missing"]
        .into_iter()
        .find(|k| crate::web::i18n::Lang::En.t(k) == text)
}

/// Ends a restore whose clips are all in: merge if asked, record, tell people.
fn finish(cfg: &Config, cat: &Catalog, r: &RestoreRow, now_ms: i64) -> Result<()> {
    let items = cat.restore_items(r.id)?;
    let done: Vec<&ItemRow> = items.iter().filter(|i| i.state == ItemState::Done).collect();
    let failed: Vec<&ItemRow> = items.iter().filter(|i| i.state == ItemState::Failed).collect();
    let dir = out_dir(cfg, r);
    let mut error = failed.first().map(|i| failed_items(failed.len(), items.len(), i).en());
    let mut merged = None;
    if r.merge && !done.is_empty() {
        let clips: Vec<PathBuf> = done.iter().filter_map(|i| i.path.as_ref().map(PathBuf::from)).collect();
        let out = dir.join("merged.mp4");
        match merge::merge(&clips, &out) {
            Ok(()) => merged = Some(out),
            Err(e) => error = Some(format!("{e:#}")),
        }
    }
    if r.kind == "drill" {
        let ok = failed.is_empty() && !done.is_empty();
        let record = kv::DrillRecord {
            at_ms: now_ms,
            error: error.clone(),
            key: items.first().map(|i| i.key.clone()),
            ok,
            restore: r.id,
        };
        cat.set_slot(&kv::DRILL, &record)?;
        // The drill proved the bytes; the copy itself is not needed.
        for i in &done {
            if let Some(p) = &i.path {
                let _ = std::fs::remove_file(p);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let state = if done.is_empty() {
        RestoreStatus::Failed
    } else {
        RestoreStatus::Done
    };
    if cat.finish_restore(r.id, state, error.as_deref(), now_ms)? {
        let what = match &r.camera {
            Some(c) => format!("restore #{} ({c})", r.id),
            None => format!("restore #{}", r.id),
        };
        let body = match (r.kind.as_str(), state) {
            ("drill", _) if error.is_none() => crate::msg!("event.body.drill_passed", key = items[0].key),
            ("drill", _) => crate::msg!("event.body.drill_failed", error = error.clone().unwrap_or_default()),
            (_, RestoreStatus::Done) => crate::msg!(
                "event.body.restore_ready",
                id = r.id,
                n = done.len(),
                total = items.len(),
                dir = dir.display()
            ),
            _ => crate::msg!(
                "event.body.restore_failed",
                id = r.id,
                error = error.clone().unwrap_or_default()
            ),
        };
        let (kind, msg) = match (r.kind.as_str(), state) {
            ("drill", _) if error.is_none() => (
                "restore_drill",
                format!(
                    "restore drill passed: an archived clip was restored and matched byte for byte ({})",
                    items[0].key
                ),
            ),
            ("drill", _) => (
                "restore_drill_failed",
                format!("restore drill FAILED: {}", error.clone().unwrap_or_default()),
            ),
            (_, RestoreStatus::Done) => (
                "restore_ready",
                format!(
                    "{what}: {} clip(s) ready in {}{}{}",
                    done.len(),
                    dir.display(),
                    merged
                        .map(|m| format!(", merged into {}", m.display()))
                        .unwrap_or_default(),
                    error.map(|e| format!(" ({e})")).unwrap_or_default()
                ),
            ),
            _ => (
                "restore_failed",
                format!("{what} failed: {}", error.unwrap_or_default()),
            ),
        };
        cat.record_event_msg(kind, &msg, &body)?;
    }
    Ok(())
}

/// Starts a drill: the smallest of a few random clips old enough to be archived, restored
/// at the cheapest tier for one day. `None` when nothing is archived yet.
pub async fn start_drill(cfg: &Config, cat: &Catalog, store: &dyn Backend, now_ms: i64) -> Result<Option<i64>> {
    // Ages by the store's clock: it is the store's lifecycle that archives.
    let age_ms = i64::from(cfg.tiering.transition_days) * 86_400_000;
    for clip in cat.drill_candidates(store.now_ms() - age_ms, 20)? {
        let Ok(Some(h)) = store.head(&clip.key).await else {
            continue;
        };
        cat.set_storage_class(&clip.key, &h.storage_class)?;
        if !crate::store::is_archive_class(&h.storage_class) || h.restore != RestoreState::None {
            continue;
        }
        let req = Request {
            keys: Vec::new(),
            camera: Some(clip.camera.clone()),
            from_ms: clip.start_ms,
            to_ms: clip.start_ms + 1,
            key: Some(clip.key.clone()),
            tier: cost::cheapest_tier(&h.storage_class),
            days: 1,
            merge: false,
            out_dir: String::new(),
            drill: true,
            max_wait_hours: None,
        };
        let plan = plan(cfg, cat, store, &req).await?;
        return Ok(Some(start(cat, &req, &plan, now_ms)?));
    }
    Ok(None)
}

/// Starts a drill when the last one is older than `restore.drill_days` and none is
/// running. Looks at most once a day, so an archive with nothing archived yet costs one
/// listing of a few HEADs a day.
pub async fn drill_if_due(cfg: &Config, cat: &Catalog, store: &dyn Backend, now_ms: i64) -> Result<Option<i64>> {
    const DAY_MS: i64 = 86_400_000;
    if cfg.restore.drill_days == 0 {
        return Ok(None);
    }
    let every = cfg.restore.drill_days as i64 * DAY_MS;
    let last_try = cat.slot(&kv::DRILL_TRY_MS)?.unwrap_or(0);
    if now_ms - last_try < every.min(DAY_MS) {
        return Ok(None);
    }
    cat.set_slot(&kv::DRILL_TRY_MS, &now_ms)?;
    if cat.slot(&kv::DRILL)?.is_some_and(|d| now_ms - d.at_ms < every) {
        return Ok(None);
    }
    if cat
        .restores(50)?
        .iter()
        .any(|r| r.kind == "drill" && r.state == RestoreStatus::Active)
    {
        return Ok(None);
    }
    start_drill(cfg, cat, store, now_ms).await
}
