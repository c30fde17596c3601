//! Small text helpers shared by messages and the JSON code.

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

/// At most `max` bytes of `text` (cut at a character boundary), with `…` when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn cuts_at_a_character_boundary() {
        assert_eq!(super::excerpt("abc", 3), "abc");
        assert_eq!(super::excerpt("aüb", 2), "a…");
    }
}
