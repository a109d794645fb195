//! Multipart upload to OSS, resumable after a crash (modelled on the `s3` backend's).
//!
//! InitiateMultipartUpload (`POST ?uploads`) carries the storage class and
//! `x-oss-forbid-overwrite: true`; the catalog journal records the upload id, then each
//! part once OSS has it, with the part's CRC-64. Every UploadPart answer's
//! `x-oss-hash-crc64ecma` must equal the CRC-64 of the bytes sent. After a crash the next
//! attempt asks OSS which parts it holds (ListParts: the journal can lag behind the store
//! by one part, never the other way), keeps those whose size and CRC-64 match the local
//! bytes, and uploads the rest. CompleteMultipartUpload carries
//! `x-oss-forbid-overwrite: true` (an existing key answers FileAlreadyExists), and the
//! object's `x-oss-hash-crc64ecma` must be the CRC-64 of the whole file. A body without a
//! journal is uploaded the same way but aborted on failure, so it leaves no parts behind.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tracing::{info, warn};

use super::{crc_from_header, OssStore};
use crate::store::transfer::{catalog, digest_file, part_len, sent_what_we_hashed, skip, Digests, Journal};
use crate::store::{crc_hex, ErrorKind, PartDone, StoreError, StoreResult};
use crate::upload::body::Body;

