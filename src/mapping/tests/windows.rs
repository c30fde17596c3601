//! Windows, the series bound and message time: when windows close, how many series are
//! kept, and how far ahead of arrival a message time may be.

use super::*;

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
