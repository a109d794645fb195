//! The bucket's own settings that can break camvault's plan, read for `store test`, `doctor`
//! and the hourly tiering check, each finding with the fix in words.
//!
//! - Redundancy (OSS GetBucketInfo `DataRedundancyType`): a zone-redundant (ZRS) bucket holds
//!   Standard, IA and Archive only, so a rule to Cold Archive or Deep Cold Archive cannot
//!   work, and ZRS cannot be turned off once enabled
//!   (<https://www.alibabacloud.com/help/en/doc-detail/90589.htm>).
//! - Versioning (OSS GetBucketInfo `Versioning`, S3 GetBucketVersioning): once enabled or
//!   suspended, `x-oss-forbid-overwrite` no longer stops an upload from replacing an object
//!   (<https://help.aliyun.com/en/oss/user-guide/overview-78/>); the replaced bytes stay as a
//!   billed previous version.
//! - Location (OSS `Location`, S3 GetBucketLocation) against the configured region, and the
//!   bucket's internal endpoint.

use crate::config::{Config, StoreKind};

/// What the store says about the bucket itself; `None` where it does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketSettings {
    /// `LRS` or `ZRS` (OSS).
    pub redundancy: Option<String>,
    /// The bucket's region as the store names it (`oss-cn-beijing`, `eu-west-1`).
    pub location: Option<String>,
    /// `Enabled` or `Suspended`; `None` when versioning was never enabled.
    pub versioning: Option<String>,
    pub intranet_endpoint: Option<String>,
    pub extranet_endpoint: Option<String>,
}

/// One finding: whether it breaks the plan (`true`) or is worth knowing, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub bad: bool,
    pub what: String,
    pub fix: String,
}

/// What the settings mean for the configured plan.
pub fn findings(cfg: &Config, s: &BucketSettings) -> Vec<Finding> {
    let mut out = Vec::new();
    let class = cfg.tiering.storage_class.as_str();
    if let Some(r) = &s.redundancy {
        if r == "ZRS" && cfg.tiering.storage_class.needs_lrs() {
            out.push(Finding {
                bad: true,
                what: format!("the bucket is zone-redundant (ZRS): ZRS holds Standard, IA and Archive only, so `tiering.storage_class = \"{class}\"` can never take effect, and ZRS cannot be turned off"),
                fix: format!("create a new locally redundant (LRS) bucket in the same region, set `store.oss.bucket` to it (and copy or adopt what the old one holds), or choose `tiering.storage_class = \"Archive\"`; do not run `lifecycle apply` for {class} on this bucket"),
            });
        } else {
            out.push(Finding {
                bad: false,
                what: format!("redundancy {r}: {class} is possible"),
                fix: String::new(),
            });
        }
    }
    if let Some(v) = &s.versioning {
        let guard = if cfg.store.kind == StoreKind::Oss {
            "`x-oss-forbid-overwrite` no longer stops an upload from replacing an object"
        } else {
            "a replaced object is kept as a noncurrent version instead of being refused for good"
        };
        out.push(Finding {
            bad: true,
            what: format!("versioning is {v}: {guard}, so camvault's guarantee that an uploaded recording is never replaced rests on its own HEAD before each upload, and every rewrite is a separately billed version (versioning can be suspended, never turned off)"),
            fix: "suspend versioning in the bucket's settings if nothing else needs it, add a lifecycle rule for noncurrent versions, and keep WORM / Object Lock for protection".into(),
        });
    }
    if cfg.store.kind == StoreKind::Oss {
        let region = &cfg.store.oss.region;
        if let Some(loc) = &s.location {
            let loc_region = loc.strip_prefix("oss-").unwrap_or(loc);
            if loc_region != region {
                out.push(Finding {
                    bad: true,
                    what: format!("the bucket is in {loc_region} (Location {loc}), but `store.oss.region` is {region:?}: requests go to the wrong endpoint and V4 signatures name the wrong region"),
                    fix: format!("set `store.oss.region = \"{loc_region}\"`"),
                });
            }
        }
        if let Some(internal) = &s.intranet_endpoint {
            out.push(Finding {
                bad: false,
                what: if cfg.store.oss.internal {
                    format!("using the internal endpoint {internal}: free traffic, reachable only from Aliyun in the bucket's region")
                } else {
                    format!("the bucket's internal endpoint is {internal}: when camvault runs on an Aliyun ECS in this region, `store.oss.internal = true` makes traffic free")
                },
                fix: String::new(),
            });
        }
    } else if cfg.store.kind == StoreKind::S3 {
        if let Some(loc) = &s.location {
            let loc = if loc.is_empty() { "us-east-1" } else { loc.as_str() };
            if loc != cfg.store.s3.region {
                out.push(Finding {
                    bad: true,
                    what: format!(
                        "the bucket is in {loc}, but `store.s3.region` is {:?}: SigV4 signatures name the wrong region",
                        cfg.store.s3.region
                    ),
                    fix: format!("set `store.s3.region = \"{loc}\"`"),
                });
            }
        }
    }
    out
}

