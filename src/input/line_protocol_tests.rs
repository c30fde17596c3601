//! Unit tests of `line_protocol.rs`, apart so that the module itself reads in one sitting.
use super::*;

fn parse(line: &str) -> Result<Option<Reading>, String> {
    parse_line(line, Precision::Nanoseconds).map_err(|e| e.to_string())
}

#[test]
fn reads_what_telegraf_reads() {
    let r =
        parse("a\\ b\\,c=d\\=e,k\\ y=v\\,a\\=l\\ ue f\\=k=1.5,s=\"q\\\"\\\\x\",i=-3i,u=3u,b=t 17")
            .unwrap()
            .unwrap();
    assert_eq!(r.measurement(), "a b,c=d\\=e");
    assert_eq!(r.tags(), &[("k y".to_string(), "v,a=l ue".to_string())]);
    assert_eq!(r.field("f=k"), Some(&FieldValue::Float(1.5)));
    assert_eq!(r.field("s"), Some(&FieldValue::String("q\"\\x".into())));
    assert_eq!(r.field("i"), Some(&FieldValue::Integer(-3)));
    assert_eq!(r.field("u"), Some(&FieldValue::Unsigned(3)));
    assert_eq!(r.field("b"), Some(&FieldValue::Boolean(true)));
    assert_eq!(
        r.timestamp(),
        Some(Timestamp::new(17, Precision::Nanoseconds))
    );

    let raw = parse("m,p=C:\\dir\\x v=1i\r").unwrap().unwrap();
    assert_eq!(raw.tag("p"), Some("C:\\dir\\x"));
    assert_eq!(parse("# comment").unwrap(), None);
    assert_eq!(parse("   ").unwrap(), None);
    for float in ["1", "-1.5", ".5", "1.", "1e21", "1E-3", "2.5e+7"] {
        assert!(parse(&format!("m v={float}")).unwrap().is_some(), "{float}");
    }
}

