//! Unit tests of `influx.rs`, apart so that the module itself reads in one sitting.
use super::*;
use crate::reading::{ReadingBuilder, Timestamp};

fn line(builder: ReadingBuilder) -> Result<String, String> {
    let reading = builder.build().map_err(|e| e.to_string())?;
    let mut out = b"kept".to_vec();
    match encode(&reading, Precision::Nanoseconds, &mut out) {
        Ok(()) => Ok(String::from_utf8(out[4..].to_vec()).unwrap()),
        Err(e) => {
            assert_eq!(
                out, b"kept",
                "a refused reading must leave the buffer as it was"
            );
            Err(e.to_string())
        }
    }
}

fn m(name: &str) -> ReadingBuilder {
    crate::Reading::builder(name)
}

#[test]
fn expected_bytes() {
    let ts = Timestamp::new(1_700_000_000_123_456_789, Precision::Nanoseconds);
    let cases: Vec<(ReadingBuilder, &str)> = vec![
        (m("cpu").field("v", 1.0), "cpu v=1.0\n"),
        (m("cpu").field("v", 0.1), "cpu v=0.1\n"),
        (m("cpu").field("v", 1e21), "cpu v=1e21\n"),
        (m("cpu").field("v", -1.5e-7), "cpu v=-1.5e-7\n"),
        (
            m("cpu").field("v", f64::MAX),
            "cpu v=1.7976931348623157e308\n",
        ),
        (m("cpu").field("v", -3i64), "cpu v=-3i\n"),
        (
            m("cpu").field("v", i64::MIN),
            "cpu v=-9223372036854775808i\n",
        ),
        (
            m("cpu").field("v", u64::MAX),
            "cpu v=18446744073709551615u\n",
        ),
        (
            m("cpu").field("ok", true).field("no", false),
            "cpu ok=true,no=false\n",
        ),
        (m("cpu").field("s", "a\"b\\c"), "cpu s=\"a\\\"b\\\\c\"\n"),
        (m("cpu").field("s", ""), "cpu s=\"\"\n"),
        (m("cpu").field("s", "tab\there"), "cpu s=\"tab\there\"\n"),
        (
            m("cpu").field("v", 1).timestamp(ts),
            "cpu v=1i 1700000000123456789\n",
        ),
        // Measurement: only comma and space are escaped; '=' and '"' are written raw.
        (m("a b,c=d\"e").field("v", 1), "a\\ b\\,c=d\"e v=1i\n"),
        (m("a\\b").field("v", 1), "a\\b v=1i\n"),
        // Tag keys and values, field keys: comma, '=' and space are escaped.
        (
            m("m").tag("k y=,", "v a=l,").field("f k=,", 1),
            "m,k\\ y\\=\\,=v\\ a\\=l\\, f\\ k\\=\\,=1i\n",
        ),
        // Backslashes are written raw.
        (
            m("m").tag("p", "C:\\dir\\x").field("v", 1),
            "m,p=C:\\dir\\x v=1i\n",
        ),
        (m("m").tag("p", "a\\\\b").field("v", 1), "m,p=a\\\\b v=1i\n"),
        // In tags, a backslash before an escaped character is raw, then the escape.
        (m("m").tag("p", "a\\ b").field("v", 1), "m,p=a\\\\ b v=1i\n"),
        // A quote in a tag is fine, and so is a backslash-quote when nothing needs escaping.
        (m("m").tag("q", "say\"x").field("v", 1), "m,q=say\"x v=1i\n"),
        (m("m").tag("q", "a\\\"b").field("v", 1), "m,q=a\\\"b v=1i\n"),
        (m("m").field("we\\ird", 1), "m we\\ird=1i\n"),
        // A backslash before a quote in a key Telegraf unescapes is doubled: Telegraf reads
        // `a\\"b\ c` as `a\"b c` (and `a\"b\ c`, written before, as `a"b c`).
        (m("m").field("a\\\"b c", 1.0), "m a\\\\\"b\\ c=1.0\n"),
        (
            m("m").tag("k", "a b\\\"").field("v", 1),
            "m,k=a\\ b\\\\\" v=1i\n",
        ),
        // An even run of backslashes ends a measurement or field key fine.
        (m("cpu\\\\").field("f\\\\", 1), "cpu\\\\ f\\\\=1i\n"),
        (m("a\\\\ b").field("v", 1), "a\\\\\\ b v=1i\n"),
        (m("m").field("#not", 1), "m #not=1i\n"),
        (
            m("ünï ✓").tag("🔥", "ß").field("ñ", "日本"),
            "ünï\\ ✓,🔥=ß ñ=\"日本\"\n",
        ),
    ];
    for (builder, expected) in cases {
        assert_eq!(line(builder), Ok(expected.to_string()));
    }
}

