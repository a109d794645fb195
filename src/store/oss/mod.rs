//! `oss` backend: Aliyun OSS through its native API, signed with V4 (`sign.rs`).
//!
//! Every PUT carries `x-oss-forbid-overwrite: true`, so an existing key is never replaced;
//! the CRC-64 OSS computes (`x-oss-hash-crc64ecma`) is compared with the one computed
//! while streaming, and HEAD gives it back for verification. Bodies are streamed, never
//! held in memory. Still to come (see the backends issue): multipart upload with resume
//! and WORM.

pub mod sign;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::{Backend, ErrorKind, ObjectMeta, Reader, RestoreAnswer, RestoreTier, StoreError, StoreResult};
use crate::config::Config;
use crate::upload::body::Body;

pub struct OssStore {
    client: reqwest::Client,
    /// `https://bucket.oss-cn-beijing.aliyuncs.com`, or the custom domain.
    base: String,
    bucket: String,
    region: String,
    key_id: String,
    secret: String,
    token: Option<String>,
}

/// OSS's error document.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct OssError {
    code: String,
    message: String,
    request_id: String,
    #[serde(rename = "EC")]
    ec: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListResult {
    #[serde(default)]
    contents: Vec<Contents>,
    #[serde(default)]
    is_truncated: bool,
    next_continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Contents {
    key: String,
    size: u64,
    storage_class: Option<String>,
    last_modified: Option<String>,
}

/// Reads `key = value` lines (the credentials file).
fn credentials_file(path: &std::path::Path) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read `store.oss.credentials_file` {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect())
}

impl OssStore {
    pub fn new(cfg: &Config) -> anyhow::Result<OssStore> {
        let o = &cfg.store.oss;
        let file = match cfg.oss_credentials_file() {
            Some(p) => credentials_file(&p)?,
            None => Default::default(),
        };
        let pick = |conf: &str, file_key: &str, env: &str| -> Option<String> {
            Some(conf.to_string())
                .filter(|v| !v.is_empty())
                .or_else(|| file.get(file_key).cloned().filter(|v| !v.is_empty()))
                .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        };
        let key_id = pick(&o.access_key_id, "access_key_id", "OSS_ACCESS_KEY_ID");
        let secret = pick(&o.access_key_secret.0, "access_key_secret", "OSS_ACCESS_KEY_SECRET");
        let (Some(key_id), Some(secret)) = (key_id, secret) else {
            anyhow::bail!(
                "no OSS credentials: set `store.oss.credentials_file` (a 0600 file with access_key_id = … and access_key_secret = …), or $OSS_ACCESS_KEY_ID and $OSS_ACCESS_KEY_SECRET"
            );
        };
        let token = pick(&o.security_token.0, "security_token", "OSS_SESSION_TOKEN");
        let base = if o.endpoint.is_empty() {
            format!(
                "https://{}.oss-{}{}.aliyuncs.com",
                o.bucket,
                o.region,
                if o.internal { "-internal" } else { "" }
            )
        } else {
            let (scheme, host) = match o.endpoint.split_once("://") {
                Some((s, h)) => (s.to_string(), h.trim_end_matches('/').to_string()),
                None => ("https".to_string(), o.endpoint.trim_end_matches('/').to_string()),
            };
            if o.cname {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{}.{host}", o.bucket)
            }
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(o.timeout_secs))
            .build()?;
        Ok(OssStore {
            client,
            base,
            bucket: o.bucket.clone(),
            region: o.region.clone(),
            key_id,
            secret,
            token,
        })
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
        let signed = sign::sign(
            &sign::Request {
                method: method.as_str(),
                bucket: Some(&self.bucket),
                key,
                query,
                headers,
                additional: &[],
            },
            &sign::Credentials {
                access_key_id: &self.key_id,
                access_key_secret: &self.secret,
                security_token: self.token.as_deref(),
            },
            &self.region,
            jiff::Timestamp::now(),
        );
        let mut rb = self.client.request(method, url);
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
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let e: OssError = quick_xml::de::from_str(&body).unwrap_or_default();
        let (kind, hint) = match (status, e.code.as_str()) {
            (_, "FileAlreadyExists") => (ErrorKind::AlreadyExists, ""),
            (_, "NoSuchKey") => (ErrorKind::NotFound, ""),
            (_, "InvalidObjectState") => (ErrorKind::Archived, "the object is archived: restore it first (`camvault restore`)"),
            (_, "NoSuchBucket") => (ErrorKind::Refused, "check `store.oss.bucket` and `store.oss.region`"),
            (_, "AccessDenied") => (ErrorKind::Refused, "the access key lacks a permission: give it oss:PutObject, oss:GetObject, oss:ListObjects (and oss:RestoreObject, oss:PutBucketLifecycle for tiering) on this bucket"),
            (_, "InvalidAccessKeyId") => (ErrorKind::Refused, "the access key id is wrong or disabled"),
            (_, "SignatureDoesNotMatch") => (ErrorKind::Refused, "the access key secret is wrong"),
            (_, "RequestTimeTooSkewed") => (ErrorKind::Refused, "this machine's clock is off: enable NTP (`timedatectl set-ntp true`)"),
            (_, "SecurityTokenExpired") | (_, "InvalidSecurityToken") => (ErrorKind::Refused, "the STS token expired: renew `security_token`"),
            (_, "AccessForbidden") | (_, "InvalidBucketName") if status == StatusCode::FORBIDDEN => (ErrorKind::Refused, "check the region: the bucket may live elsewhere"),
            (s, _) if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => (ErrorKind::Transient, "OSS is busy; retried with backoff"),
            (s, _) if s == StatusCode::FORBIDDEN => (ErrorKind::Refused, "access denied"),
            _ => (ErrorKind::Transient, ""),
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
        StoreError::new(kind, msg)
    }
}

fn net(what: &str, e: reqwest::Error) -> StoreError {
    StoreError::new(ErrorKind::Transient, format!("{what}: {e}; retried with backoff"))
}

/// RestoreObject's body. Days is 1–365 for the cold classes (1–7 for Archive, which has no
/// tiers; OSS ignores JobParameters there).
fn restore_request_xml(days: u32, tier: RestoreTier) -> String {
    format!(
        "<RestoreRequest><Days>{days}</Days><JobParameters><Tier>{}</Tier></JobParameters></RestoreRequest>",
        tier.as_str()
    )
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
        format!("oss bucket {} in {} ({})", self.bucket, self.region, self.base)
    }

