//! Masks arbitrary input and checks it: no panic, idempotent, and the card
//! rule of the independent oracle (`tests/support/checker.rs`): no
//! Luhn-valid run of 13–19 digits (spaces or dashes allowed between them)
//! bounded by non-alphanumerics survives, except its last four digits.
//!
//! Run from `crates/mask`: `cargo +nightly fuzz run mask`, or on stable
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run mask` (see the crate's README).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use switchboard_mask::{MaskConfig, Masker};

#[path = "../../tests/support/checker.rs"]
mod checker;

/// The oracle is brute force (quadratic); above this size we still check
/// for panics and idempotence, but not the card rule.
const ORACLE_MAX_BYTES: usize = 1024;

fn maskers() -> &'static [Masker] {
    static MASKERS: OnceLock<Vec<Masker>> = OnceLock::new();
    MASKERS.get_or_init(|| {
        [None, Some("US"), Some("DE")]
            .into_iter()
            .map(|region| {
                Masker::new(&MaskConfig {
                    default_region: region.map(str::to_owned),
                })
                .expect("known region")
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for masker in maskers() {
        let masked = masker.mask(text);
        assert_eq!(masker.mask(&masked), masked, "not idempotent");
        let redacted = masker.redact_payment(text);
        assert_eq!(masker.redact_payment(&redacted), redacted, "not idempotent");
        for finding in masker.find(text) {
            assert!(text.is_char_boundary(finding.range.start));
            assert!(text.is_char_boundary(finding.range.end));
        }
        if text.len() <= ORACLE_MAX_BYTES {
            if let Err(leak) = checker::check(text, &masked) {
                panic!("{leak}");
            }
            if let Err(leak) = checker::check(text, &redacted) {
                panic!("{leak}");
            }
        }
    }
});
