//! The month calendar's activity per day (issue 15, item 6), counted by the camera's own
//! local day.
//!
//! The hour summary (`index_hours`) is kept per UTC hour. An hour lies inside one local
//! day in zones whose offset is a whole number of hours, but not in zones with a half- or
//! quarter-hour offset (Asia/Kolkata +05:30: the UTC hour 18:00-19:00 is 23:30-00:30
//! there), nor at the month's first and last midnight when the query's hours overhang it.
//! Counting such an hour for the day it starts in put the segments of 00:00-00:30 on the
//! day before. So: an hour wholly inside one local day counts from the summary; an hour
//! that a local midnight (or the month's edge) cuts is counted from its segments, split at
//! the cut — at most one or two hours a day, read through the segments' (camera, start)
//! index.

use std::collections::BTreeMap;

use anyhow::Result;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::catalog::Catalog;

const HOUR: i64 = 3_600_000;

/// Segments per local day of `camera` from `first` to `last` (inclusive), days without
/// segments left out. A segment counts for the local day it starts in.
pub fn day_counts(cat: &Catalog, camera: &str, tz: &TimeZone, first: Date, last: Date) -> Result<BTreeMap<Date, u64>> {
    let midnight = |d: Date| -> Result<i64> { Ok(d.to_zoned(tz.clone())?.timestamp().as_millisecond()) };
    let (start, end) = (midnight(first)?, midnight(last.tomorrow()?)?);
    let day_of = |ms: i64| -> Result<Date> { Ok(jiff::Timestamp::from_millisecond(ms)?.to_zoned(tz.clone()).date()) };
    let mut days = BTreeMap::<Date, u64>::new();
    for (hour, n) in cat.index_hour_counts(camera, start, end)? {
        let (a, b) = ((hour * HOUR).max(start), ((hour + 1) * HOUR).min(end));
        if a >= b {
            continue;
        }
        let d = day_of(a)?;
        if a == hour * HOUR && b == (hour + 1) * HOUR && day_of(b - 1)? == d {
            *days.entry(d).or_default() += n;
            continue;
        }
        // Cut by a local midnight or the month's edge: count the pieces from the segments.
        let mut from = a;
        while from < b {
            let d = day_of(from)?;
            let to = midnight(d.tomorrow()?)?.min(b);
            let k = cat.index_segment_count(camera, from, to)?;
            if k > 0 {
                *days.entry(d).or_default() += k;
            }
            from = to;
        }
    }
    Ok(days)
}
