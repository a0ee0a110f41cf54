//! International bank account numbers (PCI), printed with or without spaces.
//!
//! The scanner only finds *candidates*: two letters at the start of a word,
//! two check digits, then letters and digits, optionally in groups separated
//! by single spaces or dashes. Whether a candidate is an IBAN — the
//! country's length and BBAN format, and the mod-97 check — is decided by
//! the `iban_validate` crate, which follows the SWIFT registry.

use std::str::FromStr;

use iban::Iban;

use crate::scan::{is_dash, is_space_sep, is_word, next_char, prev_char};
use crate::{Finding, Kind};

/// The shortest IBAN (Norway) and the longest any country uses.
const MIN_LEN: usize = 15;
const MAX_LEN: usize = 34;

pub(crate) fn find(text: &str, out: &mut Vec<Finding>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        if let Some(end) = candidate_at(text, i) {
            out.push(Finding {
                kind: Kind::Iban,
                range: i..end,
            });
            i = end;
        } else {
            i += 1;
        }
    }
}

/// If an IBAN starts at byte `i`, the byte offset where it ends.
fn candidate_at(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    let country_case_ok = (b[i].is_ascii_uppercase() && b[i + 1].is_ascii_uppercase())
        || (b[i].is_ascii_lowercase() && b[i + 1].is_ascii_lowercase());
    if !country_case_ok || !b[i + 2].is_ascii_digit() || !b[i + 3].is_ascii_digit() {
        return None;
    }
    // `i` is a char boundary because b[i] is ASCII.
    if prev_char(text, i).is_some_and(is_word) {
        return None;
    }

    // Gather the compact, upper-cased form, remembering where each group
    // ends: the IBAN ends at the end of a group, and its length depends on
    // the country, so every group end is a possible end.
    let mut compact = [0u8; MAX_LEN];
    let mut len = 0;
    let mut pos = i;
    let mut best = None;
    loop {
        while pos < b.len() && b[pos].is_ascii_alphanumeric() {
            if len == MAX_LEN {
                return best;
            }
            compact[len] = b[pos].to_ascii_uppercase();
            len += 1;
            pos += 1;
        }
        // A group must end at a non-word character (`é` after an IBAN is
        // as much part of the word as `e`).
        if next_char(text, pos).is_some_and(is_word) {
            return best;
        }
        if len >= MIN_LEN && is_valid(&compact[..len]) {
            best = Some(pos);
        }
        // Continue over one separator into the next group.
        match next_char(text, pos) {
            Some(c) if is_space_sep(c) || is_dash(c) => {
                let after = pos + c.len_utf8();
                if after < b.len() && b[after].is_ascii_alphanumeric() {
                    pos = after;
                } else {
                    return best;
                }
            }
            _ => return best,
        }
    }
}

fn is_valid(compact: &[u8]) -> bool {
    std::str::from_utf8(compact)
        .ok()
        .is_some_and(|s| Iban::from_str(s).is_ok())
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
    fn finds_printed_and_electronic_forms() {
        assert_eq!(
            found("DE89 3704 0044 0532 0130 00"),
            ["DE89 3704 0044 0532 0130 00"]
        );
        assert_eq!(
            found("IBAN: DE89370400440532013000."),
            ["DE89370400440532013000"]
        );
        assert_eq!(
            found("GB82 WEST 1234 5698 7654 32 thanks"),
            ["GB82 WEST 1234 5698 7654 32"]
        );
        assert_eq!(
            found("fr14 2004 1010 0505 0001 3m02 606"),
            ["fr14 2004 1010 0505 0001 3m02 606"]
        );
        assert_eq!(found("NO9386011117947"), ["NO9386011117947"]);
    }

    #[test]
    fn ignores_bad_checksums_and_glued_text() {
        assert!(found("DE89 3704 0044 0532 0130 01").is_empty());
        assert!(found("XDE89370400440532013000").is_empty());
        assert!(found("DE89370400440532013000abc").is_empty());
        assert!(found("AB12 order").is_empty());
    }
}
