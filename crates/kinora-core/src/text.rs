//! Hashtags and mentions parsed from captions and comments.

use crate::types::Username;

/// Whether the character before position `i` is part of a word (so a `#` or `@`
/// there does not start a tag or mention).
fn word_before(chars: &[char], i: usize) -> bool {
    i.checked_sub(1).and_then(|j| chars.get(j)).is_some_and(|c| is_word(*c))
}

/// Lower-cased hashtags (`#` + letters, digits, `_`; 1-50 chars), first 30, no repeats.
pub fn hashtags(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let starts = c == '#' && !word_before(&chars, i);
        if starts {
            let tag: String = chars.iter().skip(i + 1).take_while(|c| is_word(**c)).collect();
            let n = tag.chars().count();
            if (1..=50).contains(&n) && !tag.chars().all(|c| c.is_ascii_digit()) {
                let t = tag.to_lowercase();
                if !out.contains(&t) && out.len() < 30 {
                    out.push(t);
                }
            }
            i += 1 + n;
        } else {
            i += 1;
        }
    }
    out
}

/// Valid usernames after `@`, first 20, no repeats.
pub fn mentions(text: &str) -> Vec<Username> {
    let mut out: Vec<Username> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '@' && !word_before(&chars, i) {
            let name: String = chars.iter().skip(i + 1).take_while(|c| c.is_ascii_alphanumeric() || **c == '_').collect();
            i += 1 + name.len();
            if let Ok(u) = Username::parse(&name) {
                if !out.contains(&u) && out.len() < 20 {
                    out.push(u);
                }
            }
        } else {
            i += 1;
        }
    }
    out
}

/// A hashtag from a URL path segment (with or without `#`).
pub fn parse_tag(s: &str) -> Option<String> {
    let t = s.trim().trim_start_matches('#');
    let ok = !t.is_empty() && t.chars().count() <= 50 && t.chars().all(is_word);
    ok.then(|| t.to_lowercase())
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_mentions() {
        assert_eq!(hashtags("Sunset #Beach #beach #été, x#no #1 #a_b!"), vec!["beach", "été", "a_b"]);
        assert_eq!(hashtags("##double # #"), vec!["double"]);
        let m: Vec<String> = mentions("hi @Alice and @bob_2, mail a@b.c @x").iter().map(|u| u.to_string()).collect();
        assert_eq!(m, vec!["alice", "bob_2"]);
        assert_eq!(parse_tag("#Cats"), Some("cats".into()));
        assert_eq!(parse_tag("../x"), None);
    }
}
