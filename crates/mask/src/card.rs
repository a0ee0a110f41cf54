//! Payment-card numbers (PCI): 13–19 digits, Luhn-valid, written with or
//! without spaces or dashes between digit groups.
//!
//! A "run" is a stretch of digits where any number of spaces or dashes may
//! stand between two digits. Inside a run we test every *window* that starts
//! at the beginning of a digit group and ends at the end of one, not only
//! the whole run: a card number is often followed by its expiry or security
//! code (`4111 1111 1111 1111 123`), and that longer run is not Luhn-valid
//! while the card inside it is. A window must stand on its own: the
//! character before it and the one after it are not letters or digits (a
//! separator counts as a boundary), so `SKU4111111111111111` is left alone.

use crate::scan::{digit_value, is_dash, is_space_sep, is_word};
use crate::{Finding, Kind};

/// Card numbers are 13 to 19 digits long (ISO/IEC 7812).
const MIN_DIGITS: usize = 13;
const MAX_DIGITS: usize = 19;

/// One digit of a run, with where it sits in its group.
#[derive(Clone, Copy)]
struct Digit {
    start: usize,
    end: usize,
    value: u8,
    /// A window may begin here: first digit of the run after a non-word
    /// character, or first digit after a separator.
    group_start: bool,
    /// A window may end here: followed by a separator or a non-word character.
    group_end: bool,
}

fn is_separator(c: char) -> bool {
    is_space_sep(c) || is_dash(c)
}

/// Appends every Luhn-valid window of every run in `text` to `out`.
/// Overlapping windows are merged later, by the resolver.
pub(crate) fn find(text: &str, out: &mut Vec<Finding>) {
    let mut run: Vec<Digit> = Vec::new();
    let mut prev: Option<char> = None;
    // Separators seen since the last digit of the current run.
    let mut pending_sep = false;
    for (i, c) in text.char_indices() {
        if let Some(value) = digit_value(c) {
            let digit = |group_start| Digit {
                start: i,
                end: i + c.len_utf8(),
                value,
                group_start,
                group_end: false,
            };
            if run.is_empty() {
                run.push(digit(!prev.is_some_and(is_word)));
            } else if pending_sep {
                if let Some(last) = run.last_mut() {
                    last.group_end = true;
                }
                run.push(digit(true));
            } else {
                run.push(digit(false));
            }
            pending_sep = false;
        } else if !run.is_empty() && is_separator(c) {
            pending_sep = true;
        } else if !run.is_empty() {
            if let Some(last) = run.last_mut() {
                last.group_end = pending_sep || !is_word(c);
            }
            windows(&run, out);
            run.clear();
            pending_sep = false;
        }
        prev = Some(c);
    }
    if let Some(last) = run.last_mut() {
        last.group_end = true;
        windows(&run, out);
    }
}

/// For each digit that may end a window, walks back over up to 19 digits,
/// keeping the Luhn sum as it goes, so each window costs one addition.
fn windows(run: &[Digit], out: &mut Vec<Finding>) {
    if run.len() < MIN_DIGITS {
        return;
    }
    for end in (MIN_DIGITS - 1)..run.len() {
        if !run[end].group_end {
            continue;
        }
        let mut sum = 0u32;
        for k in 0..MAX_DIGITS.min(end + 1) {
            let first = &run[end - k];
            sum += luhn_term(first.value, k);
            if k + 1 >= MIN_DIGITS && first.group_start && sum % 10 == 0 {
                out.push(Finding {
                    kind: Kind::Card,
                    range: first.start..run[end].end,
                });
            }
        }
    }
}

/// The Luhn contribution of digit `d` at position `k` counted from the right
/// (0 is the check digit): every second digit is doubled, and a doubled
/// value above 9 has 9 taken off (the sum of its two digits).
fn luhn_term(d: u8, k: usize) -> u32 {
    let d = u32::from(d);
    if k % 2 == 1 {
        let doubled = d * 2;
        if doubled > 9 {
            doubled - 9
        } else {
            doubled
        }
    } else {
        d
    }
}

/// Whether a string of ASCII digits passes the Luhn check.
#[cfg(test)]
pub(crate) fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(k, b)| luhn_term(b - b'0', k))
        .sum();
    sum % 10 == 0
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
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(luhn_valid("378282246310005")); // Amex
    }

    #[test]
    fn finds_grouped_and_plain_cards() {
        assert_eq!(found("4111111111111111"), ["4111111111111111"]);
        assert_eq!(found("card 4111 1111 1111 1111."), ["4111 1111 1111 1111"]);
        assert_eq!(found("5500-0000-0000-0004"), ["5500-0000-0000-0004"]);
        assert_eq!(found("Amex 3782 822463 10005"), ["3782 822463 10005"]);
        assert_eq!(
            found("4111 - 1111 - 1111 - 1111"),
            ["4111 - 1111 - 1111 - 1111"]
        );
    }

    #[test]
    fn finds_a_card_followed_by_its_security_code() {
        assert_eq!(found("4111 1111 1111 1111 123"), ["4111 1111 1111 1111"]);
    }

    #[test]
    fn ignores_luhn_failures_and_glued_codes() {
        assert!(found("4111 1111 1111 1112").is_empty());
        assert!(found("SKU4111111111111111").is_empty());
        assert!(found("4111111111111111x").is_empty());
        assert!(found("411111111111").is_empty()); // 12 digits
    }

    #[test]
    fn reads_other_digit_scripts() {
        assert_eq!(found("٤١١١ ١١١١ ١١١١ ١١١١").len(), 1);
        assert_eq!(found("４１１１１１１１１１１１１１１１").len(), 1);
    }
}
