//! Unit tests of `wavefront.rs`, apart so that the module itself reads in one sitting.
use super::*;
use crate::FieldValue;

#[test]
fn reads_quotes_and_timestamps_like_telegraf() {
    let r =
        parse_line("\"my cpu.idle %\" -1.5e-7 1700000000123456789 source=\"box 1\" k=\"a\\\"b\"")
            .unwrap()
            .unwrap();
    assert_eq!(r.measurement(), "my cpu.idle %");
    assert_eq!(r.field("value"), Some(&FieldValue::Float(-1.5e-7)));
    assert_eq!(r.timestamp().unwrap().value, 1_700_000_000);
    assert_eq!(r.tag("k"), Some("a\\\"b"));
    assert_eq!(parse_line("").unwrap(), None);
    // Whitespace alone is no line for Telegraf: it fails.
    assert!(parse_line("  ").is_err());
}

#[test]
fn errors() {
    let cases = [
        ("cpu", "column 4: expected a value after the metric name"),
        (
            "cpu +Inf",
            "column 5: invalid value \"+Inf\": expected a float",
        ),
        (
            "cpu 1e+5",
            "column 5: invalid value \"1e+5\": expected a float",
        ),
        (
            "cpu NaN",
            "value of field \"value\" is NaN, which Telegraf rejects: only finite floats can be sent",
        ),
        (
            "cpu 1 junk",
            "column 11: expected '=' after the tag key \"junk\", found '\\n'",
        ),
        ("cpu 1 k=", "column 9: tag \"k\" has no value"),
        ("cpu 1 k=\"v", "column 9: unterminated quoted token"),
        (
            "m.v 1.0 1k=x",
            "column 9: invalid timestamp \"1\" (1 digits): Telegraf reads 10 digits as seconds and 13, 16 or 19 as ms, µs or ns",
        ),
        (
            "m.v 1.0 100000000",
            "column 9: invalid timestamp \"100000000\" (9 digits): Telegraf reads 10 digits as seconds and 13, 16 or 19 as ms, µs or ns",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(
            parse_line(line).unwrap_err().to_string(),
            expected,
            "{line}"
        );
    }
}

/// Lines with what Telegraf's Wavefront parser reads from each.
#[test]
fn reads_exactly_what_telegraf_reads() {
    let read = |line: &str| {
        parse_line(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .unwrap()
    };
    let ts = |line: &str| read(line).timestamp().map(|t| t.value);
    assert_eq!(ts("m.v 1.0 0"), None);
    assert_eq!(ts("m.v 1.0 00"), None);
    assert_eq!(ts("m.v 1.0 0000000000"), Some(0));
    assert_eq!(ts("m.v 1.0 0946684799"), Some(946_684_799));
    assert_eq!(ts("m.v 1.0 1700000000999"), Some(1_700_000_000));
    assert_eq!(ts("m.v 1.0 1700000000999999"), Some(1_700_000_000));
    // A quoted key that starts with a digit is a tag, not a timestamp.
    let r = read("job 1.0 \"5xx\"=12");
    assert_eq!((r.tag("5xx"), r.timestamp()), (Some("12"), None));
    // Tags right after the timestamp, a duplicate key (the last wins), `∆` first.
    let r = read("\u{2206}m.v -2 1700000000k=a k=b \"q\"=\"x y\"");
    assert_eq!(r.measurement(), "\u{2206}m.v");
    assert_eq!(
        r.tags(),
        &[
            ("k".to_owned(), "b".to_owned()),
            ("q".to_owned(), "x y".to_owned())
        ]
    );
    // Go's ParseFloat: hex floats and any-case specials parse.
    assert_eq!(
        read("m 0x1p-2").field("value"),
        Some(&FieldValue::Float(0.25))
    );
    assert_eq!(read("m 1E5").field("value"), Some(&FieldValue::Float(1e5)));
    // With no space after the value, its last character starts the first tag key.
    assert_eq!(read("m 1,k=v").tag("1,k"), Some("v"));
    // Unquoted names take `/ \ ,` too.
    assert_eq!(read("a/b\\c,d 1 k=x/y").measurement(), "a/b\\c,d");
    for line in [
        "m.v 1.0 1k=x",
        "m.v 1.0 100000000",
        "m.v 1.0 5xx=12",
        "m.v 1.0 -1700000000",
        "m.v 1.0 17000000000000000000000",
        "m.v 1e400",
        "m.v 1.0 k",
        "m%v 1",
        "m.v 1 k=a%b",
        "m.\u{2206} 1",
        " m 1",
    ] {
        assert!(
            parse_line(line).is_err(),
            "{line:?} read {:?}",
            parse_line(line)
        );
    }
}
