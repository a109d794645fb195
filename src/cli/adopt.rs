//! `camvault adopt`: catalogs recordings that are already in the bucket.
//!
//! The user's months of clips were put there by an ossfs mount in the camera's own
//! folder layout, under whatever prefix the share was (`camera_videos/…`). adopt lists the
//! bucket and reads every key as capture reads a path in the inbox: [`crate::recordings`]
//! finds the camera folder in any tail of the key and the layout parser gives camera
//! (MAC → configured name), lens and start/end in the camera's zone. Each recording is
//! recorded as verified (size from the listing, CRC-64 from HEAD) without downloading or
//! uploading (an old-layout clip in Standard gets its end from a ranged read of its MP4
//! header, [`super::adopt_end`]), so that status, verify, lifecycle and restore cover
//! them; the prefix it was found under is remembered so that `lifecycle` keeps it under a
//! rule. Keys stay as
//! they are. Names that do not parse are still adopted, timed by their upload time, and
//! listed with the reason. Objects that are not recordings (other people's files beside
//! the camera folders, directory markers) are left alone. Running it again adds only what
//! is new. `adopt --check` compares a full listing with the catalog and exits 1 on any
//! difference.
//!
//! The listing goes a page at a time; each page's rows are committed together with the
//! listing's position (its last key, per store and prefix, in the catalog's
//! `adopt.listing` slot), so that a listing cut by a kill or a store error goes on after
//! that key when run again (ListObjectsV2's `start-after`), and the position is forgotten
//! once a listing ends.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use futures_util::StreamExt;

use crate::catalog::kv::ADOPT_LISTING;
use crate::catalog::{Catalog, StoredFile};
use crate::config::{human_bytes, Config};
use crate::inbox::layout;
use crate::store::ObjectMeta;

/// HEADs in flight at once: a year of one-minute clips is half a million objects.
const CONCURRENT_HEADS: usize = 8;
/// Unparsed names listed one by one before the rest are only counted.
const SHOW_ODD: usize = 50;

pub fn run(cfg: Config, prefix: &str, dry_run: bool, check: bool) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let cat = Catalog::open(&cfg.catalog(), !check)?;
        let store = crate::store::open(&cfg)?;
        if check {
            return compare(&cfg, &cat, &*store, prefix).await;
        }
        let n = adopt_listing(&cfg, &cat, &*store, prefix, dry_run).await?;
        n.print();
        if dry_run {
            println!("(dry run: nothing recorded; run `camvault adopt` to record the above)");
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "adopted {} object(s) from the store ({} already in the catalog, {} with names timed by their upload time)",
            n.added, n.known, n.odd.len()
        );
        if !n.groups.is_empty() {
            println!("next: `camvault lifecycle check` shows whether every prefix above is under a rule to the archive class");
        }
        if n.failed > 0 {
            eprintln!("{} object(s) could not be read; run adopt again to add them", n.failed);
            return Ok(ExitCode::from(1));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Recordings found under one prefix for one camera.
#[derive(Debug, Default, Clone)]
pub struct Group {
    pub objects: u64,
    pub bytes: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub tz: String,
    /// Clips whose names give only the start, in Standard: their end comes from the MP4
    /// header, read with ranged GETs.
    pub end_from_header: u64,
    /// Such clips in an archive class (never read): their end is the next clip's start.
    pub end_from_next: u64,
}

/// What an adoption did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct Adopted {
    pub added: u64,
    pub known: u64,
    pub failed: u64,
    /// (prefix, camera) → what is there.
    pub groups: BTreeMap<(String, String), Group>,
    /// Recordings whose names gave no time: (key, reason).
    pub odd: Vec<(String, String)>,
    /// Objects that are not recordings, left alone.
    pub others: Vec<String>,
    pub markers: u64,
    /// The key after which this run went on with a listing interrupted earlier.
    pub resumed_after: Option<String>,
    /// Pages listed.
    pub pages: u32,
    /// Clips without an end in their name: ends read from the MP4 header, taken from the
    /// next clip's start, and still unknown (see [`super::adopt_end`]).
    pub ends: (u64, u64, u64),
}

