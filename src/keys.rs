//! Object keys: the template that places each recording in the store.
//!
//! Keys are never reused for different bytes (see `catalog`): a second revision of a file
//! gets `.rN` before its extension. File names from the camera are made safe for every
//! backend here, reversibly, so that a non-UTF-8 or odd name is archived, never dropped.

use jiff::Zoned;

/// A parsed key template such as `videos/{camera}/{date}/{hour}/{file}`.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Var(Var),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Var {
    Camera,
    Mac,
    Channel,
    Date,
    Hour,
    Year,
    Month,
    Day,
    File,
}

impl Var {
    fn name(self) -> &'static str {
        match self {
            Var::Camera => "camera",
            Var::Mac => "mac",
            Var::Channel => "channel",
            Var::Date => "date",
            Var::Hour => "hour",
            Var::Year => "year",
            Var::Month => "month",
            Var::Day => "day",
            Var::File => "file",
        }
    }
}

/// What a key is made from.
pub struct KeyInput<'a> {
    pub camera: &'a str,
    pub mac: Option<&'a str>,
    pub channel: Option<&'a str>,
    /// Start of the recording in the camera's zone.
    pub start: &'a Zoned,
    /// The file name as written by the camera, raw bytes.
    pub file: &'a [u8],
}

impl Template {
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Lit(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').ok_or("unclosed '{'")? + open;
            let var = match &rest[open + 1..close] {
                "camera" => Var::Camera,
                "mac" => Var::Mac,
                "channel" => Var::Channel,
                "date" => Var::Date,
                "hour" => Var::Hour,
                "year" => Var::Year,
                "month" => Var::Month,
                "day" => Var::Day,
                "file" => Var::File,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}}; use {{camera}} {{date}} {{hour}} {{file}} {{mac}} {{channel}} {{year}} {{month}} {{day}}"
                    ))
                }
            };
            parts.push(Part::Var(var));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        if !parts.contains(&Part::Var(Var::File)) {
            return Err("must contain {file}, or different recordings would share one key".into());
        }
        if s.starts_with('/') || s.contains("//") || s.split('/').any(|c| c == ".." || c == ".") {
            return Err("must be a relative path without empty, '.' or '..' components".into());
        }
        if ["manifests/", "catalog/", ".camvault", "camvault-probe/"]
            .iter()
            .any(|p| s.starts_with(p))
        {
            return Err(
                "must not start with a prefix camvault reserves (manifests/, catalog/, .camvault, camvault-probe/)"
                    .into(),
            );
        }
        Ok(Template { parts })
    }

    /// The literal prefix before the first placeholder: what a lifecycle rule targets.
    pub fn prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Lit(s)) => s,
            _ => "",
        }
    }

    /// Reads a key this template made back into its placeholders' values (`camera`,
    /// `date`, `hour`, `file`, …), or `None` when the key does not fit the template.
    pub fn match_key(&self, key: &str) -> Option<std::collections::BTreeMap<&'static str, String>> {
        let mut out = std::collections::BTreeMap::new();
        let mut rest = key;
        for (i, p) in self.parts.iter().enumerate() {
            match p {
                Part::Lit(l) => rest = rest.strip_prefix(l.as_str())?,
                Part::Var(v) => {
                    let end = match self.parts.get(i + 1) {
                        Some(Part::Lit(l)) => rest.find(l.as_str())?,
                        _ if *v == Var::File => rest.len(),
                        _ => rest.find('/').unwrap_or(rest.len()),
                    };
                    let (val, r) = rest.split_at(end);
                    if val.is_empty() || (*v != Var::File && val.contains('/')) {
                        return None;
                    }
                    out.insert(v.name(), val.to_string());
                    rest = r;
                }
            }
        }
        rest.is_empty().then_some(out)
    }

    pub fn render(&self, k: &KeyInput) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v) => out.push_str(&match v {
                    Var::Camera => component(k.camera),
                    Var::Mac => component(k.mac.unwrap_or("unknown")),
                    Var::Channel => component(k.channel.unwrap_or("00")),
                    Var::Date => k.start.strftime("%Y-%m-%d").to_string(),
                    Var::Hour => k.start.strftime("%H").to_string(),
                    Var::Year => k.start.strftime("%Y").to_string(),
                    Var::Month => k.start.strftime("%m").to_string(),
                    Var::Day => k.start.strftime("%d").to_string(),
                    Var::File => safe_name(k.file),
                }),
            }
        }
        out
    }
}

