//! Detects and masks customer sensitive data in chat text.
//!
//! Switchboard masks what an agent or a supervisor must not see in the
//! clear (see `PRODUCT.md`, "Masking customer sensitive data"):
//!
//! | kind | detected when | masked as |
//! |---|---|---|
//! | payment card | 13–19 digits, spaces or dashes between groups allowed, Luhn-valid | number mask |
//! | IBAN | country, length, BBAN format and mod-97 valid (`iban_validate`), with or without spaces | number mask |
//! | US SSN | `AAA-GG-SSSS`, `AAA GG SSSS` or 9 digits; never-issued numbers excluded | number mask |
//! | phone | `+` and a length possible for the calling code, or a national number valid for the default region (`phonenumber`) | number mask |
//! | email | `name@domain.tld` | first character of the name kept, the rest of the name starred |
//!
//! The number mask removes whitespace and replaces every other character
//! but the last four by `*`: `+ 1 (123) 456 7890` → `**********7890`. The
//! email mask: `melissa@gmail.com` → `m******@gmail.com`.
//!
//! The crate is pure: no IO, no async, no global state beyond the phone
//! metadata that `phonenumber` loads once. [`Masker::mask`] is idempotent
//! (masking masked text changes nothing) and never panics.
//!
//! ```
//! use switchboard_mask::{MaskConfig, Masker};
//!
//! let masker = Masker::new(&MaskConfig { default_region: Some("US".into()) }).unwrap();
//! assert_eq!(
//!     masker.mask("Card 4111 1111 1111 1111, call (212) 555-1234 or melissa@gmail.com"),
//!     "Card ************1111, call *********1234 or m******@gmail.com"
//! );
//! assert_eq!(masker.mask("Order #123456789 ships on 2024-01-15"), "Order #123456789 ships on 2024-01-15");
//! // Only payment data, for "redact payment data at rest":
//! assert_eq!(
//!     masker.redact_payment("IBAN DE89 3704 0044 0532 0130 00, melissa@gmail.com"),
//!     "IBAN ******************3000, melissa@gmail.com"
//! );
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod apply;
mod card;
mod email;
mod iban;
mod label;
mod phone;
mod scan;
mod ssn;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// What kind of sensitive data a [`Finding`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A payment-card number (PCI).
    Card,
    /// An international bank account number (PCI).
    Iban,
    /// A US social security number.
    Ssn,
    /// A phone number (PII).
    Phone,
    /// An email address (PII).
    Email,
}

impl Kind {
    /// Whether this kind is payment data: masked even at rest when
    /// "Redact payment data at rest" is on (cards, IBANs, SSNs).
    pub fn is_payment(self) -> bool {
        matches!(self, Kind::Card | Kind::Iban | Kind::Ssn)
    }

    /// A short, stable, lower-case name (`card`, `iban`, `ssn`, `phone`, `email`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Card => "card",
            Kind::Iban => "iban",
            Kind::Ssn => "ssn",
            Kind::Phone => "phone",
            Kind::Email => "email",
        }
    }

    /// Which kind names a merged span of overlapping findings.
    fn sensitivity(self) -> u8 {
        match self {
            Kind::Card => 4,
            Kind::Iban => 3,
            Kind::Ssn => 2,
            Kind::Phone => 1,
            Kind::Email => 0,
        }
    }
}

/// One piece of sensitive data found in a text: its kind and its byte range.
///
/// Ranges never overlap: overlapping detections are merged into one finding
/// named after the most sensitive kind among them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// Where, in bytes of the text given to [`Masker::find`].
    pub range: Range<usize>,
}

/// How a [`Masker`] is configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskConfig {
    /// The region whose national phone numbers are recognised, as an
    /// ISO 3166 alpha-2 code such as `US`, `GB` or `DE` (any case). Without
    /// one, only phone numbers in international form (`+…`) are masked.
    pub default_region: Option<String>,
}

/// Why a [`Masker`] could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MaskError {
    /// The default region is not an ISO 3166 alpha-2 code that the phone
    /// number metadata knows.
    #[error("unknown phone region {0:?}: expected an ISO 3166 alpha-2 code such as US, GB or DE")]
    UnknownRegion(String),
    /// The phone number metadata has a pattern we cannot compile (a defect
    /// of the metadata, reported rather than ignored).
    #[error("phone number metadata: {0}")]
    PhoneMetadata(String),
}

/// Which detectors a pass runs.
#[derive(Clone, Copy)]
enum Scope {
    /// Everything: what an agent or supervisor sees with masking on.
    All,
    /// Cards, IBANs and SSNs: what is redacted before storing.
    Payment,
}

/// The detection and masking engine. Cheap to clone and to share between
/// threads; build it once per configuration.
#[derive(Clone, Debug)]
pub struct Masker {
    region: Option<Arc<phone::Region>>,
}

impl Default for Masker {
    /// A masker without a default region: national phone numbers are not
    /// recognised, everything else is.
    fn default() -> Self {
        Masker { region: None }
    }
}

impl Masker {
    /// Builds a masker. Fails if the default region is unknown.
    ///
    /// This reads the phone number metadata and compiles the default
    /// region's patterns (a few milliseconds), so that masking itself is fast.
    pub fn new(config: &MaskConfig) -> Result<Masker, MaskError> {
        let region = config
            .default_region
            .as_deref()
            .map(phone::Region::new)
            .transpose()?
            .map(Arc::new);
        if let Some(region) = &region {
            region.warm_up();
        }
        // Loads the calling-code table now rather than on the first message.
        phone::is_possible_international("11234567890");
        Ok(Masker { region })
    }