/// The findings that break the plan, as one line for the health rule; `None` when none.
pub fn problem(cfg: &Config, s: &BucketSettings) -> Option<crate::msg::Msg> {
    let bad: Vec<String> = findings(cfg, s)
        .into_iter()
        .filter(|f| f.bad)
        .map(|f| format!("{}; {}", f.what, f.fix))
        .collect();
    (!bad.is_empty()).then(|| crate::msg!("health.detail.bucket_settings", findings = bad.join(" | ")))
}

/// `<BucketInfo><Bucket>…` of OSS GetBucketInfo.
pub fn parse_oss_bucket_info(xml: &str) -> Result<BucketSettings, String> {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Info {
        bucket: Bucket,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Bucket {
        data_redundancy_type: Option<String>,
        location: Option<String>,
        versioning: Option<String>,
        intranet_endpoint: Option<String>,
        extranet_endpoint: Option<String>,
    }
    let info: Info = quick_xml::de::from_str(xml).map_err(|e| format!("unreadable GetBucketInfo answer: {e}"))?;
    let b = info.bucket;
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    Ok(BucketSettings {
        redundancy: nonempty(b.data_redundancy_type),
        location: nonempty(b.location),
        versioning: nonempty(b.versioning),
        intranet_endpoint: nonempty(b.intranet_endpoint),
        extranet_endpoint: nonempty(b.extranet_endpoint),
    })
}

/// `<VersioningConfiguration><Status>` (S3 and OSS): `None` when never enabled.
pub fn parse_versioning(xml: &str) -> Option<String> {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct V {
        status: Option<String>,
    }
    quick_xml::de::from_str::<V>(xml)
        .ok()
        .and_then(|v| v.status)
        .filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like the example answer in Aliyun's GetBucketInfo reference.
    const INFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<BucketInfo><Bucket><AccessMonitor>Enabled</AccessMonitor><CreationDate>2013-07-31T10:56:21.000Z</CreationDate>
<ExtranetEndpoint>oss-cn-hangzhou.aliyuncs.com</ExtranetEndpoint><IntranetEndpoint>oss-cn-hangzhou-internal.aliyuncs.com</IntranetEndpoint>
<Location>oss-cn-hangzhou</Location><StorageClass>Standard</StorageClass><TransferAcceleration>Disabled</TransferAcceleration>
<CrossRegionReplication>Disabled</CrossRegionReplication><Name>oss-example</Name><ResourceGroupId>rg-aek27tc********</ResourceGroupId>
<Owner><DisplayName>username</DisplayName><ID>27183473914****</ID></Owner><AccessControlList><Grant>private</Grant></AccessControlList>
<Comment>test</Comment><DataRedundancyType>ZRS</DataRedundancyType><Versioning>Enabled</Versioning>
<ServerSideEncryptionRule><SSEAlgorithm>None</SSEAlgorithm></ServerSideEncryptionRule><BucketPolicy><LogBucket>examplebucket</LogBucket><LogPrefix>log/</LogPrefix></BucketPolicy></Bucket></BucketInfo>"#;

    fn oss_cfg(region: &str) -> Config {
        let mut c = Config::default();
        c.store.kind = StoreKind::Oss;
        c.store.oss.region = region.into();
        c.tiering.storage_class = crate::config::StorageClass::DeepColdArchive;
        c
    }

    #[test]
    fn zrs_versioning_and_region_are_named_with_the_fix() {
        let s = parse_oss_bucket_info(INFO).unwrap();
        assert_eq!(s.redundancy.as_deref(), Some("ZRS"));
        assert_eq!(s.versioning.as_deref(), Some("Enabled"));
        let f = findings(&oss_cfg("cn-beijing"), &s);
        let text: Vec<String> = f
            .iter()
            .filter(|f| f.bad)
            .map(|f| format!("{} -> {}", f.what, f.fix))
            .collect();
        let text = text.join("\n");
        assert!(
            text.contains("zone-redundant (ZRS)") && text.contains("new locally redundant (LRS) bucket"),
            "{text}"
        );
        assert!(text.contains("x-oss-forbid-overwrite` no longer stops"), "{text}");
        assert!(text.contains("set `store.oss.region = \"cn-hangzhou\"`"), "{text}");
        // An LRS bucket in the right region without versioning is fine.
        let good = BucketSettings {
            redundancy: Some("LRS".into()),
            location: Some("oss-cn-beijing".into()),
            ..Default::default()
        };
        assert_eq!(problem(&oss_cfg("cn-beijing"), &good), None);
        assert_eq!(parse_versioning("<VersioningConfiguration/>"), None);
        assert_eq!(
            parse_versioning("<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>")
                .as_deref(),
            Some("Suspended")
        );
    }
}