#[test]
fn errors_say_where_and_what() {
    let cases = [
        (
            "m",
            "column 2: expected a space before the fields, found the end of the line",
        ),
        (
            "m ",
            "column 3: expected field key, found the end of the line",
        ),
        (
            "m,t v=1",
            "column 4: expected '=' after the tag key, found ' '",
        ),
        ("m,t= v=1", "column 5: expected tag value, found ' '"),
        ("m,t=a=b v=1", "column 6: unescaped '=' in a tag value"),
        ("m v=", "column 5: expected a field value after '='"),
        (
            "m v=NaN",
            "column 5: invalid field value (not a number, boolean or quoted string): \"NaN\"",
        ),
        (
            "m v=+1",
            "column 5: invalid field value (not a number, boolean or quoted string): \"+1\"",
        ),
        (
            "m v=1e400",
            "column 5: float out of the 64-bit range: \"1e400\"",
        ),
        ("m v=01i", "column 5: invalid integer: \"01i\""),
        ("m v=-1u", "column 5: invalid unsigned integer: \"-1u\""),
        (
            "m v=9223372036854775808i",
            "column 5: integer out of the 64-bit signed range: \"9223372036854775808i\"",
        ),
        ("m v=\"abc", "column 5: unterminated string field"),
        (
            "m v=\"a\\nb\"",
            "column 7: invalid escape in a string field: only \\\" and \\\\ are allowed",
        ),
        ("m v=1 12x", "column 7: invalid timestamp \"12x\""),
        (
            "m v=1 12345678901234567890",
            "column 7: timestamp \"12345678901234567890\" has more than 19 digits",
        ),
        (
            "m v=1 1 2",
            "column 9: expected the end of the line, found '2'",
        ),
        (
            "m\\\tx v=1",
            "column 3: invalid character '\\t' in the measurement",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(parse(line).unwrap_err(), expected, "{line}");
    }
}

/// Lines from the conformance tables beside Telegraf's grammar, and the cases of
/// TELEGRAF-WIRE.md, with what Telegraf reads from each (`Err` where it fails the line).
#[test]
fn reads_exactly_what_telegraf_reads() {
    type Tags<'a> = &'a [(&'a str, &'a str)];
    let ok = |line: &str, measurement: &str, tags: Tags, fields: &[(&str, FieldValue)]| {
        let r = parse(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .unwrap();
        assert_eq!(r.measurement(), measurement, "{line}");
        let want: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(r.tags(), &want[..], "{line}");
        let want: Vec<(String, FieldValue)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        assert_eq!(r.fields(), &want[..], "{line}");
    };
    let f = FieldValue::Float;
    // Duplicate keys: the last one wins, in the first one's place.
    ok(
        "cpu,host=a,host=b v=1",
        "cpu",
        &[("host", "b")],
        &[("v", f(1.0))],
    );
    ok("cpu v=1,v=2i", "cpu", &[], &[("v", FieldValue::Integer(2))]);
    // Backslash before a quote: unescaped only in a token with a space, comma or `=`.
    ok("m a\\\"b\\ c=1", "m", &[], &[("a\"b c", f(1.0))]);
    ok("m a\\\\\"b\\ c=1", "m", &[], &[("a\\\"b c", f(1.0))]);
    ok("m a\\\"b=1", "m", &[], &[("a\\\"b", f(1.0))]);
    ok(
        "m,k=a\\\"b\\ c v=1",
        "m",
        &[("k", "a\"b c")],
        &[("v", f(1.0))],
    );
    ok("m,k=a\\\"b v=1", "m", &[("k", "a\\\"b")], &[("v", f(1.0))]);
    // Measurements unescape only `\,` and `\ `.
    ok("m\\=x v=1", "m\\=x", &[], &[("v", f(1.0))]);
    ok("m\\\"x\\ y v=1", "m\\\"x y", &[], &[("v", f(1.0))]);
    // Runs of backslashes before an escaped byte.
    ok("m,k=a\\\\ b v=1", "m", &[("k", "a\\ b")], &[("v", f(1.0))]);
    ok(
        "m,k=a\\\\\\ b v=1",
        "m",
        &[("k", "a\\\\ b")],
        &[("v", f(1.0))],
    );
    ok("m\\\\\\ x v=1", "m\\\\ x", &[], &[("v", f(1.0))]);
    ok("m a\\\\\\ b=1", "m", &[], &[("a\\\\ b", f(1.0))]);
    ok("cpu\\\\ v=1", "cpu\\\\", &[], &[("v", f(1.0))]);
    ok("m f\\\\=1", "m", &[], &[("f\\\\", f(1.0))]);
    ok("m,k=a\\b v=1", "m", &[("k", "a\\b")], &[("v", f(1.0))]);
    ok("m,k=a\\\\b v=1", "m", &[("k", "a\\\\b")], &[("v", f(1.0))]);
    // Tabs and form feeds separate sections as spaces do.
    ok("\tcpu\tv=1\t", "cpu", &[], &[("v", f(1.0))]);
    ok("cpu v=1 ", "cpu", &[], &[("v", f(1.0))]);
    ok(
        "cpu,a=1 b=\"x\\\\y\\\"\"",
        "cpu",
        &[("a", "1")],
        &[("b", FieldValue::String("x\\y\"".into()))],
    );
    ok(
        "c\u{e9}u,h\u{f6}st=\u{65e5} v=1",
        "c\u{e9}u",
        &[("h\u{f6}st", "\u{65e5}")],
        &[("v", f(1.0))],
    );
    ok(
        "m v=-0i,w=0u,x=-.5e-3",
        "m",
        &[],
        &[
            ("v", FieldValue::Integer(0)),
            ("w", FieldValue::Unsigned(0)),
            ("x", f(-0.0005)),
        ],
    );

    let fails = [
        "a\\\\ b v=1",
        "m a\\\\=b=1",
        "m\\ v=1",
        "m\\",
        "m,k=v\\\\ f=1",
        "m,k=v\\ f=1",
        "m,k\\ v=1",
        "m,k=v",
        "m v=1,",
        "m v=1 -",
        "m v=1 1x",
        "m v=1i2",
        "m v=tru",
        "m v=\"a\\nb\"",
        ",k=v v=1",
        "m v",
        "m =1",
        "m v=1e",
        "m v=1 1 2",
        "m v=1 12345678901234567890",
        "m v=9223372036854775808i",
        "m v=18446744073709551616u",
    ];
    for line in fails {
        assert!(
            parse(line).is_err(),
            "{line:?} should fail, read {:?}",
            parse(line)
        );
    }
}

#[test]
fn errors_are_structured() {
    let error = parse_line("m v=1x", Precision::Nanoseconds).unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::Value);
    assert_eq!((error.column, error.byte()), (Some(5), Some(4)));
    assert_eq!(error.text.as_deref(), Some("1x"));
    assert_eq!(
        error.on_line(3).to_string(),
        "line 3, column 5: invalid field value (not a number, boolean or quoted string): \"1x\""
    );
    let error = parse_line("m v=1 1x", Precision::Nanoseconds).unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::Timestamp);
    let error = parse_line("a\\\\ b v=1", Precision::Nanoseconds).unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::Syntax);
    assert_eq!(
        error.to_string(),
        "column 6: expected '=' after the field key, found ' '"
    );
}

