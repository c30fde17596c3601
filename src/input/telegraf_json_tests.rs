//! Unit tests of `telegraf_json.rs`, apart so that the module itself reads in one sitting.
use super::*;

fn read(payload: &str, options: &JsonParserOptions) -> Result<Vec<Reading>, String> {
    parse_payload(payload, options, Precision::Nanoseconds).map_err(|e| e.to_string())
}

#[test]
fn keeps_what_telegraf_keeps() {
    let options = JsonParserOptions::default();
    let r = &read(
        r#"{"measurement":"sensor","host":"h1","room":"lab","ok":true,"temp":21,"o":{"a":1,"b":[5,"x"]},"n":null,"time":1700000000000000000}"#,
        &options,
    )
    .unwrap()[0];
    assert_eq!(r.measurement(), "sensor");
    assert_eq!(r.tags(), &[("host".to_owned(), "h1".to_owned())]);
    assert_eq!(r.field("temp"), Some(&FieldValue::Float(21.0)));
    assert_eq!(r.field("o_a"), Some(&FieldValue::Float(1.0)));
    assert_eq!(r.field("o_b_0"), Some(&FieldValue::Float(5.0)));
    assert_eq!(r.field("o_b_1"), None);
    assert_eq!(r.field("room"), None);
    assert_eq!(r.field("ok"), None);
    assert_eq!(r.fields().len(), 3);

    let options = JsonParserOptions::default()
        .with_tag_keys(vec!["ro*".into(), "temp".into(), "ok".into()])
        .with_string_fields(vec!["o_b_?".into()]);
    let r = &read(
        r#"{"measurement":"sensor","room":"lab","ok":true,"temp":21.5,"o":{"b":[5,"x"]},"v":1,"time":1}"#,
        &options,
    )
    .unwrap()[0];
    assert_eq!(r.tag("room"), Some("lab"));
    assert_eq!(r.tag("temp"), Some("21.5"));
    assert_eq!(r.tag("ok"), Some("true"));
    assert_eq!(r.field("o_b_1"), Some(&FieldValue::String("x".into())));
}

#[test]
fn time_and_name_keys() {
    let options = JsonParserOptions::default();
    assert_eq!(
        read(r#"{"measurement":"m","v":1}"#, &options).unwrap_err(),
        "JSON time key \"time\" could not be found (Telegraf fails such an object when json_time_key is set)"
    );
    let lenient = options
        .clone()
        .with_time_required(false)
        .with_time_key("ts");
    let r = &read(r#"{"v":1}"#, &lenient).unwrap()[0];
    assert_eq!(r.measurement(), "socket_listener");
    assert_eq!(r.timestamp(), None);
    let r = &read("\u{feff}[{\"v\":1,\"ts\":\"17\"}]", &lenient).unwrap()[0];
    assert_eq!(r.timestamp().unwrap().value, 17);
    let auto = lenient.with_numbers(Some(JsonNumbers::Auto));
    let r = &read(r#"{"i":2,"f":2.5,"u":18446744073709551615}"#, &auto).unwrap()[0];
    assert_eq!(r.field("i"), Some(&FieldValue::Integer(2)));
    assert_eq!(r.field("f"), Some(&FieldValue::Float(2.5)));
    assert_eq!(r.field("u"), Some(&FieldValue::Unsigned(u64::MAX)));
}

#[test]
fn number_tags_are_written_as_go_does() {
    for (value, text) in [
        (21.0, "21"),
        (21.5, "21.5"),
        (-0.001, "-0.001"),
        (1e20, "100000000000000000000"),
    ] {
        assert_eq!(go_float_text(value), text);
    }
}

/// The defaults are the shipped configurations' values, so `listen` keeps what they keep.
#[test]
fn defaults_match_the_shipped_configurations() {
    let configs = [
        include_str!("../../telegraf/json-tcp.conf"),
        include_str!("../../telegraf/json-udp.conf"),
        include_str!("../../telegraf/json-unix.conf"),
        include_str!("../../telegraf/json-unixgram.conf"),
    ];
    let defaults = JsonParserOptions::default();
    let list = |text: &str| -> Vec<String> {
        let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
        inner
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    for config in configs {
        let setting = |key: &str| {
            config
                .lines()
                .find_map(|l| l.trim().strip_prefix(key)?.trim().strip_prefix('='))
                .unwrap_or_else(|| panic!("{key} in {config}"))
                .to_owned()
        };
        assert_eq!(list(&setting("tag_keys")), defaults.tag_keys);
        assert_eq!(list(&setting("json_string_fields")), defaults.string_fields);
        assert_eq!(
            setting("json_name_key").trim().trim_matches('"'),
            defaults.name_key
        );
        assert_eq!(
            setting("json_time_key").trim().trim_matches('"'),
            defaults.time_key
        );
    }
}
