//! Pure decoding: one payload (a stream line or a whole datagram) in, readings or a rejection
//! out, by the parsers in [`crate::input`]. No socket here, so that the fuzz targets and the
//! socket loops share exactly one set of rules.

use crate::format::Format;
use crate::input::{line_protocol, telegraf_json, wavefront};
use crate::listen::{ListenOptions, Received};

/// The longest offending text a [`Received::Rejected`] carries, in bytes.
pub(crate) const REJECTED_TEXT_MAX: usize = 200;

/// Turns one payload into readings as Telegraf's parser for `options.format` would.
///
/// On a datagram one bad line rejects the whole payload, as in Telegraf; on a stream each line
/// is its own payload. A payload that is not UTF-8 is rejected with the byte where it stops
/// being text.
///
/// ```
/// use telemit::listen::{decode, ListenOptions, Received};
///
/// let options = ListenOptions::default();
/// let Received::Rejected { error, .. } = decode(b"a v=1\nb v=\n", true, &options) else {
///     panic!("one bad line loses the datagram");
/// };
/// assert_eq!(error, "line 2: column 5: expected a field value after '=' (the whole datagram of 2 lines is lost, as in Telegraf)");
/// ```
pub fn decode(payload: &[u8], datagram: bool, options: &ListenOptions) -> Received {
    let text = match std::str::from_utf8(payload) {
        Ok(text) => text,
        Err(e) => {
            return Received::Rejected {
                text: rejected_text(&String::from_utf8_lossy(payload)),
                error: format!("not UTF-8 at byte {}", e.valid_up_to()),
            };
        }
    };
    if options.format == Format::Json {
        return match telegraf_json::parse_payload(text, &options.json, options.precision) {
            Ok(readings) => Received::Readings(readings),
            Err(e) => Received::Rejected {
                text: rejected_text(text),
                error: e.to_string(),
            },
        };
    }
    let mut readings = Vec::new();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    for (index, line) in lines.iter().enumerate() {
        let parsed = match options.format {
            Format::Wavefront => wavefront::parse_line(line),
            _ => line_protocol::parse_line(line, options.precision),
        };
        match parsed {
            Ok(Some(reading)) => readings.push(reading),
            Ok(None) => {}
            Err(e) => {
                let error = if datagram {
                    format!(
                        "line {}: {e} (the whole datagram of {} lines is lost, as in Telegraf)",
                        index + 1,
                        lines.len()
                    )
                } else {
                    e.to_string()
                };
                return Received::Rejected {
                    text: rejected_text(line),
                    error,
                };
            }
        }
    }
    Received::Readings(readings)
}

/// The offending text as a rejection carries it: at most [`REJECTED_TEXT_MAX`] bytes.
pub(crate) fn rejected_text(text: &str) -> String {
    crate::text::excerpt(text, REJECTED_TEXT_MAX)
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::format::Format;
    use crate::listen::{ListenOptions, Received};

    #[test]
    fn a_stream_line_is_rejected_alone_without_the_datagram_note() {
        let options = ListenOptions::default();
        let Received::Rejected { text, error } = decode(b"b v=", false, &options) else {
            panic!("a bad line is rejected");
        };
        assert_eq!(text, "b v=");
        assert_eq!(error, "column 5: expected a field value after '='");
    }

    #[test]
    fn not_utf8_names_the_byte_and_long_text_is_cut() {
        let options = ListenOptions::default();
        let mut payload = b"m v=1\n".to_vec();
        payload.extend([0xff; 300]);
        let Received::Rejected { text, error } = decode(&payload, true, &options) else {
            panic!("a payload that is not UTF-8 is rejected");
        };
        assert_eq!(error, "not UTF-8 at byte 6");
        assert!(text.starts_with("m v=1\n") && text.ends_with('…'), "{text}");
        assert!(text.len() <= super::REJECTED_TEXT_MAX + '…'.len_utf8());
    }

    #[test]
    fn wavefront_lines_and_blank_lines() {
        let options = ListenOptions::default().with_format(Format::Wavefront);
        let Received::Readings(readings) = decode(b"cpu.load 0.5 source=a\n\n", true, &options)
        else {
            panic!("a wavefront line parses");
        };
        assert_eq!(readings.len(), 1);
        assert_eq!(
            readings[0].field("value"),
            Some(&crate::reading::FieldValue::Float(0.5))
        );
    }
}
