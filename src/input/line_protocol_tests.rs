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
