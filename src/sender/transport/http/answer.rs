//! What the server's answer means for a batch: its status, its message and its `Retry-After`,
//! and a request that got no answer.

use std::io;
use std::time::{Duration, SystemTime};

use super::super::Refusal;
use super::MAX_RETRY_AFTER;

/// What an answer means for the batch: 2xx delivered; 429 and 503 come back after the
/// server's `Retry-After` (or the backoff); 408 and other 5xx are sent again with backoff;
/// any other status (4xx, a redirect) is the batch's or the address's fault, so it is not sent
/// again and its readings are counted as rejected, with the server's message.
pub(super) fn classify(
    status: u16,
    message: String,
    retry_after: Option<Duration>,
) -> io::Result<()> {
    let text = |message: &str| {
        let reason = http_reason(status);
        if message.is_empty() {
            format!("HTTP {status} {reason}")
        } else {
            format!("HTTP {status} {reason}: {message}")
        }
    };
    match status {
        200..=299 => Ok(()),
        429 | 503 => Err(Refusal::RetryAfter {
            delay: retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
            message: text(&message),
        }
        .into()),
        408 | 500..=599 => Err(io::Error::other(text(&message))),
        413 => Err(Refusal::Rejected {
            dropped: None,
            message: text(&if message.is_empty() {
                "send smaller bodies (--max-body-size)".to_owned()
            } else {
                format!("{message}; send smaller bodies (--max-body-size)")
            }),
        }
        .into()),
        _ => Err(Refusal::Rejected {
            dropped: partial_write_dropped(&message),
            message: text(&message),
        }
        .into()),
    }
}

fn http_reason(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// The readable part of an error answer: InfluxDB 1.x's `{"error": …}`, 2.x's `{"message": …}`,
/// or the text itself; its first line (InfluxDB gives one per bad line), at most 512
/// characters, with `…` where it was cut.
pub(super) fn server_message(body: &str) -> String {
    let body = body.trim();
    let mut text = None;
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str(body) {
        text = ["error", "message"]
            .iter()
            .find_map(|key| object.get(*key)?.as_str().map(str::to_owned));
    }
    // A message cut short is not JSON any more; its start still reads well.
    let text = text.unwrap_or_else(|| {
        let body = body.strip_prefix("{\"error\":\"").unwrap_or(body);
        body.replace("\\n", "\n")
    });
    let text = text.trim();
    let first = text.lines().next().unwrap_or("");
    // The server's bytes reach a terminal: control characters (escape sequences, NUL) are
    // shown as their escapes, not sent to it.
    let mut short: String = first
        .chars()
        .take(512)
        .flat_map(|c| {
            let shown: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            shown
        })
        .collect();
    if first.chars().count() > 512 || first.len() < text.len() {
        short.push('…');
    }
    short
}

/// In a partial write, how many readings the server dropped: InfluxDB writes `dropped=N` at
/// the end of its message (1.x and 2.x alike), and stores the rest of the batch.
fn partial_write_dropped(message: &str) -> Option<u64> {
    if !message.contains("partial write") {
        return None;
    }
    let at = message.rfind("dropped=")?;
    let digits: String = message[at + "dropped=".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `Retry-After` (RFC 9110 §10.2.3): seconds, or an HTTP date.
pub(super) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A failed request as an I/O error the writer retries with backoff. A timeout is reported as
/// such but not with the kind `TimedOut`, which the writer reads as "try again at once".
pub(super) fn request_error(error: ureq::Error, url: &str) -> io::Error {
    let kind = match &error {
        ureq::Error::ConnectionFailed => io::ErrorKind::ConnectionRefused,
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            io::ErrorKind::ConnectionRefused
        }
        _ => io::ErrorKind::Other,
    };
    let text = match &error {
        ureq::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    };
    io::Error::new(kind, format!("POST {url}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender::transport;

    fn refusal(result: io::Result<()>) -> Option<Refusal> {
        let error = result.err()?;
        transport::refusal(&error).cloned()
    }

    #[test]
    fn statuses_decide_what_becomes_of_a_batch() {
        assert!(classify(204, String::new(), None).is_ok());
        assert_eq!(
            refusal(classify(429, String::new(), Some(Duration::from_secs(7)))),
            Some(Refusal::RetryAfter {
                delay: Some(Duration::from_secs(7)),
                message: "HTTP 429 Too Many Requests".into()
            })
        );
        assert_eq!(
            refusal(classify(
                503,
                "busy".into(),
                Some(Duration::from_secs(3600))
            )),
            Some(Refusal::RetryAfter {
                delay: Some(MAX_RETRY_AFTER),
                message: "HTTP 503 Service Unavailable: busy".into()
            })
        );
        let retried = classify(500, "oops".into(), None).unwrap_err();
        assert!(transport::refusal(&retried).is_none());
        assert_eq!(retried.to_string(), "HTTP 500 Internal Server Error: oops");
        assert!(transport::refusal(&classify(408, String::new(), None).unwrap_err()).is_none());
        let message = "partial write: field type conflict: input field \"v\" on measurement \"m\" \
                       is type string, already exists as type float dropped=2";
        assert_eq!(
            refusal(classify(400, message.into(), None)),
            Some(Refusal::Rejected {
                dropped: Some(2),
                message: format!("HTTP 400 Bad Request: {message}")
            })
        );
        assert_eq!(
            refusal(classify(401, "unauthorized access".into(), None)),
            Some(Refusal::Rejected {
                dropped: None,
                message: "HTTP 401 Unauthorized: unauthorized access".into()
            })
        );
    }

    #[test]
    fn server_messages_are_read_from_json_or_text() {
        assert_eq!(
            server_message("{\"error\":\"database not found: \\\"x\\\"\"}\n"),
            "database not found: \"x\""
        );
        assert_eq!(
            server_message(
                "{\"code\":\"invalid\",\"message\":\"unable to parse 'x': missing fields\"}"
            ),
            "unable to parse 'x': missing fields"
        );
        assert_eq!(server_message("  plain text\n"), "plain text");
        assert_eq!(server_message("\u{1b}[31mred\u{0}"), "\\u{1b}[31mred\\u{0}");
        assert_eq!(server_message(&"x".repeat(600)).chars().count(), 513);
        assert_eq!(
            server_message("{\"error\":\"unable to parse 'a': bad\\nunable to parse 'b': bad\"}"),
            "unable to parse 'a': bad…"
        );
        assert_eq!(
            server_message("{\"error\":\"unable to parse 'a': bad\\nunable to parse 'b"),
            "unable to parse 'a': bad…"
        );
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(30)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }
}
