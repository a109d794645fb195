//! The bucket's own replication to another bucket (OSS Cross-Region Replication,
//! GetBucketReplication: `GET /?replication`), read for `store test` and `doctor`, so that
//! they can say where the bucket copies itself to and whether that copy is declared as a
//! read-only mirror.
//!
//! The answer, per Aliyun's API reference
//! (<https://www.alibabacloud.com/help/en/oss/developer-reference/getbucketreplication>) and
//! the official SDK's model (`alibabacloud_oss_v2.models.bucket_replication`):
//! `<ReplicationConfiguration><Rule><ID/><PrefixSet><Prefix/></PrefixSet><Action/>
//! <Destination><Bucket/><Location/></Destination><Status/>…</Rule>…</ReplicationConfiguration>`,
//! `Status` one of `starting`, `doing`, `closing`; a bucket without rules answers 404
//! `NoSuchReplicationConfiguration`.

use serde::Deserialize;

/// One replication rule of the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Rule {
    #[serde(rename = "ID")]
    pub id: String,
    pub prefix_set: PrefixSet,
    /// `ALL` (PUT, DELETE, ABORT) or `PUT` (writes only).
    pub action: String,
    pub destination: Destination,
    /// `starting`, `doing` (replicating) or `closing` (the rule was deleted).
    pub status: String,
    /// `enabled` or `disabled`: whether objects older than the rule are copied too.
    pub historical_object_replication: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PrefixSet {
    pub prefix: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Destination {
    pub bucket: String,
    /// `oss-cn-beijing`.
    pub location: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ReplicationConfiguration {
    rule: Vec<Rule>,
}

/// GetBucketReplication's answer.
pub fn parse(xml: &str) -> Result<Vec<Rule>, String> {
    let c: ReplicationConfiguration =
        quick_xml::de::from_str(xml).map_err(|e| format!("unreadable ReplicationConfiguration: {e}"))?;
    Ok(c.rule)
}

impl Rule {
    /// Whether the rule copies (or will copy) new objects: not one being removed.
    pub fn active(&self) -> bool {
        self.status != "closing"
    }

    /// One line for `store test` and `doctor`.
    pub fn describe(&self) -> String {
        let what = if self.prefix_set.prefix.is_empty() {
            "every object".to_string()
        } else {
            format!("objects under {}", self.prefix_set.prefix.join(", "))
        };
        format!(
            "the bucket replicates {what} to bucket {:?} in {} (rule {:?}, {}, {}; objects from before the rule: {})",
            self.destination.bucket,
            self.destination.location,
            self.id,
            if self.action.is_empty() { "ALL" } else { &self.action },
            self.status,
            if self.historical_object_replication.is_empty() {
                "disabled"
            } else {
                &self.historical_object_replication
            }
        )
    }
}

/// What `store test` / `doctor` say about the bucket's replication: one line per rule,
/// `true` when a read-only mirror of the config is that destination.
pub fn findings(cfg: &crate::config::Config, rules: &[Rule]) -> Vec<(bool, String)> {
    rules
        .iter()
        .map(|r| {
            let mirror = cfg.store.mirror.iter().find(|m| {
                m.kind == crate::config::StoreKind::Oss && m.oss.bucket == r.destination.bucket
            });
            match mirror {
                Some(m) if m.read_only => (
                    true,
                    format!("{}: declared as read-only mirror {:?}, verified by camvault", r.describe(), m.name),
                ),
                Some(m) => (
                    false,
                    format!("{}: mirror {:?} writes to that bucket too; declare it `read_only = true` so that camvault only verifies the replica", r.describe(), m.name),
                ),
                None => (
                    false,
                    format!("{}: not a mirror of the config; declare it as one (`[[store.mirror]]` with `kind = \"oss\"`, `read_only = true`) so that camvault verifies the replica and can read it for restores (docs/mirrors.md)", r.describe()),
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The response example of Aliyun's API reference, with a second rule as the SDK's
    /// model allows (`rules: [ReplicationRule]`).
    const ALIYUN: &str = r#"<?xml version="1.0" ?>
<ReplicationConfiguration>
  <Rule>
    <ID>test_replication_1</ID>
    <PrefixSet>
      <Prefix>source1</Prefix>
      <Prefix>video</Prefix>
    </PrefixSet>
    <Action>PUT</Action>
    <Destination>
      <Bucket>destbucket</Bucket>
      <Location>oss-cn-beijing</Location>
      <TransferType>oss_acc</TransferType>
    </Destination>
    <Status>doing</Status>
    <HistoricalObjectReplication>enabled</HistoricalObjectReplication>
    <SyncRole>aliyunramrole</SyncRole>
    <RTC>
      <Status>enabled</Status>
    </RTC>
  </Rule>
  <Rule>
    <ID>two</ID>
    <Destination><Bucket>other</Bucket><Location>oss-cn-shanghai</Location></Destination>
    <Status>closing</Status>
  </Rule>
</ReplicationConfiguration>"#;

    #[test]
    fn aliyuns_example_is_read() {
        let rules = parse(ALIYUN).unwrap();
        assert_eq!(rules.len(), 2);
        let r = &rules[0];
        assert_eq!(
            (r.id.as_str(), r.action.as_str(), r.status.as_str()),
            ("test_replication_1", "PUT", "doing")
        );
        assert_eq!(r.prefix_set.prefix, vec!["source1", "video"]);
        assert_eq!(
            r.destination,
            Destination {
                bucket: "destbucket".into(),
                location: "oss-cn-beijing".into()
            }
        );
        assert!(r.active() && !rules[1].active());
        let d = r.describe();
        assert!(
            d.contains("\"destbucket\" in oss-cn-beijing") && d.contains("source1, video"),
            "{d}"
        );
        assert!(rules[1].describe().contains("every object"));
        assert!(parse("<ReplicationConfiguration/>").unwrap().is_empty());
        assert!(parse("not xml <").is_err());
    }
}