impl Adopted {
    fn print(&self) {
        if let Some(key) = &self.resumed_after {
            println!(
                "going on with the listing an earlier run left after {key:?} (what is before it was adopted then); the counts below are for the rest"
            );
        }
        if self.groups.is_empty() {
            println!("no camera recordings found in the bucket");
        } else {
            println!("prefix -> camera: objects, size, first .. last start (camera's zone)");
        }
        for ((prefix, camera), g) in &self.groups {
            println!(
                "  {prefix} -> {camera}: {} object(s), {}, {} .. {} ({})",
                g.objects,
                human_bytes(g.bytes),
                super::local_time(g.first_ms, &g.tz),
                super::local_time(g.last_ms, &g.tz),
                g.tz
            );
            if g.end_from_header + g.end_from_next > 0 {
                println!(
                    "    {} clip(s) named by their start only: end from the MP4 header (ranged reads) for {} in Standard; from the next clip's start (when within {} s) for {} archived, never read",
                    g.end_from_header + g.end_from_next,
                    g.end_from_header,
                    super::adopt_end::CLIP_MAX_MS / 1000,
                    g.end_from_next
                );
            }
        }
        let (header, next, unknown) = self.ends;
        if header + next + unknown > 0 {
            println!(
                "end times of clips named by their start only: {header} from the MP4 header, {next} from the next clip's start, {unknown} unknown (a gap follows, no readable header)"
            );
        }
        if !self.odd.is_empty() {
            println!(
                "{} recording(s) whose names give no time, timed by their upload time:",
                self.odd.len()
            );
            for (key, why) in self.odd.iter().take(SHOW_ODD) {
                println!("  {key}: {why}");
            }
            if self.odd.len() > SHOW_ODD {
                println!(
                    "  … and {} more (`camvault ls --json` shows each one's warning)",
                    self.odd.len() - SHOW_ODD
                );
            }
        }
        if !self.others.is_empty() {
            println!(
                "{} object(s) left alone, not in a camera folder (not recordings), e.g. {:?}",
                self.others.len(),
                self.others[0]
            );
        }
        if self.markers > 0 {
            println!("{} empty directory marker(s) (`dir/`) skipped", self.markers);
        }
    }
}

/// What one listed object is to adopt.
enum Kind {
    /// camvault's own bookkeeping (probes, manifests, thumbnails, catalog backups).
    Own,
    /// An empty `dir/` object.
    Marker,
    /// Not in a camera folder: someone else's file.
    Other,
    Recording(Box<Reading>),
}

/// A recording as capture would catalog it.
struct Reading {
    /// The prefix that holds it: the key template's, or the one up to the camera folder.
    prefix: String,
    adopted_prefix: bool,
    parsed: layout::Parsed,
    cam: crate::config::CameraInfo,
    span: layout::Span,
}

fn classify(cfg: &Config, template: &crate::keys::Template, o: &ObjectMeta, now: jiff::Timestamp) -> Kind {
    let key = o.key.as_str();
    if key.starts_with(crate::store::PROBE_PREFIX)
        || key.starts_with(crate::manifest::PREFIX)
        || key.starts_with(crate::index::days::PREFIX)
        || key.starts_with(crate::media::thumbs::PREFIX)
        || key.starts_with(crate::backup::PREFIX)
    {
        return Kind::Own;
    }
    if crate::recordings::is_dir_marker(key, o.size) {
        return Kind::Marker;
    }
    let modified = jiff::Timestamp::from_millisecond(o.modified_ms).unwrap_or(now);
    if let Some((parsed, cam, span)) = read_template_key(cfg, template, key, modified, now) {
        return Kind::Recording(Box::new(Reading {
            prefix: template.prefix().to_string(),
            adopted_prefix: false,
            parsed,
            cam,
            span,
        }));
    }
    let Some(found) = crate::recordings::recognize(key) else {
        return Kind::Other;
    };
    // Exactly what capture does with a path in the inbox.
    let cam = cfg.camera(found.parsed.mac.as_deref(), found.parsed.folder.as_deref());
    let span = layout::resolve(&found.parsed, &cam.tz, modified, now);
    Kind::Recording(Box::new(Reading {
        prefix: found.prefix,
        adopted_prefix: true,
        parsed: found.parsed,
        cam,
        span,
    }))
}

/// Keys asked for per page of the listing; each page's rows are committed together with
/// the listing's position, so an interrupted adoption resumes after its last whole page.
pub const PAGE: u32 = 1000;

/// Adopts every recording under `prefix` that is not yet cataloged.
pub async fn adopt_listing(
    cfg: &Config,
    cat: &Catalog,
    store: &dyn crate::store::Backend,
    prefix: &str,
    dry_run: bool,
) -> Result<Adopted> {
    adopt_pages(cfg, cat, store, prefix, dry_run, PAGE).await
}