/// What the parse-and-encode path writes for `line`: the reading the parser reads, encoded,
/// or `None` where there is no reading (an error, a comment) or the encoder refuses it.
fn parse_and_encode(line: &str, precision: Precision) -> Option<Vec<u8>> {
    let reading = parse_line(line, precision).ok()??;
    let mut out = Vec::new();
    crate::format::influx::encode(&reading, precision, &mut out).ok()?;
    Some(out)
}

fn canonical(line: &str) -> Option<Canonical> {
    CanonicalCheck::new().check(line.as_bytes(), Precision::Nanoseconds)
}

#[test]
fn canonical_lines_are_what_the_encoder_writes_back() {
    let lines = [
        ("cpu v=1.0", None),
        (
            "cpu,host=a load=0.5,n=-3i,u=18446744073709551615u,up=true,down=false 1700000000000000000",
            Some(1_700_000_000_000_000_000),
        ),
        (
            "we\\ ird\\,m=x,t\\ k\\=\\,=C:\\dir\\x,p=a\\\\\\ b f\\ k=1.5,s=\"q\\\"\\\\x\",i=-3i,b=true",
            None,
        ),
        (
            "quotes\"in=measurement,q=a\\\"b big=9223372036854775807i,tiny=5e-324,huge=1.7976931348623157e308",
            None,
        ),
        ("m,k=日本 s=\"🔥 \\\\ \\\" \x01\",e=\"\" -1", Some(-1)),
        (
            "m v=0.0,w=-0.0,x=0.00001,y=1e-6,z=1000000000000000.0,a=1e16,b=123456.789 0",
            Some(0),
        ),
        (
            "m v=-9223372036854775808i 9223372036854775807",
            Some(i64::MAX),
        ),
        ("m\\\\ v=1.0", None),
        ("m,a\\b=x v=1.0", None),
    ];
    for (line, timestamp) in lines {
        assert_eq!(
            canonical(line),
            Some(Canonical { timestamp }),
            "{line:?} passes"
        );
        let mut expected = line.as_bytes().to_vec();
        expected.push(b'\n');
        assert_eq!(
            parse_and_encode(line, Precision::Nanoseconds).as_deref(),
            Some(&expected[..]),
            "{line:?} is written back as it is"
        );
    }
}

#[test]
fn lines_written_otherwise_or_invalid_are_left_to_the_parser() {
    let lines = [
        // Valid, but the encoder writes them otherwise.
        "m v=1",
        "m v=.5",
        "m v=1.50",
        "m v=01.5",
        "m v=1e+21",
        "m v=1E21",
        "m v=0.000001",
        "m v=t",
        "m v=True",
        "m v=01i",
        "m v=-0i",
        "m v=1.0 -0",
        "m v=1.0 007",
        "m  v=1.0",
        "m v=1.0 ",
        "m v=1.0  1",
        "m\tv=1.0",
        "m v=1.0\r",
        " m v=1.0",
        "m,t=a,t=b v=1.0",
        "m v=1.0,v=2.0",
        "m,t=a\\\"b\\ c v=1.0",
        // Refused by the parser or the reading.
        "",
        "# comment",
        "m",
        "m v=",
        "m v=1.0 1x",
        "m v=NaN",
        "m,t=a=b v=1.0",
        "m v=\"a\\x\"",
        "m v=\"unterminated",
        "m v=\"a\"b",
        "m v=9223372036854775808i",
        "m v=18446744073709551616u",
        "m\x01 v=1.0",
        "m,t=a\\\x0b v=1.0",
        "m v=\"a\rb\"",
        "a\\\\ b v=1.0",
        "m v=1.0 12345678901234567890",
    ];
    for line in lines {
        assert_eq!(canonical(line), None, "{line:?} is left to the parser");
    }
    // A timestamp in seconds that the nanosecond range cannot hold.
    assert_eq!(
        CanonicalCheck::new().check(b"m v=1.0 9999999999999", Precision::Seconds),
        None
    );
    assert_eq!(
        CanonicalCheck::new().check(b"m v=\"\xff\"", Precision::Nanoseconds),
        None,
        "not UTF-8"
    );
}

