//! The bucket's own numbers: objects and bytes by storage class, as the store counts them
//! (OSS GetBucketStat, <https://www.alibabacloud.com/help/en/oss/developer-reference/getbucketstat>)
//! or as a full listing sums them (S3, fs). The hourly tiering check keeps the last one in
//! the catalog (`store.usage`), where `status` and `/metrics` show it beside the catalog's.
//!
//! GetBucketStat is not real time: Aliyun says its figures may lag by more than an hour, so
//! it is shown, never compared key by key; the comparison with the catalog uses a listing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    /// "GetBucketStat" or "listing".
    pub source: String,
    /// When the store's figures were taken (GetBucketStat's LastModifiedTime), ms.
    pub as_of_ms: i64,
    pub objects: u64,
    pub bytes: u64,
    /// camvault's class name → (objects, bytes; the real size, not the 64 KB-minimum billed one).
    pub classes: BTreeMap<String, (u64, u64)>,
}

/// A listing's sums.
pub fn from_listing(objects: &[super::ObjectMeta], now_ms: i64) -> BucketUsage {
    let mut u = BucketUsage {
        source: "listing".into(),
        as_of_ms: now_ms,
        ..Default::default()
    };
    for o in objects {
        u.objects += 1;
        u.bytes += o.size;
        let e = u.classes.entry(o.storage_class.clone()).or_default();
        e.0 += 1;
        e.1 += o.size;
    }
    u
}

/// OSS GetBucketStat's `<BucketStat>`.
pub fn parse_oss_stat(xml: &str) -> Result<BucketUsage, String> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Stat {
        storage: u64,
        object_count: u64,
        last_modified_time: i64,
        standard_storage: u64,
        standard_object_count: u64,
        infrequent_access_real_storage: u64,
        infrequent_access_object_count: u64,
        archive_real_storage: u64,
        archive_object_count: u64,
        cold_archive_real_storage: u64,
        cold_archive_object_count: u64,
        deep_cold_archive_real_storage: u64,
        deep_cold_archive_object_count: u64,
    }
    let s: Stat = quick_xml::de::from_str(xml).map_err(|e| format!("unreadable GetBucketStat answer: {e}"))?;
    let mut classes = BTreeMap::new();
    for (class, n, b) in [
        ("Standard", s.standard_object_count, s.standard_storage),
        ("IA", s.infrequent_access_object_count, s.infrequent_access_real_storage),
        ("Archive", s.archive_object_count, s.archive_real_storage),
        ("ColdArchive", s.cold_archive_object_count, s.cold_archive_real_storage),
        (
            "DeepColdArchive",
            s.deep_cold_archive_object_count,
            s.deep_cold_archive_real_storage,
        ),
    ] {
        if n > 0 || b > 0 {
            classes.insert(class.to_string(), (n, b));
        }
    }
    Ok(BucketUsage {
        source: "GetBucketStat".into(),
        as_of_ms: s.last_modified_time * 1000,
        objects: s.object_count,
        bytes: s.storage,
        classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like the example answer in Aliyun's GetBucketStat reference.
    const STAT: &str = "<BucketStat><Storage>1600</Storage><ObjectCount>230</ObjectCount><MultipartUploadCount>40</MultipartUploadCount>\
<LiveChannelCount>4</LiveChannelCount><LastModifiedTime>1643341269</LastModifiedTime><StandardStorage>430</StandardStorage>\
<StandardObjectCount>66</StandardObjectCount><InfrequentAccessStorage>2359296</InfrequentAccessStorage>\
<InfrequentAccessRealStorage>360</InfrequentAccessRealStorage><InfrequentAccessObjectCount>54</InfrequentAccessObjectCount>\
<ArchiveStorage>2949120</ArchiveStorage><ArchiveRealStorage>450</ArchiveRealStorage><ArchiveObjectCount>74</ArchiveObjectCount>\
<ColdArchiveStorage>2359296</ColdArchiveStorage><ColdArchiveRealStorage>360</ColdArchiveRealStorage><ColdArchiveObjectCount>36</ColdArchiveObjectCount>\
<DeepColdArchiveStorage>0</DeepColdArchiveStorage><DeepColdArchiveRealStorage>0</DeepColdArchiveRealStorage><DeepColdArchiveObjectCount>0</DeepColdArchiveObjectCount></BucketStat>";

    #[test]
    fn reads_the_documented_answer() {
        let u = parse_oss_stat(STAT).unwrap();
        assert_eq!((u.objects, u.bytes, u.as_of_ms), (230, 1600, 1_643_341_269_000));
        assert_eq!(u.classes["Standard"], (66, 430));
        assert_eq!(
            u.classes["IA"],
            (54, 360),
            "real size, not the 64 KB-minimum billed one"
        );
        assert!(!u.classes.contains_key("DeepColdArchive"));
    }
}
