//! Verification of stored objects: one object at a time (shared by `camvault verify`),
//! and the schedule `serve` runs so that every object is checked within
//! `verify.period_days` and a few are re-read byte for byte every day.

use anyhow::Result;

use crate::catalog::{kv, Catalog, FileRow};
use crate::store::{crc_hex, Backend};
use crate::upload::body::crc_of_reader;

/// Why `row`'s object does not match the catalog, or `None` when it does. `deep` re-reads
/// the bytes (only possible for objects not in an archive class).
/// The storage class HEAD reports is recorded in the catalog on the way (lifecycle rules
/// move objects without telling anyone).
pub async fn check_and_record(
    catalog: &Catalog,
    store: &dyn Backend,
    row: &FileRow,
    deep: bool,
) -> Result<Option<String>> {
    let head = store.head(&row.key).await;
    if let Ok(Some(h)) = &head {
        catalog.set_storage_class(&row.key, &h.storage_class)?;
    }
    Ok(check_head(
        store,
        &row.key,
        row.size,
        row.crc64.as_deref().unwrap_or_default(),
        deep,
        head,
    )
    .await)
}

/// Why the object `key` in `store` is not `size` bytes with CRC-64 `want`, or `None` when
/// it is (`deep`: the bytes read back, where the class allows). A problem starting with
/// "cannot" means the store did not answer: no verdict. Each mirror's copies are checked
/// with it too (`mirror::check`).
pub async fn check_object(store: &dyn Backend, key: &str, size: u64, want: &str, deep: bool) -> Option<String> {
    let head = store.head(key).await;
    check_head(store, key, size, want, deep, head).await
}

async fn check_head(
    store: &dyn Backend,
    key: &str,
    size: u64,
    want: &str,
    deep: bool,
    head: crate::store::StoreResult<Option<crate::store::ObjectMeta>>,
) -> Option<String> {
    match head {
        Err(e) => Some(format!("cannot check: {e}")),
        Ok(None) => Some("missing from the store".to_string()),
        Ok(Some(h)) if h.size != size => Some(format!("size {} in the store, {size} expected", h.size)),
        Ok(Some(h)) if h.damaged.is_some() => h.damaged,
        Ok(Some(h)) if h.crc64.as_deref().is_some_and(|c| c != want) => Some(format!(
            "checksum {} in the store, {want} expected",
            h.crc64.unwrap_or_default()
        )),
        Ok(Some(h)) if deep && h.storage_class.eq_ignore_ascii_case("standard") => match store.get(key).await {
            Err(e) => Some(format!("cannot read back: {e}")),
            Ok(r) => match crc_of_reader(r).await {
                Err(e) => Some(format!("read back failed: {e}")),
                Ok((crc, n)) if n != size || crc_hex(crc) != want => Some(format!(
                    "bytes differ: read {n} bytes with checksum {}, expected {want}",
                    crc_hex(crc)
                )),
                Ok(_) => None,
            },
        },
        Ok(Some(_)) => None,
    }
}

/// One scheduled slice: the next `batch` objects by id (wrapping around), plus `sample`
/// random ones re-read. Mismatches become events (alerted once) and stay in `verify.bad`
/// (a health problem) until a later check finds the object right.
pub async fn scheduled(catalog: &Catalog, store: &dyn Backend, batch: usize, sample: usize) -> Result<(usize, usize)> {
    let cursor = catalog.slot(&kv::VERIFY_CURSOR)?.unwrap_or(0);
    let mut rows = catalog.stored_after(cursor, batch)?;
    if rows.is_empty() && cursor > 0 {
        rows = catalog.stored_after(0, batch)?;
    }
    let next = rows.last().map_or(0, |r| r.id);
    let mut deep_rows = Vec::new();
    if sample > 0 {
        deep_rows = catalog.random_stored(sample)?;
    }
    let mut bad = catalog.slot(&kv::VERIFY_BAD)?.unwrap_or_default();
    let (mut checked, mut found) = (0, 0);
    for (row, deep) in rows
        .iter()
        .map(|r| (r, false))
        .chain(deep_rows.iter().map(|r| (r, true)))
    {
        checked += 1;
        match check_and_record(catalog, store, row, deep).await? {
            Some(p) if p.starts_with("cannot") => {} // the store is away: not a verdict
            Some(p) => {
                found += 1;
                if bad.insert(row.key.clone(), p.clone()).is_none() {
                    catalog.record_event("verify_mismatch", &format!("{}: {p}", row.key))?;
                }
            }
            None => {
                bad.remove(&row.key);
            }
        }
    }
    catalog.set_slot(&kv::VERIFY_BAD, &bad)?;
    catalog.set_slot(&kv::VERIFY_CURSOR, &next)?;
    Ok((checked, found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::StoredFile;
    use crate::store::fs::FsStore;
    use crate::upload::body::Body;

    #[tokio::test]
    async fn scheduled_pass_finds_and_forgets_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        std::fs::create_dir_all(&root).unwrap();
        let store = FsStore::new(&root, false);
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        for i in 0..3u8 {
            let src = dir.path().join(format!("f{i}"));
            std::fs::write(&src, vec![i; 1000]).unwrap();
            let key = format!("videos/cam/{i}.mp4");
            let mut body = Body::open(&src, 1000, None).await.unwrap();
            store.put(&key, &mut body, "Standard").await.unwrap();
            let crc = crc_hex(body.crc64());
            let row = StoredFile {
                camera: "cam",
                mac: None,
                tz: "UTC",
                key: &key,
                layout: "generic",
                channel: None,
                start_ms: 0,
                end_ms: None,
                size: 1000,
                crc64: Some(&crc),
                storage_class: "Standard",
                warning: None,
                now_ms: 0,
            };
            cat.insert_adopted(&row).unwrap();
        }
        assert_eq!(scheduled(&cat, &store, 10, 0).await.unwrap(), (3, 0));
        // Same size, other bytes: only a deep read sees it; a shorter file HEAD sees.
        std::fs::write(root.join("videos/cam/1.mp4"), vec![9u8; 999]).unwrap();
        let (_, bad) = scheduled(&cat, &store, 10, 0).await.unwrap();
        assert_eq!(bad, 1);
        let s = cat.summary().unwrap();
        assert!(s.verify_bad.contains_key("videos/cam/1.mp4"));
        assert_eq!(cat.events_after(0).unwrap().len(), 1, "alerted once");
        scheduled(&cat, &store, 10, 0).await.unwrap();
        assert_eq!(cat.events_after(0).unwrap().len(), 1, "not again while it stays");
        std::fs::write(root.join("videos/cam/1.mp4"), vec![1u8; 1000]).unwrap();
        scheduled(&cat, &store, 10, 0).await.unwrap();
        assert!(
            cat.summary().unwrap().verify_bad.is_empty(),
            "cleared once it checks out"
        );
        // A deep sample re-reads bytes of Standard objects.
        std::fs::write(root.join("videos/cam/2.mp4"), vec![7u8; 1000]).unwrap();
        assert!(scheduled(&cat, &store, 0, 20).await.unwrap().1 > 0);
    }
}
