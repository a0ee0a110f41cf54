//! US social security numbers (PCI in our product's sense: a national
//! identity number that opens credit), as `AAA-GG-SSSS`, `AAA GG SSSS` or nine
//! digits without separators.
//!
//! We drop numbers the SSA never issues — area 000, 666 or 900–999, group
//! 00, serial 0000 — and numbers that are part of something larger: glued
//! to letters or other digit groups, after a currency sign or a `+`, or
//! followed by a decimal part or `%`. An unseparated nine-digit number after
//! an identifier label (`order 123456789`) is an order number (see
//! [`crate::label`]).

use crate::label;
use crate::scan::{
    is_currency, is_dash, is_digit, is_plus, is_space_sep, is_word, next_char, next_next_char,
    prev_char, prev_prev_char,
};
use crate::{Finding, Kind};

pub(crate) fn find(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let found = match j - i {
            9 => Some(j).filter(|_| {
                issued(&b[i..i + 3], &b[i + 3..i + 5], &b[i + 5..i + 9])
                    && !label::is_identifier(text, i)
            }),
            3 => separated_end(text, i, j),
            _ => None,
        };
        if let Some(end) = found {
            if stands_alone(text, i, end) {
                out.push(Finding {
                    kind: Kind::Ssn,
                    range: i..end,
                });
                i = end;
                continue;
            }
        }
        i = j;
    }
}

/// For `AAA-GG-SSSS` (or spaces) whose area ends at `j`, the end offset.
fn separated_end(text: &str, i: usize, j: usize) -> Option<usize> {
    let b = text.as_bytes();
    let sep = next_char(text, j)?;
    let dash = is_dash(sep);
    if !dash && !is_space_sep(sep) {
        return None;
    }
    let g = j + sep.len_utf8();
    if !digits_at(b, g, 2) {
        return None;
    }
    let sep2 = next_char(text, g + 2)?;
    if (dash && !is_dash(sep2)) || (!dash && !is_space_sep(sep2)) {
        return None;
    }
    let s = g + 2 + sep2.len_utf8();
    if !digits_at(b, s, 4) || b.get(s + 4).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    if !issued(&b[i..j], &b[g..g + 2], &b[s..s + 4]) || label::is_identifier(text, i) {
        return None;
    }
    Some(s + 4)
}

/// Exactly `n` ASCII digits at `at`.
fn digits_at(b: &[u8], at: usize, n: usize) -> bool {
    at + n <= b.len()
        && b[at..at + n].iter().all(u8::is_ascii_digit)
        && !b.get(at + n).is_some_and(u8::is_ascii_digit)
}

/// The SSA never issues area 000, 666 or 900–999, group 00 or serial 0000.
fn issued(area: &[u8], group: &[u8], serial: &[u8]) -> bool {
    let num = |d: &[u8]| d.iter().fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    let area = num(area);
    area != 0 && area != 666 && area < 900 && num(group) != 0 && num(serial) != 0
}

/// The number is not part of a longer number, a word, an amount or a phone
/// number.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let joins = |c: char| is_space_sep(c) || is_dash(c) || matches!(c, '.' | ',' | '/' | ':');
    if let Some(p) = prev_char(text, start) {
        if is_word(p) || is_plus(p) || is_currency(p) {
            return false;
        }
        if joins(p) {
            if let Some(pp) = prev_prev_char(text, start) {
                if is_digit(pp) || is_currency(pp) || is_plus(pp) {
                    return false;
                }
            }
        }
    }
    if let Some(n) = next_char(text, end) {
        if is_word(n) || n == '%' {
            return false;
        }
        if joins(n) && next_next_char(text, end).is_some_and(is_digit) {
            return false;
        }
    }
    true
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
    fn finds_the_three_forms() {
        assert_eq!(found("SSN 123-45-6789."), ["123-45-6789"]);
        assert_eq!(found("ssn: 123 45 6789"), ["123 45 6789"]);
        assert_eq!(found("it is 123456789"), ["123456789"]);
    }

    #[test]
    fn skips_numbers_never_issued() {
        for s in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "999-12-3456",
            "123-00-4567",
            "123-45-0000",
        ] {
            assert!(found(s).is_empty(), "{s}");
        }
        assert_eq!(found("899-12-3456"), ["899-12-3456"]);
    }

    #[test]
    fn skips_parts_of_larger_things() {
        for s in [
            "123-45-6789-0",
            "1-123-45-6789",
            "A123456789",
            "123456789B",
            "$123456789",
            "€ 123456789",
            "123456789.50",
            "123456789%",
            "+123456789",
            "1234567890",
            "123-45-67890",
            "123-45 6789",
            "Order 123456789",
            "#123456789",
        ] {
            assert!(found(s).is_empty(), "{s}");
        }
    }
}
