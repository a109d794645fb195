//! Storage classes: camvault's names (Aliyun OSS's: `IA`, `DeepColdArchive`, …, used by
//! the config, the catalog and the cost model) and S3's (`STANDARD_IA`, `DEEP_ARCHIVE`, …).

use std::fmt;
use std::str::FromStr;

/// One storage class of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StorageClass {
    Standard,
    Ia,
    Archive,
    ColdArchive,
    DeepColdArchive,
}

impl StorageClass {
    /// From the cheapest to reach to the cheapest to keep.
    pub const ALL: [StorageClass; 5] = [
        StorageClass::Standard,
        StorageClass::Ia,
        StorageClass::Archive,
        StorageClass::ColdArchive,
        StorageClass::DeepColdArchive,
    ];

    /// camvault's name, which is OSS's (`x-oss-storage-class`).
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "Standard",
            StorageClass::Ia => "IA",
            StorageClass::Archive => "Archive",
            StorageClass::ColdArchive => "ColdArchive",
            StorageClass::DeepColdArchive => "DeepColdArchive",
        }
    }

    /// OSS's name (`x-oss-storage-class`, lifecycle rules): camvault's own.
    pub fn oss_name(self) -> &'static str {
        self.as_str()
    }

    /// S3's name. `Archive` ↔ `GLACIER_IR` is the odd pair: Glacier Instant Retrieval
    /// needs no restore (the `s3` backend reports such objects as readable).
    pub fn s3_name(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::Ia => "STANDARD_IA",
            StorageClass::Archive => "GLACIER_IR",
            StorageClass::ColdArchive => "GLACIER",
            StorageClass::DeepColdArchive => "DEEP_ARCHIVE",
        }
    }

    /// A class by camvault's (OSS's) name.
    pub fn from_name(s: &str) -> Option<StorageClass> {
        StorageClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// A class by S3's name.
    pub fn from_s3_name(s: &str) -> Option<StorageClass> {
        StorageClass::ALL.into_iter().find(|c| c.s3_name() == s)
    }

    /// Whether its objects must be restored before they can be read (on OSS; see
    /// [`StorageClass::s3_name`] for S3's `GLACIER_IR`).
    pub fn is_archive(self) -> bool {
        matches!(
            self,
            StorageClass::Archive | StorageClass::ColdArchive | StorageClass::DeepColdArchive
        )
    }

    /// Whether its objects must be restored before they can be read on S3, where
    /// `Archive` is Glacier Instant Retrieval, read at once.
    pub fn s3_needs_restore(self) -> bool {
        self.is_archive() && self != StorageClass::Archive
    }

    /// Zone-redundant (ZRS) buckets cannot hold it: it needs a locally redundant bucket.
    pub fn needs_lrs(self) -> bool {
        matches!(self, StorageClass::ColdArchive | StorageClass::DeepColdArchive)
    }
}

impl fmt::Display for StorageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StorageClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StorageClass::from_name(s).ok_or_else(|| "use Standard, IA, Archive, ColdArchive or DeepColdArchive".into())
    }
}

/// `store.storage_class`: what uploads are written in. Standard only (S3's `STANDARD`
/// spelling too): the lifecycle rule moves objects on.
pub(super) fn upload_class(s: &str) -> Result<StorageClass, String> {
    match s {
        "Standard" | "STANDARD" => Ok(StorageClass::Standard),
        _ => Err("upload in Standard and let the lifecycle rule move objects; writing straight into an archive class costs far more per request".into()),
    }
}

/// `tiering.storage_class`: where the lifecycle rule moves recordings; not Standard.
pub(super) fn archive_class(s: &str) -> Result<StorageClass, String> {
    match StorageClass::from_name(s) {
        Some(StorageClass::Standard) | None => Err("use IA, Archive, ColdArchive or DeepColdArchive".into()),
        Some(c) => Ok(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_both_ways() {
        for c in StorageClass::ALL {
            assert_eq!(StorageClass::from_name(c.as_str()), Some(c));
            assert_eq!(StorageClass::from_s3_name(c.s3_name()), Some(c));
            assert_eq!(c.oss_name(), c.as_str());
        }
        assert_eq!(StorageClass::DeepColdArchive.s3_name(), "DEEP_ARCHIVE");
        assert_eq!(StorageClass::from_s3_name("GLACIER"), Some(StorageClass::ColdArchive));
        assert_eq!(
            StorageClass::from_name("DEEP_ARCHIVE"),
            None,
            "S3's names are not camvault's"
        );
        let archive: Vec<_> = StorageClass::ALL.into_iter().filter(|c| c.is_archive()).collect();
        assert_eq!(
            archive,
            [
                StorageClass::Archive,
                StorageClass::ColdArchive,
                StorageClass::DeepColdArchive
            ]
        );
    }

    #[test]
    fn upload_and_archive_classes() {
        assert_eq!(upload_class("STANDARD"), Ok(StorageClass::Standard));
        assert!(upload_class("DeepColdArchive")
            .unwrap_err()
            .contains("upload in Standard"));
        assert_eq!(archive_class("ColdArchive"), Ok(StorageClass::ColdArchive));
        assert!(archive_class("Standard").is_err());
        assert!(archive_class("GLACIER").is_err());
    }
}
