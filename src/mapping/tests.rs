use super::*;
use crate::reading::Precision;

const KLINE: &str = r#"
[[rule]]
name = "kline"
when = { "/e" = "kline" }
measurement = "binance_kline"
timestamp = { path = "/E", unit = "ms" }
tags = { symbol = "/s" }
fields.high = { path = "/k/h", type = "float" }
fields.low = "/k/l"
fields.trades = { path = "/k/n", type = "integer" }
derive = [
  { name = "spread", expr = "high - low" },
  { name = "delta", expr = "delta(spread)" },
  { name = "abs_delta", expr = "abs(delta(spread))" },
]
"#;

fn kline(e: i64, high: &str, low: &str) -> String {
    format!(r#"{{"e":"kline","E":{e},"s":"BNBUSDT","k":{{"h":"{high}","l":"{low}","n":3}}}}"#)
}

#[test]
fn maps_spread_and_delta_per_series() {
    let mut mapping = Mapping::from_toml(KLINE).unwrap();
    let arrival = Timestamp::new(0, Precision::Nanoseconds);
    let first = mapping.apply(&kline(1000, "612.37", "611.53"), arrival);
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let r = &first.readings[0];
    assert_eq!(
        r.timestamp(),
        Some(Timestamp::new(1000, Precision::Milliseconds))
    );
    assert_eq!(r.field("spread"), Some(&FieldValue::Float(612.37 - 611.53)));
    assert_eq!(r.field("delta"), None, "no previous message yet");
    let second = mapping.apply(&kline(2000, "612.37", "610.79"), arrival);
    let r = &second.readings[0];
    assert_eq!(
        r.field("delta"),
        Some(&FieldValue::Float((612.37 - 610.79) - (612.37 - 611.53)))
    );
    assert_eq!(r.field("trades"), Some(&FieldValue::Integer(3)));
    let ack = mapping.apply(r#"{"result":null,"id":1}"#, arrival);
    assert!(!ack.matched && ack.readings.is_empty() && ack.errors.is_empty());
}

#[test]
fn message_errors_are_per_rule() {
    let mut mapping = Mapping::from_toml(KLINE).unwrap();
    let arrival = Timestamp::new(0, Precision::Nanoseconds);
    let bad = mapping.apply(&kline(1, "abc", "1"), arrival);
    assert_eq!(mapping.errors_by_rule().collect::<Vec<_>>(), [("kline", 1)]);
    assert_eq!(
        bad.errors[0].to_string(),
        "rule \"kline\": /k/h = \"abc\" is not a number"
    );
    let missing = mapping.apply(r#"{"e":"kline","E":1,"s":"X","k":{"h":"1"}}"#, arrival);
    assert_eq!(
        missing.errors[0].to_string(),
        "rule \"kline\": /k/l is missing"
    );
    let garbage = mapping.apply("{nope", arrival);
    assert_eq!(
        garbage.errors[0].reason,
        "the message is not JSON: expected a string key at byte 1"
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        mapping.apply(&deep, arrival).errors[0].reason,
        "the message is not JSON: objects and arrays nest deeper than 127 levels at byte 127"
    );
}

#[test]
fn bad_files_say_which_rule_and_part() {
    let cases = [
        (
            "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\nfields.x = \"k\"\n",
            "rule \"r\": field \"x\": path \"k\" must be a JSON Pointer starting with '/'",
        ),
        (
            "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\nfields.x = { path = \"/k\", type = \"decimal\" }\n",
            "rule \"r\": field \"x\": unknown type \"decimal\": use float, integer, unsigned, boolean or string",
        ),
        (
            "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\nfields.x = \"/x\"\nderive = [{ name = \"d\", expr = \"x - y\" }]\n",
            "rule \"r\": derive \"d\": \"y\" is not a numeric field or an earlier derived field",
        ),
        (
            "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\nfields.x = \"/x\"\nderive = [{ name = \"d\", expr = \"x -\" }]\n",
            "rule \"r\": derive \"d\": \"x -\" at byte 3: the expression ends too soon",
        ),
        (
            "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\n",
            "rule \"r\": has no fields",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(Mapping::from_toml(text).unwrap_err().to_string(), expected);
    }
}

#[test]
fn errors_carry_where_and_the_offending_text() {
    let error = Mapping::from_toml("[[rule]]\nname = \"r\"\nmeasurement = 5\n").unwrap_err();
    assert_eq!(error.line(), Some((3, 15)));
    assert_eq!(error.text(), Some("5"));
    assert_eq!(
        error.to_string(),
        "line 3, column 15: invalid type: integer `5`, expected a string"
    );
    let error = Mapping::from_toml(
        "[[rule]]\nname = \"r\"\nmeasurement = \"m\"\nfields.x = \"/x\"\nderive = [{ name = \"d\", expr = \"x -\" }]\n",
    )
    .unwrap_err();
    assert_eq!(
        (error.rule_name(), error.part()),
        (Some("r"), Some("derive \"d\""))
    );
    assert_eq!((error.text(), error.offset()), (Some("x -"), Some(3)));
}
