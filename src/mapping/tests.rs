use super::*;
use crate::reading::{FieldValue, Precision};

mod windows;

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

fn at(ms: i64) -> Timestamp {
    Timestamp::new(ms, Precision::Milliseconds)
}

fn floats(readings: &[Reading], key: &str) -> Vec<f64> {
    readings
        .iter()
        .map(|r| match r.field(key) {
            Some(FieldValue::Float(v)) => *v,
            other => panic!("{key} = {other:?} in {r:?}"),
        })
        .collect()
}

#[test]
fn arrays_give_one_reading_per_element_and_aggregates_in_the_parent() {
    let mut mapping = Mapping::from_toml(
        r#"
[[rule]]
name = "book"
measurement = "book"
tags.symbol = { path = "/stream", split = "@", part = 0, case = "upper" }
fields.best_bid = { path = "/bids/0/0", default = 0 }
fields.depth = { path = "/bids/*/1", aggregate = "sum" }
fields.levels = { path = "/bids/*/1", aggregate = "count" }
fields.deepest = { path = "/bids/*/0", aggregate = "min", default = -1 }

[[rule]]
name = "levels"
measurement = "level"
each = "/bids"
tags.side = { value = "bid" }
tags.level = { index = true }
fields.price = "./0"
fields.quantity = "./1"
derive = [{ name = "cumulative", expr = "round(cumulative(quantity), 1)" }]
"#,
    )
    .unwrap();
    let m = mapping.apply(
        r#"{"stream":"bnbusdt@depth5","bids":[["10.5","1.25"],["10.4","2"],["10.1","0.5"]]}"#,
        at(0),
    );
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    let book = &m.readings[0];
    assert_eq!(book.tags(), [("symbol".to_owned(), "BNBUSDT".to_owned())]);
    assert_eq!(floats(&m.readings[..1], "depth"), [3.75]);
    assert_eq!(book.field("levels"), Some(&FieldValue::Integer(3)));
    assert_eq!(floats(&m.readings[..1], "deepest"), [10.1]);
    let levels = &m.readings[1..];
    assert_eq!(
        levels
            .iter()
            .map(|r| r.tag("level").unwrap())
            .collect::<Vec<_>>(),
        ["0", "1", "2"]
    );
    assert_eq!(floats(levels, "cumulative"), [1.3, 3.3, 3.8]);
    // A thinner book keeps its reading: the default fills the missing best bid, the sum is 0.
    let empty = mapping.apply(r#"{"stream":"x@d","bids":[]}"#, at(1));
    assert!(empty.errors.is_empty(), "{:?}", empty.errors);
    assert_eq!(empty.readings.len(), 1);
    assert_eq!(floats(&empty.readings, "best_bid"), [0.0]);
    assert_eq!(floats(&empty.readings, "depth"), [0.0]);
    let bad = mapping.apply(r#"{"stream":"nosep","bids":{}}"#, at(2));
    let reasons: Vec<_> = bad.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        reasons,
        [
            "rule \"book\": /bids/*/1 is missing",
            "rule \"levels\": /bids = {} is not an array"
        ],
        "a text without the separator is its own part 0, so only the arrays fail"
    );
}

#[test]
fn text_parts_constants_maps_and_defaults() {
    let mut mapping = Mapping::from_toml(
        r#"
[[rule]]
name = "r"
when = { "/stream" = { ends_with = "@trade" } }
measurement = "m"
tags.base = { path = "/pair", split = "-", part = 1, case = "lower" }
tags.venue = { value = "binance" }
tags.side = { path = "/m", map = { "true" = "sell", "false" = "buy" }, default = "unknown" }
fields.price = "/p"
"#,
    )
    .unwrap();
    let m = mapping.apply(r#"{"stream":"a@trade","pair":"X-ETH","p":1}"#, at(0));
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert_eq!(
        m.readings[0].tags(),
        [
            ("base".to_owned(), "eth".to_owned()),
            ("venue".to_owned(), "binance".to_owned()),
            ("side".to_owned(), "unknown".to_owned())
        ]
    );
    let m = mapping.apply(r#"{"stream":"a@trade","pair":"XETH","p":1}"#, at(0));
    assert_eq!(
        m.errors[0].to_string(),
        "rule \"r\": tag \"base\" from /pair: \"XETH\" has no part 1 when split on \"-\""
    );
    let other = mapping.apply(r#"{"stream":"a@depth","pair":"X-ETH","p":1}"#, at(0));
    assert!(!other.matched);
}

#[test]
fn new_syntax_errors_name_the_rule_the_part_and_the_text() {
    let rule = |body: &str| format!("[[rule]]\nname = \"r\"\nmeasurement = \"m\"\n{body}\n");
    let cases = [
        (
            rule("fields.x = \"./0\""),
            "rule \"r\": field \"x\": \"./0\" is relative to an array element: the rule needs each = \"/array\"",
        ),
        (
            rule("fields.x = \"/a/*/1\""),
            "rule \"r\": field \"x\": a path with /*/ takes every element: give aggregate = \"sum\", \"min\", \"max\" or \"count\"",
        ),
        (
            rule(
                "fields.x = \"/x\"\nwindow = { every = \"1s\" }\naggregate = [{ name = \"n\", expr = \"count()\" }]",
            ),
            "rule \"r\": window: windows follow message time: the rule needs a timestamp",
        ),
        (
            rule(
                "timestamp = { path = \"/T\" }\nfields.x = \"/x\"\nwindow = { every = \"1s\" }\naggregate = [{ name = \"n\", expr = \"median(x)\" }]",
            ),
            "rule \"r\": aggregate \"n\": \"median(x)\" at byte 0: unknown aggregate \"median\": use count, sum, min, max, first or last",
        ),
        (
            rule(
                "timestamp = { path = \"/T\" }\nfields.x = \"/x\"\nwindow = { every = \"1500us\" }\naggregate = [{ name = \"n\", expr = \"sum(y)\" }]",
            ),
            "rule \"r\": window: \"1500us\" is not a whole number of the timestamp's unit ms",
        ),
        (
            rule("fields.x = \"/x\"\nderive = [{ name = \"c\", expr = \"cumulative(x)\" }]"),
            "rule \"r\": derive \"c\": cumulative() needs a rule with each = \"/array\"",
        ),
        (
            rule("tags.t = { path = \"/t\", case = \"title\" }\nfields.x = \"/x\""),
            "rule \"r\": tag \"t\": unknown case \"title\": use upper or lower",
        ),
        (
            rule("tags.t = { path = \"/t\", value = \"v\" }\nfields.x = \"/x\""),
            "rule \"r\": tag \"t\": give exactly one of path = \"/…\", value = \"…\" or index = true",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(Mapping::from_toml(&text).unwrap_err().to_string(), expected);
    }
}