/// [`adopt_listing`] with `page` keys a page. A listing interrupted earlier (a kill, a
/// store error on page N) goes on after the last key whose page was cataloged, kept per
/// store and prefix in [`ADOPT_LISTING`]; a listing that ends forgets its position. While
/// an object of a page could not be read, the position stays before that page, so the
/// next run lists it again (and adds what is missing) instead of skipping it.
pub async fn adopt_pages(
    cfg: &Config,
    cat: &Catalog,
    store: &dyn crate::store::Backend,
    prefix: &str,
    dry_run: bool,
    page: u32,
) -> Result<Adopted> {
    let listing = format!("{}\n{prefix}", store.describe());
    let mut positions = cat.slot(&ADOPT_LISTING)?.unwrap_or_default();
    // A dry run shows the whole bucket and writes nothing, the position neither.
    let mut after = if dry_run {
        None
    } else {
        positions.get(&listing).cloned()
    };
    let template = cfg.store.key_template.clone();
    let known_keys: HashSet<String> = cat.all_keys()?.into_iter().map(|(k, _, _)| k).collect();
    let now = jiff::Timestamp::now();
    let mut n = Adopted {
        resumed_after: after.clone(),
        ..Adopted::default()
    };
    // Every page so far wholly cataloged: the position may move on.
    let mut whole = true;
    for page_no in 1.. {
        let listed = store.list_after(prefix, after.as_deref(), page).await.map_err(|e| {
            let kept = match (positions.get(&listing), dry_run) {
                (Some(key), false) => format!(
                    "the pages before are cataloged ({} object(s) added by this run); run `camvault adopt` again once the store answers: it goes on after {key:?}",
                    n.added
                ),
                _ => "nothing of this listing was recorded; run `camvault adopt` again once the store answers".to_string(),
            };
            anyhow!("listing the bucket under {prefix:?} failed on page {page_no}: {e}\n{kept}")
        })?;
        let last = listed.objects.last().map(|o| o.key.clone());
        let todo = sort_page(cfg, &template, &known_keys, listed.objects, now, &mut n);
        if !dry_run {
            for (_, r) in todo.iter().filter(|(_, r)| r.adopted_prefix) {
                cat.add_recording_prefix(&r.prefix, &r.cam.id, now.as_millisecond())?;
            }
            let (rows, failed) = read_page(store, todo).await;
            n.failed += failed;
            whole &= failed == 0;
            if let (true, Some(key)) = (whole, &last) {
                positions.insert(listing.clone(), key.clone());
            }
            let stored: Vec<StoredFile> = rows.iter().map(|r| r.row(now)).collect();
            let added = cat.insert_adopted_page(&stored, &ADOPT_LISTING, &positions)?;
            n.added += added;
            for row in rows
                .iter()
                .filter(|row| row.r.parsed.layout == layout::Layout::XiaomiOld)
            {
                if row.r.parsed.kind == layout::Kind::Video {
                    if row.r.span.end.is_some() {
                        n.ends.0 += 1;
                    } else {
                        n.ends.2 += 1;
                    }
                }
            }
            n.known += stored.len() as u64 - added;
        }
        n.pages = page_no;
        match (listed.more, last) {
            (true, Some(key)) => after = Some(key),
            _ => break,
        }
    }
    if !dry_run && whole && positions.remove(&listing).is_some() {
        cat.set_slot(&ADOPT_LISTING, &positions)?;
    }
    if !dry_run {
        let before = n.ends.0 + n.ends.2;
        let next = cat.end_adopted_by_next(layout::Layout::XiaomiOld.as_str(), super::adopt_end::CLIP_MAX_MS)?;
        n.ends = (n.ends.0, next, before.saturating_sub(n.ends.0 + next));
    }
    Ok(n)
}

