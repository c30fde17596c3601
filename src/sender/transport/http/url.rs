//! The request's address: the `precision` parameter line protocol needs, in the API's spelling.

use crate::format::Format;
use crate::reading::Precision;

/// `url` with the `precision` query parameter line protocol needs, in the spelling the path's
/// API takes: `ns`, `us`, `ms`, `s` for `/api/v2/write`; the 1.x `/write` (InfluxDB,
/// VictoriaMetrics, Telegraf's `influxdb_listener`) takes `u` for microseconds and reads
/// `us` as nanoseconds. A precision already in the address must agree with the encoder's.
pub(super) fn with_precision(
    url: &str,
    format: Format,
    precision: Precision,
) -> Result<String, String> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let v2 = path.trim_end_matches('/').ends_with("/api/v2/write");
    // The spelling sent, and the other one the API also takes for the unit.
    let (word, also) = match precision {
        Precision::Seconds => ("s", "s"),
        Precision::Milliseconds => ("ms", "ms"),
        Precision::Microseconds if v2 => ("us", "us"),
        Precision::Microseconds => ("u", "u"),
        Precision::Nanoseconds if v2 => ("ns", "ns"),
        Precision::Nanoseconds => ("ns", "n"),
    };
    let given = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("precision="));
    if let Some(given) = given {
        return if format != Format::Influx || given == word || given == also {
            Ok(url.to_owned())
        } else {
            Err(format!(
                "the address says precision={given} but timestamps are written in {word}: \
                 drop it from the address or set --precision to match"
            ))
        };
    }
    if format != Format::Influx {
        // Telegraf's http_listener_v2 reads JSON and Wavefront times by its own settings.
        return Ok(url.to_owned());
    }
    let joiner = if query.is_empty() {
        if url.ends_with('?') { "" } else { "?" }
    } else {
        "&"
    };
    Ok(format!("{url}{joiner}precision={word}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_goes_in_the_query_in_the_api_spelling() {
        let influx = Format::Influx;
        assert_eq!(
            with_precision("http://h:8086/write?db=t", influx, Precision::Nanoseconds).unwrap(),
            "http://h:8086/write?db=t&precision=ns"
        );
        assert_eq!(
            with_precision("http://h:8086/write?db=t", influx, Precision::Microseconds).unwrap(),
            "http://h:8086/write?db=t&precision=u"
        );
        assert_eq!(
            with_precision(
                "http://h/api/v2/write?org=o&bucket=b",
                influx,
                Precision::Microseconds
            )
            .unwrap(),
            "http://h/api/v2/write?org=o&bucket=b&precision=us"
        );
        assert_eq!(
            with_precision("http://h:8186/telegraf", influx, Precision::Seconds).unwrap(),
            "http://h:8186/telegraf?precision=s"
        );
        assert_eq!(
            with_precision(
                "http://h/write?db=t&precision=ms",
                influx,
                Precision::Milliseconds
            )
            .unwrap(),
            "http://h/write?db=t&precision=ms"
        );
        assert_eq!(
            with_precision(
                "http://h/write?db=t&precision=s",
                influx,
                Precision::Nanoseconds
            )
            .unwrap_err(),
            "the address says precision=s but timestamps are written in ns: drop it from the \
             address or set --precision to match"
        );
        assert_eq!(
            with_precision("http://h:8186/telegraf", Format::Json, Precision::Seconds).unwrap(),
            "http://h:8186/telegraf"
        );
    }
}
