//! Key-value slots: small bits of state that must survive restarts (how far a log was read,
//! when the catalog was last backed up, what a periodic check found).
//!
//! Every slot is declared once, with the type of its value and how it is written (plain
//! text or JSON), so that the writer and every reader agree on both: `cat.slot(&slot)` and
//! `cat.set_slot(&slot, &value)`. The slots the catalog itself reads (for `summary`) or that
//! several modules share are declared here; a slot only one higher module uses, with a
//! type of that module, is declared there (`alerts::ACTIVE`, `selfwatch::KEY`), and the
//! test below lists every key so that no two modules pick the same one.
//!
//! The text in the table is what older camvaults wrote: a decimal number, a plain string,
//! or a JSON document. A value that does not parse reads as absent, as it always did.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::str::FromStr;

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Catalog;

/// A slot: its key in the `kv` table and how its value is written there.
pub trait Slot {
    type Value;
    fn key(&self) -> &'static str;
    fn encode(&self, v: &Self::Value) -> Result<String>;
    /// `None` when the text does not parse (treated as an absent value).
    fn decode(&self, text: &str) -> Option<Self::Value>;
}

/// A value written as its `Display` text and read with `FromStr` (numbers, strings).
pub struct TextSlot<T> {
    key: &'static str,
    _t: PhantomData<fn() -> T>,
}

impl<T> TextSlot<T> {
    pub const fn new(key: &'static str) -> Self {
        TextSlot { key, _t: PhantomData }
    }
    /// The key, in a `const` (for code that still writes the raw text).
    pub const fn name(&self) -> &'static str {
        self.key
    }
}

impl<T: FromStr + ToString> Slot for TextSlot<T> {
    type Value = T;
    fn key(&self) -> &'static str {
        self.key
    }
    fn encode(&self, v: &T) -> Result<String> {
        Ok(v.to_string())
    }
    fn decode(&self, text: &str) -> Option<T> {
        text.parse().ok()
    }
}

/// A value written as a JSON document.
pub struct JsonSlot<T> {
    key: &'static str,
    _t: PhantomData<fn() -> T>,
}

impl<T> JsonSlot<T> {
    pub const fn new(key: &'static str) -> Self {
        JsonSlot { key, _t: PhantomData }
    }
    pub const fn name(&self) -> &'static str {
        self.key
    }
}

impl<T: Serialize + DeserializeOwned> Slot for JsonSlot<T> {
    type Value = T;
    fn key(&self) -> &'static str {
        self.key
    }
    fn encode(&self, v: &T) -> Result<String> {
        Ok(serde_json::to_string(v)?)
    }
    fn decode(&self, text: &str) -> Option<T> {
        serde_json::from_str(text).ok()
    }
}

/// The last restore drill (`restore.drill`): fields in the order the JSON has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillRecord {
    pub at_ms: i64,
    /// Why it failed (or the merge error), `None` when it passed.
    pub error: Option<String>,
    /// The clip the drill restored.
    pub key: Option<String>,
    pub ok: bool,
    /// The drill's restore id.
    #[serde(default)]
    pub restore: i64,
}

impl DrillRecord {
    /// What to show beside pass/fail: the error, else the clip.
    pub fn what(&self) -> String {
        self.error.clone().or_else(|| self.key.clone()).unwrap_or_default()
    }
}

/// Stored objects a HEAD still showed in Standard well after the transition age:
/// (how many, one key).
pub type TransitionLate = (u64, Option<String>);

