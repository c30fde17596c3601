//! The unit of incoming timestamps: given, or picked from each timestamp's magnitude, and the
//! check for the classic mistake of a timestamp written in one unit and read in another.

use std::str::FromStr;

use crate::reading::{Precision, Timestamp, UnknownPrecision};

/// The unit of the timestamps a reader takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPrecision {
    /// Every timestamp is in this unit.
    Fixed(Precision),
    /// Each timestamp's unit is picked by its magnitude (see [`InputPrecision::unit_of`]).
    Auto,
}

impl InputPrecision {
    /// The unit `value` is read in.
    ///
    /// For [`Auto`](Self::Auto): fewer than 12 digits (|value| < 10^11, up to the year 5138)
    /// are seconds, below 10^14 milliseconds, below 10^17 microseconds, the rest nanoseconds.
    ///
    /// ```
    /// use telemit::{Precision, input::InputPrecision};
    /// assert_eq!(InputPrecision::Auto.unit_of(1_700_000_000), Precision::Seconds);
    /// assert_eq!(InputPrecision::Auto.unit_of(1_700_000_000_123), Precision::Milliseconds);
    /// assert_eq!(InputPrecision::Auto.unit_of(1_700_000_000_123_456), Precision::Microseconds);
    /// assert_eq!(InputPrecision::Auto.unit_of(1_700_000_000_123_456_789), Precision::Nanoseconds);
    /// ```
    pub fn unit_of(self, value: i64) -> Precision {
        match self {
            InputPrecision::Fixed(precision) => precision,
            InputPrecision::Auto => match value.unsigned_abs() {
                m if m < 100_000_000_000 => Precision::Seconds,
                m if m < 100_000_000_000_000 => Precision::Milliseconds,
                m if m < 100_000_000_000_000_000 => Precision::Microseconds,
                _ => Precision::Nanoseconds,
            },
        }
    }

    /// The unit a parser should be told: the fixed one, or nanoseconds for `Auto` (whose
    /// timestamps [`restamp`](Self::restamp) then puts in their unit).
    pub fn parse_unit(self) -> Precision {
        match self {
            InputPrecision::Fixed(precision) => precision,
            InputPrecision::Auto => Precision::Nanoseconds,
        }
    }

    /// `timestamp`, read with [`InputPrecision::parse_unit`], in the unit this precision reads
    /// it in: a fixed unit was applied by the reader already (which may have given a finer
    /// unit, as for a fractional JSON time); `auto` picks the unit by the value's magnitude.
    pub fn restamp(self, timestamp: Timestamp) -> Timestamp {
        match self {
            InputPrecision::Fixed(_) => timestamp,
            InputPrecision::Auto => Timestamp::new(timestamp.value, self.unit_of(timestamp.value)),
        }
    }
}

impl FromStr for InputPrecision {
    type Err = UnknownPrecision;

    /// `auto`, or a unit as [`Precision`] reads it: `s`, `ms`, `us` (`µs`), `ns`, or as
    /// Telegraf writes a precision, `1s`, `1ms`, `1us`, `1ns`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(InputPrecision::Auto),
            other => other.parse().map(InputPrecision::Fixed),
        }
    }
}

/// How far from now a timestamp may be before it is taken for a unit mistake: 20 years.
pub const PLAUSIBLE_NANOS: i128 = 20 * 31_557_600 * 1_000_000_000; // 20 Julian years