#[test]
fn refusals() {
    let cases: Vec<(ReadingBuilder, &str)> = vec![
        (
            m("#m").field("v", 1),
            "influx: measurement \"#m\" starts with '#', which makes Telegraf read the line as a comment",
        ),
        (
            m("m\\").field("v", 1),
            "influx: measurement \"m\\\\\" ends in an odd number of backslashes; Telegraf pairs them, so the last would escape the separator",
        ),
        (
            m("a\\ b").field("v", 1),
            "influx: measurement \"a\\\\ b\" has an odd number of backslashes before a space, comma or '='; Telegraf pairs them, so no escaping reads it back",
        ),
        (
            m("a\\,b").field("v", 1),
            "influx: measurement \"a\\\\,b\" has an odd number of backslashes before a space, comma or '='; Telegraf pairs them, so no escaping reads it back",
        ),
        (
            m("m").tag("k\\", "v").field("v", 1),
            "influx: tag key \"k\\\\\" ends in a backslash, which Telegraf would read as an escape",
        ),
        (
            m("m").tag("k", "v\\\\").field("v", 1),
            "influx: value of tag \"k\" \"v\\\\\\\\\" ends in a backslash, which Telegraf would read as an escape",
        ),
        (
            m("m").field("f\\", 1),
            "influx: field key \"f\\\\\" ends in an odd number of backslashes; Telegraf pairs them, so the last would escape the separator",
        ),
        (
            m("m").field("a\\=b", 1),
            "influx: field key \"a\\\\=b\" has an odd number of backslashes before a space, comma or '='; Telegraf pairs them, so no escaping reads it back",
        ),
        (
            m("m")
                .field("v", 1)
                .timestamp(Timestamp::new(i64::MAX, Precision::Seconds)),
            "influx: timestamp \"9223372036854775807s\" is outside 1677-09-21..2262-04-11, the signed 64-bit nanosecond range; Telegraf's conversion to nanoseconds would wrap",
        ),
    ];
    for (builder, expected) in cases {
        assert_eq!(line(builder), Err(expected.to_string()));
    }
}

