//! Small text helpers shared by messages.

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