#[test]
fn more_keys_than_are_compared_go_to_the_parser() {
    let fields: Vec<String> = (0..65).map(|i| format!("f{i}=1.0")).collect();
    let line = format!("m {}", fields.join(","));
    assert_eq!(canonical(&line), None);
    let line = format!("m {}", fields[..64].join(","));
    assert!(canonical(&line).is_some());
}

mod properties {
    use super::*;
    use crate::format::push_float;
    use proptest::prelude::*;

    /// Bytes that matter to the grammar, its escaping and the field types.
    const PIECES: &[&str] = &[
        "m", "k", "v", "=", ",", " ", " ", "\\", "\"", "\t", "1", "0", "-", ".", "e", "i", "u",
        "t", "true", "false", "1.0", "0.5", "ü", "#", "\r", "\x0b", "\x01", "=1.0", " 17",
    ];

    fn line() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(PIECES), 1..24)
            .prop_map(|pieces| pieces.concat())
    }

    fn name() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(&["a", " ", ",", "=", "\"", "\\", "é", "#", "x"][..]),
            1..6,
        )
        .prop_map(|pieces| pieces.concat())
    }

    fn value() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            any::<f64>()
                .prop_filter("finite", |v| v.is_finite())
                .prop_map(FieldValue::Float),
            any::<i64>().prop_map(FieldValue::Integer),
            any::<u64>().prop_map(FieldValue::Unsigned),
            any::<bool>().prop_map(FieldValue::Boolean),
            name().prop_map(FieldValue::String),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Forwarding a line the check passes gives the bytes parse-and-encode gives.
        #[test]
        fn passed_lines_are_written_back_unchanged(line in line()) {
            if canonical(&line).is_some() {
                let mut expected = line.clone().into_bytes();
                expected.push(b'\n');
                prop_assert_eq!(
                    parse_and_encode(&line, Precision::Nanoseconds),
                    Some(expected),
                    "{:?}", line
                );
            }
        }

        /// Whatever the encoder writes passes the check: readings sent as line protocol are
        /// forwarded, not read again.
        #[test]
        fn encoded_readings_pass(
            measurement in name(),
            tags in proptest::collection::vec((name(), name()), 0..4),
            fields in proptest::collection::vec((name(), value()), 1..5),
            timestamp in proptest::option::of(any::<i64>()),
        ) {
            let mut builder = Reading::builder(measurement)
                .maybe_timestamp(timestamp.map(|t| Timestamp::new(t, Precision::Nanoseconds)));
            for (key, value) in tags {
                builder = builder.tag(key, value);
            }
            for (key, value) in fields {
                builder = builder.field(key, value);
            }
            let Ok(reading) = builder.build() else { return Ok(()) };
            let mut out = Vec::new();
            if crate::format::influx::encode(&reading, Precision::Nanoseconds, &mut out).is_ok() {
                let line = &out[..out.len() - 1];
                prop_assert!(
                    CanonicalCheck::new().check(line, Precision::Nanoseconds).is_some(),
                    "{:?}", String::from_utf8_lossy(line)
                );
            }
        }

        /// Every finite float, as the encoder writes it, passes; and a plain decimal passes
        /// exactly when reading and writing it gives it back.
        #[test]
        fn floats_pass_as_written(value in any::<f64>(), whole in 0u64..100_000_000_000_000_000, fraction in "[0-9]{1,18}") {
            if value.is_finite() {
                let mut text = Vec::new();
                push_float(&mut text, value);
                let line = [b"m v=".as_slice(), &text].concat();
                prop_assert!(CanonicalCheck::new().check(&line, Precision::Nanoseconds).is_some());
            }
            let line = format!("m v={whole}.{fraction}");
            let mut expected = line.clone().into_bytes();
            expected.push(b'\n');
            prop_assert_eq!(
                canonical(&line).is_some(),
                parse_and_encode(&line, Precision::Nanoseconds) == Some(expected),
                "{}", line
            );
        }
    }
}