/// What Telegraf 1.39 reads from `written` as one token of `token`, followed by its
/// separator; `None` when its grammar ends the token elsewhere or breaks the line.
///
/// A transcription of `machine.go.rl` (`measurement_chars`, `fieldkeychar`, `tagchar`) and
/// of `escape.go` (`nameUnescape`, `unescape`: a `strings.Replacer`, left to right, no
/// overlap, applied only when the bytes contain a space, comma or, for keys, `=`).
fn telegraf_reads(token: Token, written: &[u8]) -> Option<String> {
    let (stops, unescapes): (&[u8], &[&str]) = match token {
        Token::Measurement => (b" ,", &["\\,", "\\ "]),
        Token::FieldKey | Token::Tag => (b" ,=", &["\\,", "\\\"", "\\ ", "\\="]),
    };
    if written.is_empty() || (token == Token::Measurement && written[0] == b'#') {
        return None;
    }
    let mut i = 0;
    while i < written.len() {
        match written[i] {
            b if stops.contains(&b) => return None,
            // At the end, the backslash would take the separator with it.
            b'\\' => match written.get(i + 1)? {
                b'\\' if token == Token::Tag => i += 1,
                _ => i += 2,
            },
            _ => i += 1,
        }
    }
    let text = std::str::from_utf8(written).ok()?;
    if !written.iter().any(|b| stops.contains(b)) {
        return Some(text.to_owned());
    }
    let mut read = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match unescapes.iter().find(|pair| rest.starts_with(**pair)) {
            Some(pair) => {
                read.push_str(&pair[1..]);
                rest = &rest[2..];
            }
            None => {
                read.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    Some(read)
}

fn written(text: &str, token: Token) -> Result<String, Unrepresentable> {
    let mut out = Vec::new();
    push_token(&mut out, text, token, || Part::Measurement)
        .map(|()| String::from_utf8(out).unwrap())
        .map_err(|e| e.reason)
}

/// The readings TELEGRAF-WIRE.md gives for Telegraf's parser, as a check of the model.
#[test]
fn the_model_reads_as_the_wire_contract_says() {
    use Token::*;
    let cases: &[(Token, &str, Option<&str>)] = &[
        (Tag, r"a\\ b", Some(r"a\ b")),
        (Tag, r"a\\\ b", Some(r"a\\ b")),
        (Tag, r"a\b", Some(r"a\b")),
        (Tag, r"a\\b", Some(r"a\\b")),
        (Tag, r#"a\"b"#, Some(r#"a\"b"#)),
        (Tag, r#"a\"b\ c"#, Some(r#"a"b c"#)),
        (Tag, r#"a\\"b\ c"#, Some(r#"a\"b c"#)),
        (Tag, r"v\", None),
        (Tag, r"v\\", None),
        (Measurement, r"m\\\ x", Some(r"m\\ x")),
        (Measurement, r"m\=x", Some(r"m\=x")),
        (Measurement, r#"a\"b\ c"#, Some(r#"a\"b c"#)),
        (Measurement, r"cpu\\", Some(r"cpu\\")),
        (Measurement, r"cpu\", None),
        (Measurement, r"a\\ b", None),
        (Measurement, "#m", None),
        (FieldKey, r"a\\\ b", Some(r"a\\ b")),
        (FieldKey, r"f\\", Some(r"f\\")),
        (FieldKey, r"f\", None),
        (FieldKey, r"a\\=b", None),
        (FieldKey, r#"a\"b\ c"#, Some(r#"a"b c"#)),
        (FieldKey, r#"a\\"b\ c"#, Some(r#"a\"b c"#)),
        (FieldKey, r#"a\"b"#, Some(r#"a\"b"#)),
    ];
    for (token, bytes, read) in cases {
        assert_eq!(
            telegraf_reads(*token, bytes.as_bytes()).as_deref(),
            *read,
            "{token:?} {bytes}"
        );
    }
}

/// Each kind of backslash case, in each kind of token: the bytes written, and Telegraf's
/// reading of them, which is the text given.
#[test]
fn backslashes_are_written_so_that_telegraf_reads_the_text_back() {
    use Token::*;
    let cases: &[(Token, &str, &str)] = &[
        // Before a quote, in a token Telegraf unescapes: one more backslash.
        (FieldKey, r#"a\"b c"#, r#"a\\"b\ c"#),
        (FieldKey, r#"a\\"b c"#, r#"a\\\"b\ c"#),
        (FieldKey, r#"a\"b=c"#, r#"a\\"b\=c"#),
        (FieldKey, r#""a b""#, r#""a\ b""#),
        (Tag, r#"a\"b c"#, r#"a\\"b\ c"#),
        (Tag, r#"a\\\"b,c"#, r#"a\\\\"b\,c"#),
        (Tag, r#"x=\""#, r#"x\=\\""#),
        // ... but not where Telegraf leaves the token alone, nor in a measurement.
        (FieldKey, r#"a\"b"#, r#"a\"b"#),
        (Tag, r#"a\"b"#, r#"a\"b"#),
        (Measurement, r#"a\"b c"#, r#"a\"b\ c"#),
        // Before an escaped character: raw, then the escape; pairs only in names.
        (Tag, r"a\ b", r"a\\ b"),
        (Tag, r"a\\,b", r"a\\\,b"),
        (Tag, r"a\=b", r"a\\=b"),
        (Measurement, r"a\\ b", r"a\\\ b"),
        (Measurement, r"a\\\\,b", r"a\\\\\,b"),
        (FieldKey, r"a\\=b", r"a\\\=b"),
        // At the end: an even run in names.
        (Measurement, r"cpu\\", r"cpu\\"),
        (Measurement, r"c u\\", r"c\ u\\"),
        (FieldKey, r"f\\", r"f\\"),
        (FieldKey, r"f =\\\\", r"f\ \=\\\\"),
        // Elsewhere: raw.
        (Tag, r"C:\dir x", r"C:\dir\ x"),
        (Measurement, r"\#x", r"\#x"),
        (Measurement, r"m=1", r"m=1"),
    ];
    for (token, text, bytes) in cases {
        assert_eq!(
            written(text, *token).as_deref(),
            Ok(*bytes),
            "{token:?} {text}"
        );
        assert_eq!(
            telegraf_reads(*token, bytes.as_bytes()).as_deref(),
            Some(*text),
            "{token:?} {bytes}"
        );
    }
    let refused: &[(Token, &str, Unrepresentable)] = &[
        (Tag, r"v\", Unrepresentable::TrailingBackslash),
        (Tag, r"a b\\", Unrepresentable::TrailingBackslash),
        (Measurement, r"cpu\", Unrepresentable::OddBackslashesAtEnd),
        (FieldKey, r"f\\\", Unrepresentable::OddBackslashesAtEnd),
        (Measurement, r"a\ b", Unrepresentable::BackslashBeforeEscape),
        (FieldKey, r"a\\\,b", Unrepresentable::BackslashBeforeEscape),
    ];
    for (token, text, reason) in refused {
        assert_eq!(
            written(text, *token).as_ref(),
            Err(reason),
            "{token:?} {text}"
        );
    }
}

/// Every text of up to four characters from the bytes that matter: the encoder refuses it
/// exactly when no writing of up to eight bytes (twice the text, enough for any escaping)
/// makes Telegraf read it back, and what it writes reads back.
#[test]
fn refused_exactly_when_no_writing_reads_back() {
    const ALPHABET: &[u8] = b"a\\\" ,=";
    fn all_up_to(len: usize) -> Vec<Vec<u8>> {
        let mut all = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..len {
            last = last
                .iter()
                .flat_map(|s| {
                    ALPHABET.iter().map(move |&b| {
                        let mut t = s.clone();
                        t.push(b);
                        t
                    })
                })
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }
    let writings = all_up_to(8);
    let texts = all_up_to(4);
    for token in [Token::Measurement, Token::FieldKey, Token::Tag] {
        let readable: std::collections::HashSet<String> = writings
            .iter()
            .filter_map(|w| telegraf_reads(token, w))
            .collect();
        for text in texts.iter().skip(1) {
            let text = std::str::from_utf8(text).unwrap();
            match written(text, token) {
                Ok(bytes) => assert_eq!(
                    telegraf_reads(token, bytes.as_bytes()).as_deref(),
                    Some(text),
                    "{token:?} {text:?} written {bytes:?}"
                ),
                Err(reason) => assert!(
                    !readable.contains(text),
                    "{token:?} {text:?} refused ({reason}) though Telegraf can read it back"
                ),
            }
        }
    }
}

#[test]
fn timestamps_follow_the_output_precision() {
    let reading = m("m")
        .field("v", 1)
        .timestamp(Timestamp::new(1_700_000_000_987, Precision::Milliseconds))
        .build()
        .unwrap();
    let expected = [
        (Precision::Seconds, "m v=1i 1700000000\n"),
        (Precision::Milliseconds, "m v=1i 1700000000987\n"),
        (Precision::Microseconds, "m v=1i 1700000000987000\n"),
        (Precision::Nanoseconds, "m v=1i 1700000000987000000\n"),
    ];
    for (precision, text) in expected {
        let mut out = Vec::new();
        encode(&reading, precision, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }
}

mod word_scan {
    use crate::format::has_any;
    use proptest::prelude::*;

    proptest! {
        /// The word-at-a-time scan finds what a byte loop finds, for any bytes and lengths.
        #[test]
        fn finds_what_a_byte_loop_finds(
            text in proptest::collection::vec(any::<u8>(), 0..40),
            set in proptest::collection::vec(any::<u8>(), 0..5),
            control: bool,
        ) {
            let expected = text.iter().any(|b| set.contains(b) || (control && *b < 0x20));
            prop_assert_eq!(has_any(&text, &set, control), expected);
        }

        /// Near misses around each special byte in every position of a word.
        #[test]
        fn tells_neighbours_apart(position in 0usize..16, byte in any::<u8>()) {
            let mut text = vec![b'a'; 16];
            text[position] = byte;
            let set = b", =\\\"";
            prop_assert_eq!(
                has_any(&text, set, true),
                set.contains(&byte) || byte < 0x20
            );
        }
    }
}
