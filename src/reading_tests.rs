//! Unit tests of `reading.rs`, apart so that the module itself reads in one sitting.
use super::*;

#[test]
fn builds_and_keeps_order() {
    let r = Reading::builder("m")
        .tag("b", "1")
        .tag("a", "2")
        .field("x", 1.5)
        .build()
        .unwrap();
    assert_eq!(r.tags()[0].0, "b");
    assert_eq!(r.tag("a"), Some("2"));
}

#[test]
fn refusals_name_the_part() {
    let cases: Vec<(ReadingBuilder, &str)> = vec![
        (Reading::builder("").field("x", 1), "measurement is empty"),
        (
            Reading::builder("m"),
            "reading \"m\" has no field; Telegraf drops readings without fields",
        ),
        (
            Reading::builder("m").tag("h", "").field("x", 1),
            "value of tag \"h\" is empty",
        ),
        (
            Reading::builder("m").tag("", "v").field("x", 1),
            "tag key is empty",
        ),
        (Reading::builder("m").field("", 1), "field key is empty"),
        (
            Reading::builder("m").tag("h", "a\tb").field("x", 1),
            "value of tag \"h\" \"a\\tb\" contains control character '\\t' at byte 1",
        ),
        (
            Reading::builder("m").field("s", "one\ntwo"),
            "value of field \"s\" \"one\\ntwo\" contains control character '\\n' at byte 3",
        ),
        (
            Reading::builder("m").field("x", f64::NAN),
            "value of field \"x\" is NaN, which Telegraf rejects: only finite floats can be sent",
        ),
        (
            Reading::builder("m").field("x", f64::NEG_INFINITY),
            "value of field \"x\" is -inf, which Telegraf rejects: only finite floats can be sent",
        ),
        (
            Reading::builder("m")
                .tag("a", "1")
                .tag("a", "2")
                .field("x", 1),
            "tag \"a\" is given twice",
        ),
        (
            Reading::builder("m").field("x", 1).field("x", 2),
            "field \"x\" is given twice",
        ),
    ];
    for (builder, expected) in cases {
        assert_eq!(builder.build().unwrap_err().to_string(), expected);
    }
}

#[test]
fn duplicate_check_for_many_keys() {
    let mut b = Reading::builder("m").field("x", 1);
    for i in 0..100 {
        b = b.tag(format!("k{i}"), "v");
    }
    assert!(b.clone().build().is_ok());
    assert_eq!(
        b.tag("k42", "w").build().unwrap_err(),
        ReadingError::DuplicateTag("k42".into())
    );
}

#[test]
fn timestamp_conversion_truncates_toward_zero_and_keeps_to_the_nanosecond_range() {
    use Precision::*;
    // (value, unit, target, expected): the instant must fit in i64 nanoseconds, whatever the
    // target; coarser targets truncate toward zero, as Go's integer division does.
    let cases = [
        (-1, Nanoseconds, Seconds, Some(0)),
        (-1_999_999_999, Nanoseconds, Seconds, Some(-1)),
        (-1_500, Milliseconds, Seconds, Some(-1)),
        (-1_500, Milliseconds, Microseconds, Some(-1_500_000)),
        (1_999, Milliseconds, Seconds, Some(1)),
        (i64::MAX, Nanoseconds, Seconds, Some(9_223_372_036)),
        (i64::MIN, Nanoseconds, Seconds, Some(-9_223_372_036)),
        (i64::MIN, Nanoseconds, Nanoseconds, Some(i64::MIN)),
        (
            9_223_372_036,
            Seconds,
            Nanoseconds,
            Some(9_223_372_036_000_000_000),
        ),
        (9_223_372_037, Seconds, Nanoseconds, None),
        // Same unit in and out, but value × unit leaves the range: Telegraf would wrap.
        (9_223_372_037, Seconds, Seconds, None),
        (99_999_999_999, Seconds, Seconds, None),
        (-9_223_372_037, Seconds, Seconds, None),
        (
            9_223_372_036_854,
            Milliseconds,
            Milliseconds,
            Some(9_223_372_036_854),
        ),
        (9_223_372_036_855, Milliseconds, Milliseconds, None),
        (1_700_000_000_123_456_789, Milliseconds, Milliseconds, None),
        (
            9_223_372_036_854_775,
            Microseconds,
            Seconds,
            Some(9_223_372_036),
        ),
        (9_223_372_036_854_776, Microseconds, Seconds, None),
    ];
    for (value, unit, target, expected) in cases {
        let t = Timestamp::new(value, unit);
        assert_eq!(
            t.to_precision(target),
            expected,
            "{value}{unit} in {target}"
        );
    }
    assert_eq!(
        Timestamp::new(i64::MIN / 1_000, Microseconds).nanos(),
        Some(i64::MIN / 1_000 * 1_000)
    );
    assert_eq!(Timestamp::new(i64::MAX / 10, Seconds).nanos(), None);
}

#[test]
fn set_field_replaces_and_validates() {
    let mut r = Reading::builder("m").field("x", 1).build().unwrap();
    r.set_field("x", 2u64).unwrap();
    r.set_field("seq", 7u64).unwrap();
    assert_eq!(r.field("x"), Some(&FieldValue::Unsigned(2)));
    assert_eq!(r.fields().len(), 2);
    assert!(r.set_field("bad", f64::INFINITY).is_err());
}

#[test]
fn a_form_feed_in_a_string_field_is_refused_as_telegraf_refuses_it() {
    let error = Reading::builder("m")
        .field("f", "a\u{c}b")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            ReadingError::ControlCharacter {
                character: '\u{c}',
                offset: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(Reading::builder("m").field("f", "a\tb").build().is_ok());
}
