//! `oss` backend: Aliyun OSS through its native API, signed with V4 (`sign.rs`), or with
//! the deprecated V1 (`sign_v1.rs`) when `store.oss.signature = "v1"` asks for it.
//!
//! Every PUT carries `x-oss-forbid-overwrite: true`, so an existing key is never replaced;
//! the CRC-64 OSS computes (`x-oss-hash-crc64ecma`) is compared with the one computed
//! while streaming, and HEAD gives it back for verification. Bodies are streamed, never
//! held in memory. Files from `store.oss.multipart_threshold_mb` on go up in parts,
//! resumable after a crash (`multipart.rs`); the bucket's WORM is read and set in `worm.rs`.
//!
//! Uploads are abandoned when no byte has moved for `timeout_secs` (detected by progress,
//! shared with `s3` in `transfer.rs`), never by a fixed read timeout that could fire while
//! a long, rate-limited body is still being sent.

mod multipart;
pub mod sign;
pub mod sign_v1;
mod worm;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};

use super::http::{ErrorBody, Http};
use super::{Backend, Code, ErrorKind, ObjectMeta, Reader, RestoreAnswer, RestoreTier, StoreError, StoreResult};
use crate::config::{Config, OssSignature};
use crate::store::body::Body;

pub struct OssStore {
    http: Http,
    /// `https://bucket.oss-cn-beijing.aliyuncs.com`, or the custom domain.
    base: String,
    bucket: String,
    region: String,
    key_id: String,
    secret: String,
    token: Option<String>,
    threshold: u64,
    part_size: u64,
    /// Keys asked for per page of a listing (`max-keys`).
    list_page: u32,
    signature: OssSignature,
}

impl OssStore {
    /// Lists `n` keys a page instead of 1000, so that tests see several pages.
    pub fn with_list_page(mut self, n: u32) -> Self {
        self.list_page = n.clamp(1, 1000);
        self
    }

    pub fn new(cfg: &Config) -> anyhow::Result<OssStore> {
        let o = &cfg.store.oss;
        let file = match cfg.oss_credentials_file() {
            Some(p) => super::credentials::read(&p, "store.oss.credentials_file")?,
            None => Default::default(),
        };
        let pick = |conf: &str, file_key: &str, env: &str| super::credentials::pick(conf, &file, file_key, env);
        let key_id = pick(&o.access_key_id, "access_key_id", "OSS_ACCESS_KEY_ID");
        let secret = pick(&o.access_key_secret.0, "access_key_secret", "OSS_ACCESS_KEY_SECRET");
        let (Some(key_id), Some(secret)) = (key_id, secret) else {
            anyhow::bail!(
                "no OSS credentials: set `store.oss.credentials_file` (a 0600 file with access_key_id = … and access_key_secret = …), or $OSS_ACCESS_KEY_ID and $OSS_ACCESS_KEY_SECRET"
            );
        };
        let token = pick(&o.security_token.0, "security_token", "OSS_SESSION_TOKEN");
        if o.signature == OssSignature::V1 {
            // Once per process: some commands open the store more than once.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "`store.oss.signature` = \"v1\": requests are signed with OSS V1 (HMAC-SHA1), which Aliyun has deprecated and refuses for new accounts and buckets; switch to V4 by removing the key or setting `store.oss.signature = \"v4\"`, then check with `camvault store test`"
                );
            });
        }
        let base = if o.endpoint.is_empty() {
            format!(
                "https://{}.oss-{}{}.aliyuncs.com",
                o.bucket,
                o.region,
                if o.internal { "-internal" } else { "" }
            )
        } else {
            // Checked at load (`Endpoint::oss`): http(s), a host, no path.
            let scheme = o.endpoint.url().map_or("https", |u| u.scheme());
            let host = o.endpoint.authority();
            if o.cname {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{}.{host}", o.bucket)
            }
        };
        Ok(OssStore {
            http: Http::new(Duration::from_secs(o.timeout_secs))?,
            base,
            bucket: o.bucket.clone(),
            region: o.region.clone(),
            key_id,
            secret,
            token,
            threshold: o.multipart_threshold_mb << 20,
            part_size: o.part_size_mb << 20,
            list_page: 1000,
            signature: o.signature,
        })
    }

    async fn put_single(&self, key: &str, body: &mut Body, storage_class: &str) -> StoreResult<()> {
        let what = format!("PUT {key}");
        let headers = [
            ("x-oss-storage-class", storage_class),
            ("x-oss-forbid-overwrite", "true"),
            ("content-type", "application/octet-stream"),
        ];
        let rb = self.request(Method::PUT, Some(key), &[], &headers);
        let resp = self.http.send_body(rb, body, body.len(), &what).await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, resp).await);
        }
        let theirs = crc_from_header(resp.headers().get("x-oss-hash-crc64ecma"));
        let ours = super::crc_hex(body.crc64());
        match theirs {
            Some(t) if t != ours => Err(StoreError::new(
                ErrorKind::Transient,
                format!("{what}: OSS stored bytes with CRC-64 {t}, camvault sent {ours}: damaged on the way"),
            )),
            _ => Ok(()),
        }
    }

    /// A signed request for `key` (or the bucket when `None`).
    fn request(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut url = format!(
            "{}/{}",
            self.base,
            key.map(|k| sign::uri_encode(k, true)).unwrap_or_default()
        );
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        sign::uri_encode(k, false)
                    } else {
                        format!("{}={}", sign::uri_encode(k, false), sign::uri_encode(v, false))
                    }
                })
                .collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        let req = sign::Request {
            method: method.as_str(),
            bucket: Some(&self.bucket),
            key,
            query,
            headers,
            additional: &[],
        };
        let cred = sign::Credentials {
            access_key_id: &self.key_id,
            access_key_secret: &self.secret,
            security_token: self.token.as_deref(),
        };
        let signed = match self.signature {
            OssSignature::V4 => sign::sign(&req, &cred, &self.region, jiff::Timestamp::now()),
            OssSignature::V1 => sign_v1::sign(&req, &cred, jiff::Timestamp::now()),
        };
        let mut rb = self.http.client.request(method, url);
        for (k, v) in headers.iter() {
            rb = rb.header(*k, *v);
        }
        for (k, v) in signed.headers {
            rb = rb.header(k, v);
        }
        rb
    }

    /// Turns an error answer into what the user should do.
    async fn error(&self, what: &str, resp: reqwest::Response) -> StoreError {
        let a = self.http.error_answer(resp).await;
        explain_body(a.status, &a.body, what)
    }
}