    async fn put(&self, key: &str, body: &mut Body, storage_class: &str) -> StoreResult<()> {
        let len = body.len().to_string();
        let headers = [
            ("x-oss-storage-class", storage_class),
            ("x-oss-forbid-overwrite", "true"),
            ("content-type", "application/octet-stream"),
        ];
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
        let send = self
            .request(Method::PUT, Some(key), &[], &headers)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(stream))
            .send();
        let body_ref = &mut *body;
        let produce = async move {
            let tx = tx;
            let body = body_ref;
            loop {
                match body.next_chunk().await {
                    Ok(Some(chunk)) => {
                        if tx.send(Ok(Bytes::copy_from_slice(chunk))).await.is_err() {
                            return Ok(()); // the request ended early; its error tells why
                        }
                    }
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        let _ = tx.send(Err(std::io::Error::other(format!("{e:#}")))).await;
                        return Err(e);
                    }
                }
            }
        };
        let (resp, produced) = tokio::join!(send, produce);
        produced.map_err(|e| StoreError::new(ErrorKind::Transient, format!("{e:#}")))?;
        let resp = resp.map_err(|e| net(&format!("PUT {key}"), e))?;
        if !resp.status().is_success() {
            return Err(self.error(&format!("PUT {key}"), resp).await);
        }
        let theirs = crc_from_header(resp.headers().get("x-oss-hash-crc64ecma"));
        let ours = super::crc_hex(body.crc64());
        match theirs {
            Some(t) if t != ours => Err(StoreError::new(
                ErrorKind::Transient,
                format!("PUT {key}: OSS stored bytes with CRC-64 {t}, camvault sent {ours}: damaged on the way"),
            )),
            _ => Ok(()),
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        let resp = self
            .request(Method::HEAD, Some(key), &[], &[])
            .send()
            .await
            .map_err(|e| net(&format!("HEAD {key}"), e))?;
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
        }))
    }

    async fn get(&self, key: &str) -> StoreResult<Reader> {
        use futures_util::TryStreamExt;
        let resp = self
            .request(Method::GET, Some(key), &[], &[])
            .send()
            .await
            .map_err(|e| net(&format!("GET {key}"), e))?;
        if !resp.status().is_success() {
            return Err(self.error(&format!("GET {key}"), resp).await);
        }
        let stream = resp.bytes_stream().map_err(std::io::Error::other);
        Ok(Box::new(tokio_util::io::StreamReader::new(stream)))
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectMeta>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")];
            if let Some(t) = &token {
                query.push(("continuation-token", t));
            }
            let resp = self
                .request(Method::GET, None, &query, &[])
                .send()
                .await
                .map_err(|e| net("list", e))?;
            if !resp.status().is_success() {
                return Err(self.error("list", resp).await);
            }
            let text = resp.text().await.map_err(|e| net("list", e))?;
            let page: ListResult = quick_xml::de::from_str(&text).map_err(|e| {
                StoreError::new(ErrorKind::Transient, format!("list: unreadable answer from OSS ({e})"))
            })?;
            out.extend(page.contents.into_iter().map(|c| {
                ObjectMeta {
                    key: c.key,
                    size: c.size,
                    crc64: None,
                    storage_class: c.storage_class.unwrap_or_else(|| "Standard".into()),
                    modified_ms: c
                        .last_modified
                        .as_deref()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .map_or(0, |t| t.as_millisecond()),
                    restore: Default::default(),
                }
            }));
            match (page.is_truncated, page.next_continuation_token) {
                (true, Some(t)) => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    async fn get_lifecycle(&self) -> StoreResult<Option<String>> {
        let resp = self
            .request(Method::GET, None, &[("lifecycle", "")], &[])
            .send()
            .await
            .map_err(|e| net("GET lifecycle", e))?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None); // NoSuchLifecycle
        }
        if !resp.status().is_success() {
            return Err(self.error("GET lifecycle", resp).await);
        }
        resp.text().await.map(Some).map_err(|e| net("GET lifecycle", e))
    }

    async fn put_lifecycle(&self, xml: &str) -> StoreResult<()> {
        use base64::Engine;
        use md5::Digest;
        // PutBucketLifecycle requires Content-MD5.
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(xml.as_bytes()));
        let headers = [("content-md5", md5.as_str()), ("content-type", "application/xml")];
        let resp = self
            .request(Method::PUT, None, &[("lifecycle", "")], &headers)
            .body(xml.to_string())
            .send()
            .await
            .map_err(|e| net("PUT lifecycle", e))?;
        if !resp.status().is_success() {
            return Err(self.error("PUT lifecycle", resp).await);
        }
        Ok(())
    }

    async fn restore(&self, key: &str, days: u32, tier: RestoreTier) -> StoreResult<RestoreAnswer> {
        let xml = restore_request_xml(days, tier);
        let resp = self
            .request(Method::POST, Some(key), &[("restore", "")], &[("content-type", "application/xml")])
            .body(xml)
            .send()
            .await
            .map_err(|e| net(&format!("restore {key}"), e))?;
        match resp.status() {
            StatusCode::ACCEPTED => Ok(RestoreAnswer::Started),
            StatusCode::OK => Ok(RestoreAnswer::AlreadyRestored),
            StatusCode::CONFLICT => {
                let e = self.error(&format!("restore {key}"), resp).await;
                if e.message.contains("RestoreAlreadyInProgress") {
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
            .request(Method::DELETE, Some(key), &[], &[])
            .send()
            .await
            .map_err(|e| net(&format!("DELETE {key}"), e))?;
        if !resp.status().is_success() {
            return Err(self.error(&format!("DELETE {key}"), resp).await);
        }
        Ok(())
    }

    async fn check(&self) -> StoreResult<()> {
        let resp = self
            .request(Method::GET, None, &[("list-type", "2"), ("max-keys", "1")], &[])
            .send()
            .await
            .map_err(|e| net("reaching the bucket", e))?;
        if !resp.status().is_success() {
            return Err(self.error("reaching the bucket", resp).await);
        }
        Ok(())
    }
}
