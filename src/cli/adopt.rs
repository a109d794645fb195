//! `camvault adopt`: catalogs recordings that are already in the bucket.
//!
//! The user's months of clips were put there by an ossfs mount in the camera's own
//! folder layout, under whatever prefix the share was (`camera_videos/…`). adopt lists the
//! bucket and reads every key as capture reads a path in the inbox: [`crate::recordings`]
//! finds the camera folder in any tail of the key and the layout parser gives camera
//! (MAC → configured name), lens and start/end in the camera's zone. Each recording is
//! recorded as verified (size from the listing, CRC-64 from HEAD) without downloading or
//! uploading anything, so that status, verify, lifecycle and restore cover them; the prefix
//! it was found under is remembered so that `lifecycle` keeps it under a rule. Keys stay as
//! they are. Names that do not parse are still adopted, timed by their upload time, and
//! listed with the reason. Objects that are not recordings (other people's files beside
//! the camera folders, directory markers) are left alone. Running it again adds only what
//! is new. `adopt --check` compares a full listing with the catalog and exits 1 on any
//! difference.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use futures_util::StreamExt;

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
}

impl Adopted {
    fn print(&self) {
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

/// Adopts every recording under `prefix` that is not yet cataloged.
pub async fn adopt_listing(
    cfg: &Config,
    cat: &Catalog,
    store: &dyn crate::store::Backend,
    prefix: &str,
    dry_run: bool,
) -> Result<Adopted> {
    let objects = store.list(prefix).await.map_err(|e| {
        anyhow!("listing the bucket under {prefix:?} failed: {e}\nnothing of this listing was recorded; run `camvault adopt` again once the store answers")
    })?;
    let template = cfg.store.key_template.clone();
    let known_keys: HashSet<String> = cat.all_keys()?.into_iter().map(|(k, _, _)| k).collect();
    let now = jiff::Timestamp::now();
    let mut n = Adopted::default();
    let mut todo = Vec::new();
    for o in objects {
        let r = match classify(cfg, &template, &o, now) {
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
        // A warning and the upload time as start: the name gave no usable time.
        if let (Some(w), true) = (&r.span.warning, start == o.modified_ms) {
            n.odd.push((o.key.clone(), w.clone()));
        }
        if known_keys.contains(&o.key) {
            n.known += 1;
            continue;
        }
        if !dry_run && r.adopted_prefix {
            cat.add_recording_prefix(&r.prefix, &r.cam.id, now.as_millisecond())?;
        }
        todo.push((o, r));
    }
    if dry_run {
        return Ok(n);
    }
    // HEAD gives the CRC-64 a listing lacks; without it `verify` could not check.
    let mut heads = futures_util::stream::iter(todo.into_iter().map(|(o, r)| async move {
        let h = store.head(&o.key).await;
        (o, r, h)
    }))
    .buffer_unordered(CONCURRENT_HEADS);
    while let Some((o, r, head)) = heads.next().await {
        let crc = match head {
            Ok(Some(h)) => h.crc64,
            Ok(None) => continue, // deleted meanwhile
            Err(e) => {
                eprintln!("cannot read {}: {e}", o.key);
                n.failed += 1;
                continue;
            }
        };
        let mut warnings: Vec<String> = r.span.warning.clone().into_iter().collect();
        if o.size == 0 {
            warnings.push("empty file (0 bytes)".into());
        }
        let warning = (!warnings.is_empty()).then(|| warnings.join("; "));
        let row = StoredFile {
            camera: &r.cam.id,
            mac: r.parsed.mac.as_deref(),
            tz: &r.cam.tz_name,
            key: &o.key,
            layout: r.parsed.layout.as_str(),
            channel: r.parsed.channel.as_deref(),
            start_ms: r.span.start.as_millisecond(),
            end_ms: r.span.end.map(|e| e.as_millisecond()),
            size: o.size,
            crc64: crc.as_deref(),
            storage_class: &o.storage_class,
            warning: warning.as_deref(),
            now_ms: now.as_millisecond(),
        };
        if cat.insert_adopted(&row)?.is_some() {
            n.added += 1;
        } else {
            n.known += 1;
        }
    }
    Ok(n)
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