/// OSS takes at most this many parts per upload.
const MAX_PARTS: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateResult {
    upload_id: String,
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUploadsResult {
    #[serde(default)]
    upload: Vec<UploadItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadItem {
    key: String,
    upload_id: String,
}

/// A part OSS holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Held {
    size: u64,
    etag: String,
    /// Hex CRC-64, when ListParts gave it.
    crc64: Option<String>,
}

/// The parts OSS holds, by number.
type Parts = BTreeMap<u32, Held>;

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

struct Resume {
    upload_id: String,
    part_size: u64,
    held: Parts,
    journaled: Vec<PartDone>,
}

impl OssStore {
    pub(super) async fn put_multipart(&self, key: &str, body: &mut Body, class: &str) -> StoreResult<()> {
        let journal: Journal = body.journal();
        let mut resume: Option<Resume> = None;
        if let Some((id, j)) = &journal {
            match j.load(*id).map_err(catalog)? {
                Some(p) if p.key == key => match self.list_parts(key, &p.upload_id).await {
                    Ok(held) => {
                        resume = Some(Resume {
                            upload_id: p.upload_id,
                            part_size: p.part_size,
                            held,
                            journaled: p.parts,
                        })
                    }
                    Err(e) if e.kind == ErrorKind::NotFound => {
                        // Completed (its answer lost in a crash) or aborted: the key decides.
                        j.finish(*id).map_err(catalog)?;
                        if self.head_exists(key).await? {
                            return Err(StoreError::new(
                                ErrorKind::AlreadyExists,
                                format!("PUT {key}: the multipart upload interrupted earlier was completed"),
                            ));
                        }
                    }
                    Err(e) => return Err(e),
                },
                Some(p) => {
                    self.abort(&p.key, &p.upload_id).await;
                    j.finish(*id).map_err(catalog)?;
                }
                None => {}
            }
        }
        let part_size = resume.as_ref().map_or(self.part_size, |r| r.part_size);
        let d = digest_file(body.path(), body.len(), part_size, false, None).await?;
        if d.parts() > MAX_PARTS {
            return Err(StoreError::new(
                ErrorKind::Refused,
                format!(
                    "PUT {key}: {} parts, OSS takes at most {MAX_PARTS}: raise `store.oss.part_size_mb`",
                    d.parts()
                ),
            ));
        }
        let (upload_id, held, journaled) = match resume {
            Some(r) => {
                info!(
                    key,
                    upload_id = %r.upload_id,
                    "resuming a multipart upload: OSS holds {} of {} parts",
                    r.held.len(),
                    d.parts()
                );
                (r.upload_id, r.held, r.journaled)
            }
            None => {
                if let Err(e) = self.abort_strays(key).await {
                    warn!(
                        key,
                        "{e} (unfinished uploads an interrupted attempt left are not cleaned up)"
                    );
                }
                let u = self.initiate(key, class).await?;
                if let Some((id, j)) = &journal {
                    if let Err(e) = j.begin(*id, key, &u, part_size) {
                        self.abort(key, &u).await;
                        return Err(catalog(e));
                    }
                }
                (u, BTreeMap::new(), Vec::new())
            }
        };
        let mut result = self
            .upload_parts(key, body, &upload_id, part_size, &d, &held, &journaled, &journal)
            .await;
        if let Ok(etags) = &result {
            result = self.complete(key, &upload_id, etags, &d).await.map(|()| Vec::new());
        }
        crate::store::transfer::settle(result.map(drop), &journal, self.abort(key, &upload_id)).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_parts(
        &self,
        key: &str,
        body: &mut Body,
        upload_id: &str,
        part_size: u64,
        d: &Digests,
        held: &Parts,
        journaled: &[PartDone],
        journal: &Journal,
    ) -> StoreResult<Vec<String>> {
        let len = body.len();
        let mut etags = Vec::with_capacity(d.parts());
        for (i, crc) in d.part_crcs.iter().enumerate() {
            let part = i as u32 + 1;
            let size = part_len(len, part_size, i);
            let crc = crc_hex(*crc);
            if let Some(h) = held.get(&part) {
                if keep(h, size, &crc, journaled.iter().find(|j| j.part == part)) {
                    skip(body, size).await?;
                    etags.push(h.etag.clone());
                    continue;
                }
            }
            let etag = self.upload_part(key, upload_id, part, body, size, &crc).await?;
            if let Some((id, j)) = journal {
                j.part_done(
                    *id,
                    &PartDone {
                        part,
                        size,
                        etag: etag.clone(),
                        checksum: Some(crc),
                    },
                )
                .map_err(catalog)?;
            }
            etags.push(etag);
        }
        sent_what_we_hashed(key, body, d)?;
        Ok(etags)
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part: u32,
        body: &mut Body,
        size: u64,
        crc: &str,
    ) -> StoreResult<String> {
        let what = format!("PUT {key} part {part}");
        let number = part.to_string();
        let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
        let rb = self.request(Method::PUT, Some(key), &query, &[]);
        let resp = self.send_body(rb, body, size, &what).await?;
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
            _ => Ok(etag),
        }
    }

    async fn initiate(&self, key: &str, class: &str) -> StoreResult<String> {
        let what = format!("PUT {key} (starting a multipart upload)");
        let headers = [
            ("content-type", "application/octet-stream"),
            ("x-oss-forbid-overwrite", "true"),
            ("x-oss-storage-class", class),
        ];
        let rb = self.request(Method::POST, Some(key), &[("uploads", "")], &headers);
        let resp = self.send(rb, &what).await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, resp).await);
        }
        let text = self.text(resp, &what).await?;
        let r: InitiateResult = quick_xml::de::from_str(&text)
            .map_err(|e| StoreError::new(ErrorKind::Transient, format!("{what}: unreadable answer ({e})")))?;
        Ok(r.upload_id)
    }

    /// The parts OSS holds. NotFound (NoSuchUpload) when the upload is gone.
    async fn list_parts(&self, key: &str, upload_id: &str) -> StoreResult<Parts> {
        let what = format!("listing the parts of {key}");
        let mut out = BTreeMap::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![("max-parts", "1000"), ("uploadId", upload_id)];
            if !marker.is_empty() {
                query.push(("part-number-marker", marker.as_str()));
            }
            let resp = self
                .send(self.request(Method::GET, Some(key), &query, &[]), &what)
                .await?;
            if !resp.status().is_success() {
                return Err(self.error(&what, resp).await);
            }
            let text = self.text(resp, &what).await?;
            let (parts, next) = parse_list_parts(&text)
                .map_err(|e| StoreError::new(ErrorKind::Transient, format!("{what}: unreadable answer ({e})")))?;
            out.extend(parts);
            match next {
                Some(m) if m != marker => marker = m,
                _ => return Ok(out),
            }
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
            .timeout(self.timeout.max(std::time::Duration::from_secs(300)));
        let resp = rb.send().await.map_err(|e| crate::store::transfer::net(&what, e))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let e = self.error(&what, resp).await;
            if e.kind == ErrorKind::NotFound && status == StatusCode::NOT_FOUND && self.head_exists(key).await? {
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

    /// Gives up an upload: OSS drops its parts. Not an object: nothing stored is deleted.
    async fn abort(&self, key: &str, upload_id: &str) {
        let what = format!("aborting the multipart upload of {key}");
        let rb = self.request(Method::DELETE, Some(key), &[("uploadId", upload_id)], &[]);
        match self.send(rb, &what).await {
            Ok(resp) if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND => {}
            Ok(resp) => {
                let e = self.error(&what, resp).await;
                warn!("{e} (its parts stay billed until a lifecycle rule deletes incomplete uploads)");
            }
            Err(e) => warn!("{e} (its parts stay billed until a lifecycle rule deletes incomplete uploads)"),
        }
    }

    /// Aborts unfinished uploads to exactly `key` that no journal knows: started by an
    /// attempt that died (or lost its answer) before recording the upload id. camvault
    /// owns its keys, so they can only be its own; their parts would be billed forever.
    async fn abort_strays(&self, key: &str) -> StoreResult<()> {
        let what = format!("listing unfinished uploads of {key}");
        let rb = self.request(Method::GET, None, &[("prefix", key), ("uploads", "")], &[]);
        let resp = self.send(rb, &what).await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, resp).await);
        }
        let text = self.text(resp, &what).await?;
        let list: ListUploadsResult = quick_xml::de::from_str(&text)
            .map_err(|e| StoreError::new(ErrorKind::Transient, format!("{what}: unreadable answer ({e})")))?;
        for u in list.upload.into_iter().filter(|u| u.key == key) {
            info!(key, upload_id = %u.upload_id, "aborting an unfinished upload an interrupted attempt left behind");
            self.abort(key, &u.upload_id).await;
        }
        Ok(())
    }

    async fn head_exists(&self, key: &str) -> StoreResult<bool> {
        use crate::store::Backend;
        Ok(self.head(key).await?.is_some())
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
