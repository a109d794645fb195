//! Daily manifests: per camera and day, the list of every verified recording, each naming
//! the SHA-256 of the camera's previous manifest.
//!
//! They live in the store beside the recordings (`manifests/{camera}/{date}.jsonl`), so
//! the proof travels with the data: any later change to a manifest breaks the chain, and
//! any lost or altered recording no longer matches its line. A day is written once it is
//! two days old (cameras upload late); recordings of that day that arrive later go into a
//! revision (`{date}.r2.jsonl`), the next link of the chain. Content is deterministic, so
//! a write interrupted by a crash is simply redone.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, ManifestEntry};
use crate::store::{crc_hex, Backend, ErrorKind};
use crate::upload::body::{crc_of_reader, Body};

pub const PREFIX: &str = "manifests/";

#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub camvault_manifest: u32,
    pub camera: String,
    pub date: String,
    pub seq: i64,
    pub prev_sha256: Option<String>,
    pub files: usize,
    /// The day's index objects (issue 15, `src/index/days.rs`); absent in older manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<crate::catalog::index_days::IndexRef>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    pub key: String,
    pub size: u64,
    pub crc64: String,
    pub start: String,
    pub end: Option<String>,
    /// The recording's verified copies in the mirror stores (issue 21) when the manifest
    /// was written; absent in older manifests and without mirrors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<crate::catalog::copies::CopyRef>,
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Writes every manifest that is due; returns how many were written. A day's manifest
/// waits (up to a week) while the indexer has clips of the day queued, and with `index`
/// (the video index is on) while indexed clips of it are in no index object yet
/// (src/index/days.rs): it names the day's index objects.
pub async fn write_due(catalog: &Catalog, store: &dyn Backend, now: jiff::Timestamp, index: bool) -> Result<usize> {
    let entries = catalog.unlisted(now.as_millisecond() - 86_400_000)?;
    // camera → date → entries, dates at least two days old in the camera's zone.
    let mut days: BTreeMap<(String, String), Vec<ManifestEntry>> = BTreeMap::new();
    for e in entries {
        let tz = jiff::tz::TimeZone::get(&e.tz).unwrap_or(jiff::tz::TimeZone::UTC);
        let today = now.to_zoned(tz.clone()).date();
        let Ok(ts) = jiff::Timestamp::from_millisecond(e.start_ms) else {
            continue;
        };
        let date = ts.to_zoned(tz.clone()).date();
        let due = today
            .checked_sub(jiff::Span::new().days(2))
            .is_ok_and(|last| date <= last);
        // The day's index object goes first (the manifest names it): wait a while for an
        // indexer that still has clips of the day queued (src/index/days.rs).
        let waits = || -> Result<bool> {
            let Some((_, from, to, _, overdue)) = crate::index::days::day_of(e.start_ms, &tz, now) else {
                return Ok(false);
            };
            // And for the mirrors' copies of the day (the manifest lists them), as long.
            Ok(!overdue
                && (catalog.index_pending(&e.camera, from, to)? > 0
                    || (index && catalog.index_days_unwritten_in(&e.camera, from, to)?)
                    || catalog.copies_unverified_in(&e.camera, from, to)?))
        };
        if due && !waits()? {
            days.entry((e.camera.clone(), date.to_string())).or_default().push(e);
        }
    }
    let mut written = 0;
    for ((camera, date), files) in days {
        let (seq, prev) = match catalog.last_manifest(&camera)? {
            Some((s, sha)) => (s + 1, Some(sha)),
            None => (1, None),
        };
        let header = Header {
            camvault_manifest: 1,
            camera: camera.clone(),
            date: date.clone(),
            seq,
            prev_sha256: prev.clone(),
            files: files.len(),
            index: catalog.index_days_unlisted(&camera, &date)?,
        };
        let mut text = serde_json::to_string(&header)? + "\n";
        let ids: Vec<i64> = files.iter().map(|f| f.id).collect();
        let mut copies = catalog.verified_copies(&ids)?;
        for f in &files {
            let line = Line {
                key: f.key.clone(),
                size: f.size,
                crc64: f.crc64.clone(),
                start: crate::report::rfc3339(f.start_ms, &f.tz),
                end: f.end_ms.map(|e| crate::report::rfc3339(e, &f.tz)),
                copies: copies.remove(&f.id).unwrap_or_default(),
            };
            text.push_str(&serde_json::to_string(&line)?);
            text.push('\n');
        }
        let sha = hex(&Sha256::digest(text.as_bytes()));
        let key = put_new(
            &|k| catalog.manifest_key_taken(k),
            store,
            &format!("{PREFIX}{camera}/{date}.jsonl"),
            text.as_bytes(),
        )
        .await?;
        catalog.record_manifest(
            &camera,
            &date,
            seq,
            &key,
            &sha,
            prev.as_deref(),
            &ids,
            now.as_millisecond(),
        )?;
        let listed: Vec<String> = header.index.iter().map(|r| r.key.clone()).collect();
        catalog.index_days_listed(&listed, &key)?;
        tracing::info!(%key, files = ids.len(), "manifest written");
        written += 1;
    }
    Ok(written)
}