    /// The default region, upper case, if one is configured.
    pub fn default_region(&self) -> Option<&str> {
        self.region.as_deref().map(phone::Region::name)
    }

    /// Masks every kind of sensitive data: what an agent or a supervisor
    /// sees with "Mask customer sensitive data" on. Returns the text itself,
    /// borrowed, when there is nothing to mask.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.mask_scope(text, Scope::All)
    }

    /// Masks payment data only (cards, IBANs, SSNs): for "Redact payment
    /// data at rest", before a message is stored.
    pub fn redact_payment<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.mask_scope(text, Scope::Payment)
    }

    /// Lists the sensitive data in `text`, in order, without overlaps.
    pub fn find(&self, text: &str) -> Vec<Finding> {
        self.spans(text, Scope::All, &mut phone::Memo::default())
            .into_iter()
            .map(|s| Finding {
                kind: s.kind,
                range: s.range,
            })
            .collect()
    }

    /// Masks until nothing more is found.
    ///
    /// One pass is almost always enough. A second can find more only where
    /// a mask changed the context of a neighbour: for example, the four
    /// digits a card mask keeps, now glued (whitespace removed) to the next
    /// digit group, may start a new Luhn-valid window. Repeating until a
    /// pass changes nothing makes `mask` idempotent by construction, and it
    /// ends: every change turns at least one character that is not `*` into
    /// `*` or removes whitespace, and no mask ever turns a `*` back.
    fn mask_scope<'t>(&self, text: &'t str, scope: Scope) -> Cow<'t, str> {
        let mut memo = phone::Memo::default();
        let Some(mut masked) = self.mask_once(text, scope, &mut memo) else {
            return Cow::Borrowed(text);
        };
        while let Some(again) = self.mask_once(&masked, scope, &mut memo) {
            masked = again;
        }
        Cow::Owned(masked)
    }

    fn mask_once(&self, text: &str, scope: Scope, memo: &mut phone::Memo) -> Option<String> {
        let spans = self.spans(text, scope, memo);
        if spans.is_empty() {
            return None;
        }
        apply::render(text, &spans)
    }

    fn spans(&self, text: &str, scope: Scope, memo: &mut phone::Memo) -> Vec<apply::Span> {
        let mut findings = Vec::new();
        card::find(text, &mut findings);
        iban::find(text, &mut findings);
        ssn::find(text, &mut findings);
        if let Scope::All = scope {
            phone::find(text, self.region.as_deref(), memo, &mut findings);
            email::find(text, &mut findings);
        }
        if findings.is_empty() {
            return Vec::new();
        }
        apply::settle(text, findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Masker {
        Masker::new(&MaskConfig {
            default_region: Some("US".into()),
        })
        .unwrap()
    }

    #[test]
    fn the_product_table_verbatim() {
        let m = Masker::default();
        assert_eq!(m.mask("+ 1 (123) 456 7890"), "**********7890");
        assert_eq!(m.mask("+447966197542"), "*********7542");
        assert_eq!(m.mask("melissa@gmail.com"), "m******@gmail.com");
    }

    #[test]
    fn nothing_to_mask_borrows() {
        assert!(matches!(us().mask("hello, order 42"), Cow::Borrowed(_)));
        assert!(matches!(us().mask("m******@gmail.com"), Cow::Borrowed(_)));
    }

    #[test]
    fn redact_payment_leaves_contact_data() {
        let m = us();
        let text = "4111-1111-1111-1111 / 123-45-6789 / (212) 555-1234 / a.b@c.de";
        assert_eq!(
            m.redact_payment(text),
            "***************1111 / *******6789 / (212) 555-1234 / a.b@c.de"
        );
        assert_eq!(
            m.mask(text),
            "***************1111 / *******6789 / *********1234 / a**@c.de"
        );
    }

    #[test]
    fn find_reports_kinds_and_ranges() {
        let text = "SSN 123-45-6789, mail x@y.org";
        let found = us().find(text);
        assert_eq!(
            found,
            vec![
                Finding {
                    kind: Kind::Ssn,
                    range: 4..15
                },
                Finding {
                    kind: Kind::Email,
                    range: 22..29
                },
            ]
        );
    }

    #[test]
    fn regions() {
        assert_eq!(us().default_region(), Some("US"));
        assert_eq!(Masker::default().default_region(), None);
        let err = Masker::new(&MaskConfig {
            default_region: Some("ZZ".into()),
        })
        .unwrap_err();
        assert_eq!(err, MaskError::UnknownRegion("ZZ".into()));
    }

    #[test]
    fn masking_repeats_until_nothing_more_is_found() {
        // Pass one masks the 15-digit card and keeps `1116`, which it wrote glued
        // (whitespace removed), so `1116 100000002` becomes a 13-digit
        // Luhn-valid window that did not exist in the input (there `1116`
        // straddled two groups). Pass two masks it; without it a second call
        // to `mask` would change the text.
        let m = Masker::default();
        let once = m.mask("4111 1111 11111 16 100000002");
        assert_eq!(once, "********************0002");
        assert_eq!(m.mask(&once), once);
    }

    #[test]
    fn masker_is_shareable() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Masker>();
    }
}
