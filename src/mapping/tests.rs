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

const WINDOWS: &str = r#"
[[rule]]
name = "trades"
measurement = "trades"
timestamp = { path = "/T", unit = "ms" }
tags.side = "/side"
fields.price = "/p"
window = { every = "1s", pace = "500ms", idle = "2s" }
aggregate = [
  { name = "n", expr = "count()" },
  { name = "high", expr = "max(price)" },
  { name = "open", expr = "first(price)" },
  { name = "turnover", expr = "sum(price * 2)" },
]
"#;

fn trade(t: i64, side: &str, p: f64) -> String {
    format!(r#"{{"T":{t},"side":"{side}","p":{p}}}"#)
}

#[test]
fn windows_close_on_a_later_message_at_the_end_and_when_idle() {
    let mut mapping = Mapping::from_toml(WINDOWS).unwrap();
    let sent = |m: Mapped| -> Vec<(String, i64, bool, f64)> {
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        m.readings
            .iter()
            .map(|r| {
                let closed = r.field("closed") == Some(&FieldValue::Boolean(true));
                let t = r.timestamp().unwrap().value;
                (
                    r.tag("side").unwrap().to_owned(),
                    t,
                    closed,
                    floats(std::slice::from_ref(r), "high")[0],
                )
            })
            .collect()
    };
    // The first trade of a window is sent open; the next only after the pace.
    assert_eq!(
        sent(mapping.apply(&trade(1_100, "buy", 5.0), at(0))),
        [("buy".into(), 1_000, false, 5.0)]
    );
    assert_eq!(sent(mapping.apply(&trade(1_200, "buy", 7.0), at(0))), []);
    assert_eq!(
        sent(mapping.apply(&trade(1_300, "sell", 3.0), at(0))),
        [("sell".into(), 1_000, false, 3.0)]
    );
    assert_eq!(
        sent(mapping.apply(&trade(1_600, "buy", 6.0), at(0))),
        [("buy".into(), 1_000, false, 7.0)]
    );
    // A trade in the next second closes both sides' windows, stamped with their start.
    let closing = mapping.apply(&trade(2_050, "buy", 1.0), at(0));
    let r = &closing.readings[0];
    assert_eq!(r.field("n"), Some(&FieldValue::Integer(3)));
    assert_eq!(r.field("open"), Some(&FieldValue::Float(5.0)));
    assert_eq!(r.field("turnover"), Some(&FieldValue::Float(36.0)));
    assert_eq!(
        sent(closing),
        [
            ("buy".into(), 1_000, true, 7.0),
            ("sell".into(), 1_000, true, 3.0),
            ("buy".into(), 2_000, false, 1.0)
        ]
    );
    // A trade of a closed second is late: refused with the reason.
    let late = mapping.apply(&trade(1_900, "sell", 1.0), at(0));
    assert_eq!(
        late.errors[0].reason,
        "message time 1900 falls in a window that already closed (the rule reached 2000)"
    );
    // Idle for 2 s of arrival time: the open window closes on a sweep.
    let mut idle = Vec::new();
    assert_eq!(mapping.sweep(at(1_999), |r| idle.push(r.clone())), 0);
    assert_eq!(mapping.sweep(at(2_000), |r| idle.push(r.clone())), 1);
    assert_eq!(idle[0].field("closed"), Some(&FieldValue::Boolean(true)));
    let again = mapping.apply(&trade(2_500, "buy", 1.0), at(2_000));
    assert_eq!(
        again.errors[0].reason,
        "message time 2500 falls in a window closed for being idle"
    );
    // The end of input closes what is open.
    mapping.apply(&trade(3_000, "sell", 4.0), at(2_000));
    let mut last = Vec::new();
    assert_eq!(mapping.finish(|r| last.push(r.clone())), 1);
    assert_eq!(last[0].timestamp(), Some(at(3_000)));
}

#[test]
fn max_series_per_rule_refuses_new_series_and_idle_series_expire() {
    let mut mapping = Mapping::from_toml(
        r#"
series_idle = "1m"
[[rule]]
name = "r"
measurement = "m"
max_series = 2
tags.k = "/k"
fields.x = "/x"
derive = [{ name = "d", expr = "delta(x)" }]
"#,
    )
    .unwrap();
    let message = |k: &str, x: i32| format!(r#"{{"k":"{k}","x":{x}}}"#);
    assert!(mapping.apply(&message("a", 1), at(0)).errors.is_empty());
    assert!(mapping.apply(&message("b", 1), at(0)).errors.is_empty());
    let refused = mapping.apply(&message("c", 1), at(0));
    assert!(refused.readings.is_empty());
    assert_eq!(
        refused.errors[0].to_string(),
        "rule \"r\": a new series was refused: the rule's max_series is 2 and the mapping's 10000; further refusals are only counted"
    );
    assert!(
        mapping.apply(&message("d", 1), at(0)).errors.is_empty(),
        "reported once"
    );
    assert_eq!(
        mapping.refused_series_by_rule().collect::<Vec<_>>(),
        [("r", 2)]
    );
    // Known series go on; after a minute without messages their state is dropped.
    let b = mapping.apply(&message("b", 5), at(30_000));
    assert_eq!(b.readings[0].field("d"), Some(&FieldValue::Float(4.0)));
    mapping.sweep(at(61_000), |_| {});
    assert_eq!(mapping.series(), 1, "a expired, b seen 31 s ago stays");
    let c = mapping.apply(&message("c", 1), at(61_000));
    assert_eq!(c.readings.len(), 1, "room again");
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

#[test]
fn a_time_beyond_max_ahead_of_arrival_is_refused_and_keeps_the_window_clock() {
    let toml = r#"
max_ahead = "2s"
[[rule]]
name = "trades"
when = { "/e" = "trade" }
measurement = "trades"
timestamp = { path = "/T", unit = "ms" }
fields.price = "/p"
window = { every = "1s" }
aggregate = [{ name = "n", expr = "count()" }]
"#;
    let mut mapping = Mapping::from_toml(toml).unwrap();
    let message = |t: i64| format!(r#"{{"e":"trade","T":{t},"p":"1"}}"#);
    assert!(
        mapping
            .apply(&message(10_000), at(10_000))
            .errors
            .is_empty()
    );
    // 2.5 s ahead of its arrival: refused, counted for the rule, the clock stays.
    let far = mapping.apply(&message(12_600), at(10_100));
    assert_eq!(far.errors.len(), 1);
    assert_eq!(
        far.errors[0].reason,
        "/T = 12600 is more than max_ahead (2s) ahead of both the latest message time and the arrival time: refused"
    );
    // Within the bound, and the window of the first message still open.
    let next = mapping.apply(&message(10_500), at(10_500));
    assert!(next.errors.is_empty(), "{:?}", next.errors);
    let mut closed = Vec::new();
    mapping.finish(|r| closed.push(r.clone()));
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].field("n"), Some(&FieldValue::Integer(2)));
    assert_eq!(
        mapping.errors_by_rule().collect::<Vec<_>>(),
        [("trades", 1)]
    );
}

#[test]
fn a_machine_clock_far_behind_still_maps_and_a_pause_longer_than_max_ahead_passes() {
    let mut mapping = Mapping::from_toml(KLINE).unwrap();
    // The machine thinks it is 1970; the stream is of 2025.
    let epoch = at(0);
    let e = 1_763_769_600_000i64;
    for (n, time) in [e, e + 1_000, e + 2_000].into_iter().enumerate() {
        let mapped = mapping.apply(&kline(time, "612.37", "611.53"), epoch);
        assert!(mapped.errors.is_empty(), "message {n}: {:?}", mapped.errors);
    }
    // Two hours later by the message times, with the machine clock behind: refused.
    let jump = mapping.apply(&kline(e + 7_200_000, "612.37", "611.53"), epoch);
    assert_eq!(jump.errors.len(), 1, "{:?}", jump.readings);
    // The same jump after a real pause, when the arrival time has moved on too: taken.
    let back = mapping.apply(&kline(e + 7_200_000, "612.37", "611.53"), at(e + 7_200_000));
    assert!(back.errors.is_empty(), "{:?}", back.errors);
}
