//! `s3` backend: any S3-compatible store (AWS S3, Ceph RGW, MinIO, Garage).
//!
//! **Signing.** SigV4 by [`rusty_s3`] 0.8 (`default-features = false`), a small sans-IO
//! crate: it signs, reqwest (already here) sends. Every crate it needs (hmac, sha2, jiff,
//! url, percent-encoding, zeroize) was already in the tree, so it adds no build time;
//! `aws-sigv4` with only `sign-http` pulls ~25 more crates (the smithy runtime types, a
//! second RustCrypto generation, `time`) and its current releases need a newer Rust than
//! this crate's `rust-version`. rusty-s3 signs in the query string (presigned-URL form,
//! `UNSIGNED-PAYLOAD`, valid for [`SIGNATURE_SECS`]), which every S3 implementation
//! accepts for every operation; the signed URL is never logged (network errors are
//! stripped of it). The signature is checked against AWS's published presigned-URL
//! example, and every request of the tests against a botocore oracle in the test proxy.
//!
//! **Never overwrites.** `If-None-Match: *` on PUT and on CompleteMultipartUpload: 412 is
//! [`ErrorKind::AlreadyExists`]. A store that ignores the header is caught by `store test`.
//!
//! **Checksums.** Before sending, the vault file is read once locally for its CRC-64, its
//! MD5 and the additional checksum of `store.s3.checksum` (per part for multipart; see
//! `store::checksum`). The additional checksum goes as `x-amz-checksum-<alg>` (each
//! part's on UploadPart, the object's on Complete); the store checks it, keeps it, and
//! answers it on HEAD. Requests also carry `Content-MD5`, so the store refuses bytes
//! damaged on the way, and the ETag it answers is compared with our MD5 (skipped under
//! SSE-KMS/SSE-C, where the ETag is not an MD5), until the store has answered an
//! additional checksum back, which S3 does only after checking it: from then on MD5 is
//! redundant, and it was most of an upload's CPU (`md5_needed`). Our CRC-64 goes along as
//! `x-amz-meta-camvault-crc64` and comes back on HEAD, so `verify` keeps comparing
//! CRC-64s; beside it go the MD5 (single PUTs, `x-amz-meta-camvault-md5`) and the
//! additional checksum (`x-amz-meta-camvault-checksum`), and HEAD reports no CRC-64 when
//! the object's ETag or the store's own checksum contradicts them, so a damaged object is
//! never taken for ours. With `checksum = "auto"` a store that refuses `x-amz-checksum-*`
//! (some older S3-compatible ones) gets MD5 alone from then on, with one warning; one that
//! ignores them is noticed (no echo) and reported by `store test`.
//!
//! **Multipart** from `store.s3.multipart_threshold_mb` on, in parts of `part_size_mb`
//! (see `multipart` below): the catalog journal remembers the upload id and the parts done,
//! and a restart resumes at the first part the store does not hold (ListParts decides).
//!
//! **Storage classes** are camvault's names outside this file; [`to_s3_class`] and [`from_s3_class`] map them (through `config::StorageClass`).

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use md5::Digest;
use reqwest::{Method, StatusCode, Url};
use tracing::warn;

use super::checksum::Algorithm;
use super::http::{self, ErrorBody, Http};
use super::transfer::{digest_file, sent_what_we_hashed};
use super::{
    Backend, Code, ErrorKind, ObjectMeta, Reader, RestoreAnswer, RestoreState, RestoreTier, StoreError, StoreResult,
};
use crate::config::Config;
use crate::config::StorageClass;
use crate::store::body::Body;

/// S3's name for one of camvault's classes (OSS's names: the config, the catalog and the
/// cost model use them; [`StorageClass::s3_name`] pairs them). Classes camvault does not
/// know pass through unchanged. `Archive` ↔ `GLACIER_IR` is the odd pair: Glacier Instant
/// Retrieval needs no restore, so HEAD reports such objects as readable.
pub fn to_s3_class(ours: &str) -> &str {
    match StorageClass::from_name(ours) {
        Some(c) => c.s3_name(),
        None => ours,
    }
}

/// camvault's name for one of S3's classes.
pub fn from_s3_class(theirs: &str) -> &str {
    match StorageClass::from_s3_name(theirs) {
        Some(c) => c.as_str(),
        None => theirs,
    }
}

/// How long a signed request stays valid (it is checked when the request starts).
pub const SIGNATURE_SECS: u64 = 900;