/// Sorts one page: counts what is there per prefix and camera, and returns the recordings
/// the catalog does not know yet.
fn sort_page(
    cfg: &Config,
    template: &crate::keys::Template,
    known_keys: &HashSet<String>,
    objects: Vec<ObjectMeta>,
    now: jiff::Timestamp,
    n: &mut Adopted,
) -> Vec<(ObjectMeta, Box<Reading>)> {
    let mut todo = Vec::new();
    for o in objects {
        let r = match classify(cfg, template, &o, now) {
            Kind::Own => continue,
            Kind::Marker => {
                n.markers += 1;
                continue;
            }
            Kind::Other => {
                n.others.push(o.key);
                continue;
            }
            Kind::Recording(r) => r,
        };
        let g = n
            .groups
            .entry((r.prefix.clone(), r.cam.id.clone()))
            .or_insert_with(|| Group {
                first_ms: i64::MAX,
                last_ms: i64::MIN,
                tz: r.cam.tz_name.clone(),
                ..Group::default()
            });
        let start = r.span.start.as_millisecond();
        g.objects += 1;
        g.bytes += o.size;
        g.first_ms = g.first_ms.min(start);
        g.last_ms = g.last_ms.max(start);
        if needs_end(&r) {
            if o.storage_class == "Standard" {
                g.end_from_header += 1;
            } else {
                g.end_from_next += 1;
            }
        }
        // A warning and the upload time as start: the name gave no usable time.
        if let (Some(w), true) = (&r.span.warning, start == o.modified_ms) {
            n.odd.push((o.key.clone(), w.clone()));
        }
        if known_keys.contains(&o.key) {
            n.known += 1;
            continue;
        }
        todo.push((o, r));
    }
    todo
}

/// A clip whose name gives only its start (the old layout), the end left to adopt.
fn needs_end(r: &Reading) -> bool {
    r.parsed.layout == layout::Layout::XiaomiOld && r.parsed.kind == layout::Kind::Video && r.span.end.is_none()
}

/// A recording of a page, read: what its catalog row needs.
struct Row {
    o: ObjectMeta,
    r: Box<Reading>,
    crc: Option<String>,
    warning: Option<String>,
}

impl Row {
    fn row(&self, now: jiff::Timestamp) -> StoredFile<'_> {
        StoredFile {
            camera: &self.r.cam.id,
            mac: self.r.parsed.mac.as_deref(),
            tz: &self.r.cam.tz_name,
            key: &self.o.key,
            layout: self.r.parsed.layout.as_str(),
            channel: self.r.parsed.channel.as_deref(),
            start_ms: self.r.span.start.as_millisecond(),
            end_ms: self.r.span.end.map(|e| e.as_millisecond()),
            size: self.o.size,
            crc64: self.crc.as_deref(),
            storage_class: &self.o.storage_class,
            warning: self.warning.as_deref(),
            now_ms: now.as_millisecond(),
        }
    }
}

/// HEADs a page's new recordings: HEAD gives the CRC-64 a listing lacks, without which
/// `verify` could not check. Returns the rows and how many objects could not be read.
async fn read_page(store: &dyn crate::store::Backend, todo: Vec<(ObjectMeta, Box<Reading>)>) -> (Vec<Row>, u64) {
    let mut heads = futures_util::stream::iter(todo.into_iter().map(|(o, mut r)| async move {
        let h = store.head(&o.key).await;
        // The end from the MP4 header, in the same flight as the HEAD. Archived objects
        // are never read: a GET fails or needs a billed restore.
        let standard = matches!(&h, Ok(Some(m)) if m.storage_class == "Standard");
        if standard && needs_end(&r) && o.size > 0 {
            if let Some(d) = super::adopt_end::duration_ms(store, &o.key, o.size).await {
                r.span.end = jiff::Timestamp::from_millisecond(r.span.start.as_millisecond().saturating_add(d)).ok();
            }
        }
        (o, r, h)
    }))
    .buffer_unordered(CONCURRENT_HEADS);
    let (mut rows, mut failed) = (Vec::new(), 0);
    while let Some((o, r, head)) = heads.next().await {
        let crc = match head {
            Ok(Some(h)) => h.crc64,
            Ok(None) => continue, // deleted meanwhile
            Err(e) => {
                eprintln!("cannot read {}: {e}", o.key);
                failed += 1;
                continue;
            }
        };
        let mut warnings: Vec<String> = r.span.warning.clone().into_iter().collect();
        if o.size == 0 {
            warnings.push("empty file (0 bytes)".into());
        }
        let warning = (!warnings.is_empty()).then(|| warnings.join("; "));
        rows.push(Row { o, r, crc, warning });
    }
    (rows, failed)
}

