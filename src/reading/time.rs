//! Timestamps and their units: the signed 64-bit nanosecond range every conversion must stay
//! inside (Telegraf scales by an unchecked multiplication, so a value outside it wraps).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The unit of a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Precision {
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Milliseconds,
    /// Microseconds.
    Microseconds,
    /// Nanoseconds, Telegraf's default for line protocol.
    #[default]
    Nanoseconds,
}

impl Precision {
    /// All precisions, coarsest first.
    pub const ALL: [Precision; 4] = [
        Precision::Seconds,
        Precision::Milliseconds,
        Precision::Microseconds,
        Precision::Nanoseconds,
    ];

    /// How many of this unit make one second.
    pub fn per_second(self) -> i64 {
        match self {
            Precision::Seconds => 1,
            Precision::Milliseconds => 1_000,
            Precision::Microseconds => 1_000_000,
            Precision::Nanoseconds => 1_000_000_000,
        }
    }

    /// The short name used on the command line: `s`, `ms`, `us`, `ns`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Seconds => "s",
            Precision::Milliseconds => "ms",
            Precision::Microseconds => "us",
            Precision::Nanoseconds => "ns",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a precision name that is not `s`, `ms`, `us` or `ns`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timestamp precision {0:?}: expected s, ms, us or ns")]
pub struct UnknownPrecision(pub String);

impl FromStr for Precision {
    type Err = UnknownPrecision;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "s" | "1s" => Ok(Precision::Seconds),
            "ms" | "1ms" => Ok(Precision::Milliseconds),
            "us" | "1us" | "µs" => Ok(Precision::Microseconds),
            "ns" | "1ns" => Ok(Precision::Nanoseconds),
            other => Err(UnknownPrecision(other.to_owned())),
        }
    }
}

/// A point in time: an integer count of `precision` units since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Units since the Unix epoch; negative before 1970.
    pub value: i64,
    /// The unit of `value`.
    pub precision: Precision,
}

impl Timestamp {
    /// A timestamp of `value` units of `precision`.
    pub fn new(value: i64, precision: Precision) -> Self {
        Timestamp { value, precision }
    }

    /// The current time, truncated to `precision`.
    pub fn now(precision: Precision) -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let nanos = i64::try_from(since.as_nanos()).unwrap_or(i64::MAX);
        Timestamp::new(nanos, Precision::Nanoseconds).convert_lossy(precision)
    }

    /// The instant in nanoseconds since the Unix epoch, or `None` when it is outside the signed
    /// 64-bit nanosecond range (1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z).
    ///
    /// That range is the one rule for every timestamp telemit writes: Telegraf multiplies a
    /// timestamp by its unit (`influx_timestamp_precision`, `json_time_format`) into an `int64`
    /// of nanoseconds without checking, and every Telegraf output writes `UnixNano()`, so a time
    /// outside it wraps silently (`99999999999` at `1s` is read as a time in 2216).
    ///
    /// ```
    /// use telemit::{Precision, Timestamp};
    /// assert_eq!(Timestamp::new(-3, Precision::Seconds).nanos(), Some(-3_000_000_000));
    /// assert_eq!(Timestamp::new(99_999_999_999, Precision::Seconds).nanos(), None);
    /// ```
    pub fn nanos(self) -> Option<i64> {
        let per_unit = Precision::Nanoseconds.per_second() / self.precision.per_second();
        self.value.checked_mul(per_unit)
    }

    /// The same instant in another unit, or `None` when the instant is outside the signed 64-bit
    /// nanosecond range (see [`nanos`](Timestamp::nanos)), whatever the target unit.
    ///
    /// Converting to a coarser unit truncates toward zero, as Telegraf does (Go's integer
    /// division, `UnixNano() / unit`): -1.5 s is -1 s, not -2 s.
    ///
    /// ```
    /// use telemit::{Precision, Timestamp};
    /// let ms = Timestamp::new(1_700_000_000_123, Precision::Milliseconds);
    /// assert_eq!(ms.to_precision(Precision::Seconds), Some(1_700_000_000));
    /// assert_eq!(ms.to_precision(Precision::Nanoseconds), Some(1_700_000_000_123_000_000));
    /// let before_1970 = Timestamp::new(-1_500, Precision::Milliseconds);
    /// assert_eq!(before_1970.to_precision(Precision::Seconds), Some(-1));
    /// // 1700000000123456789 read as milliseconds is far beyond 2262: refused at any unit.
    /// let wrong_unit = Timestamp::new(1_700_000_000_123_456_789, Precision::Milliseconds);
    /// assert_eq!(wrong_unit.to_precision(Precision::Milliseconds), None);
    /// ```
    pub fn to_precision(self, target: Precision) -> Option<i64> {
        let nanos = self.nanos()?;
        Some(nanos / (Precision::Nanoseconds.per_second() / target.per_second()))
    }

    fn convert_lossy(self, target: Precision) -> Timestamp {
        let value = self.to_precision(target).unwrap_or(i64::MAX);
        Timestamp::new(value, target)
    }
}
