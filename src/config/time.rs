//! Times of day (`HH:MM`) and daily windows (`HH:MM-HH:MM`, may wrap past midnight), in
//! the host's zone: `alerts.quiet_hours`, `upload.bandwidth_schedule`.

use std::fmt;
use std::str::FromStr;

/// `HH:MM` → minutes after midnight (`24:00` is the end of the day).
pub fn parse_hhmm(s: &str) -> Result<u32, String> {
    let (h, m) = s.split_once(':').ok_or("expected HH:MM")?;
    let h: u32 = h.parse().map_err(|_| "expected HH:MM")?;
    let m: u32 = m.parse().map_err(|_| "expected HH:MM")?;
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err("hour 0-24 and minute 0-59 expected".into());
    }
    Ok(h * 60 + m)
}

/// A time of day, `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u32);

impl TimeOfDay {
    /// `minutes` after midnight, at most 1440 (24:00).
    pub fn from_minutes(minutes: u32) -> Option<TimeOfDay> {
        (minutes <= 24 * 60).then_some(TimeOfDay(minutes))
    }

    /// Minutes after midnight, 0 to 1440.
    pub fn minutes(self) -> u32 {
        self.0
    }
}

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_hhmm(s).map(TimeOfDay)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// From `from` (inclusive) to `to` (exclusive) every day; `to` before `from` wraps past
/// midnight, `from` = `to` is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: TimeOfDay,
    pub to: TimeOfDay,
}

impl TimeWindow {
    /// Whether `minute` after midnight is inside.
    pub fn contains(&self, minute: u32) -> bool {
        let (a, b) = (self.from.0, self.to.0);
        if a <= b {
            minute >= a && minute < b
        } else {
            minute >= a || minute < b
        }
    }
}

impl FromStr for TimeWindow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once('-').ok_or("expected HH:MM-HH:MM")?;
        Ok(TimeWindow {
            from: a.parse()?,
            to: b.parse()?,
        })
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_windows() {
        assert_eq!("07:30".parse::<TimeOfDay>().unwrap().minutes(), 450);
        assert_eq!("24:00".parse::<TimeOfDay>().unwrap().to_string(), "24:00");
        assert_eq!("7:05".parse::<TimeOfDay>().unwrap().to_string(), "07:05");
        for bad in ["", "7", "25:00", "24:01", "12:60", "aa:bb", "-1:00"] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
        let night: TimeWindow = "22:00-07:00".parse().unwrap();
        assert!(night.contains(23 * 60) && night.contains(6 * 60) && !night.contains(12 * 60));
        let day: TimeWindow = "09:00-17:00".parse().unwrap();
        assert!(day.contains(9 * 60) && !day.contains(17 * 60) && !day.contains(8 * 60));
        assert!(!"10:00-10:00".parse::<TimeWindow>().unwrap().contains(10 * 60));
        for bad in ["", "22:00", "22:00-", "22:00-7", "x-y"] {
            assert!(bad.parse::<TimeWindow>().is_err(), "{bad}");
        }
    }
}
