//! A time range from a request (`from_ms`, `to_ms`), checked once: both ends inside the
//! years camvault can hold, the end after the start, and the length within the endpoint's
//! limit. The length is computed with checked arithmetic: `i64::MIN..i64::MAX` must not wrap
//! into a short range (issue 13, finding 5).

use axum::http::StatusCode;
use axum::response::Response;

use super::fail_msg;
use crate::msg;
use crate::msg::Msg;

/// 2000-01-01T00:00:00Z: no camera clip is older.
pub const EARLIEST_MS: i64 = 946_684_800_000;
/// 2200-01-01T00:00:00Z: no clip is newer.
pub const LATEST_MS: i64 = 7_258_118_400_000;
pub const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl TimeRange {
    /// Checks `from_ms..to_ms` against the bounds and a length of at most `max_days`;
    /// the error names the values and what to send instead.
    pub fn new(from_ms: i64, to_ms: i64, max_days: i64) -> Result<TimeRange, Msg> {
        for (name, v) in [("from_ms", from_ms), ("to_ms", to_ms)] {
            if !(EARLIEST_MS..=LATEST_MS).contains(&v) {
                return Err(msg!("api.range_years", name = name, v = v));
            }
        }
        match to_ms.checked_sub(from_ms) {
            Some(len) if len > 0 && len <= max_days.saturating_mul(DAY_MS) => Ok(TimeRange { from_ms, to_ms }),
            _ => Err(msg!("api.range_length", days = max_days, from = from_ms, to = to_ms)),
        }
    }

    /// The 400 response for a range [`TimeRange::new`] refuses.
    pub fn refusal(from_ms: i64, to_ms: i64, max_days: i64) -> Option<Response> {
        Self::new(from_ms, to_ms, max_days)
            .err()
            .map(|e| fail_msg(StatusCode::BAD_REQUEST, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_and_out_of_bounds_ranges_are_refused() {
        let t = 1_716_267_930_000;
        assert_eq!(TimeRange::new(t, t + DAY_MS, 2).unwrap().to_ms, t + DAY_MS);
        assert!(TimeRange::new(t, t + 2 * DAY_MS + 1, 2).is_err());
        assert!(TimeRange::new(t, t, 2).is_err(), "empty");
        assert!(TimeRange::new(t, t - 1, 2).is_err(), "backwards");
        // i64::MAX - i64::MIN wraps to -1 unchecked; every such pair is refused.
        for (a, b) in [
            (i64::MIN, i64::MAX),
            (i64::MIN, t),
            (t, i64::MAX),
            (i64::MAX, i64::MIN),
            (0, DAY_MS),
        ] {
            let e = TimeRange::new(a, b, 31).unwrap_err();
            assert!(e.en().contains("years 2000-2200"), "{e}");
        }
        assert!(TimeRange::new(t, t + DAY_MS, i64::MAX).is_ok(), "the limit saturates");
    }

    proptest::proptest! {
        /// Any two i64 from a request: never a panic (debug overflow), and an accepted
        /// range is inside the bounds, forward and at most the limit long.
        #[test]
        fn any_pair_is_checked_without_overflow(a in proptest::num::i64::ANY, b in proptest::num::i64::ANY, days in 0i64..400) {
            if let Ok(r) = TimeRange::new(a, b, days) {
                proptest::prop_assert!(r.from_ms >= EARLIEST_MS && r.to_ms <= LATEST_MS);
                proptest::prop_assert!(r.to_ms > r.from_ms && r.to_ms - r.from_ms <= days * DAY_MS);
            }
        }
    }
}
