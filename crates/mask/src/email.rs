//! Email addresses (PII).
//!
//! We look for each `@` and read outwards: the name to its left over the
//! characters people actually use in addresses (letters and digits of any
//! script, and `.` `_` `%` `+` `-` `'`), the domain to its right as two or
//! more labels of letters, digits and hyphens, ending in a top-level domain
//! of letters (or an IDN `xn--` label). Quoted names and address literals
//! (`"a b"@x`, `a@[1.2.3.4]`) are legal but so rare in chat that we accept
//! missing them rather than slowing the common case.
//!
//! The mask stars the name but its first character, so `*` is deliberately
//! not a name character: in `m******@gmail.com` the `@` has no name before
//! it and a second pass leaves the text as it is (idempotence).

use crate::scan::is_word;
use crate::{Finding, Kind};

/// `logo@2x.png` is a file name, not an address: file extensions that
/// people paste and that are not top-level domains.
const FILE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "svg", "webp", "pdf", "heic"];

pub(crate) fn find(text: &str, out: &mut Vec<Finding>) {
    for (at, _) in text.match_indices('@') {
        let Some(start) = name_start(text, at) else {
            continue;
        };
        let Some(end) = domain_end(text, at + 1) else {
            continue;
        };
        out.push(Finding {
            kind: Kind::Email,
            range: start..end,
        });
    }
}

fn is_name_char(c: char) -> bool {
    is_word(c) || matches!(c, '.' | '_' | '%' | '+' | '-' | '\'')
}

/// The offset where the name before the `@` at `at` begins, if it has one.
fn name_start(text: &str, at: usize) -> Option<usize> {
    let mut start = at;
    for (i, c) in text[..at].char_indices().rev() {
        if !is_name_char(c) {
            break;
        }
        start = i;
    }
    // A name begins with a letter, a digit, `+` or `_`: a leading quote or
    // dot is punctuation of the sentence, not part of the address.
    let offset = text[start..at].find(|c: char| is_word(c) || c == '+' || c == '_')?;
    Some(start + offset)
}

/// The offset where the domain starting at `from` ends, if it is one.
fn domain_end(text: &str, from: usize) -> Option<usize> {
    let mut pos = from;
    let mut labels = 0;
    let mut last_label = from..from;
    loop {
        let label_len: usize = text[pos..]
            .chars()
            .take_while(|&c| is_word(c) || c == '-')
            .map(char::len_utf8)
            .sum();
        let label = &text[pos..pos + label_len];
        if label.is_empty() || label.starts_with('-') || label.ends_with('-') {
            return None;
        }
        labels += 1;
        last_label = pos..pos + label_len;
        pos += label_len;
        // Continue past a dot only if another label follows: the dot at the
        // end of a sentence is not part of the address.
        let mut rest = text[pos..].chars();
        if rest.next() == Some('.') && rest.next().is_some_and(is_word) {
            pos += 1;
        } else {
            break;
        }
    }
    let tld = &text[last_label];
    let tld_ok = (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
        || tld.to_ascii_lowercase().starts_with("xn--");
    let is_file = FILE_EXTENSIONS
        .iter()
        .any(|ext| tld.eq_ignore_ascii_case(ext));
    (labels >= 2 && tld_ok && !is_file).then_some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(text, &mut out);
        out.iter().map(|f| &text[f.range.clone()]).collect()
    }

    #[test]
    fn finds_addresses_in_sentences() {
        assert_eq!(found("melissa@gmail.com"), ["melissa@gmail.com"]);
        assert_eq!(
            found("Mail me: john.doe+shop@mail.example.co.uk."),
            ["john.doe+shop@mail.example.co.uk"]
        );
        assert_eq!(found("<o'brien@eir.ie>"), ["o'brien@eir.ie"]);
        assert_eq!(found("'anna@web.de'"), ["anna@web.de"]);
        assert_eq!(found("josé@correo.es"), ["josé@correo.es"]);
        assert_eq!(found("почта@пример.рф"), ["почта@пример.рф"]);
        assert_eq!(found("a@b.xn--p1ai"), ["a@b.xn--p1ai"]);
        assert_eq!(found("メールはtaro@example.jpです"), ["taro@example.jp"]);
    }

    #[test]
    fn ignores_things_that_only_look_like_addresses() {
        for s in [
            "@john",
            "john@localhost",
            "logo@2x.png",
            "a@b.c",
            "m******@",
            "@@",
            "x@-a.com",
            "1@2.34",
        ] {
            assert!(found(s).is_empty(), "{s}");
        }
        assert!(found("m******@gmail.com").is_empty());
    }
}