/// When the catalog was last backed up to the store (ms).
pub const BACKUP_LAST_MS: TextSlot<i64> = TextSlot::new("backup.last_ms");
/// Where the scheduled verification goes on (the next file id).
pub const VERIFY_CURSOR: TextSlot<i64> = TextSlot::new("verify.cursor");
/// Objects the scheduled verification found missing or different: key → why.
pub const VERIFY_BAD: JsonSlot<BTreeMap<String, String>> = JsonSlot::new("verify.bad");
/// Objects late to transition, kept by the hourly tiering check.
pub const TRANSITION_LATE: JsonSlot<TransitionLate> = JsonSlot::new("tiering.late");
/// The last restore drill.
pub const DRILL: JsonSlot<DrillRecord> = JsonSlot::new("restore.drill");
/// When `serve` last looked whether a drill is due (ms).
pub const DRILL_TRY_MS: TextSlot<i64> = TextSlot::new("restore.drill_try_ms");
/// The bucket's own numbers from the last hourly check.
pub const STORE_USAGE: JsonSlot<crate::store::usage::BucketUsage> = JsonSlot::new("store.usage");
/// The last alert event sent (an `events` id).
pub const ALERTS_LAST_EVENT: TextSlot<i64> = TextSlot::new("alerts.last_event");
/// How far the Samba audit log was read: `inode:offset`.
pub const AUDIT_POSITION: TextSlot<String> = TextSlot::new("samba.audit.position");
/// When the share last refused a camera's write (ms).
pub const WRITE_REFUSED_MS: TextSlot<i64> = TextSlot::new("samba.write_refused_ms");
/// The highest file id the thumbnailer has looked at.
pub const THUMBS_AFTER_ID: TextSlot<i64> = TextSlot::new("web.thumbs_after_id");
/// The highest file id whose thumbnail is in the store.
pub const THUMBS_UPLOADED_ID: TextSlot<i64> = TextSlot::new("web.thumbs_uploaded_id");

/// Listings `adopt` did not finish: `store\nprefix` → the last key whose page is cataloged.
pub const ADOPT_LISTING: JsonSlot<BTreeMap<String, String>> = JsonSlot::new("adopt.listing");

/// What every health probe's key starts with: `summary` reads them all by this prefix.
pub const PROBE_PREFIX: &str = "probe.";
/// A failing periodic check: what is wrong, `""` once it passes again.
pub type Probe = TextSlot<String>;
/// The bucket's lifecycle rule (`tiers`).
pub const LIFECYCLE_PROBE: Probe = TextSlot::new("probe.lifecycle");
/// Objects in the bucket the catalog does not know, or the reverse (`tiers`).
pub const BUCKET_PROBE: Probe = TextSlot::new("probe.bucket");
/// The share's protection against deletes (`samba::check`).
pub const SHARE_PROBE: Probe = TextSlot::new("probe.share");
/// `serve`'s memory or CPU above the `[health]` limits (`selfwatch`).
pub const RESOURCES_PROBE: Probe = TextSlot::new("probe.resources");
/// The share refused a camera's write (`samba::audit`).
pub const CAMERA_WRITES_PROBE: Probe = TextSlot::new("probe.camera_writes");
/// The index's detector model cannot be used (`index::worker::load_detector`).
pub const DETECTOR_PROBE: Probe = TextSlot::new("probe.detector");

impl Catalog {
    /// The slot's value; `None` when it was never set or does not parse.
    pub fn slot<S: Slot>(&self, slot: &S) -> Result<Option<S::Value>> {
        let c = self.lock();
        Ok(kv_text(&c, slot.key())?.and_then(|t| slot.decode(&t)))
    }

    pub fn set_slot<S: Slot>(&self, slot: &S, value: &S::Value) -> Result<()> {
        let text = slot.encode(value)?;
        self.kv_set(slot.key(), &text)
    }

    /// Empties a slot: it reads as absent (a probe: passing again).
    pub fn clear_slot<S: Slot>(&self, slot: &S) -> Result<()> {
        self.kv_set(slot.key(), "")
    }

    /// The raw text under `key` (for keys that are not a declared slot: none should be).
    pub fn kv_get(&self, key: &str) -> Result<Option<String>> {
        let c = self.lock();
        kv_text(&c, key)
    }