/// `adopt --check`: every recording in a full listing is in the catalog with its size, and
/// every object the catalog has stored is in the bucket. Exit 1 on any difference.
async fn compare(cfg: &Config, cat: &Catalog, store: &dyn crate::store::Backend, prefix: &str) -> Result<ExitCode> {
    let objects = store
        .list(prefix)
        .await
        .map_err(|e| anyhow!("listing the bucket under {prefix:?} failed: {e}; nothing was compared"))?;
    let template = cfg.store.key_template.clone();
    let now = jiff::Timestamp::now();
    let catalog: BTreeMap<String, (u64, String)> = cat
        .all_keys()?
        .into_iter()
        .filter(|(k, _, _)| k.starts_with(prefix))
        .map(|(k, size, state)| (k, (size, state)))
        .collect();
    let (mut recordings, mut others, mut problems) = (0u64, 0u64, Vec::new());
    let mut listed = HashSet::new();
    for o in &objects {
        listed.insert(o.key.as_str());
        match classify(cfg, &template, o, now) {
            Kind::Recording(_) => {
                recordings += 1;
                match catalog.get(&o.key) {
                    None => problems.push(format!(
                        "in the bucket, not in the catalog: {} ({} bytes)",
                        o.key, o.size
                    )),
                    Some((size, _)) if *size != o.size => problems.push(format!(
                        "size differs: {}: bucket {} bytes, catalog {size} bytes",
                        o.key, o.size
                    )),
                    Some(_) => {}
                }
            }
            Kind::Other => others += 1,
            Kind::Own | Kind::Marker => {}
        }
    }
    for (key, (_, state)) in &catalog {
        if (state == "verified" || state == "uploaded") && !listed.contains(key.as_str()) {
            problems.push(format!("in the catalog ({state}), not in the bucket: {key}"));
        }
    }
    println!(
        "{} listed: {} object(s), {recordings} recording(s), {others} other object(s) (not recordings, not compared); catalog: {} object(s)",
        store.describe(),
        objects.len(),
        catalog.len()
    );
    if problems.is_empty() {
        println!("ok: every recording in the bucket is in the catalog, and every stored object of the catalog is in the bucket");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("{p}");
    }
    println!(
        "{} difference(s); `camvault adopt` catalogs recordings the catalog lacks, `camvault verify` checks the catalog's",
        problems.len()
    );
    Ok(ExitCode::from(1))
}

/// Camera and time of one of camvault's own keys, through the key template (camera from
/// `{camera}`, time from the camera's file name, else `{date}` and `{hour}`); `None` for a
/// key the template does not match.
fn read_template_key(
    cfg: &Config,
    template: &crate::keys::Template,
    key: &str,
    modified: jiff::Timestamp,
    now: jiff::Timestamp,
) -> Option<(layout::Parsed, crate::config::CameraInfo, layout::Span)> {
    if let Some(m) = template.match_key(key) {
        if let Some(camera) = m.get("camera") {
            let mac = crate::config::normalize_mac(camera);
            let cam = match &mac {
                Some(m) => cfg.camera(Some(m), None),
                None => cfg.camera_by_id(camera),
            };
            // The file name as the camera wrote it: without camvault's `.rN` revision mark.
            let file = m.get("file").map(|f| strip_revision(f)).unwrap_or_default();
            let hour_dir = match (m.get("date"), m.get("hour")) {
                (Some(d), Some(h)) => format!("{}{h}", d.replace('-', "")),
                _ => String::new(),
            };
            let old = ["xiaomi_camera_videos", "000000000000", hour_dir.as_str(), file.as_str()];
            let new = ["XiaomiCamera_00_000000000000", file.as_str()];
            for comps in [&old[..], &new[..]] {
                let bytes: Vec<&[u8]> = comps.iter().map(|c| c.as_bytes()).collect();
                let mut parsed = layout::parse(&bytes);
                if parsed.layout != layout::Layout::Generic {
                    parsed.mac = mac.clone();
                    let span = layout::resolve(&parsed, &cam.tz, modified, now);
                    return Some((parsed, cam, span));
                }
            }
            // Another file name: the hour in the key is better than the upload time.
            let from_key = m.get("date").zip(m.get("hour")).and_then(|(d, h)| {
                let dt: jiff::civil::DateTime = format!("{d}T{h}:00:00").parse().ok()?;
                dt.to_zoned(cam.tz.clone()).ok().map(|z| z.timestamp())
            });
            let comps: Vec<&[u8]> = key.split('/').map(str::as_bytes).collect();
            let parsed = layout::parse(&comps);
            let span = layout::Span {
                start: from_key.unwrap_or(modified),
                end: None,
                warning: None,
            };
            return Some((parsed, cam, span));
        }
    }
    None
}

/// `clip.r2.mp4` → `clip.mp4`.
fn strip_revision(file: &str) -> String {
    if let Some((stem, ext)) = file.rsplit_once('.') {
        if let Some((base, rev)) = stem.rsplit_once(".r") {
            if !rev.is_empty() && rev.bytes().all(|b| b.is_ascii_digit()) {
                return format!("{base}.{ext}");
            }
        }
    }
    file.to_string()
}
