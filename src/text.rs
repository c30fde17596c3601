//! Text helpers shared by error messages and the JSON code.
//!
//! [`excerpt`] is the one place where an offending text is shortened for a message: the
//! listener's rejections, the WebSocket mapping errors, the mapping's value errors and the
//! command line's reports of bad input lines all go through it.

use std::fmt;

/// Bytes a JSON string cannot hold raw: `"`, `\\` and control characters. The JSON encoder
/// escapes them; the mapping's scanner stops at them.
pub(crate) static JSON_STRING_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// At most `max_bytes` of `text` (cut at a character boundary), followed by `…` when cut.
///
/// ```
/// use telemit::text::excerpt;
///
/// assert_eq!(excerpt("abc", 3), "abc");
/// assert_eq!(excerpt("aüb", 2), "a…");
/// ```
pub fn excerpt(text: &str, max_bytes: usize) -> String {
    Excerpt::new(text, max_bytes).to_string()
}

/// [`excerpt`] quoted as a Rust string literal (escapes visible), with `…` outside the quotes
/// when cut: `"m v=1 a"…`. For showing a line the reader may need to copy exactly.
///
/// ```
/// use telemit::text::quoted_excerpt;
///
/// assert_eq!(quoted_excerpt("tab\there", 20), r#""tab\there""#);
/// assert_eq!(quoted_excerpt("abcdef", 3), r#""abc"…"#);
/// ```
pub fn quoted_excerpt(text: &str, max_bytes: usize) -> String {
    let excerpt = Excerpt::new(text, max_bytes);
    format!("{:?}{}", excerpt.head, if excerpt.cut { "…" } else { "" })
}

/// The kept head of a text and whether anything was cut.
struct Excerpt<'a> {
    head: &'a str,
    cut: bool,
}

impl<'a> Excerpt<'a> {
    fn new(text: &'a str, max_bytes: usize) -> Excerpt<'a> {
        if text.len() <= max_bytes {
            return Excerpt {
                head: text,
                cut: false,
            };
        }
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Excerpt {
            head: &text[..end],
            cut: true,
        }
    }
}

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.head)?;
        if self.cut {
            f.write_str("…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{excerpt, quoted_excerpt};

    #[test]
    fn cuts_at_a_character_boundary() {
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(excerpt("aüb", 2), "a…");
    }

    #[test]
    fn quoted_keeps_the_ellipsis_outside_the_quotes() {
        assert_eq!(quoted_excerpt("abc", 3), "\"abc\"");
        assert_eq!(quoted_excerpt("a\"b", 10), "\"a\\\"b\"");
        assert_eq!(quoted_excerpt("日本語", 4), "\"日\"…");
        assert_eq!(quoted_excerpt("", 0), "\"\"");
    }
}
