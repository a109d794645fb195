//! The bucket's WORM (retention policy): GetBucketWorm, InitiateBucketWorm,
//! CompleteBucketWorm. An initiated WORM is `InProgress` and lapses unless locked within
//! 24 hours; a locked one can never be shortened or removed, only extended.

use reqwest::Method;
use serde::Deserialize;

use super::OssStore;
use crate::store::{Code, ErrorKind, StoreError, StoreResult, Worm, WormStatus};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct WormConfiguration {
    worm_id: String,
    state: String,
    retention_period_in_days: u32,
    creation_date: String,
    expiration_date: Option<String>,
}

/// GetBucketWorm's answer.
pub(super) fn parse_worm(xml: &str) -> Result<Worm, String> {
    let w: WormConfiguration = quick_xml::de::from_str(xml).map_err(|e| e.to_string())?;
    if w.worm_id.is_empty() || w.state.is_empty() {
        return Err("no WormId or State".into());
    }
    Ok(Worm {
        id: w.worm_id,
        state: w.state,
        days: w.retention_period_in_days,
        created: w.creation_date,
        expires: w.expiration_date.filter(|e| !e.is_empty()),
    })
}

/// InitiateBucketWorm's body.
pub(super) fn initiate_xml(days: u32) -> String {
    format!(
        "<InitiateWormConfiguration><RetentionPeriodInDays>{days}</RetentionPeriodInDays></InitiateWormConfiguration>"
    )
}

impl OssStore {
    pub(super) async fn get_worm(&self) -> StoreResult<WormStatus> {
        let what = "GET bucket WORM";
        let resp = self
            .http
            .send(self.request(Method::GET, None, &[("worm", "")], &[]), what)
            .await?;
        if !resp.status().is_success() {
            let e = self.error(what, resp).await;
            return if e.is(Code::NoSuchWORMConfiguration) {
                Ok(WormStatus::None)
            } else {
                Err(e)
            };
        }
        let text = self.http.text(resp, what).await?;
        parse_worm(&text).map(WormStatus::Configured).map_err(|e| {
            StoreError::new(
                ErrorKind::Transient,
                format!("{what}: unreadable answer from OSS ({e})"),
            )
        })
    }

    pub(super) async fn start_worm(&self, days: u32) -> StoreResult<String> {
        let what = "initiating the bucket WORM";
        let rb = self
            .request(
                Method::POST,
                None,
                &[("worm", "")],
                &[("content-type", "application/xml")],
            )
            .body(initiate_xml(days));
        let resp = self.http.send(rb, what).await?;
        if !resp.status().is_success() {
            return Err(self.error(what, resp).await);
        }
        match resp.headers().get("x-oss-worm-id").and_then(|v| v.to_str().ok()) {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => match self.get_worm().await? {
                // No id in the answer: the configuration says it.
                WormStatus::Configured(w) => Ok(w.id),
                _ => Err(StoreError::new(
                    ErrorKind::Transient,
                    format!("{what}: OSS answered without x-oss-worm-id"),
                )),
            },
        }
    }

    pub(super) async fn complete_worm(&self, id: &str) -> StoreResult<()> {
        let what = "locking the bucket WORM";
        let resp = self
            .http
            .send(self.request(Method::POST, None, &[("wormId", id)], &[]), what)
            .await?;
        if !resp.status().is_success() {
            return Err(self.error(what, resp).await);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::explain;
    use super::*;
    use reqwest::StatusCode;

    /// GetBucketWorm's response example in Aliyun's API reference.
    const GET_BUCKET_WORM: &str = r#"<WormConfiguration>
  <WormId>1666E2CFB2B3418****</WormId>
  <State>Locked</State>
  <RetentionPeriodInDays>1</RetentionPeriodInDays>
  <CreationDate>2020-10-15T15:50:32</CreationDate>
</WormConfiguration>"#;

    /// OSS's error document, as in the API reference's "Error responses", for the WORM codes.
    fn oss_error(code: &str, message: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>{code}</Code>
  <Message>{message}</Message>
  <RequestId>5C3D9175B6FC201293AD****</RequestId>
  <HostId>examplebucket.oss-cn-hangzhou.aliyuncs.com</HostId>
  <EC>0036-00000001</EC>
</Error>"#
        )
    }

    #[test]
    fn worm_configuration_as_documented() {
        let w = parse_worm(GET_BUCKET_WORM).unwrap();
        assert_eq!(
            w,
            Worm {
                id: "1666E2CFB2B3418****".into(),
                state: "Locked".into(),
                days: 1,
                created: "2020-10-15T15:50:32".into(),
                expires: None,
            }
        );
        assert!(w.locked());
        let (ok, line) = WormStatus::Configured(w).summary();
        assert!(
            ok && line.contains("recordings are protected from deletion for 1 days"),
            "{line}"
        );
        // Newer answers (the v2 SDKs' model) add ExpirationDate; an InProgress one is not ok.
        let w = parse_worm(&GET_BUCKET_WORM.replace("Locked", "InProgress").replace(
            "</CreationDate>",
            "</CreationDate><ExpirationDate>2020-10-16T15:50:32</ExpirationDate>",
        ))
        .unwrap();
        assert_eq!(w.expires.as_deref(), Some("2020-10-16T15:50:32"));
        let (ok, line) = WormStatus::Configured(w).summary();
        assert!(!ok && line.contains("camvault store worm --lock"), "{line}");
        assert!(parse_worm("<WormConfiguration></WormConfiguration>").is_err());
        let (ok, line) = WormStatus::None.summary();
        assert!(
            !ok && line.contains("no WORM: anyone with the key can delete"),
            "{line}"
        );
    }

    #[test]
    fn initiate_body() {
        assert_eq!(
            initiate_xml(365),
            "<InitiateWormConfiguration><RetentionPeriodInDays>365</RetentionPeriodInDays></InitiateWormConfiguration>"
        );
    }

    #[test]
    fn worm_errors_are_explained() {
        let e = explain(
            StatusCode::CONFLICT,
            &oss_error("WORMConfigurationLocked", "The WORM Configuration is locked."),
            "initiating the bucket WORM",
        );
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(
            e.message.contains("WORMConfigurationLocked") && e.message.contains("can never be shortened or removed"),
            "{}",
            e.message
        );
        assert!(e
            .message
            .contains("RequestId 5C3D9175B6FC201293AD****, EC 0036-00000001"));
        let e = explain(
            StatusCode::BAD_REQUEST,
            &oss_error("InvalidWORMConfiguration", "The WORM Configuration is invalid."),
            "initiating the bucket WORM",
        );
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.message.contains("1 to 25550 days"), "{}", e.message);
        let e = explain(
            StatusCode::NOT_FOUND,
            &oss_error("NoSuchWORMConfiguration", "The WORM Configuration does not exist."),
            "GET bucket WORM",
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
    }
}