/// Turns OSS's error answer into what the user should do.
#[cfg(test)]
pub(crate) fn explain(status: StatusCode, body: &str, what: &str) -> StoreError {
    explain_body(status, &ErrorBody::parse(body), what)
}

fn explain_body(status: StatusCode, e: &ErrorBody, what: &str) -> StoreError {
    let (kind, hint) = match (status, e.code.as_str()) {
        (_, "FileAlreadyExists") => (ErrorKind::AlreadyExists, ""),
        (_, "NoSuchKey") | (_, "NoSuchUpload") => (ErrorKind::NotFound, ""),
        (_, "EntityTooSmall") | (_, "InvalidPartSize") => (ErrorKind::Refused, "OSS refused a part as too small: raise `store.oss.part_size_mb`"),
        (_, "InvalidPart") | (_, "InvalidPartOrder") => (ErrorKind::Transient, "OSS lost track of a part; the upload is retried"),
        (_, "NoSuchWORMConfiguration") => (ErrorKind::NotFound, "the bucket has no WORM configuration"),
        (_, "WORMConfigurationLocked") => (ErrorKind::Refused, "the bucket's WORM is locked: it can never be shortened or removed, only extended"),
        (_, "InvalidWORMConfiguration") => (ErrorKind::Refused, "OSS refused the WORM configuration: the retention is 1 to 25550 days"),
        (_, "InvalidObjectState") => (ErrorKind::Archived, "the object is archived: restore it first (`camvault restore`)"),
        (_, "NoSuchBucket") => (ErrorKind::Refused, "check `store.oss.bucket` and `store.oss.region`"),
        (_, "AccessDenied") => (ErrorKind::Refused, "the access key lacks a permission: give it oss:PutObject, oss:GetObject, oss:ListObjects, oss:ListParts, oss:ListMultipartUploads, oss:AbortMultipartUpload (and oss:RestoreObject, oss:GetBucketLifecycle, oss:PutBucketLifecycle for tiering, oss:GetBucketWorm for the WORM check) on this bucket"),
        (_, "InvalidAccessKeyId") => (ErrorKind::Refused, "the access key id is wrong or disabled"),
        (_, "SignatureDoesNotMatch") => (ErrorKind::Refused, "the access key secret is wrong"),
        (_, "RequestTimeTooSkewed") => (ErrorKind::Refused, "this machine's clock is off: enable NTP (`timedatectl set-ntp true`)"),
        (_, "SecurityTokenExpired") | (_, "InvalidSecurityToken") => (ErrorKind::Refused, "the STS token expired: renew `security_token`"),
        (_, "AccessForbidden") | (_, "InvalidBucketName") if status == StatusCode::FORBIDDEN => (ErrorKind::Refused, "check the region: the bucket may live elsewhere"),
        (_, "NotImplemented") => (ErrorKind::Refused, "OSS does not implement this request"),
        (s, _) => match super::http::by_status(s) {
            Some(ErrorKind::Transient) => (ErrorKind::Transient, "OSS is busy; retried with backoff"),
            Some(_) if s == StatusCode::NOT_IMPLEMENTED => (ErrorKind::Refused, "OSS does not implement this request"),
            Some(k) => (k, "access denied"),
            None => (ErrorKind::Transient, ""),
        },
    };
    let mut msg = format!("{what}: OSS answered {status}");
    if !e.code.is_empty() {
        msg.push_str(&format!(" {} ({})", e.code, e.message));
    }
    if !hint.is_empty() {
        msg.push_str(&format!("; {hint}"));
    }
    if !e.request_id.is_empty() {
        msg.push_str(&format!(
            " [RequestId {}{}]",
            e.request_id,
            if e.ec.is_empty() {
                String::new()
            } else {
                format!(", EC {}", e.ec)
            }
        ));
    }
    StoreError::answered(kind, status.as_u16(), e.code(), &e.message, msg)
}