const META_CRC: &str = "x-amz-meta-camvault-crc64";
const META_MD5: &str = "x-amz-meta-camvault-md5";
/// The additional checksum camvault computed, as `ALGORITHM:value` (e.g. `CRC64NVME:…`).
const META_SUM: &str = "x-amz-meta-camvault-checksum";

/// What the store did with the additional checksums so far in this process.
#[derive(Debug, Default)]
pub(super) struct SumState {
    /// Refused them (`checksum = "auto"` only): MD5 alone from then on.
    refused: std::sync::atomic::AtomicBool,
    /// Answered them back (it checked and kept them).
    echoed: std::sync::atomic::AtomicBool,
    /// Answered without them (it ignored them).
    ignored: std::sync::atomic::AtomicBool,
}

pub struct S3Store {
    http: Http,
    bucket: rusty_s3::Bucket,
    endpoint: String,
    path_style: bool,
    key_id: String,
    secret: String,
    token: Option<String>,
    threshold: u64,
    part_size: u64,
    /// Keys asked for per page of a listing (`max-keys`).
    list_page: u32,
    /// Object Lock on every upload: (mode, days).
    lock: Option<(String, u32)>,
    /// The additional checksum (`store.s3.checksum`); `None` for MD5 alone.
    sum: Option<Algorithm>,
    /// `store.s3.checksum = "auto"`: fall back to MD5 alone when the store refuses `sum`.
    sum_auto: bool,
    sum_state: SumState,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The ETag without quotes, when it is a plain MD5 (not a multipart or SSE-KMS ETag).
fn etag_md5(etag: &str) -> Option<String> {
    let e = etag.trim().trim_matches('"').to_ascii_lowercase();
    (e.len() == 32 && e.bytes().all(|b| b.is_ascii_hexdigit())).then_some(e)
}

/// What a multipart object's ETag is: the MD5 of the parts' MD5s, then `-N`.
fn multipart_etag(parts: &[[u8; 16]]) -> String {
    let mut all = md5::Md5::new();
    for p in parts {
        all.update(p);
    }
    format!("{}-{}", hex(&all.finalize()), parts.len())
}

/// Whether the store encrypts with a key of its own, which makes ETags something else than MD5s.
fn etag_is_not_md5(h: &reqwest::header::HeaderMap) -> bool {
    h.get("x-amz-server-side-encryption")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("aws:kms"))
        || h.contains_key("x-amz-server-side-encryption-customer-algorithm")
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Turns an error answer into what the user should do. `perm` is the IAM permission the
/// operation needs, named when access is denied.
pub(crate) fn explain(
    status: StatusCode,
    bucket_region: Option<&str>,
    body: &str,
    what: &str,
    perm: &str,
) -> StoreError {
    explain_body(status, bucket_region, &ErrorBody::parse(body), what, perm)
}

/// [`explain`] for an answer read by [`Http::error_answer`].
fn explain_answer(a: &http::ErrorAnswer, what: &str, perm: &str) -> StoreError {
    explain_body(a.status, header(&a.headers, "x-amz-bucket-region"), &a.body, what, perm)
}

fn explain_body(status: StatusCode, bucket_region: Option<&str>, e: &ErrorBody, what: &str, perm: &str) -> StoreError {
    let region_hint = |r: &str| {
        if r.is_empty() {
            "the bucket is in another region or behind another endpoint: check `store.s3.region` and `store.s3.endpoint`".to_string()
        } else {
            format!("the bucket is in region {r:?}: set `store.s3.region = \"{r}\"`")
        }
    };
    let region = if !e.region.is_empty() {
        e.region.as_str()
    } else {
        bucket_region.unwrap_or_default()
    };
    let (kind, hint) = match (status.as_u16(), e.code.as_str()) {
        (_, "PreconditionFailed") | (412, "") => (ErrorKind::AlreadyExists, String::new()),
        (_, "NoSuchKey") | (_, "NoSuchUpload") => (ErrorKind::NotFound, String::new()),
        (_, "InvalidObjectState") => (
            ErrorKind::Archived,
            "the object is in an archive class: restore it first (RestoreObject), then read it".into(),
        ),
        (_, "NoSuchBucket") => (
            ErrorKind::Refused,
            "no such bucket: check `store.s3.bucket` (and `store.s3.endpoint`); camvault does not create buckets".into(),
        ),
        (_, "AccessDenied")
            if e.message.contains("expired") || e.message.contains("valid yet") || e.message.contains("yet valid") =>
        {
            (
            ErrorKind::Refused,
                "the request's time was refused: this machine's clock is off; enable NTP (`timedatectl set-ntp true`)".into(),
            )
        }
        (_, "AccessDenied") | (_, "AllAccessDisabled") => (
            ErrorKind::Refused,
            format!("the access key lacks a permission: allow {perm} on this bucket (camvault needs s3:PutObject, s3:GetObject, s3:ListBucket, s3:ListBucketMultipartUploads, s3:ListMultipartUploadParts, s3:AbortMultipartUpload, and s3:RestoreObject, s3:GetLifecycleConfiguration, s3:PutLifecycleConfiguration for tiering)"),
        ),
        (_, "InvalidAccessKeyId") => (
            ErrorKind::Refused,
            "the access key id is wrong or disabled: check `access_key_id`".into(),
        ),
        (_, "SignatureDoesNotMatch") => (
            ErrorKind::Refused,
            "the secret access key is wrong (or does not belong to the access key id)".into(),
        ),
        (_, "RequestTimeTooSkewed") => (
            ErrorKind::Refused,
            "this machine's clock is off: enable NTP (`timedatectl set-ntp true`)".into(),
        ),
        (_, "ExpiredToken") | (_, "InvalidToken") | (_, "TokenRefreshRequired") => (
            ErrorKind::Refused,
            "the session token expired or is invalid: renew `session_token`, or use long-lived keys".into(),
        ),
        (_, "AuthorizationHeaderMalformed")
        | (_, "AuthorizationQueryParametersError")
        | (_, "IllegalLocationConstraintException")
        | (_, "PermanentRedirect")
        | (301, _) => {
            let mut h = region_hint(region);
            if !e.endpoint.is_empty() {
                h.push_str(&format!(" (S3 says to use endpoint {})", e.endpoint));
            }
            (ErrorKind::Refused, h)
        }
        (_, "InvalidStorageClass") => (
            ErrorKind::Refused,
            "the store has no such storage class: check `store.storage_class` and `tiering.storage_class`".into(),
        ),
        (_, "EntityTooSmall") => (
            ErrorKind::Refused,
            "the store refused a part as too small: raise `store.s3.part_size_mb`".into(),
        ),
        (_, "NotImplemented") | (501, _) => (
            ErrorKind::Refused,
            "the store does not implement this request; camvault needs If-None-Match on PUT, multipart upload and, for tiering, lifecycle and restore".into(),
        ),
        (_, "BadDigest") | (_, "InvalidDigest") | (_, "XAmzContentSHA256Mismatch") | (_, "IncompleteBody") => (
            ErrorKind::Transient,
            "the bytes were damaged on the way and refused by the store; retried with backoff".into(),
        ),
        (_, "SlowDown") | (_, "ServiceUnavailable") | (_, "InternalError") | (_, "RequestTimeout") => {
            (ErrorKind::Transient, "the store is busy; retried with backoff".into())
        }
        _ if http::by_status(status) == Some(ErrorKind::Transient) => {
            (ErrorKind::Transient, "the store is busy; retried with backoff".into())
        }
        (403, _) => (
            ErrorKind::Refused,
            format!("access denied: allow {perm} on this bucket, and check the keys and `store.s3.region`"),
        ),
        (400, "") if bucket_region.is_some() => (ErrorKind::Refused, region_hint(region)),
        _ => (ErrorKind::Refused, String::new()),
    };
    let mut msg = format!("{what}: S3 answered {status}");
    if !e.code.is_empty() {
        msg.push_str(&format!(" {}", e.code));
        if !e.message.is_empty() {
            msg.push_str(&format!(" ({})", e.message));
        }
    }
    if !hint.is_empty() {
        msg.push_str(&format!("; {hint}"));
    }
    if !e.request_id.is_empty() {
        msg.push_str(&format!(" [RequestId {}]", e.request_id));
    }
    StoreError::answered(kind, status.as_u16(), e.code(), &e.message, msg)
}

/// Why an object's HEAD shows bytes other than the ones camvault uploaded: its ETag
/// contradicts the MD5 camvault sent, or the store's own checksum the one camvault sent.
/// A COMPOSITE checksum is compared without its `-N` (some stores answer it bare).
fn contradiction(h: &reqwest::header::HeaderMap) -> Option<String> {
    if let (Some(ours), Some(etag)) = (header(h, META_MD5), header(h, "etag").and_then(etag_md5)) {
        if !ours.eq_ignore_ascii_case(&etag) && !etag_is_not_md5(h) {
            return Some(format!(
                "the object's ETag {etag} contradicts the MD5 camvault sent ({ours}): its bytes are not the ones uploaded"
            ));
        }
    }
    let (alg, ours) = header(h, META_SUM)?.split_once(':')?;
    let theirs = [Algorithm::Crc64Nvme, Algorithm::Crc32c, Algorithm::Sha256]
        .into_iter()
        .find(|a| a.name() == alg)
        .and_then(|a| header(h, a.header()))?
        .trim();
    let bare = |v: &str| v.split('-').next().unwrap_or_default().to_string();
    (bare(theirs) != bare(ours)).then(|| {
        format!("the store's {alg} checksum {theirs} contradicts the one camvault sent ({ours}): its bytes are not the ones uploaded")
    })
}

/// Rewrites the text of every `<StorageClass>` element with `map`.
fn map_classes(xml: &str, map: fn(&str) -> &str) -> String {
    const OPEN: &str = "<StorageClass>";
    const CLOSE: &str = "</StorageClass>";
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(OPEN) {
        let (head, tail) = rest.split_at(i + OPEN.len());
        out.push_str(head);
        match tail.find(CLOSE) {
            Some(j) => {
                out.push_str(map(tail[..j].trim()));
                rest = &tail[j..];
            }
            None => {
                rest = tail;
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A lifecycle configuration as S3 keeps it → as camvault reads it (class names).
pub fn lifecycle_from_s3(xml: &str) -> String {
    map_classes(xml, from_s3_class)
}

/// A lifecycle configuration from `lifecycle::merge` → as S3 takes it: S3 class names, and
/// camvault's rules with `<Filter><Prefix>` (the rule-level `<Prefix>` is deprecated on
/// AWS and refused by some S3-compatible stores). Other rules are left as they are.
pub fn lifecycle_to_s3(xml: &str) -> String {
    let mut xml = map_classes(xml, to_s3_class);
    if let Ok(rules) = super::lifecycle::parse(&xml) {
        for ours in rules.iter().filter(|r| super::lifecycle::is_ours(&r.id)) {
            if !ours.xml.contains("<Filter>") && !ours.xml.contains("<Filter/>") {
                if let (Some(a), Some(b)) = (ours.xml.find("<Prefix>"), ours.xml.find("</Prefix>")) {
                    let end = b + "</Prefix>".len();
                    let fixed = format!(
                        "{}<Filter>{}</Filter>{}",
                        &ours.xml[..a],
                        &ours.xml[a..end],
                        &ours.xml[end..]
                    );
                    xml = xml.replacen(&ours.xml, &fixed, 1);
                }
            }
        }
    }
    xml
}

/// RestoreObject's body.
fn restore_request_xml(days: u32, tier: RestoreTier) -> String {
    format!(
        "<RestoreRequest><Days>{days}</Days><GlacierJobParameters><Tier>{}</Tier></GlacierJobParameters></RestoreRequest>",
        tier.as_str()
    )
}

impl S3Store {
    /// Lists `n` keys a page instead of 1000, so that tests see several pages.
    pub fn with_list_page(mut self, n: u32) -> Self {
        self.list_page = n.clamp(1, 1000);
        self
    }

    pub fn new(cfg: &Config) -> anyhow::Result<S3Store> {
        let s = &cfg.store.s3;
        let file = match cfg.s3_credentials_file() {
            Some(p) => {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(m) = std::fs::metadata(&p) {
                    if m.permissions().mode() & 0o077 != 0 {
                        warn!(
                            "credentials file {} can be read by other users: chmod 600 it",
                            p.display()
                        );
                    }
                }
                super::credentials::read(&p, "store.s3.credentials_file")?
            }
            None => Default::default(),
        };
        let pick = |conf: &str, file_key: &str, env: &str| super::credentials::pick(conf, &file, file_key, env);
        let key_id = pick(&s.access_key_id, "access_key_id", "AWS_ACCESS_KEY_ID");
        let secret = pick(&s.secret_access_key.0, "secret_access_key", "AWS_SECRET_ACCESS_KEY");
        let (Some(key_id), Some(secret)) = (key_id, secret) else {
            anyhow::bail!(
                "no S3 credentials: set `store.s3.credentials_file` (a 0600 file with access_key_id = … and secret_access_key = …), or $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY"
            );
        };
        let token = pick(&s.session_token.0, "session_token", "AWS_SESSION_TOKEN");
        let endpoint = if s.endpoint.is_empty() {
            format!("https://s3.{}.amazonaws.com", s.region)
        } else {
            s.endpoint.as_str().to_string()
        };
        let url: Url = endpoint
            .parse()
            .map_err(|e| anyhow::anyhow!("`store.s3.endpoint` = {endpoint:?}: {e}"))?;
        let style = if s.path_style {
            rusty_s3::UrlStyle::Path
        } else {
            rusty_s3::UrlStyle::VirtualHost
        };
        let bucket = rusty_s3::Bucket::new(url, style, s.bucket.clone(), s.region.clone())
            .map_err(|e| anyhow::anyhow!("`store.s3.endpoint` = {endpoint:?}: {e}"))?;
        Ok(S3Store {
            http: Http::new(Duration::from_secs(s.timeout_secs))?,
            bucket,
            endpoint,
            path_style: s.path_style,
            key_id,
            secret,
            token,
            threshold: s.multipart_threshold_mb << 20,
            part_size: s.part_size_mb << 20,
            list_page: 1000,
            lock: (s.object_lock_days > 0).then(|| (s.object_lock_mode.as_str().to_string(), s.object_lock_days)),
            sum: Algorithm::from_config(s.checksum),
            sum_auto: s.checksum == crate::config::Checksum::Auto,
            sum_state: SumState::default(),
        })
    }

    /// The signed URL of a request, at time `now`, valid for `expires` seconds. `headers`
    /// are signed too (lower-case names); the store refuses unsigned `x-amz-*` headers.
    fn signed_url(
        &self,
        now: jiff::Timestamp,
        expires: u64,
        method: &Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> StoreResult<Url> {
        let url = match key {
            Some(k) => {
                if k.is_empty() || k.starts_with('/') || k.split('/').any(|s| s == "." || s == "..") {
                    return Err(StoreError::new(
                        ErrorKind::Refused,
                        format!("{k:?} cannot be an S3 key camvault uses"),
                    ));
                }
                self.bucket
                    .object_url(k)
                    .map_err(|e| StoreError::new(ErrorKind::Refused, format!("key {k:?}: {e}")))?
            }
            None => self.bucket.base_url().clone(),
        };
        let m = match *method {
            Method::HEAD => rusty_s3::Method::Head,
            Method::GET => rusty_s3::Method::Get,
            Method::POST => rusty_s3::Method::Post,
            Method::PUT => rusty_s3::Method::Put,
            _ => rusty_s3::Method::Delete,
        };
        let mut query = query.to_vec();
        query.sort();
        let mut headers = headers.to_vec();
        headers.sort();
        Ok(rusty_s3::signing::sign(
            &now,
            m,
            url,
            &self.key_id,
            &self.secret,
            self.token.as_deref(),
            self.bucket.region(),
            expires,
            query.iter().copied(),
            headers.iter().copied(),
        ))
    }

    /// A signed request for `key` (or the bucket when `None`), carrying `headers`.
    fn request(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> StoreResult<reqwest::RequestBuilder> {
        let url = self.signed_url(jiff::Timestamp::now(), SIGNATURE_SECS, &method, key, query, headers)?;
        let mut rb = self.http.client.request(method, url);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        Ok(rb)
    }

    async fn error(&self, what: &str, perm: &str, resp: reqwest::Response) -> StoreError {
        let a = self.http.error_answer(resp).await;
        explain_answer(&a, what, perm)
    }

    async fn put_single(&self, key: &str, body: &mut Body, class: &str) -> StoreResult<()> {
        let what = format!("PUT {key}");
        let (alg, md5) = (self.sum_algorithm(), self.md5_needed());
        let d = digest_file(body.path(), body.len(), body.len().max(1), md5, alg).await?;
        let (md5_b64, md5_hex, crc) = (b64(&d.md5), hex(&d.md5), super::crc_hex(d.crc64));
        let lock = self.lock_headers();
        let mut headers = vec![
            ("content-type", "application/octet-stream"),
            ("if-none-match", "*"),
            (META_CRC, crc.as_str()),
            ("x-amz-storage-class", to_s3_class(class)),
        ];
        if md5 {
            headers.extend([("content-md5", md5_b64.as_str()), (META_MD5, md5_hex.as_str())]);
        }
        headers.extend(lock.iter().map(|(k, v)| (*k, v.as_str())));
        let sum = alg.map(|a| (a, b64(&d.sum)));
        let meta_sum = sum.as_ref().map(|(a, v)| format!("{}:{v}", a.name()));
        if let (Some((a, v)), Some(m)) = (&sum, &meta_sum) {
            headers.extend([
                (a.header(), v.as_str()),
                ("x-amz-sdk-checksum-algorithm", a.name()),
                (META_SUM, m),
            ]);
        }
        let rb = self.request(Method::PUT, Some(key), &[], &headers)?;
        let resp = self.http.send_body(rb, body, body.len(), &what).await?;
        if !resp.status().is_success() {
            let e = self.error(&what, "s3:PutObject", resp).await;
            return Err(self.refused_sum(alg, e));
        }
        sent_what_we_hashed(key, body, &d)?;
        if let Some((a, v)) = &sum {
            self.check_echo(&what, *a, v, resp.headers())?;
        }
        match header(resp.headers(), "etag").and_then(etag_md5) {
            Some(e) if md5 && e != md5_hex && !etag_is_not_md5(resp.headers()) => Err(StoreError::new(
                ErrorKind::Transient,
                format!("{what}: the store holds bytes with MD5 {e}, camvault sent {md5_hex}: damaged on the way"),
            )),
            _ => Ok(()),
        }
    }

    async fn put_once(&self, key: &str, body: &mut Body, class: &str) -> StoreResult<()> {
        if body.len() >= self.threshold {
            super::multipart::upload(self, key, body, class).await
        } else {
            self.put_single(key, body, class).await
        }
    }

    /// Whether uploads still need MD5 (`Content-MD5`, the ETag check): until the store
    /// has answered an additional checksum back, which S3 does only after checking it.
    /// MD5 is then redundant, and it is most of the CPU an upload costs (see
    /// docs/benchmarks.md); the stronger checksum stays, and `verify` compares it.
    pub(super) fn md5_needed(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.sum_algorithm().is_none() || !self.sum_state.echoed.load(Ordering::Relaxed)
    }

    /// The additional checksum to send now: none when the store refused it earlier.
    pub(super) fn sum_algorithm(&self) -> Option<Algorithm> {
        use std::sync::atomic::Ordering;
        self.sum.filter(|_| !self.sum_state.refused.load(Ordering::Relaxed))
    }

    /// An error answer to a request that carried `x-amz-checksum-*` headers: when the
    /// store refused the headers themselves, with `checksum = "auto"` camvault sends MD5
    /// alone from now on and the upload is retried; otherwise the user is told the way out.
    pub(super) fn refused_sum(&self, alg: Option<Algorithm>, mut e: StoreError) -> StoreError {
        use std::sync::atomic::Ordering;
        let Some(a) = alg else { return e };
        // Stores refuse the headers with different codes (InvalidRequest, InvalidArgument,
        // their own): the store's own words say whether the refusal is about checksums.
        let about_checksums = e.not_implemented() || e.detail.to_ascii_lowercase().contains("checksum");
        if e.kind != ErrorKind::Refused || !about_checksums {
            return e;
        }
        if self.sum_auto {
            if !self.sum_state.refused.swap(true, Ordering::Relaxed) {
                warn!(
                    "the store refuses {} checksums ({}): uploads carry Content-MD5 alone from now on",
                    a.name(),
                    e.message
                );
            }
            e.kind = ErrorKind::Transient;
            e.message.push_str("; retried with Content-MD5 alone");
        } else {
            e.message.push_str(&format!(
                "; the store does not take {} checksums: set `store.s3.checksum = \"auto\"` (or another algorithm, or \"md5\")",
                a.name()
            ));
        }
        e
    }

    /// Checks the checksum a store answers to an upload: a different value means the
    /// bytes it received are not the ones sent; none means it ignored the header.
    pub(super) fn check_echo(
        &self,
        what: &str,
        a: Algorithm,
        sent: &str,
        h: &reqwest::header::HeaderMap,
    ) -> StoreResult<()> {
        use std::sync::atomic::Ordering;
        match header(h, a.header()) {
            Some(got) if got.trim() != sent => Err(StoreError::new(
                ErrorKind::Transient,
                format!(
                    "{what}: the store computed {} {got}, camvault sent {sent}: damaged on the way",
                    a.name()
                ),
            )),
            Some(_) => {
                self.sum_state.echoed.store(true, Ordering::Relaxed);
                Ok(())
            }
            None => {
                self.sum_state.ignored.store(true, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Object Lock headers for a new object: locked until `days` from now.
    pub(super) fn lock_headers(&self) -> Vec<(&'static str, String)> {
        match &self.lock {
            Some((mode, days)) => {
                let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(i64::from(*days) * 24);
                vec![
                    ("x-amz-object-lock-mode", mode.clone()),
                    (
                        "x-amz-object-lock-retain-until-date",
                        until.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    ),
                ]
            }
            None => Vec::new(),
        }
    }
}

mod lock;
mod multipart;

#[async_trait]
impl Backend for S3Store {
    fn no_worm(&self) -> String {
        "bucket WORM is an Aliyun OSS feature, not supported on S3; S3 Object Lock is a different mechanism (camvault locks each object it uploads when `store.s3.object_lock_days` is set)".into()
    }

    /// GetBucketVersioning and GetBucketLocation; a store that implements neither says nothing.
    async fn bucket_settings(&self) -> StoreResult<Option<super::settings::BucketSettings>> {
        let mut out = super::settings::BucketSettings::default();
        for (sub, perm) in [
            ("versioning", "s3:GetBucketVersioning"),
            ("location", "s3:GetBucketLocation"),
        ] {
            let what = format!("reading the bucket's {sub}");
            let resp = self
                .http
                .send(self.request(Method::GET, None, &[(sub, "")], &[])?, &what)
                .await?;
            if resp.status() == StatusCode::NOT_IMPLEMENTED {
                continue;
            }
            if !resp.status().is_success() {
                return Err(self.error(&what, perm, resp).await);
            }
            let text = self.http.text(resp, &what).await?;
            if sub == "versioning" {
                out.versioning = super::settings::parse_versioning(&text);
            } else {
                // `<LocationConstraint>eu-west-1</LocationConstraint>`; empty for us-east-1.
                let loc = text
                    .split_once("<LocationConstraint")
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(_, rest)| rest.split('<').next().unwrap_or("").trim().to_string());
                out.location = loc;
            }
        }
        Ok(Some(out))
    }

    /// S3's counterpart of a bucket WORM: the bucket's Object Lock.
    async fn worm(&self) -> StoreResult<super::WormStatus> {
        self.object_lock().await
    }

    fn checksum_report(&self) -> Option<(bool, String)> {
        use std::sync::atomic::Ordering;
        let st = &self.sum_state;
        let a = self.sum?;
        Some(if st.refused.load(Ordering::Relaxed) {
            (
                true,
                format!("the store refuses {} checksums: uploads are checked by Content-MD5 alone (`store.s3.checksum = \"md5\"` says so and saves the attempt)", a.name()),
            )
        } else if st.ignored.load(Ordering::Relaxed) && !st.echoed.load(Ordering::Relaxed) {
            (
                false,
                format!("the store ignored the {} checksum (it did not answer it back): uploads are checked by Content-MD5 alone; `store.s3.checksum = \"md5\"` stops sending it", a.name()),
            )
        } else {
            (
                true,
                format!("the store checks and keeps each upload's {} checksum", a.name()),
            )
        })
    }

    fn describe(&self) -> String {
        format!(
            "s3 bucket {} in {} ({}, {})",
            self.bucket.name(),
            self.bucket.region(),
            self.endpoint,
            if self.path_style { "path-style" } else { "virtual-host" }
        )
    }

    async fn put(&self, key: &str, body: &mut Body, storage_class: &str) -> StoreResult<()> {
        let alg = self.sum_algorithm();
        match self.put_once(key, body, storage_class).await {
            // The store refused the additional checksum just now (`refused_sum`): once
            // more at once, with Content-MD5 alone.
            Err(_) if alg.is_some() && self.sum_algorithm().is_none() => {
                body.rewind()
                    .await
                    .map_err(|e| StoreError::new(ErrorKind::Transient, format!("PUT {key}: {e:#}")))?;
                self.put_once(key, body, storage_class).await
            }
            r => r,
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        let what = format!("HEAD {key}");
        let mode: &[(&str, &str)] = if self.sum.is_some() {
            &[("x-amz-checksum-mode", "ENABLED")]
        } else {
            &[]
        };
        let resp = self
            .http
            .send(self.request(Method::HEAD, Some(key), &[], mode)?, &what)
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self
                .error(
                    &what,
                    "s3:GetObject (and s3:ListBucket, so that a missing key answers 404)",
                    resp,
                )
                .await);
        }
        let h = resp.headers();
        let size = header(h, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let raw_class = header(h, "x-amz-storage-class").unwrap_or("STANDARD");
        let mut crc64 = header(h, META_CRC).map(|c| c.to_ascii_lowercase());
        let damaged = contradiction(h);
        if let Some(why) = &damaged {
            warn!(key, "{why}");
            crc64 = None;
        }
        let restore = if raw_class == "GLACIER_IR" {
            // Instant Retrieval: readable without a restore.
            RestoreState::Ready { expires_ms: 0 }
        } else {
            header(h, "x-amz-restore")
                .map(super::parse_restore_header)
                .unwrap_or_default()
        };
        Ok(Some(ObjectMeta {
            key: key.to_string(),
            size,
            crc64,
            storage_class: from_s3_class(raw_class).to_string(),
            modified_ms: header(h, "last-modified")
                .and_then(|v| jiff::fmt::rfc2822::parse(v).ok())
                .map_or(0, |z| z.timestamp().as_millisecond()),
            restore,
            transition_ms: None,
            damaged,
        }))
    }

    async fn get_range(&self, key: &str, range: Option<std::ops::Range<u64>>) -> StoreResult<Reader> {
        let what = format!("GET {key}");
        let range = range.map(|r| super::range_header(key, &r)).transpose()?;
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", r.as_str())).collect();
        let rb = self.request(Method::GET, Some(key), &[], &headers)?;
        let resp = self.http.send_headers(rb, &what).await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, "s3:GetObject", resp).await);
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
        super::listing::all(page, from_s3_class).await
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
        Ok(page.into_page(from_s3_class))
    }

    async fn check(&self) -> StoreResult<()> {
        let what = "reaching the bucket";
        let rb = self.request(Method::GET, None, &[("list-type", "2"), ("max-keys", "1")], &[])?;
        let resp = self.http.send(rb, what).await?;
        if !resp.status().is_success() {
            return Err(self.error(what, "s3:ListBucket", resp).await);
        }
        Ok(())
    }

    async fn get_lifecycle(&self) -> StoreResult<Option<String>> {
        let what = "GET lifecycle";
        let resp = self
            .http
            .send(self.request(Method::GET, None, &[("lifecycle", "")], &[])?, what)
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            let e = self.error(what, "s3:GetLifecycleConfiguration", resp).await;
            return if e.is(Code::NoSuchBucket) { Err(e) } else { Ok(None) };
        }
        if !resp.status().is_success() {
            return Err(self.error(what, "s3:GetLifecycleConfiguration", resp).await);
        }
        Ok(Some(lifecycle_from_s3(&self.http.text(resp, what).await?)))
    }

    async fn put_lifecycle(&self, xml: &str) -> StoreResult<()> {
        let what = "PUT lifecycle";
        let xml = lifecycle_to_s3(xml);
        // PutBucketLifecycleConfiguration requires Content-MD5.
        let md5 = b64(&md5::Md5::digest(xml.as_bytes()));
        let headers = [("content-md5", md5.as_str()), ("content-type", "application/xml")];
        let rb = self
            .request(Method::PUT, None, &[("lifecycle", "")], &headers)?
            .body(xml);
        let resp = self.http.send(rb, what).await?;
        if !resp.status().is_success() {
            return Err(self.error(what, "s3:PutLifecycleConfiguration", resp).await);
        }
        Ok(())
    }

    async fn restore(&self, key: &str, days: u32, tier: RestoreTier) -> StoreResult<RestoreAnswer> {
        let what = format!("restore {key}");
        let xml = restore_request_xml(days, tier);
        let md5 = b64(&md5::Md5::digest(xml.as_bytes()));
        let headers = [("content-md5", md5.as_str()), ("content-type", "application/xml")];
        let rb = self
            .request(Method::POST, Some(key), &[("restore", "")], &headers)?
            .body(xml);
        let resp = self.http.send(rb, &what).await?;
        match resp.status() {
            StatusCode::ACCEPTED => return Ok(RestoreAnswer::Started),
            StatusCode::OK => return Ok(RestoreAnswer::AlreadyRestored),
            _ => {}
        }
        let mut e = self.error(&what, "s3:RestoreObject", resp).await;
        if e.is(Code::RestoreAlreadyInProgress) {
            return Ok(RestoreAnswer::AlreadyInProgress);
        }
        if e.kind == ErrorKind::Archived {
            // InvalidObjectState here means the object is not archived: readable as it is.
            if let Ok(Some(h)) = self.head(key).await {
                if h.readable() {
                    return Ok(RestoreAnswer::AlreadyRestored);
                }
            }
        }
        if tier == RestoreTier::Expedited && e.is(Code::InvalidArgument) {
            e.message
                .push_str("; S3 Deep Archive has no Expedited tier: use Standard (within 12 h) or Bulk (within 48 h)");
        }
        Err(e)
    }

    async fn delete_probe_unchecked(&self, key: &str) -> StoreResult<()> {
        let what = format!("DELETE {key}");
        let resp = self
            .http
            .send(self.request(Method::DELETE, Some(key), &[], &[])?, &what)
            .await?;
        if !resp.status().is_success() {
            return Err(self.error(&what, "s3:DeleteObject on camvault-probe/*", resp).await);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

impl S3Store {
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
            .send(self.request(Method::GET, None, &query, &[])?, "list")
            .await?;
        if !resp.status().is_success() {
            return Err(self.error("list", "s3:ListBucket", resp).await);
        }
        let text = self.http.text(resp, "list").await?;
        super::listing::parse_page(&text, "S3")
    }
}
