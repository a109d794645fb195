//! Object keys: the template that places each recording in the store.
//!
//! Keys are never reused for different bytes (see `catalog`): a second revision of a file
//! gets `.rN` before its extension. File names from the camera are made safe for every
//! backend here, reversibly, so that a non-UTF-8 or odd name is archived, never dropped.

use jiff::Zoned;

/// A parsed key template such as `videos/{camera}/{date}/{hour}/{file}`.
#[derive(Debug, Clone)]
pub struct Template {
    /// As written, for messages and `Display`.
    source: String,
    parts: Vec<Part>,
}

impl PartialEq for Template {
    fn eq(&self, other: &Template) -> bool {
        self.source == other.source
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
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
        // A stray `}` is a typo (`{file}}`), and a literal holding it makes keys ambiguous.
        if parts.iter().any(|p| matches!(p, Part::Lit(l) if l.contains('}'))) {
            return Err("'}' without its '{'".into());
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
        Ok(Template {
            source: s.to_string(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
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

/// The longest key component [`safe_name`] makes, in bytes. A camera's file name may be
/// 255 bytes, which `%XX` escapes can triple, while a key component becomes a file name in
/// the vault, the fs store, its metadata (`<name>.json`) and restores, all limited to 255
/// bytes (NAME_MAX); 200 leaves room for a revision (`.r4294967295`) and those suffixes.
/// S3 and OSS keys may be 1024 / 1023 bytes: the template's few components stay far below.
pub const MAX_NAME: usize = 200;

/// Makes a camera file name safe as one key component: valid UTF-8 other than control
/// characters, `/`, `\`, `%` and the two code points XML 1.0 cannot carry (U+FFFE, U+FFFF:
/// a listing holding them could not be parsed) is kept (spaces and CJK included); every
/// other byte becomes `%XX`. An empty name, `.`, `..` and a leading `.camvault` (the fs
/// store's own folder) are escaped too. Reversible up to [`MAX_NAME`] bytes; a longer one
/// keeps its start and extension around `~` and 16 hex digits of the SHA-256 of the raw
/// name, so distinct names stay distinct (the catalog keeps the raw name as `inbox_path`,
/// and gives a key that is taken anyway a new revision).
pub fn safe_name(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || matches!(c, '/' | '\\' | '%' | '\u{FFFE}' | '\u{FFFF}') {
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
    if out.starts_with(".camvault") {
        out.replace_range(..1, "%2E");
    }
    if out.len() > MAX_NAME {
        out = shorten(raw, &out);
    }
    out
}

/// `<start>~<hash><.ext>` of at most [`MAX_NAME`] bytes, for an escaped name that is longer.
fn shorten(raw: &[u8], escaped: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(raw);
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    // The extension survives when it is short, so players and thumbnails still know it.
    let ext = escaped
        .rfind('.')
        .filter(|&i| i > 0 && escaped.len() - i <= 16)
        .map_or("", |i| &escaped[i..]);
    let mut cut = MAX_NAME - ext.len() - 1 - hash.len();
    while !escaped.is_char_boundary(cut) {
        cut -= 1;
    }
    // Never split a %XX escape.
    if let Some(p) = escaped[..cut].rfind('%') {
        if cut - p < 3 {
            cut = p;
        }
    }
    format!("{}~{hash}{ext}", &escaped[..cut])
}

/// A key as a relative path on a local disk (restores): each component that could not be
/// a file name there (empty, `.`, `..`, longer than [`MAX_NAME`]) goes through
/// [`safe_name`], so a key from any store, adopted ones included, stays beneath the folder
/// it is written to.
pub fn local_path(key: &str) -> std::path::PathBuf {
    key.split('/')
        .map(|c| {
            if c.is_empty() || c == "." || c == ".." || c.len() > MAX_NAME {
                safe_name(c.as_bytes())
            } else {
                c.to_string()
            }
        })
        .collect()
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
        assert_eq!(safe_name(b".camvault"), "%2Ecamvault");
        assert_eq!(safe_name("a\u{FFFF}".as_bytes()), "a%EF%BF%BF");
        assert_eq!(safe_name(b"..mp4"), "..mp4");
    }

    #[test]
    fn long_names_are_shortened_distinctly_with_their_extension() {
        let a = [b'a'; 251].iter().chain(b".mp4").copied().collect::<Vec<u8>>();
        let mut b = a.clone();
        b[0] = b'b';
        let (ka, kb) = (safe_name(&a), safe_name(&b));
        assert!(ka.len() <= MAX_NAME && ka.ends_with(".mp4") && ka.contains('~'), "{ka}");
        assert_ne!(ka, kb);
        // 255 invalid bytes escape to 765: cut at an escape boundary.
        let k = safe_name(&[0xff; 255]);
        assert!(k.len() <= MAX_NAME, "{k}");
        assert!(
            k.split('~').next().unwrap().split('%').skip(1).all(|e| e == "FF"),
            "{k}"
        );
        assert!(revision_key(&format!("v/{ka}"), u32::MAX).len() - 2 < 255);
    }

    #[test]
    fn local_paths_stay_beneath() {
        assert_eq!(local_path("a/b.mp4"), std::path::PathBuf::from("a/b.mp4"));
        let p = local_path("../../etc//./x");
        assert!(
            p.components().all(|c| matches!(c, std::path::Component::Normal(_))),
            "{p:?}"
        );
        let long = "x".repeat(1000);
        assert!(local_path(&long).as_os_str().len() <= MAX_NAME);
    }

    #[test]
    fn bad_templates() {
        assert!(Template::parse("videos/{camera}").is_err());
        assert!(Template::parse("../{file}").is_err());
        assert!(Template::parse("{file").is_err());
        assert!(Template::parse("videos/{file}}").is_err());
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
