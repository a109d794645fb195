//! Bucket lifecycle rules: read, merge camvault's rule in, write back.
//!
//! OSS and S3 replace the whole configuration on PUT, so the bucket's other rules must be
//! carried over untouched. Rules are kept as their raw XML; only the fields camvault shows
//! or checks are read from them, and camvault's own rule (ID `camvault`) is the only one
//! ever replaced.

use quick_xml::events::Event;
use quick_xml::Reader;

/// The rule the config asks for: the key template's fixed prefix, moved to
/// `tiering.storage_class` after `tiering.transition_days`.
pub fn wanted(cfg: &crate::config::Config) -> anyhow::Result<Rule> {
    Ok(camvault_rule(
        cfg.store.key_template.prefix(),
        cfg.tiering.transition_days,
        cfg.tiering.storage_class.as_str(),
    ))
}

/// The ID of camvault's rule for the key template's prefix.
pub const RULE_ID: &str = "camvault";

/// camvault's rule for another prefix that holds recordings (an adopted one): `camvault:<prefix>`.
pub fn rule_id_for(prefix: &str) -> String {
    format!("{RULE_ID}:{prefix}")
}

/// Whether camvault manages the rule with this ID (the only rules it ever replaces).
pub fn is_ours(id: &str) -> bool {
    id == RULE_ID || id.starts_with("camvault:")
}

/// One rule: its raw XML and what camvault reads from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub xml: String,
    pub id: String,
    pub prefix: String,
    pub enabled: bool,
    /// (days, storage class)
    pub transitions: Vec<(u32, String)>,
    pub expiration_days: Option<u32>,
    /// The rule applies only to objects with a tag or of some sizes (`Tag`, `Not`,
    /// `ObjectSize…`): it does not cover a whole prefix.
    pub conditional: bool,
}

impl Rule {
    /// The rule in words, for `lifecycle show`.
    pub fn describe(&self) -> String {
        let what = if self.prefix.is_empty() {
            "every object".to_string()
        } else {
            format!("objects under {:?}", self.prefix)
        };
        let mut parts: Vec<String> = self
            .transitions
            .iter()
            .map(|(d, c)| format!("move to {c} {d} days after upload"))
            .collect();
        if let Some(d) = self.expiration_days {
            parts.push(format!("DELETE {d} days after upload"));
        }
        if parts.is_empty() {
            parts.push("no transition camvault understands".into());
        }
        format!(
            "rule {:?} ({}): {what}: {}",
            self.id,
            if self.enabled { "enabled" } else { "DISABLED" },
            parts.join(", then ")
        )
    }
}

/// camvault's rule for the key template's `prefix`.
pub fn camvault_rule(prefix: &str, days: u32, class: &str) -> Rule {
    rule_with_id(RULE_ID, prefix, days, class)
}

/// A transition rule camvault manages, with its ID.
pub fn rule_with_id(id: &str, prefix: &str, days: u32, class: &str) -> Rule {
    let xml = format!(
        "<Rule><ID>{}</ID><Prefix>{}</Prefix><Status>Enabled</Status><Transition><Days>{days}</Days><StorageClass>{class}</StorageClass></Transition></Rule>",
        quick_xml::escape::escape(id),
        quick_xml::escape::escape(prefix)
    );
    Rule {
        xml,
        id: id.into(),
        prefix: prefix.into(),
        enabled: true,
        transitions: vec![(days, class.into())],
        expiration_days: None,
        conditional: false,
    }
}

/// Splits a `<LifecycleConfiguration>` into its rules.
pub fn parse(xml: &str) -> Result<Vec<Rule>, String> {
    let mut reader = Reader::from_str(xml);
    let mut rules = Vec::new();
    let mut depth_in_rule = 0usize;
    let mut start = 0usize;
    let mut path: Vec<String> = Vec::new();
    let mut cur: Option<Rule> = None;
    let mut days: Option<u32> = None;
    let mut class: Option<String> = None;
    let mut text = String::new();
    loop {
        let before = reader.buffer_position() as usize;
        match reader
            .read_event()
            .map_err(|e| format!("unreadable lifecycle XML: {e}"))?
        {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if name == "Rule" && depth_in_rule == 0 {
                    start = before;
                    cur = Some(Rule {
                        xml: String::new(),
                        id: String::new(),
                        prefix: String::new(),
                        enabled: false,
                        transitions: vec![],
                        expiration_days: None,
                        conditional: false,
                    });
                }
                if let Some(r) = cur.as_mut() {
                    if matches!(
                        name.as_str(),
                        "Tag" | "Not" | "ObjectSizeGreaterThan" | "ObjectSizeLessThan"
                    ) {
                        r.conditional = true;
                    }
                }
                if cur.is_some() {
                    depth_in_rule += 1;
                }
                path.push(name);
                text.clear();
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if let Some(r) = cur.as_mut() {
                    let text = std::mem::take(&mut text);
                    let parent = path.get(path.len().wrapping_sub(2)).map(String::as_str);
                    match (parent, path.last().map(String::as_str)) {
                        (Some("Rule"), Some("ID")) => r.id = text,
                        (Some("Rule"), Some("Prefix")) | (Some("Filter"), Some("Prefix")) => r.prefix = text,
                        (Some("Rule"), Some("Status")) => r.enabled = text == "Enabled",
                        (Some("Transition"), Some("Days")) => days = text.trim().parse().ok(),
                        (Some("Transition"), Some("StorageClass")) => class = Some(text),
                        (Some("Expiration"), Some("Days")) => r.expiration_days = text.trim().parse().ok(),
                        _ => {}
                    }
                }
                text.clear();
                if cur.is_some() {
                    depth_in_rule -= 1;
                    if name == "Transition" && path.len() >= 2 {
                        if let (Some(d), Some(c)) = (days.take(), class.take()) {
                            cur.as_mut().unwrap().transitions.push((d, c));
                        }
                    }
                    if name == "Rule" && depth_in_rule == 0 {
                        let mut r = cur.take().unwrap();
                        r.xml = xml[start..reader.buffer_position() as usize].to_string();
                        rules.push(r);
                    }
                }
                path.pop();
            }
            // Text arrives in pieces: quick-xml reports each entity (`&amp;`, `&#60;`) as an
            // event of its own, so the text of an element is joined until it ends.
            Event::Text(t) => text.push_str(&t.decode().map(|c| c.into_owned()).unwrap_or_default()),
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                let name = r.decode().map(|c| c.into_owned()).unwrap_or_default();
                match r.resolve_char_ref() {
                    Ok(Some(c)) => text.push(c),
                    _ => match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(v) => text.push_str(v),
                        None => return Err(format!("unreadable lifecycle XML: unknown entity &{name};")),
                    },
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(rules)
}

/// The configuration with camvault's rule added or replaced, every other rule verbatim.
#[cfg(test)]
pub fn merge(existing: &[Rule], ours: &Rule) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration>");
    for r in existing.iter().filter(|r| r.id != RULE_ID) {
        out.push_str(&r.xml);
    }
    out.push_str(&ours.xml);
    out.push_str("</LifecycleConfiguration>");
    out
}

