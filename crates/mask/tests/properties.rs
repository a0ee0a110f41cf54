//! Property tests: masking never panics, is idempotent, and never lets a
//! card number through (checked by the independent oracle in
//! `support/checker.rs`, the same one the fuzz target uses).

mod support;

use std::sync::OnceLock;

use proptest::prelude::*;
use support::checker;
use switchboard_mask::{MaskConfig, Masker};

fn maskers() -> &'static [Masker] {
    static MASKERS: OnceLock<Vec<Masker>> = OnceLock::new();
    MASKERS.get_or_init(|| {
        [None, Some("US"), Some("DE"), Some("GB")]
            .into_iter()
            .map(|r| {
                Masker::new(&MaskConfig {
                    default_region: r.map(str::to_owned),
                })
                .unwrap()
            })
            .collect()
    })
}

/// A Luhn-valid number of 13–19 digits.
fn card_digits() -> impl Strategy<Value = Vec<u8>> {
    (12usize..=18)
        .prop_flat_map(|n| proptest::collection::vec(0u8..10, n))
        .prop_map(|mut digits| {
            let check = (0..10u8)
                .find(|&c| {
                    let mut all = digits.clone();
                    all.push(c);
                    checker::luhn(&all)
                })
                .unwrap();
            digits.push(check);
            digits
        })
}

/// A card number as people write it: in groups, with spaces or dashes.
fn written_card() -> impl Strategy<Value = String> {
    (
        card_digits(),
        proptest::collection::vec(1usize..=6, 1..8),
        proptest::sample::select(vec![" ", "-", "  ", " - ", "--"]),
    )
        .prop_map(|(digits, groups, sep)| {
            let mut out = String::new();
            let mut i = 0;
            for g in groups.iter().cycle() {
                if i >= digits.len() {
                    break;
                }
                if i > 0 {
                    out.push_str(sep);
                }
                for d in &digits[i..(i + g).min(digits.len())] {
                    out.push(char::from(b'0' + d));
                }
                i += g;
            }
            out
        })
}

/// Text made of pieces that exercise every detector and the boundaries
/// between them: words in several scripts, digit groups, separators,
/// punctuation, `+`, `@`, `*`, and real sensitive values.
fn chat_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[0-9]{1,6}",
        2 => proptest::sample::select(vec![" ", "-", "  ", " - ", ".", ",", "/", "(", ")", "+", "@", "*", ":", "#", "\n", "\u{a0}", "–", "$", "%"]).prop_map(str::to_owned),
        2 => proptest::sample::select(vec!["order", "Bestellnummer", "no.", "ssn", "IBAN", "DE89", "GB82", "WEST", "ab", "x", "é", "жж", "です", "电话", "٤١١", "１２３", "mail", "com", "de", "gmail"]).prop_map(str::to_owned),
        1 => written_card(),
        1 => proptest::sample::select(vec![
            "+447966197542", "+ 1 (123) 456 7890", "melissa@gmail.com", "123-45-6789", "123456789",
            "DE89 3704 0044 0532 0130 00", "(212) 555-1234", "030 1234567", "020 7946 0958",
            "m******@gmail.com", "************1111", "2024-01-15 10:30",
        ]).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

fn check_all(text: &str) -> Result<(), TestCaseError> {
    for masker in maskers() {
        let once = masker.mask(text);
        let twice = masker.mask(&once);
        prop_assert_eq!(&*twice, &*once, "masking is not idempotent for {:?}", text);
        if let Err(leak) = checker::check(text, &once) {
            return Err(TestCaseError::fail(leak));
        }
        let payment = masker.redact_payment(text);
        prop_assert_eq!(&*masker.redact_payment(&payment), &*payment);
        if let Err(leak) = checker::check(text, &payment) {
            return Err(TestCaseError::fail(leak));
        }
        // `find` agrees with `mask`: text without findings is unchanged.
        if masker.find(text).is_empty() {
            prop_assert_eq!(&*once, text);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any Unicode at all: no panic, idempotent, no card leaks.
    #[test]
    fn arbitrary_unicode(text in any::<String>()) {
        check_all(&text)?;
    }

    /// Text built from pieces that look like sensitive data.
    #[test]
    fn chat_like_text(text in chat_text()) {
        check_all(&text)?;
    }

    /// A Luhn-valid card number embedded anywhere in random text, set off
    /// by any non-alphanumeric character, is always masked.
    #[test]
    fn embedded_card_is_always_masked(
        before in chat_text(),
        card in written_card(),
        after in chat_text(),
        left in proptest::sample::select(vec![" ", "\n", ".", ",", "(", ")", ":", "\"", "/", "*", "#", "-", "\u{a0}", "=", "¡"]),
        right in proptest::sample::select(vec![" ", "\n", ".", ",", "(", ")", ":", "\"", "/", "*", "!", "-", "\u{a0}", "?", ";"]),
    ) {
        let text = format!("{before}{left}{card}{right}{after}");
        let start = before.len() + left.len();
        let end = start + card.len();
        for masker in maskers() {
            let covered = masker
                .find(&text)
                .iter()
                .any(|f| f.range.start <= start && end <= f.range.end);
            prop_assert!(covered, "card {:?} not found in {:?}", card, text);
            let masked = masker.mask(&text);
            prop_assert!(!masked.contains(&card), "{:?} -> {:?}", text, masked);
            if let Err(leak) = checker::check(&text, &masked) {
                return Err(TestCaseError::fail(leak));
            }
        }
    }
}
