//! Multipart upload, resumable after a crash.
//!
//! CreateMultipartUpload carries the class and our CRC-64; the catalog journal records the
//! upload id, then each part once the store has it. After a crash the next attempt asks
//! the store which parts it holds (ListParts: the journal can lag behind the store by one
//! part, never the other way), keeps those whose size and ETag match our MD5 of the local
//! bytes, and uploads the rest; CompleteMultipartUpload carries `If-None-Match: *`.
//! Each part carries `Content-MD5` and its ETag is checked; the object's ETag must be
//! the MD5 of the parts' MD5s. With an additional checksum (`store.s3.checksum`), the
//! upload is created with its algorithm, each part carries its own value, and Complete
//! carries each part's and (FULL_OBJECT) the object's; a resumed upload keeps the
//! algorithm it was created with, as long as the config is unchanged. A body without a journal is uploaded the same way but
//! aborted on failure, so it leaves no parts behind.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tracing::{info, warn};

use super::{
    b64, etag_is_not_md5, etag_md5, explain, header, hex, multipart_etag, to_s3_class, S3Store, META_CRC, META_SUM,
};
use crate::store::body::Body;
use crate::store::checksum::Algorithm;
use crate::store::multipart::{Held, Multipart, Parts};
use crate::store::transfer::{digest_file, Digests};
use crate::store::{ErrorKind, PartDone, StoreError, StoreResult};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPartsResult {
    #[serde(default)]
    part: Vec<PartItem>,
    #[serde(default)]
    is_truncated: bool,
    next_part_number_marker: Option<String>,
    /// The additional checksum the upload was created with (AWS says; not every store).
    checksum_algorithm: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PartItem {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
    size: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CompleteResult {
    #[serde(rename = "ETag")]
    etag: String,
    code: String,
    #[serde(rename = "ChecksumCRC64NVME")]
    crc64nvme: String,
    #[serde(rename = "ChecksumCRC32C")]
    crc32c: String,
    #[serde(rename = "ChecksumSHA256")]
    sha256: String,
}

impl CompleteResult {
    /// The object's checksum the store answered, when it did.
    fn checksum(&self, a: Algorithm) -> Option<&str> {
        let v = match a {
            Algorithm::Crc64Nvme => &self.crc64nvme,
            Algorithm::Crc32c => &self.crc32c,
            Algorithm::Sha256 => &self.sha256,
        };
        (!v.trim().is_empty()).then(|| v.trim())
    }
}

#[async_trait]
impl Multipart for S3Store {
    fn name(&self) -> &'static str {
        "the store"
    }

    fn part_size(&self) -> (u64, &'static str) {
        (self.part_size, "store.s3.part_size_mb")
    }

    async fn digest(&self, body: &Body, part_size: u64) -> StoreResult<Digests> {
        digest_file(
            body.path(),
            body.len(),
            part_size,
            self.md5_needed(),
            self.sum_algorithm(),
        )
        .await
    }

    async fn create(&self, key: &str, class: &str, d: &Digests) -> StoreResult<String> {
        let what = format!("PUT {key} (starting a multipart upload)");
        let crc = crate::store::crc_hex(d.crc64);
        let lock = self.lock_headers();
        let mut headers = vec![
            ("content-type", "application/octet-stream"),
            (META_CRC, crc.as_str()),
            ("x-amz-storage-class", to_s3_class(class)),
        ];
        headers.extend(lock.iter().map(|(k, v)| (*k, v.as_str())));
        let alg = d.sum_alg;
        let meta_sum = alg.map(|a| format!("{}:{}", a.name(), a.object_value(&d.sum, &d.part_sums, true)));
        if let (Some(a), Some(m)) = (alg, &meta_sum) {
            headers.extend([
                ("x-amz-checksum-algorithm", a.name()),
                ("x-amz-checksum-type", a.multipart_type()),
                (META_SUM, m.as_str()),
            ]);
        }
        let resp = self
            .http
            .send(
                self.request(Method::POST, Some(key), &[("uploads", "")], &headers)?,
                &what,
            )
            .await?;
        if !resp.status().is_success() {
            let e = self.error(&what, "s3:PutObject", resp).await;
            return Err(self.refused_sum(alg, e));
        }
        let text = self.http.text(resp, &what).await?;
        crate::store::multipart::parse_upload_id(&text, &what)
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> StoreResult<Option<Parts>> {
        let what = format!("listing the parts of {key}");
        let mut out = BTreeMap::new();
        let mut created: Option<String> = None;
        let mut marker = String::new();
        loop {
            let mut query = vec![("uploadId", upload_id), ("max-parts", "1000")];
            if !marker.is_empty() {
                query.push(("part-number-marker", marker.as_str()));
            }
            let resp = self
                .http
                .send(self.request(Method::GET, Some(key), &query, &[])?, &what)
                .await?;
            if !resp.status().is_success() {
                return Err(self.error(&what, "s3:ListMultipartUploadParts", resp).await);
            }
            let text = self.http.text(resp, &what).await?;
            let page: ListPartsResult = quick_xml::de::from_str(&text).map_err(|e| {
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
            for p in page.part {
                let held = Held {
                    size: p.size,
                    etag: p.etag,
                    crc64: None,
                };
                out.insert(p.part_number, held);
            }
            created = created.or(page.checksum_algorithm.filter(|a| !a.trim().is_empty()));
            match (page.is_truncated, page.next_part_number_marker) {
                (true, Some(m)) if m != marker => marker = m,
                _ => break,
            }
        }
        // The store names the checksum the upload was created with (AWS does; not every store).
        match created {
            Some(c) if Some(c.as_str()) != self.sum_algorithm().map(Algorithm::name) => {
                info!(
                    key,
                    upload_id, "the interrupted upload used the {c} checksum, now another: starting over"
                );
                Ok(None)
            }
            _ => Ok(Some(out)),
        }
    }

    fn keep(&self, held: &Held, i: usize, size: u64, d: &Digests, _journaled: Option<&PartDone>) -> bool {
        // Without our MD5, the object's checksum (checked by Complete, compared on HEAD)
        // vouches for a part kept by its size.
        held.size == size
            && d.part_md5s
                .get(i)
                .is_none_or(|m| etag_md5(&held.etag).is_none_or(|e| e == hex(m)))
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
        let md5 = d.part_md5s.get(i);
        let sum = d.sum_alg.map(|a| (a, b64(&d.part_sums[i])));
        let (number, md5_b64) = (part.to_string(), md5.map(|m| b64(m)));
        let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
        let mut headers: Vec<(&str, &str)> = md5_b64.iter().map(|m| ("content-md5", m.as_str())).collect();
        if let Some((a, v)) = &sum {
            headers.extend([(a.header(), v.as_str()), ("x-amz-sdk-checksum-algorithm", a.name())]);
        }
        let rb = self.request(Method::PUT, Some(key), &query, &headers)?;
        let resp = self.http.send_body(rb, body, size, &what).await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, "s3:PutObject", resp).await);
        }
        if let Some((a, v)) = &sum {
            self.check_echo(&what, *a, v, resp.headers())?;
        }
        let Some(etag) = header(resp.headers(), "etag").map(str::to_string) else {
            return Err(StoreError::new(
                ErrorKind::Transient,
                format!("{what}: the store answered without an ETag"),
            ));
        };
        if let (Some(e), Some(md5)) = (etag_md5(&etag), md5) {
            if e != hex(md5) && !etag_is_not_md5(resp.headers()) {
                return Err(StoreError::new(
                    ErrorKind::Transient,
                    format!(
                        "{what}: the store holds bytes with MD5 {e}, camvault sent {}: damaged on the way",
                        hex(md5)
                    ),
                ));
            }
        }
        let checksum = md5.map(|m| hex(m)).or(sum.map(|(_, v)| v));
        Ok((etag, checksum))
    }

    async fn complete(&self, key: &str, upload_id: &str, etags: &[String], d: &Digests) -> StoreResult<()> {
        let what = format!("PUT {key} (completing the multipart upload)");
        let alg = d.sum_alg;
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, e) in etags.iter().enumerate() {
            let sum = alg.map_or(String::new(), |a| {
                format!("<{t}>{}</{t}>", b64(&d.part_sums[i]), t = a.xml_tag())
            });
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag>{sum}</Part>",
                i + 1,
                quick_xml::escape::escape(e.as_str())
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let whole = alg.map(|a| (a, a.object_value(&d.sum, &d.part_sums, true)));
        let mut headers = vec![("content-type", "application/xml"), ("if-none-match", "*")];
        if let Some((a, v)) = &whole {
            headers.push(("x-amz-checksum-type", a.multipart_type()));
            // A COMPOSITE value is the store's to compute; a FULL_OBJECT one is checked.
            if a.multipart_type() == "FULL_OBJECT" {
                headers.push((a.header(), v.as_str()));
            }
        }
        let rb = self
            .request(Method::POST, Some(key), &[("uploadId", upload_id)], &headers)?
            .body(xml)
            // Assembling a large object can take a while.
            .timeout(self.http.timeout.max(std::time::Duration::from_secs(300)));
        let resp = rb.send().await.map_err(|e| crate::store::http::net(&what, e))?;
        let status = resp.status();
        if !status.is_success() {
            let e = self.error(&what, "s3:PutObject", resp).await;
            if e.kind == ErrorKind::NotFound && crate::store::multipart::exists(self, key).await? {
                // An earlier Complete of this upload went through, its answer was lost.
                return Err(StoreError::new(ErrorKind::AlreadyExists, e.message));
            }
            return Err(e);
        }
        let text = self.http.text(resp, &what).await?;
        // S3 may answer 200 and put an error in the body.
        let r: CompleteResult = quick_xml::de::from_str(&text).unwrap_or_default();
        if !r.code.is_empty() {
            return Err(explain(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                &text,
                &what,
                "s3:PutObject",
            ));
        }
        if let Some((a, v)) = &whole {
            match r.checksum(*a) {
                Some(got) if got != v => {
                    return Err(StoreError::new(
                        ErrorKind::Transient,
                        format!(
                            "{what}: the store assembled an object with {} {got}, expected {v}",
                            a.name()
                        ),
                    ))
                }
                _ => {}
            }
        }
        let want = multipart_etag(&d.part_md5s);
        let got = r.etag.trim().trim_matches('"').to_ascii_lowercase();
        if !d.part_md5s.is_empty() && got.contains('-') && got != want {
            return Err(StoreError::new(
                ErrorKind::Transient,
                format!("{what}: the store assembled an object with ETag {got}, expected {want}"),
            ));
        }
        Ok(())
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        let what = format!("aborting the multipart upload of {key}");
        let r = match self.request(Method::DELETE, Some(key), &[("uploadId", upload_id)], &[]) {
            Ok(rb) => self.http.send(rb, &what).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(resp) if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND => {}
            Ok(resp) => {
                let e = self.error(&what, "s3:AbortMultipartUpload", resp).await;
                warn!("{e} (its parts stay billed until a lifecycle rule aborts incomplete uploads)");
            }
            Err(e) => warn!("{e} (its parts stay billed until a lifecycle rule aborts incomplete uploads)"),
        }
    }

    async fn put_whole(&self, key: &str, body: &mut Body, class: &str) -> StoreResult<()> {
        self.put_single(key, body, class).await
    }

    async fn uploads(&self, key: &str) -> StoreResult<Vec<String>> {
        let what = format!("listing unfinished uploads of {key}");
        let rb = self.request(Method::GET, None, &[("prefix", key), ("uploads", "")], &[])?;
        let resp = self.http.send(rb, &what).await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, "s3:ListBucketMultipartUploads", resp).await);
        }
        let text = self.http.text(resp, &what).await?;
        crate::store::multipart::parse_uploads(&text, key, &what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parts_names_the_uploads_checksum() {
        // The shape of ListParts in the S3 API reference.
        let xml = "<ListPartsResult><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>\
            <ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>\
            <IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag>\
            <Size>5242880</Size><ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME></Part></ListPartsResult>";
        let r: ListPartsResult = quick_xml::de::from_str(xml).unwrap();
        assert_eq!(r.checksum_algorithm.as_deref(), Some("CRC64NVME"));
        assert_eq!((r.part.len(), r.part[0].size), (1, 5_242_880));
        let bare: ListPartsResult =
            quick_xml::de::from_str("<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>").unwrap();
        assert_eq!(bare.checksum_algorithm, None);
    }
}
