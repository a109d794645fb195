//! The bucket's Object Lock, read for `store test` and `doctor` (GetObjectLockConfiguration):
//! S3's counterpart of OSS's bucket WORM.
//!
//! Object Lock can only be enabled on a bucket (at creation, or later on AWS itself); a
//! default retention then locks every new object, or camvault locks each upload itself
//! (`store.s3.object_lock_days`). Read, never changed: a retention cannot be undone, and
//! that is a decision for the bucket's owner in the provider's console.

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::S3Store;
use crate::store::{Code, StoreResult, WormStatus};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct LockConfiguration {
    object_lock_enabled: String,
    rule: Option<LockRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct LockRule {
    default_retention: Retention,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Retention {
    mode: String,
    days: Option<u32>,
    years: Option<u32>,
}

/// What a bucket's Object Lock (`None`: not enabled) means for recordings, given the
/// lock camvault puts on each upload (mode, days).
pub(super) fn describe(conf: Option<&LockConfiguration>, ours: Option<&(String, u32)>) -> WormStatus {
    let enabled = conf.is_some_and(|c| c.object_lock_enabled == "Enabled");
    let default = conf
        .and_then(|c| c.rule.as_ref())
        .map(|r| &r.default_retention)
        .filter(|r| !r.mode.is_empty())
        .map(|r| {
            let span = match (r.days, r.years) {
                (Some(d), _) if d > 0 => format!("{d} days"),
                (_, Some(y)) if y > 0 => format!("{y} years"),
                _ => "an unreadable time".into(),
            };
            format!("{span} ({})", r.mode)
        });
    let (good, line) = match (enabled, default, ours) {
        (false, _, Some((_, days))) => (
            false,
            format!("`store.s3.object_lock_days` = {days}, but the bucket has no Object Lock, so the store will refuse every upload: use a bucket created with Object Lock, or set `store.s3.object_lock_days = 0`"),
        ),
        (false, _, None) => (
            false,
            "no Object Lock: anyone with the key can delete recordings (a bucket created with Object Lock, and `store.s3.object_lock_days`, makes them undeletable)".into(),
        ),
        (true, Some(d), None) => (
            true,
            format!("Object Lock: the bucket's default retention locks each recording for {d} after upload"),
        ),
        (true, Some(d), Some((mode, days))) => (
            true,
            format!("Object Lock: camvault locks each recording for {days} days ({mode}), in place of the bucket's default of {d}"),
        ),
        (true, None, Some((mode, days))) => (
            true,
            format!("Object Lock: camvault locks each recording for {days} days ({mode}) after upload"),
        ),
        (true, None, None) => (
            false,
            "the bucket has Object Lock but no default retention, and `store.s3.object_lock_days` = 0: recordings are not locked; set `store.s3.object_lock_days`".into(),
        ),
    };
    WormStatus::Described { good, line }
}

impl S3Store {
    pub(super) async fn object_lock(&self) -> StoreResult<WormStatus> {
        let what = "reading the bucket's Object Lock";
        let rb = self.request(Method::GET, None, &[("object-lock", "")], &[])?;
        let resp = self.http.send(rb, what).await?;
        let status = resp.status();
        if status.is_success() {
            let text = self.http.text(resp, what).await?;
            let conf: LockConfiguration = quick_xml::de::from_str(&text).unwrap_or_default();
            return Ok(describe(Some(&conf), self.lock.as_ref()));
        }
        let e = self.error(what, "s3:GetBucketObjectLockConfiguration", resp).await;
        if status == StatusCode::NOT_FOUND && e.is(Code::ObjectLockConfigurationNotFound) {
            return Ok(describe(None, self.lock.as_ref()));
        }
        if e.not_implemented() {
            return Ok(WormStatus::Unsupported(
                "the store has no Object Lock: whether recordings can be deleted rests on the access key's permissions"
                    .into(),
            ));
        }
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> LockConfiguration {
        quick_xml::de::from_str(xml).unwrap()
    }

    #[test]
    fn object_lock_in_words() {
        // From the GetObjectLockConfiguration page of the S3 API reference.
        let with_default = parse(
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>60</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
        );
        let bare =
            parse("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>");
        let ours = ("GOVERNANCE".to_string(), 30);
        let line = |s: WormStatus| s.summary();
        let (good, l) = line(describe(Some(&with_default), None));
        assert!(good && l.contains("60 days (COMPLIANCE)"), "{l}");
        let (good, l) = line(describe(Some(&with_default), Some(&ours)));
        assert!(
            good && l.contains("30 days (GOVERNANCE)") && l.contains("default of 60 days"),
            "{l}"
        );
        let (good, l) = line(describe(Some(&bare), Some(&ours)));
        assert!(good && l.contains("30 days (GOVERNANCE)"), "{l}");
        let (good, l) = line(describe(Some(&bare), None));
        assert!(!good && l.contains("store.s3.object_lock_days"), "{l}");
        let (good, l) = line(describe(None, Some(&ours)));
        assert!(!good && l.contains("refuse every upload"), "{l}");
        let (good, l) = line(describe(None, None));
        assert!(!good && l.contains("no Object Lock"), "{l}");
        let years = parse("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>7</Years></DefaultRetention></Rule></ObjectLockConfiguration>");
        assert!(line(describe(Some(&years), None)).1.contains("7 years (GOVERNANCE)"));
    }
}
