//! OSS's multipart requests, for the shared flow (`store::multipart`: resume, journal,
//! cleanup).
//!
//! InitiateMultipartUpload (`POST ?uploads`) carries the storage class and
//! `x-oss-forbid-overwrite: true`; the journal records each part with its CRC-64. Every
//! UploadPart answer's `x-oss-hash-crc64ecma` must equal the CRC-64 of the bytes sent. A
//! held part is kept when its size and CRC-64 (from ListParts, else the journal's) match
//! the local bytes. CompleteMultipartUpload carries `x-oss-forbid-overwrite: true` (an
//! existing key answers FileAlreadyExists), and the object's `x-oss-hash-crc64ecma` must be
//! the CRC-64 of the whole file.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tracing::warn;

use super::{crc_from_header, OssStore};
use crate::store::body::Body;
use crate::store::multipart::{Held, Multipart, Parts};
use crate::store::transfer::{digest_file, Digests};
use crate::store::{crc_hex, ErrorKind, PartDone, StoreError, StoreResult};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListPartsResult {
    #[serde(default)]
    part: Vec<PartItem>,
    #[serde(default)]
    is_truncated: bool,
    next_part_number_marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PartItem {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
    size: u64,
    /// Decimal, as in the `x-oss-hash-crc64ecma` header.
    hash_crc64ecma: Option<String>,
}

pub(super) fn parse_list_parts(xml: &str) -> Result<(Parts, Option<String>), quick_xml::DeError> {
    let page: ListPartsResult = quick_xml::de::from_str(xml)?;
    let parts = page
        .part
        .into_iter()
        .map(|p| {
            let crc64 = p.hash_crc64ecma.and_then(|c| c.trim().parse::<u64>().ok()).map(crc_hex);
            (
                p.part_number,
                Held {
                    size: p.size,
                    etag: p.etag,
                    crc64,
                },
            )
        })
        .collect();
    let next = page.next_part_number_marker.filter(|_| page.is_truncated);
    Ok((parts, next))
}

/// Whether a part OSS holds is the local one: same size, and the same CRC-64 (from
/// ListParts, else from the journal, which recorded it once OSS had confirmed it).
fn keep(held: &Held, size: u64, crc: &str, journaled: Option<&PartDone>) -> bool {
    if held.size != size {
        return false;
    }
    match &held.crc64 {
        Some(c) => c == crc,
        None => journaled.is_some_and(|j| j.etag == held.etag && j.checksum.as_deref() == Some(crc)),
    }
}

#[async_trait]
impl Multipart for OssStore {
    fn name(&self) -> &'static str {
        "OSS"
    }

    fn part_size(&self) -> (u64, &'static str) {
        (self.part_size, "store.oss.part_size_mb")
    }

    async fn digest(&self, body: &Body, part_size: u64) -> StoreResult<Digests> {
        digest_file(body.path(), body.len(), part_size, false, None).await
    }

    async fn create(&self, key: &str, class: &str, _d: &Digests) -> StoreResult<String> {
        let what = format!("PUT {key} (starting a multipart upload)");
        let headers = [
            ("content-type", "application/octet-stream"),
            ("x-oss-forbid-overwrite", "true"),
            ("x-oss-storage-class", class),
        ];
        let rb = self.request(Method::POST, Some(key), &[("uploads", "")], &headers);
        let resp = self.http.send(rb, &what).await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, resp).await);
        }
        let text = self.http.text(resp, &what).await?;
        crate::store::multipart::parse_upload_id(&text, &what)
    }

    /// NotFound (NoSuchUpload) when the upload is gone.
    async fn list_parts(&self, key: &str, upload_id: &str) -> StoreResult<Option<Parts>> {
        let what = format!("listing the parts of {key}");
        let mut out = BTreeMap::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![("max-parts", "1000"), ("uploadId", upload_id)];
            if !marker.is_empty() {
                query.push(("part-number-marker", marker.as_str()));
            }
            let resp = self
                .http
                .send(self.request(Method::GET, Some(key), &query, &[]), &what)
                .await?;
            if !resp.status().is_success() {
                return Err(self.error(&what, resp).await);
            }
            let text = self.http.text(resp, &what).await?;
            let (parts, next) = parse_list_parts(&text).map_err(|e| {
                // Answered, but not with what camvault needs (a field missing): asked
                // again a few times, then the upload starts over (`multipart::upload`).
                StoreError::answered(
                    ErrorKind::Transient,
                    200,
                    None,
                    "",
                    format!("{what}: unreadable answer ({e})"),
                )
            })?;
            out.extend(parts);
            match next {
                Some(m) if m != marker => marker = m,
                _ => return Ok(Some(out)),
            }
        }
    }

    fn keep(&self, held: &Held, i: usize, size: u64, d: &Digests, journaled: Option<&PartDone>) -> bool {
        keep(held, size, &crc_hex(d.part_crcs[i]), journaled)
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        i: usize,
        body: &mut Body,
        size: u64,
        d: &Digests,
    ) -> StoreResult<(String, Option<String>)> {
        let part = i + 1;
        let what = format!("PUT {key} part {part}");
        let crc = crc_hex(d.part_crcs[i]);
        let number = part.to_string();
        let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
        let rb = self.request(Method::PUT, Some(key), &query, &[]);
        let resp = self.http.send_body(rb, body, size, &what).await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, resp).await);
        }
        let Some(etag) = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
        else {
            return Err(StoreError::new(
                ErrorKind::Transient,
                format!("{what}: OSS answered without an ETag"),
            ));
        };
        match crc_from_header(resp.headers().get("x-oss-hash-crc64ecma")) {
            Some(theirs) if theirs != crc => Err(StoreError::new(
                ErrorKind::Transient,
                format!("{what}: OSS stored bytes with CRC-64 {theirs}, camvault sent {crc}: damaged on the way"),
            )),
            _ => Ok((etag, Some(crc))),
        }
    }

    async fn complete(&self, key: &str, upload_id: &str, etags: &[String], d: &Digests) -> StoreResult<()> {
        let what = format!("PUT {key} (completing the multipart upload)");
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, e) in etags.iter().enumerate() {
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                quick_xml::escape::escape(e.as_str())
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let headers = [("content-type", "application/xml"), ("x-oss-forbid-overwrite", "true")];
        let rb = self
            .request(Method::POST, Some(key), &[("uploadId", upload_id)], &headers)
            .body(xml)
            // Assembling a large object can take a while.
            .timeout(self.http.timeout.max(std::time::Duration::from_secs(300)));
        let resp = rb.send().await.map_err(|e| crate::store::http::net(&what, e))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let e = self.error(&what, resp).await;
            if e.kind == ErrorKind::NotFound
                && status == StatusCode::NOT_FOUND
                && crate::store::multipart::exists(self, key).await?
            {
                // An earlier Complete of this upload went through, its answer was lost.
                return Err(StoreError::new(ErrorKind::AlreadyExists, e.message));
            }
            return Err(e);
        }
        let want = crc_hex(d.crc64);
        match crc_from_header(resp.headers().get("x-oss-hash-crc64ecma")) {
            Some(got) if got != want => Err(StoreError::new(
                ErrorKind::Transient,
                format!("{what}: OSS assembled an object with CRC-64 {got}, the file has {want}"),
            )),
            _ => Ok(()),
        }
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        let what = format!("aborting the multipart upload of {key}");
        let rb = self.request(Method::DELETE, Some(key), &[("uploadId", upload_id)], &[]);
        match self.http.send(rb, &what).await {
            Ok(resp) if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND => {}
            Ok(resp) => {
                let e = self.error(&what, resp).await;
                warn!("{e} (its parts stay billed until a lifecycle rule deletes incomplete uploads)");
            }
            Err(e) => warn!("{e} (its parts stay billed until a lifecycle rule deletes incomplete uploads)"),
        }
    }

    async fn put_whole(&self, key: &str, body: &mut Body, class: &str) -> StoreResult<()> {
        self.put_single(key, body, class).await
    }

    async fn uploads(&self, key: &str) -> StoreResult<Vec<String>> {
        let what = format!("listing unfinished uploads of {key}");
        let rb = self.request(Method::GET, None, &[("prefix", key), ("uploads", "")], &[]);
        let resp = self.http.send(rb, &what).await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, resp).await);
        }
        let text = self.http.text(resp, &what).await?;
        crate::store::multipart::parse_uploads(&text, key, &what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like the ListParts response example in Aliyun's API reference; real answers
    /// also carry each part's HashCrc64ecma (decimal), which part 1 has here.
    const LIST_PARTS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://doc.oss-cn-hangzhou.aliyuncs.com">
    <Bucket>multipart_upload</Bucket>
    <Key>multipart.data</Key>
    <UploadId>0004B999EF5A239BB9138C6227D69F95</UploadId>
    <NextPartNumberMarker>5</NextPartNumberMarker>
    <MaxParts>1000</MaxParts>
    <IsTruncated>false</IsTruncated>
    <Part>
        <PartNumber>1</PartNumber>
        <LastModified>2012-02-23T07:01:34.000Z</LastModified>
        <ETag>"3349DC700140D7F86A078484278075A9"</ETag>
        <HashCrc64ecma>1234</HashCrc64ecma>
        <Size>6291456</Size>
    </Part>
    <Part>
        <PartNumber>2</PartNumber>
        <LastModified>2012-02-23T07:01:12.000Z</LastModified>
        <ETag>"3349DC700140D7F86A078484278075A9"</ETag>
        <Size>6291456</Size>
    </Part>
    <Part>
        <PartNumber>5</PartNumber>
        <LastModified>2012-02-23T07:02:03.000Z</LastModified>
        <ETag>"7265F4D211B56873A381D321F586E4A9"</ETag>
        <Size>1024</Size>
    </Part>
</ListPartsResult>"#;

    #[test]
    fn list_parts_as_documented() {
        let (parts, next) = parse_list_parts(LIST_PARTS).unwrap();
        assert_eq!(next, None, "not truncated");
        assert_eq!(parts.keys().copied().collect::<Vec<_>>(), [1, 2, 5]);
        assert_eq!(parts[&1].crc64.as_deref(), Some(crc_hex(1234).as_str()));
        assert_eq!(parts[&2].crc64, None);
        assert_eq!(parts[&5].size, 1024);
        let truncated = LIST_PARTS.replace("<IsTruncated>false", "<IsTruncated>true");
        assert_eq!(parse_list_parts(&truncated).unwrap().1.as_deref(), Some("5"));
    }

    #[test]
    fn a_held_part_is_kept_only_when_it_is_ours() {
        let crc = crc_hex(1234);
        let h = |crc64: Option<&str>| Held {
            size: 10,
            etag: "\"E\"".into(),
            crc64: crc64.map(str::to_string),
        };
        let j = PartDone {
            part: 1,
            size: 10,
            etag: "\"E\"".into(),
            checksum: Some(crc.clone()),
        };
        assert!(keep(&h(Some(&crc)), 10, &crc, None));
        assert!(!keep(&h(Some(&crc)), 11, &crc, None), "size differs");
        assert!(!keep(&h(Some("00000000000004d3")), 10, &crc, Some(&j)), "CRC differs");
        assert!(keep(&h(None), 10, &crc, Some(&j)), "no CRC listed: the journal vouches");
        assert!(!keep(&h(None), 10, &crc, None), "no CRC and not journaled: sent again");
        let other = PartDone {
            etag: "\"F\"".into(),
            ..j.clone()
        };
        assert!(!keep(&h(None), 10, &crc, Some(&other)), "another ETag");
    }
}
