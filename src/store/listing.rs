//! ListObjectsV2's answer, which S3 and OSS write alike, and one page of a listing as
//! [`super::Backend::list_after`] gives it.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResult {
    #[serde(default)]
    pub contents: Vec<Contents>,
    #[serde(default)]
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contents {
    pub key: String,
    pub size: u64,
    pub storage_class: Option<String>,
    pub last_modified: Option<String>,
}

impl Contents {
    /// What a listing tells of an object: no checksum, no restore state; `class` turns
    /// the listed storage class (absent: Standard) into camvault's name.
    pub fn into_meta(self, class: fn(&str) -> &str) -> super::ObjectMeta {
        super::ObjectMeta {
            storage_class: class(self.storage_class.as_deref().unwrap_or("Standard")).to_string(),
            modified_ms: self
                .last_modified
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map_or(0, |t| t.as_millisecond()),
            key: self.key,
            size: self.size,
            crc64: None,
            restore: Default::default(),
            transition_ms: None,
            damaged: None,
        }
    }
}

/// One page of a listing: keys after the `start-after` key, in key order.
#[derive(Debug, Default)]
pub struct ListPage {
    pub objects: Vec<super::ObjectMeta>,
    /// More keys follow the last one of this page.
    pub more: bool,
}

impl ListResult {
    /// This answer as a page. A truncated answer without keys would have the caller ask for
    /// the same page again forever: it ends the listing instead.
    pub fn into_page(self, class: fn(&str) -> &str) -> ListPage {
        let more = self.is_truncated && !self.contents.is_empty();
        let mut objects: Vec<_> = self.contents.into_iter().map(|c| c.into_meta(class)).collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        ListPage { objects, more }
    }
}
