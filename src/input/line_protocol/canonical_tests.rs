//! Unit tests of `canonical.rs`: a line the check passes is what the encoder writes back.
use super::*;
use crate::input::line_protocol::parse_line;
use crate::reading::{FieldValue, Reading};

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