/// RestoreObject's body. Days is 1–365 for the cold classes (1–7 for Archive, which has no
/// tiers; OSS ignores JobParameters there).
fn restore_request_xml(days: u32, tier: RestoreTier) -> String {
    format!(
        "<RestoreRequest><Days>{days}</Days><JobParameters><Tier>{}</Tier></JobParameters></RestoreRequest>",
        tier.as_str()
    )
}

/// `x-oss-transition-time` in milliseconds. OSS sends an HTTP date
/// (`Tue, 29 Apr 2025 08:00:00 GMT`); RFC 2822 and ISO 8601 (UTC when without an offset)
/// are accepted too, in case a gateway or a later API version writes another form.
fn parse_transition_time(v: &str) -> Option<i64> {
    let v = v.trim();
    if let Ok(z) = jiff::fmt::rfc2822::parse(v) {
        return Some(z.timestamp().as_millisecond());
    }
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    v.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp().as_millisecond())
}

/// OSS gives CRC-64 in decimal; the catalog keeps hex.
fn crc_from_header(h: Option<&reqwest::header::HeaderValue>) -> Option<String> {
    h.and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(super::crc_hex)
}

#[async_trait]
impl Backend for OssStore {
    fn describe(&self) -> String {
        let signature = match self.signature {
            OssSignature::V4 => "V4 signatures",
            OssSignature::V1 => "V1 signatures, deprecated",
        };
        format!(
            "oss bucket {} in {} ({}, {signature})",
            self.bucket, self.region, self.base
        )
    }