fn component(s: &str) -> String {
    safe_name(s.as_bytes())
}

/// Makes a camera file name safe as one key component, reversibly: valid UTF-8 other than
/// control characters, `/`, `\` and `%` is kept (spaces and CJK included); every other byte
/// becomes `%XX`. An empty name or one of `.`/`..` is escaped too.
pub fn safe_name(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '/' || c == '\\' || c == '%' {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() || out == "." || out == ".." {
        out = out.replace('.', "%2E");
        if out.is_empty() {
            out.push_str("%00empty");
        }
    }
    out
}

/// `a/b/clip.mp4`, revision 2 → `a/b/clip.r2.mp4`.
pub fn revision_key(key: &str, revision: u32) -> String {
    if revision <= 1 {
        return key.to_string();
    }
    let (dir, name) = key
        .rsplit_once('/')
        .map(|(d, n)| (format!("{d}/"), n))
        .unwrap_or((String::new(), key));
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{dir}{stem}.r{revision}.{ext}"),
        _ => format!("{dir}{name}.r{revision}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_default_template() {
        let t = Template::parse("videos/{camera}/{date}/{hour}/{file}").unwrap();
        let start: Zoned = "2024-05-21T13:05:30+08:00[Asia/Shanghai]".parse().unwrap();
        let k = KeyInput {
            camera: "door",
            mac: None,
            channel: None,
            start: &start,
            file: b"05M30S_1716267930.mp4",
        };
        assert_eq!(t.render(&k), "videos/door/2024-05-21/13/05M30S_1716267930.mp4");
    }

    #[test]
    fn odd_names_are_safe_and_distinct() {
        assert_eq!(safe_name(b"a b.mp4"), "a b.mp4");
        assert_eq!(safe_name("夜间.mp4".as_bytes()), "夜间.mp4");
        assert_eq!(safe_name(b"\xff.mp4"), "%FF.mp4");
        assert_eq!(safe_name(b"%FF.mp4"), "%25FF.mp4");
        assert_eq!(safe_name(b".."), "%2E%2E");
        assert_eq!(safe_name(b"a\nb"), "a%0Ab");
    }

    #[test]
    fn bad_templates() {
        assert!(Template::parse("videos/{camera}").is_err());
        assert!(Template::parse("../{file}").is_err());
        assert!(Template::parse("{file").is_err());
        assert!(Template::parse("catalog/{file}").is_err());
        assert!(Template::parse("camvault-probe/{file}").is_err());
    }

    #[test]
    fn keys_read_back() {
        let t = Template::parse("videos/{camera}/{date}/{hour}/{file}").unwrap();
        let m = t
            .match_key("videos/door/2024-05-21/13/05M30S_1716267930.r2.mp4")
            .unwrap();
        assert_eq!(
            (m["camera"].as_str(), m["date"].as_str(), m["hour"].as_str()),
            ("door", "2024-05-21", "13")
        );
        assert_eq!(m["file"], "05M30S_1716267930.r2.mp4");
        assert!(t
            .match_key("xiaomi_camera_videos/78DF72A1B2C3/2024052113/05M30S_1716267930.mp4")
            .is_none());
        assert!(t.match_key("videos/door/2024-05-21/13").is_none());
    }

    #[test]
    fn revisions() {
        assert_eq!(revision_key("v/c/x.mp4", 1), "v/c/x.mp4");
        assert_eq!(revision_key("v/c/x.mp4", 2), "v/c/x.r2.mp4");
        assert_eq!(revision_key("v/c/noext", 3), "v/c/noext.r3");
        assert_eq!(revision_key(".hidden", 2), ".hidden.r2");
    }
}
