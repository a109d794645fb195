//! ListObjectsV2's request and answer, which S3 and OSS write alike, and one page of a
//! listing as [`super::Backend::list_after`] gives it. Each backend sends the request its
//! own way (signature, errors); what it asks and how it reads the answer are here.

use std::future::Future;

use serde::Deserialize;

use super::{ErrorKind, ObjectMeta, StoreError, StoreResult};

/// Where a ListObjectsV2 page starts: after a continuation token (`list`) or after a key
/// (`list_after`), the one thing in which the two ask differently.
pub type Position<'a> = Option<(&'static str, &'a str)>;

/// The query of one ListObjectsV2 page of `prefix`.
pub fn query<'a>(prefix: &'a str, page_size: &'a str, position: Position<'a>) -> Vec<(&'static str, &'a str)> {
    let mut query = vec![("list-type", "2"), ("prefix", prefix), ("max-keys", page_size)];
    query.extend(position);
    query
}

/// Reads one ListObjectsV2 answer of `store` ("S3", "OSS": named in the error).
pub fn parse_page(text: &str, store: &str) -> StoreResult<ListResult> {
    quick_xml::de::from_str(text).map_err(|e| {
        StoreError::new(
            ErrorKind::Transient,
            format!("list: unreadable answer from {store} ({e})"),
        )
    })
}

/// Every object under a prefix, in key order: asks `page` for the pages one after the
/// other, each after the continuation token of the one before.
pub async fn all<F, Fut>(mut page: F, class: fn(&str) -> &str) -> StoreResult<Vec<ObjectMeta>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = StoreResult<ListResult>>,
{
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let result = page(token.take()).await?;
        out.extend(result.contents.into_iter().map(|c| c.into_meta(class)));
        match (result.is_truncated, result.next_continuation_token) {
            (true, Some(t)) => token = Some(t),
            _ => {
                out.sort_by(|a, b| a.key.cmp(&b.key));
                return Ok(out);
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<ListBucketResult><IsTruncated>TOKEN_MORE</IsTruncated>TOKEN\
        <Contents><Key>KEY</Key><Size>3</Size><StorageClass>Archive</StorageClass></Contents></ListBucketResult>";

    fn page(key: &str, next: Option<&str>) -> String {
        let token = next.map_or(String::new(), |t| {
            format!("<NextContinuationToken>{t}</NextContinuationToken>")
        });
        PAGE.replace("TOKEN_MORE", &next.is_some().to_string())
            .replace("TOKEN", &token)
            .replace("KEY", key)
    }

    /// A page that cannot be read is a transient error naming the store, never a panic or
    /// an empty listing.
    #[test]
    fn an_unreadable_page_names_its_store() {
        let e = parse_page("<ListBucketResult><Contents><Key>a", "OSS").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transient);
        assert!(e.message.contains("unreadable answer from OSS"), "{}", e.message);
        let p = parse_page(&page("v/a.mp4", Some("t1")), "S3").unwrap();
        assert!(p.is_truncated);
        assert_eq!(p.next_continuation_token.as_deref(), Some("t1"));
        assert_eq!(p.contents[0].key, "v/a.mp4");
    }

    /// `all` asks page after page with the token of the one before, and answers every
    /// object in key order.
    #[tokio::test]
    async fn all_follows_the_continuation_tokens() {
        let asked = std::sync::Mutex::new(Vec::new());
        let objects = all(
            |token: Option<String>| {
                asked.lock().unwrap().push(token.clone());
                let text = match token.as_deref() {
                    None => page("v/c.mp4", Some("t1")),
                    Some("t1") => page("v/a.mp4", Some("t2")),
                    _ => page("v/b.mp4", None),
                };
                async move { parse_page(&text, "S3") }
            },
            |class| if class == "Archive" { "ARCHIVE" } else { class },
        )
        .await
        .unwrap();
        assert_eq!(
            *asked.lock().unwrap(),
            [None, Some("t1".to_string()), Some("t2".to_string())]
        );
        let keys: Vec<_> = objects
            .iter()
            .map(|o| (o.key.as_str(), o.storage_class.as_str()))
            .collect();
        assert_eq!(
            keys,
            [("v/a.mp4", "ARCHIVE"), ("v/b.mp4", "ARCHIVE"), ("v/c.mp4", "ARCHIVE")]
        );
    }
}