    async fn put(&self, key: &str, body: &mut Body, storage_class: &str) -> StoreResult<()> {
        if body.len() >= self.threshold {
            super::multipart::upload(self, key, body, storage_class).await
        } else {
            self.put_single(key, body, storage_class).await
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        let resp = self
            .http
            .send(self.request(Method::HEAD, Some(key), &[], &[]), &format!("HEAD {key}"))
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.error(&format!("HEAD {key}"), resp).await);
        }
        let h = resp.headers();
        let size = h
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Some(ObjectMeta {
            key: key.to_string(),
            size,
            crc64: crc_from_header(h.get("x-oss-hash-crc64ecma")),
            storage_class: h
                .get("x-oss-storage-class")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("Standard")
                .to_string(),
            modified_ms: h
                .get(reqwest::header::LAST_MODIFIED)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| jiff::fmt::rfc2822::parse(v).ok())
                .map_or(0, |z| z.timestamp().as_millisecond()),
            restore: h
                .get("x-oss-restore")
                .and_then(|v| v.to_str().ok())
                .map(super::parse_restore_header)
                .unwrap_or_default(),
            transition_ms: h.get("x-oss-transition-time").and_then(|v| {
                let t = v.to_str().ok().and_then(parse_transition_time);
                if t.is_none() {
                    // Informative only (billing, lateness): a value we cannot read is not an error.
                    tracing::debug!(key, value = ?v, "HEAD: unreadable x-oss-transition-time, ignored");
                }
                t
            }),
            damaged: None,
        }))
    }

    async fn get_range(&self, key: &str, range: Option<std::ops::Range<u64>>) -> StoreResult<Reader> {
        let what = format!("GET {key}");
        let range = range.map(|r| super::range_header(key, &r)).transpose()?;
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", r.as_str())).collect();
        let resp = self
            .http
            .send_headers(self.request(Method::GET, Some(key), &[], &headers), &what)
            .await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, resp).await);
        }
        // A read that stalls for the timeout ends the stream with an error.
        Ok(self.http.stream(resp))
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectMeta>> {
        let page_size = &self.list_page.to_string();
        let page = |token: Option<String>| async move {
            let position = token.as_deref().map(|t| ("continuation-token", t));
            self.list_request(prefix, page_size, position).await
        };
        super::listing::all(page, |class| class).await
    }

    async fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        max: u32,
    ) -> StoreResult<super::listing::ListPage> {
        let page_size = self.list_page.min(max.max(1)).to_string();
        let position = start_after.map(|a| ("start-after", a));
        let page = self.list_request(prefix, &page_size, position).await?;
        Ok(page.into_page(|class| class))
    }

    async fn get_lifecycle(&self) -> StoreResult<Option<String>> {
        let resp = self
            .http
            .send(
                self.request(Method::GET, None, &[("lifecycle", "")], &[]),
                "GET lifecycle",
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None); // NoSuchLifecycle
        }
        if !resp.status().is_success() {
            return Err(self.error("GET lifecycle", resp).await);
        }
        self.http.text(resp, "GET lifecycle").await.map(Some)
    }

    async fn put_lifecycle(&self, xml: &str) -> StoreResult<()> {
        use base64::Engine;
        use md5::Digest;
        // PutBucketLifecycle requires Content-MD5.
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(xml.as_bytes()));
        let mut headers = vec![("content-md5", md5.as_str()), ("content-type", "application/xml")];
        // OSS refuses rules whose prefixes overlap with the same action (EC 0014-00000079,
        // 0014-00000084) unless asked to allow it. camvault's rule for a camera folder
        // overlaps only where the owner's rule on a wider prefix moves the same objects to
        // another class: both are meant, and `lifecycle apply` names the pair.
        let rules = super::lifecycle::parse(xml).unwrap_or_default();
        if !super::lifecycle::same_action_overlaps(&rules).is_empty() {
            headers.push(("x-oss-allow-same-action-overlap", "true"));
        }
        let resp = self
            .http
            .send(
                self.request(Method::PUT, None, &[("lifecycle", "")], &headers)
                    .body(xml.to_string()),
                "PUT lifecycle",
            )
            .await?;
        if !resp.status().is_success() {
            return Err(self.error("PUT lifecycle", resp).await);
        }
        Ok(())
    }

    async fn bucket_stat(&self) -> StoreResult<Option<super::usage::BucketUsage>> {
        let resp = self
            .http
            .send(self.request(Method::GET, None, &[("stat", "")], &[]), "GetBucketStat")
            .await?;
        if !resp.status().is_success() {
            return Err(self.error("GetBucketStat", resp).await);
        }
        let text = self.http.text(resp, "GetBucketStat").await?;
        super::usage::parse_oss_stat(&text)
            .map(Some)
            .map_err(|e| StoreError::new(ErrorKind::Transient, e))
    }

    /// GetBucketReplication (`GET /?replication`); 404 NoSuchReplicationConfiguration is
    /// a bucket without rules.
    async fn replication(&self) -> StoreResult<Option<Vec<super::replication::Rule>>> {
        let what = "GetBucketReplication";
        let resp = self
            .http
            .send(self.request(Method::GET, None, &[("replication", "")], &[]), what)
            .await?;
        if !resp.status().is_success() {
            let e = self.error(what, resp).await;
            return if e.is(Code::NoSuchReplicationConfiguration) {
                Ok(Some(Vec::new()))
            } else {
                Err(e)
            };
        }
        let text = self.http.text(resp, what).await?;
        super::replication::parse(&text)
            .map(Some)
            .map_err(|e| StoreError::new(ErrorKind::Transient, format!("{what}: {e}")))
    }

    async fn bucket_settings(&self) -> StoreResult<Option<super::settings::BucketSettings>> {
        let resp = self
            .http
            .send(
                self.request(Method::GET, None, &[("bucketInfo", "")], &[]),
                "GetBucketInfo",
            )
            .await?;
        if !resp.status().is_success() {
            return Err(self.error("GetBucketInfo", resp).await);
        }
        let text = self.http.text(resp, "GetBucketInfo").await?;
        super::settings::parse_oss_bucket_info(&text)
            .map(Some)
            .map_err(|e| StoreError::new(ErrorKind::Transient, e))
    }

    async fn restore(&self, key: &str, days: u32, tier: RestoreTier) -> StoreResult<RestoreAnswer> {
        let xml = restore_request_xml(days, tier);
        let resp = self
            .http
            .send(
                self.request(
                    Method::POST,
                    Some(key),
                    &[("restore", "")],
                    &[("content-type", "application/xml")],
                )
                .body(xml),
                &format!("restore {key}"),
            )
            .await?;
        match resp.status() {
            StatusCode::ACCEPTED => Ok(RestoreAnswer::Started),
            StatusCode::OK => Ok(RestoreAnswer::AlreadyRestored),
            StatusCode::CONFLICT => {
                let e = self.error(&format!("restore {key}"), resp).await;
                if e.is(Code::RestoreAlreadyInProgress) {
                    Ok(RestoreAnswer::AlreadyInProgress)
                } else {
                    Err(e)
                }
            }
            _ => Err(self.error(&format!("restore {key}"), resp).await),
        }
    }

    async fn delete_probe_unchecked(&self, key: &str) -> StoreResult<()> {
        let resp = self
            .http
            .send(
                self.request(Method::DELETE, Some(key), &[], &[]),
                &format!("DELETE {key}"),
            )
            .await?;
        if !resp.status().is_success() {
            return Err(self.error(&format!("DELETE {key}"), resp).await);
        }
        Ok(())
    }

    async fn worm(&self) -> StoreResult<super::WormStatus> {
        self.get_worm().await
    }

    async fn initiate_worm(&self, days: u32) -> StoreResult<String> {
        self.start_worm(days).await
    }

    async fn lock_worm(&self, id: &str) -> StoreResult<()> {
        self.complete_worm(id).await
    }

    async fn check(&self) -> StoreResult<()> {
        let resp = self
            .http
            .send(
                self.request(Method::GET, None, &[("list-type", "2"), ("max-keys", "1")], &[]),
                "reaching the bucket",
            )
            .await?;
        if !resp.status().is_success() {
            return Err(self.error("reaching the bucket", resp).await);
        }
        Ok(())
    }
}

