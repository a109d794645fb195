//! Edits of camvault.toml that keep everything else byte for byte: comments, order, the
//! keys `setup` does not own. A line-based editor for the file camvault itself writes
//! (one `key = value` per line, `[section]` headers), not a general TOML editor.

use super::setup::CameraAnswer;

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Sets `key = value` (value already TOML) in `[section]`: replaces the key's line, else
/// adds it right under the header; adds the section at the end when there is none.
pub fn set_key(text: &str, section: &str, key: &str, value: &str) -> String {
    let header = format!("[{section}]");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let Some(start) = lines.iter().position(|l| l.trim() == header) else {
        let mut out = text.trim_end().to_string();
        out.push_str(&format!("\n\n{header}\n{key} = {value}\n"));
        return out;
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .map_or(lines.len(), |i| start + 1 + i);
    let is_key = |l: &str| {
        l.split_once('=')
            .is_some_and(|(k, _)| k.trim() == key && !l.trim_start().starts_with('#'))
    };
    let new = format!("{key} = {value}");
    match (start + 1..end).find(|&i| is_key(&lines[i])) {
        Some(i) => lines[i] = new,
        None => lines.insert(start + 1, new),
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Replaces every `[cameras.MAC]` table with `cameras` (appended at the end of the file).
pub fn set_cameras(text: &str, cameras: &[CameraAnswer]) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            skipping = t.starts_with("[cameras.") || t.starts_with("[cameras]");
        }
        if !skipping {
            out.push(line);
        }
    }
    let mut s = out.join("\n").trim_end().to_string();
    s.push('\n');
    for c in cameras {
        s.push_str(&format!("\n[cameras.{}]\n", quote(&c.mac)));
        if !c.name.is_empty() {
            s.push_str(&format!("name = {}\n", quote(&c.name)));
        }
        s.push_str(&format!("timezone = {}\n", quote(&c.timezone)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# top\n[samba]\n# the user\ncamera_user = \"camera\"\nport = 445\n\n[store]\nkind = \"fs\"\n\n[cameras.\"aabbccddeeff\"]\nname = \"old\"\n";

    #[test]
    fn set_key_changes_only_that_line() {
        let t = set_key(TEXT, "samba", "camera_user", &quote("cam2"));
        assert!(t.contains("# the user\ncamera_user = \"cam2\"\nport = 445"), "{t}");
        assert!(t.starts_with("# top\n[samba]\n"));
        let t = set_key(&t, "samba", "manage", "false");
        assert!(t.contains("[samba]\nmanage = false\n# the user"), "{t}");
        // A key of the same name in another section is not touched.
        let t = set_key(&t, "store", "kind", &quote("s3"));
        assert!(t.contains("kind = \"s3\"") && t.contains("port = 445"));
        let t = set_key(&t, "store.s3", "bucket", &quote("cam-archive"));
        assert!(t.ends_with("[store.s3]\nbucket = \"cam-archive\"\n"), "{t}");
        crate::config::Config::parse(&t).unwrap();
    }

    #[test]
    fn set_cameras_replaces_the_tables() {
        let cams = [CameraAnswer {
            mac: "112233445566".into(),
            name: "front".into(),
            timezone: "Asia/Shanghai".into(),
        }];
        let t = set_cameras(TEXT, &cams);
        assert!(!t.contains("aabbccddeeff") && !t.contains("old"), "{t}");
        assert!(
            t.contains("[cameras.\"112233445566\"]\nname = \"front\"\ntimezone = \"Asia/Shanghai\"\n"),
            "{t}"
        );
        assert!(t.contains("[store]\nkind = \"fs\"\n"));
        let cfg = crate::config::Config::parse(&t).unwrap();
        assert_eq!(cfg.cameras.len(), 1);
    }
}