/// If `timestamp` is more than 20 years from `now` (nanoseconds since the epoch), the unit
/// that would put its value within 20 years of now, if any; `Some(None)` when no unit does.
/// `None` when it is plausible as it is.
///
/// ```
/// use telemit::{Precision, Timestamp, input::implausible_timestamp};
/// let now = 1_700_000_000_000_000_000;
/// // Seconds read as nanoseconds land in January 1970.
/// let ts = Timestamp::new(1_480_843_720, Precision::Nanoseconds);
/// assert_eq!(implausible_timestamp(ts, now), Some(Some(Precision::Seconds)));
/// let ts = Timestamp::new(1_480_843_720, Precision::Seconds);
/// assert_eq!(implausible_timestamp(ts, now), None);
/// ```
pub fn implausible_timestamp(timestamp: Timestamp, now: i128) -> Option<Option<Precision>> {
    let nanos = |value: i64, precision: Precision| {
        i128::from(value) * i128::from(1_000_000_000 / precision.per_second())
    };
    let near =
        |value: i64, precision: Precision| (nanos(value, precision) - now).abs() <= PLAUSIBLE_NANOS;
    if near(timestamp.value, timestamp.precision) {
        return None;
    }
    let units = [
        Precision::Seconds,
        Precision::Milliseconds,
        Precision::Microseconds,
        Precision::Nanoseconds,
    ];
    Some(units.into_iter().find(|&p| near(timestamp.value, p)))
}

/// The current time in nanoseconds since the epoch, for [`implausible_timestamp`].
pub fn now_nanos() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// The flag-style name of a unit: `s`, `ms`, `us`, `ns`.
pub fn unit_name(precision: Precision) -> &'static str {
    match precision {
        Precision::Seconds => "s",
        Precision::Milliseconds => "ms",
        Precision::Microseconds => "us",
        Precision::Nanoseconds => "ns",
    }
}

/// The word for a unit: `seconds`, `milliseconds`, `microseconds`, `nanoseconds`.
pub fn unit_words(precision: Precision) -> &'static str {
    match precision {
        Precision::Seconds => "seconds",
        Precision::Milliseconds => "milliseconds",
        Precision::Microseconds => "microseconds",
        Precision::Nanoseconds => "nanoseconds",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_unit_that_fits() {
        let now = 1_764_500_000_000_000_000;
        let cases = [
            (
                1_480_843_720,
                Precision::Nanoseconds,
                Some(Some(Precision::Seconds)),
            ),
            (
                1_700_000_000_000,
                Precision::Nanoseconds,
                Some(Some(Precision::Milliseconds)),
            ),
            (
                1_700_000_000_000,
                Precision::Seconds,
                Some(Some(Precision::Milliseconds)),
            ),
            (
                1_700_000_000_000_000,
                Precision::Milliseconds,
                Some(Some(Precision::Microseconds)),
            ),
            (
                1_700_000_000_000_000_000,
                Precision::Seconds,
                Some(Some(Precision::Nanoseconds)),
            ),
            (1_700_000_000_000_000_000, Precision::Nanoseconds, None),
            (1_764_499_000, Precision::Seconds, None),
            (5, Precision::Seconds, Some(None)),
        ];
        for (value, precision, expected) in cases {
            let ts = Timestamp::new(value, precision);
            assert_eq!(
                implausible_timestamp(ts, now),
                expected,
                "{value} {precision:?}"
            );
        }
    }

    #[test]
    fn reads_telegrafs_spellings() {
        for (text, precision) in [
            ("1s", Precision::Seconds),
            ("1ms", Precision::Milliseconds),
            ("1us", Precision::Microseconds),
            ("µs", Precision::Microseconds),
            ("1ns", Precision::Nanoseconds),
            ("ns", Precision::Nanoseconds),
        ] {
            assert_eq!(
                text.parse::<InputPrecision>(),
                Ok(InputPrecision::Fixed(precision)),
                "{text}"
            );
        }
        assert!("1h".parse::<InputPrecision>().is_err());
        assert!("10ms".parse::<InputPrecision>().is_err());
    }

    #[test]
    fn auto_picks_by_magnitude() {
        assert_eq!(InputPrecision::Auto.unit_of(-1_000), Precision::Seconds);
        assert_eq!(
            InputPrecision::Auto.unit_of(99_999_999_999),
            Precision::Seconds
        );
        assert_eq!(
            InputPrecision::Auto.unit_of(100_000_000_000),
            Precision::Milliseconds
        );
        assert_eq!("auto".parse::<InputPrecision>(), Ok(InputPrecision::Auto));
        assert_eq!(
            "ms".parse::<InputPrecision>(),
            Ok(InputPrecision::Fixed(Precision::Milliseconds))
        );
    }
}