impl OssStore {
    /// One ListObjectsV2 page: `position` is the continuation token or the start-after key,
    /// the one thing in which `list` and `list_after` ask differently.
    async fn list_request(
        &self,
        prefix: &str,
        page_size: &str,
        position: super::listing::Position<'_>,
    ) -> StoreResult<super::listing::ListResult> {
        let query = super::listing::query(prefix, page_size, position);
        let resp = self
            .http
            .send(self.request(Method::GET, None, &query, &[]), "list")
            .await?;
        if !resp.status().is_success() {
            return Err(self.error("list", resp).await);
        }
        let text = self.http.text(resp, "list").await?;
        super::listing::parse_page(&text, "OSS")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_forms() {
        let want = Some(1_745_913_600_000); // 2025-04-29T08:00:00Z
        for v in [
            "Tue, 29 Apr 2025 08:00:00 GMT",
            " Tue, 29 Apr 2025 08:00:00 GMT ",
            "Tue, 29 Apr 2025 16:00:00 +0800",
            "29 Apr 2025 08:00:00 GMT",
            "2025-04-29T08:00:00Z",
            "2025-04-29T08:00:00.000Z",
            "2025-04-29T16:00:00+08:00",
            "2025-04-29T08:00:00",
        ] {
            assert_eq!(parse_transition_time(v), want, "{v:?}");
        }
        for v in [
            "",
            "yesterday",
            "Tue, 31 Apr 2025 08:00:00 GMT",
            "1745913600",
            "2025-13-01T00:00:00Z",
        ] {
            assert_eq!(parse_transition_time(v), None, "{v:?}");
        }
    }

    proptest::proptest! {
        /// Whatever a server sends, parsing never panics.
        #[test]
        fn transition_time_never_panics(v in "\\PC{0,40}") {
            let _ = parse_transition_time(&v);
        }

        /// Every moment round-trips through the HTTP-date form OSS uses.
        #[test]
        fn transition_time_round_trips(secs in 0i64..4_102_444_800) {
            let t = jiff::Timestamp::from_second(secs).unwrap();
            proptest::prop_assert_eq!(parse_transition_time(&sign_v1::http_date(t)), Some(secs * 1000));
        }
    }
}
