//! Times on the command line: RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS]]` in a camera's zone.

use anyhow::{anyhow, Result};
use jiff::{civil, tz::TimeZone, Timestamp};

pub fn parse(s: &str, tz: &TimeZone, flag: &str) -> Result<Timestamp> {
    let t = s.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    let dt = if t.len() == 10 {
        t.parse::<civil::Date>().map(|d| d.to_datetime(civil::Time::midnight()))
    } else {
        t.replacen('T', " ", 1).parse::<civil::DateTime>()
    };
    dt.ok()
        .and_then(|dt| dt.to_zoned(tz.clone()).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            anyhow!(
                "{flag} {s:?}: use RFC 3339 (2024-05-21T13:00:00+08:00) or \"YYYY-MM-DD[ HH:MM]\" in the camera's zone"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        assert_eq!(
            parse("2024-05-21", &tz, "--from").unwrap().to_string(),
            "2024-05-20T16:00:00Z"
        );
        assert_eq!(
            parse("2024-05-21 13:05", &tz, "--from").unwrap().to_string(),
            "2024-05-21T05:05:00Z"
        );
        assert_eq!(
            parse("2024-05-21T13:05:00+08:00", &tz, "--from").unwrap().to_string(),
            "2024-05-21T05:05:00Z"
        );
        let err = parse("yesterday", &tz, "--from").unwrap_err().to_string();
        assert!(err.contains("--from") && err.contains("yesterday"));
        assert!(parse("2024-13-01", &tz, "--to").is_err());
    }
}