/// The configuration with camvault's rules `ours` in place of every rule of camvault's with
/// the same ID, every other rule verbatim and in its order.
pub fn merge_all(existing: &[Rule], ours: &[Rule]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration>");
    for r in existing.iter().filter(|r| !ours.iter().any(|o| o.id == r.id)) {
        out.push_str(&r.xml);
    }
    for o in ours {
        out.push_str(&o.xml);
    }
    out.push_str("</LifecycleConfiguration>");
    out
}

/// Pairs of enabled rules (IDs) whose prefixes overlap and that share an action
/// (a transition, or an expiration): OSS refuses such a configuration unless
/// `x-oss-allow-same-action-overlap: true` is sent.
pub fn same_action_overlaps(rules: &[Rule]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let overlap = a.prefix.starts_with(&b.prefix) || b.prefix.starts_with(&a.prefix);
            let same = (!a.transitions.is_empty() && !b.transitions.is_empty())
                || (a.expiration_days.is_some() && b.expiration_days.is_some());
            if a.enabled && b.enabled && overlap && same {
                out.push((a.id.clone(), b.id.clone()));
            }
        }
    }
    out
}

/// Why the bucket's rules do not do what the config asks, if they do not.
#[cfg(test)]
pub fn check(existing: &[Rule], want: &Rule) -> Result<(), String> {
    let Some(r) = existing.iter().find(|r| r.id == RULE_ID) else {
        return Err(format!(
            "the bucket has no camvault rule: nothing moves objects under {:?} to {}; run `camvault lifecycle apply`",
            want.prefix, want.transitions[0].1
        ));
    };
    if !r.enabled {
        return Err("the camvault rule is disabled; run `camvault lifecycle apply`".into());
    }
    if r.prefix != want.prefix || r.transitions != want.transitions {
        return Err(format!("the bucket's camvault rule differs from the config:\n  bucket: {}\n  config: {}\nrun `camvault lifecycle apply`", r.describe(), want.describe()));
    }
    if let Some(d) = r.expiration_days {
        return Err(format!(
            "the camvault rule also DELETES objects after {d} days; remove that with `camvault lifecycle apply`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like the examples in Aliyun's PutBucketLifecycle reference.
    const BUCKET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration>
  <Rule>
    <ID>delete objects and parts after one day</ID>
    <Prefix>logs/</Prefix>
    <Status>Enabled</Status>
    <Expiration><Days>1</Days></Expiration>
    <AbortMultipartUpload><Days>1</Days></AbortMultipartUpload>
  </Rule>
  <Rule>
    <ID>user's ossfs rule</ID>
    <Prefix>xiaomi_camera_videos/</Prefix>
    <Status>Enabled</Status>
    <Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition>
    <Tag><Key>a&amp;b</Key><Value>1</Value></Tag>
  </Rule>
</LifecycleConfiguration>"#;

    #[test]
    fn reads_rules_and_keeps_them_verbatim() {
        let rules = parse(BUCKET).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].expiration_days, Some(1));
        assert_eq!(rules[1].transitions, vec![(30, "DeepColdArchive".to_string())]);
        assert!(rules[1]
            .describe()
            .contains("move to DeepColdArchive 30 days after upload"));
        let ours = camvault_rule("videos/", 30, "DeepColdArchive");
        let merged = merge(&rules, &ours);
        for r in &rules {
            assert!(merged.contains(&r.xml), "kept verbatim: {}", r.xml);
        }
        let again = parse(&merged).unwrap();
        assert_eq!(again.len(), 3);
        assert!(check(&again, &ours).is_ok());
        // Applying twice replaces, never duplicates.
        let twice = parse(&merge(&again, &camvault_rule("videos/", 7, "ColdArchive"))).unwrap();
        assert_eq!(twice.iter().filter(|r| r.id == RULE_ID).count(), 1);
        assert!(check(&twice, &ours).unwrap_err().contains("differs"));
        assert!(check(&rules, &ours).unwrap_err().contains("no camvault rule"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "(<Rule>|</Rule>|<ID>|</ID>|<Days>|</Days>|<Transition>|</Transition>|\\PC){0,60}") {
            let _ = parse(&s);
        }
    }
}