/// Stores `bytes` under `base` or its first free revision (`taken`: the catalog knows the
/// key already); a leftover of a crashed write with the same bytes is accepted.
pub async fn put_new(
    taken: &(dyn Fn(&str) -> Result<bool> + Sync),
    store: &dyn Backend,
    base: &str,
    bytes: &[u8],
) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let tmp = dir.path().join("manifest");
    std::fs::write(&tmp, bytes)?;
    let mut crc = crc64fast::Digest::new();
    crc.write(bytes);
    let want = crc_hex(crc.sum64());
    for rev in 1..1000 {
        let key = crate::keys::revision_key(base, rev);
        if taken(&key)? {
            continue;
        }
        let mut body = Body::open(&tmp, bytes.len() as u64, None).await?;
        match store.put(&key, &mut body, "Standard").await {
            Ok(()) => return Ok(key),
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                let head = store.head(&key).await.map_err(|e| anyhow!("{e}"))?;
                if head.is_some_and(|h| h.crc64.as_deref() == Some(want.as_str())) {
                    return Ok(key);
                }
            }
            Err(e) => return Err(anyhow!("writing {key}: {e}")),
        }
    }
    Err(anyhow!("no free key for {base}"))
}

/// Reads an object whole (manifests are small).
pub async fn read_all(store: &dyn Backend, key: &str) -> Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut r = store.get(key).await.map_err(|e| anyhow!("reading {key}: {e}"))?;
    let mut buf = Vec::new();
    r.read_to_end(&mut buf).await?;
    Ok(buf)
}

/// A parsed manifest with its own hash.
pub struct Manifest {
    pub key: String,
    pub sha256: String,
    pub header: Header,
    pub lines: Vec<Line>,
}

pub fn parse(key: &str, bytes: &[u8]) -> Result<Manifest> {
    let text = std::str::from_utf8(bytes).with_context(|| format!("{key} is not UTF-8"))?;
    let mut it = text.lines();
    let header: Header = serde_json::from_str(it.next().unwrap_or("")).with_context(|| format!("{key}: bad header"))?;
    let lines = it
        .map(|l| serde_json::from_str(l).with_context(|| format!("{key}: bad line {l:?}")))
        .collect::<Result<Vec<Line>>>()?;
    Ok(Manifest {
        key: key.into(),
        sha256: hex(&Sha256::digest(bytes)),
        header,
        lines,
    })
}

/// Every manifest in the store, by camera, in chain order.
pub async fn load_all(store: &dyn Backend) -> Result<BTreeMap<String, Vec<Manifest>>> {
    let mut out: BTreeMap<String, Vec<Manifest>> = BTreeMap::new();
    for o in store
        .list(PREFIX)
        .await
        .map_err(|e| anyhow!("listing manifests: {e}"))?
    {
        let m = parse(&o.key, &read_all(store, &o.key).await?)?;
        out.entry(m.header.camera.clone()).or_default().push(m);
    }
    for list in out.values_mut() {
        list.sort_by_key(|m| m.header.seq);
    }
    Ok(out)
}

