//! Glob patterns as Telegraf's `tag_keys` and `json_string_fields` take them: `*` any run of
//! characters, `?` one character, `[abc]` / `[a-z]` / `[!abc]` one of a set, `\` escapes the
//! next character; anything else matches itself.

/// A list of patterns; a key matches the list when it matches any of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Globs(Vec<Vec<char>>);

impl Globs {
    pub(crate) fn new(patterns: &[String]) -> Self {
        Globs(patterns.iter().map(|p| p.chars().collect()).collect())
    }

    pub(crate) fn matches(&self, key: &str) -> bool {
        let key: Vec<char> = key.chars().collect();
        self.0.iter().any(|pattern| matches(pattern, &key))
    }
}

fn matches(pattern: &[char], text: &[char]) -> bool {
    // Backtracking over the last `*` only: linear enough for keys and patterns of this size.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
            continue;
        }
        if let Some(width) = one(&pattern[p..], text[t]) {
            p += width;
            t += 1;
            continue;
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Whether the pattern's first element matches `c`; how many pattern characters it spans.
fn one(pattern: &[char], c: char) -> Option<usize> {
    match pattern.first()? {
        '?' => Some(1),
        '\\' => (pattern.get(1)? == &c).then_some(2),
        '[' => {
            let close = pattern.iter().skip(2).position(|&x| x == ']')? + 2;
            let set = &pattern[1..close];
            let (negated, set) = match set.first() {
                Some('!') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut found = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    found |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    found |= set[i] == c;
                    i += 1;
                }
            }
            (found != negated).then_some(close + 1)
        }
        &literal => (literal == c).then_some(1),
    }
}

#[cfg(test)]
mod tests {
    use super::Globs;

    #[test]
    fn matches_as_telegraf_filters_do() {
        let cases = [
            ("host", "host", true),
            ("host", "hostname", false),
            ("ho*", "host", true),
            ("*_id", "user_id", true),
            ("*_id", "user_idx", false),
            ("h?st", "hast", true),
            ("h?st", "hst", false),
            ("[ab]x", "bx", true),
            ("[!ab]x", "bx", false),
            ("[a-c]x", "cx", true),
            ("a*b*c", "aXbYbZc", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*", "", true),
        ];
        for (pattern, key, expected) in cases {
            let globs = Globs::new(&[pattern.to_owned()]);
            assert_eq!(globs.matches(key), expected, "{pattern} vs {key}");
        }
        assert!(!Globs::new(&[]).matches("host"));
    }
}
