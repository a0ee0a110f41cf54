//! An oracle for the card rule, written independently of the crate's
//! scanner (no code shared with it), used by the property tests and by the
//! fuzz target:
//!
//! > No Luhn-valid run of 13–19 digits (spaces or dashes allowed between
//! > them) bounded by non-alphanumerics in the input survives in the output
//! > except its last four digits.
//!
//! It is deliberately brute force: every substring of the input that
//! starts and ends with an ASCII digit, holds only ASCII digits, spaces and
//! `-`, has 13 to 19 digits, passes Luhn, and has no letter or digit right
//! before or after it, is a *card*. Its *secret* is its digits but the last
//! four. The secret survives if the output holds it more often than the
//! input holds it outside the secret part of any card. Occurrences are
//! counted with any whitespace or `-` allowed between the digits, because
//! masking removes whitespace and must not be able to hide a leak that way.
//!
//! Counting, rather than looking for the secret at all, keeps the oracle
//! exact when the same digits also appear elsewhere in the input, in a place
//! that is not a card and so may legitimately stay.

#![allow(dead_code)]

use std::collections::HashSet;

/// Luhn over ASCII digit values (0–9), rightmost digit last.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, &d) in digits.iter().rev().enumerate() {
        let mut d = u32::from(d);
        if k % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// A card-shaped stretch of the input.
#[derive(Debug)]
pub struct Card {
    /// Char index of each digit, in order.
    pub positions: Vec<usize>,
    /// The digits' values.
    pub digits: Vec<u8>,
}

impl Card {
    /// The digits that must not survive.
    pub fn secret(&self) -> &[u8] {
        &self.digits[..self.digits.len() - 4]
    }
}

/// Every card-shaped stretch of `chars`, overlapping ones included.
pub fn cards(chars: &[char]) -> Vec<Card> {
    let bounded_before = |i: usize| i == 0 || !chars[i - 1].is_alphanumeric();
    let bounded_after = |j: usize| j + 1 == chars.len() || !chars[j + 1].is_alphanumeric();
    let mut found = Vec::new();
    for start in 0..chars.len() {
        if !chars[start].is_ascii_digit() || !bounded_before(start) {
            continue;
        }
        let mut positions = Vec::new();
        let mut digits = Vec::new();
        for (j, &c) in chars.iter().enumerate().skip(start) {
            if c.is_ascii_digit() {
                positions.push(j);
                digits.push(c as u8 - b'0');
                if digits.len() > 19 {
                    break;
                }
                if digits.len() >= 13 && bounded_after(j) && luhn(&digits) {
                    found.push(Card {
                        positions: positions.clone(),
                        digits: digits.clone(),
                    });
                }
            } else if c != ' ' && c != '-' {
                break;
            }
        }
    }
    found
}

/// Char indices where `secret` starts in `chars`, with any whitespace or
/// `-` allowed between its digits.
pub fn occurrences(chars: &[char], secret: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    'start: for k in 0..chars.len() {
        let mut i = k;
        for (n, &want) in secret.iter().enumerate() {
            if n > 0 {
                while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '-') {
                    i += 1;
                }
            }
            if i >= chars.len() || !chars[i].is_ascii_digit() || chars[i] as u8 - b'0' != want {
                continue 'start;
            }
            i += 1;
        }
        starts.push(k);
    }
    starts
}

/// Checks the card rule for one masking. `Err` describes the first leak.
pub fn check(input: &str, output: &str) -> Result<(), String> {
    let input_chars: Vec<char> = input.chars().collect();
    let output_chars: Vec<char> = output.chars().collect();
    let cards = cards(&input_chars);
    // Char positions holding a secret digit of some card: an occurrence
    // starting there must be gone from the output.
    let protected: HashSet<usize> = cards
        .iter()
        .flat_map(|c| c.positions[..c.positions.len() - 4].iter().copied())
        .collect();
    let secrets: HashSet<&[u8]> = cards.iter().map(Card::secret).collect();
    for secret in secrets {
        let allowed = occurrences(&input_chars, secret)
            .into_iter()
            .filter(|p| !protected.contains(p))
            .count();
        let survived = occurrences(&output_chars, secret).len();
        if survived > allowed {
            let digits: String = secret.iter().map(|d| char::from(b'0' + d)).collect();
            return Err(format!(
                "card digits {digits}… survive masking\n input: {input:?}\noutput: {output:?}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod oracle_tests {
    use super::*;

    #[test]
    fn the_oracle_catches_leaks_and_accepts_masks() {
        let input = "pay 4111 1111 1111 1111 now";
        assert!(check(input, input).is_err());
        assert!(check(input, "pay 4111111111111111 now").is_err());
        assert!(check(input, "pay 4111-1111-1111-1111 now").is_err());
        assert!(check(input, "pay ************1111 now").is_ok());
        // The same digits elsewhere, not as a card, may stay.
        let input = "4111111111111111 and x4111111111111111";
        assert!(check(input, "************1111 and x4111111111111111").is_ok());
        assert!(check(input, "4111111111111111 and x4111111111111111").is_err());
        // Not a card: fails Luhn, or glued to a letter.
        assert!(check("4111111111111112", "4111111111111112").is_ok());
        assert!(check("a4111111111111111", "a4111111111111111").is_ok());
    }
}