    pub fn kv_set(&self, key: &str, value: &str) -> Result<()> {
        let c = self.lock();
        c.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

/// The raw text under `key`, on a connection the caller already holds.
pub(super) fn kv_text(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(c.prepare_cached("SELECT value FROM kv WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// A slot's value on a connection the caller already holds.
pub(super) fn get_locked<S: Slot>(c: &Connection, slot: &S) -> Result<Option<S::Value>> {
    Ok(kv_text(c, slot.key())?.and_then(|t| slot.decode(&t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        (dir, cat)
    }

    #[test]
    fn every_key_is_declared_once() {
        let keys = [
            BACKUP_LAST_MS.key(),
            VERIFY_CURSOR.key(),
            VERIFY_BAD.key(),
            TRANSITION_LATE.key(),
            DRILL.key(),
            DRILL_TRY_MS.key(),
            STORE_USAGE.key(),
            ALERTS_LAST_EVENT.key(),
            crate::alerts::ACTIVE.key(),
            AUDIT_POSITION.key(),
            WRITE_REFUSED_MS.key(),
            THUMBS_AFTER_ID.key(),
            THUMBS_UPLOADED_ID.key(),
            ADOPT_LISTING.key(),
            crate::selfwatch::KEY.key(),
            LIFECYCLE_PROBE.key(),
            BUCKET_PROBE.key(),
            SHARE_PROBE.key(),
            RESOURCES_PROBE.key(),
            CAMERA_WRITES_PROBE.key(),
            DETECTOR_PROBE.key(),
        ];
        let unique: std::collections::BTreeSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "two slots share a key: {keys:?}");
        let probes = [
            LIFECYCLE_PROBE,
            BUCKET_PROBE,
            SHARE_PROBE,
            RESOURCES_PROBE,
            CAMERA_WRITES_PROBE,
            DETECTOR_PROBE,
        ];
        for p in &probes {
            assert!(p.key().starts_with(PROBE_PREFIX), "{}", p.key());
        }
        for k in keys {
            if !probes.iter().any(|p| p.key() == k) {
                assert!(!k.starts_with(PROBE_PREFIX), "{k} would be read as a health probe");
            }
        }
    }

    #[test]
    fn typed_values_round_trip_in_the_old_text() {
        let (_d, cat) = catalog();
        assert_eq!(cat.slot(&BACKUP_LAST_MS).unwrap(), None, "never set");
        cat.set_slot(&BACKUP_LAST_MS, &1_700_000_000_123).unwrap();
        assert_eq!(cat.slot(&BACKUP_LAST_MS).unwrap(), Some(1_700_000_000_123));
        assert_eq!(
            cat.kv_get("backup.last_ms").unwrap().as_deref(),
            Some("1700000000123"),
            "numbers stay decimal text"
        );
        let bad = BTreeMap::from([("v/a.mp4".to_string(), "missing".to_string())]);
        cat.set_slot(&VERIFY_BAD, &bad).unwrap();
        assert_eq!(cat.slot(&VERIFY_BAD).unwrap(), Some(bad));
        assert_eq!(
            cat.kv_get("verify.bad").unwrap().as_deref(),
            Some(r#"{"v/a.mp4":"missing"}"#)
        );
        cat.set_slot(&TRANSITION_LATE, &(3, Some("v/b.mp4".into()))).unwrap();
        assert_eq!(cat.kv_get("tiering.late").unwrap().as_deref(), Some(r#"[3,"v/b.mp4"]"#));
        cat.set_slot(&LIFECYCLE_PROBE, &"rule missing".to_string()).unwrap();
        assert_eq!(cat.slot(&LIFECYCLE_PROBE).unwrap().as_deref(), Some("rule missing"));
        // Overwritten, not added.
        cat.set_slot(&BACKUP_LAST_MS, &5).unwrap();
        assert_eq!(cat.slot(&BACKUP_LAST_MS).unwrap(), Some(5));
    }

    #[test]
    fn the_drill_record_keeps_the_json_older_camvaults_wrote() {
        let (_d, cat) = catalog();
        // What restore::finish wrote with serde_json::json! (keys sorted).
        let old = serde_json::json!({
            "at_ms": 42, "ok": false, "restore": 7, "key": "v/a.mp4", "error": "crc mismatch",
        });
        cat.kv_set("restore.drill", &old.to_string()).unwrap();
        let d = cat.slot(&DRILL).unwrap().unwrap();
        assert_eq!(
            (d.at_ms, d.ok, d.restore, d.what().as_str()),
            (42, false, 7, "crc mismatch")
        );
        cat.set_slot(&DRILL, &d).unwrap();
        assert_eq!(cat.kv_get("restore.drill").unwrap().unwrap(), old.to_string());
        let passed = DrillRecord { error: None, ..d };
        assert_eq!(passed.what(), "v/a.mp4", "a passed drill shows its clip");
    }

    #[test]
    fn unreadable_values_read_as_absent() {
        let (_d, cat) = catalog();
        cat.kv_set("backup.last_ms", "yesterday").unwrap();
        cat.kv_set("verify.bad", "{not json").unwrap();
        cat.kv_set("restore.drill", r#"{"at_ms": 1}"#).unwrap();
        assert_eq!(cat.slot(&BACKUP_LAST_MS).unwrap(), None);
        assert_eq!(cat.slot(&VERIFY_BAD).unwrap(), None);
        assert_eq!(cat.slot(&DRILL).unwrap(), None, "a record without its fields");
    }
}