/// Checks the chains and every listed object, and each listed copy in the mirror of that
/// name in `mirrors` (a copy in a store no longer configured is not checked); returns the
/// problems found.
pub async fn verify(
    store: &dyn Backend,
    mirrors: &[(String, std::sync::Arc<dyn Backend>)],
    deep: bool,
) -> Result<(usize, Vec<String>)> {
    let all = load_all(store).await?;
    let mut problems = Vec::new();
    let mut checked = 0;
    for (camera, list) in &all {
        let mut prev: Option<&Manifest> = None;
        for (i, m) in list.iter().enumerate() {
            if m.header.seq != i as i64 + 1 {
                problems.push(format!(
                    "{camera}: manifest number {} is missing (found {} at {})",
                    i + 1,
                    m.header.seq,
                    m.key
                ));
            }
            let want_prev = prev.map(|p| p.sha256.clone());
            if m.header.prev_sha256 != want_prev {
                problems.push(format!("{}: the chain is broken: it names {:?} as the previous manifest's SHA-256, which is {:?}; a manifest before it was changed or removed", m.key, m.header.prev_sha256, want_prev));
            }
            if m.header.files != m.lines.len() {
                problems.push(format!(
                    "{}: header says {} files, lists {}",
                    m.key,
                    m.header.files,
                    m.lines.len()
                ));
            }
            // The day's index objects it names (issue 15): present and unchanged.
            for r in &m.header.index {
                checked += 1;
                match store.head(&r.key).await {
                    Ok(Some(h)) if h.size == r.size && h.crc64.as_deref().is_none_or(|c| c == r.crc64) => {}
                    Ok(Some(h)) => problems.push(format!(
                        "index object {} differs from {} ({} bytes, CRC-64 {:?}; listed {} bytes, {})",
                        r.key, m.key, h.size, h.crc64, r.size, r.crc64
                    )),
                    Ok(None) => problems.push(format!(
                        "index object {} is named in {} but missing from the store",
                        r.key, m.key
                    )),
                    Err(e) => problems.push(format!("{}: cannot check: {e}", r.key)),
                }
            }
            for l in &m.lines {
                checked += 1;
                match store.head(&l.key).await {
                    Ok(None) => problems.push(format!("{} is listed in {} but missing from the store", l.key, m.key)),
                    Ok(Some(h)) if h.size != l.size || h.crc64.as_deref().is_some_and(|c| c != l.crc64) => problems
                        .push(format!(
                            "{} differs from {} ({} bytes, CRC-64 {:?}; listed {} bytes, {})",
                            l.key, m.key, h.size, h.crc64, l.size, l.crc64
                        )),
                    Ok(Some(_)) if deep => match store.get(&l.key).await {
                        Ok(r) => match crc_of_reader(r).await {
                            Ok((crc, n)) if n == l.size && crc_hex(crc) == l.crc64 => {}
                            Ok((crc, n)) => problems.push(format!(
                                "{}: bytes differ from {} ({n} bytes, {})",
                                l.key,
                                m.key,
                                crc_hex(crc)
                            )),
                            Err(e) => problems.push(format!("{}: {e}", l.key)),
                        },
                        Err(e) => problems.push(format!("{}: {e}", l.key)),
                    },
                    Ok(Some(_)) => {}
                    Err(e) => problems.push(format!("{}: cannot check: {e}", l.key)),
                }
                for c in &l.copies {
                    let Some((_, mirror)) = mirrors.iter().find(|(n, _)| *n == c.store) else {
                        continue;
                    };
                    checked += 1;
                    if let Some(p) = crate::verify::check_object(&**mirror, &c.key, l.size, &l.crc64, deep).await {
                        problems.push(format!("{} in mirror {:?}: {p} (listed in {})", c.key, c.store, m.key));
                    }
                }
            }
            prev = Some(m);
        }
    }
    Ok((checked, problems))
}
