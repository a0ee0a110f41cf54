//! Labels that say a number is an identifier of a thing, not of a person.
//!
//! A bare nine-digit number has the shape of an unseparated US social
//! security number, and a bare ten-digit number may be a valid national
//! phone number; but `order 123456789` or `Rechnungsnummer 2125551234` is an
//! order or an invoice. When one of these labels comes just before a number
//! written without separators, the SSN and national-phone detectors leave it
//! alone. Payment cards and IBANs are never excused this way: they are
//! checked by Luhn and mod-97, and a label is no reason to show them.

/// Nouns (lower case) that name an identifier, in the languages our
/// customers write most: English, German, French, Spanish, Italian,
/// Portuguese and Dutch. A word *starting* with one of the longer stems also
/// counts, for compounds such as `Bestellnummer` or `ordernumber`.
const LABELS: &[&str] = &[
    // English
    "order",
    "invoice",
    "inv",
    "ref",
    "reference",
    "tracking",
    "shipment",
    "parcel",
    "package",
    "ticket",
    "case",
    "booking",
    "reservation",
    "confirmation",
    "receipt",
    "transaction",
    "txn",
    "sku",
    "item",
    "article",
    "model",
    "serial",
    "version",
    "build",
    "po",
    "customer",
    "member",
    "policy",
    "claim",
    "account",
    "contract",
    "job",
    "incident",
    "request",
    // German
    "bestell",
    "bestellung",
    "auftrag",
    "rechnung",
    "sendung",
    "kunden",
    "vorgang",
    "vertrag",
    "artikel",
    "buchung",
    "lieferung",
    "paket",
    // French
    "commande",
    "facture",
    "référence",
    "suivi",
    "colis",
    "dossier",
    "billet",
    "contrat",
    // Spanish and Portuguese
    "pedido",
    "factura",
    "fatura",
    "referencia",
    "referência",
    "seguimiento",
    "envío",
    "envio",
    "encomenda",
    "rastreio",
    "reserva",
    "expediente",
    "contrato",
    // Italian
    "ordine",
    "fattura",
    "riferimento",
    "spedizione",
    "pratica",
    // Dutch
    "bestelling",
    "factuur",
    "referentie",
    "zending",
    "bestelnummer",
    "klant",
];

/// Words that may stand between a label and its number: "order **no.** 123".
const FILLERS: &[&str] = &[
    "no", "nr", "n", "num", "number", "nummer", "numero", "número", "numéro", "nro", "id", "code",
    "de", "del", "di", "du", "is", "was", "my", "your", "the",
];

/// Words that say the number *is* personal data, so that `SSN #123456789`
/// or `Tel.# 2125551234` stay masked although `#` usually marks an id.
const PERSONAL: &[&str] = &[
    "ssn",
    "social",
    "security",
    "sin",
    "tin",
    "phone",
    "tel",
    "telephone",
    "telefon",
    "mobile",
    "mobil",
    "cell",
    "handy",
    "fax",
    "whatsapp",
    "téléphone",
    "portable",
    "teléfono",
    "móvil",
    "telefono",
    "cellulare",
];

/// How many filler words we skip before giving up.
const MAX_FILLERS: usize = 3;
/// Words longer than this are not labels; stop reading.
const MAX_WORD: usize = 24;

/// Whether the number starting at byte `start` is labelled as an identifier,
/// or preceded by `#` (`#123456789`, `order #: 123456789`) unless the word
/// before the `#` names personal data (`SSN #123456789`).
pub(crate) fn is_identifier(text: &str, start: usize) -> bool {
    let mut chars = text[..start].chars().rev().peekable();
    let mut fillers = 0;
    let mut hash = false;
    loop {
        // The gap before the number or before the previous word.
        let mut gap = 0;
        while let Some(&c) = chars.peek() {
            if c.is_alphanumeric() || gap > 4 {
                break;
            }
            if c == '#' || c == '№' {
                hash = true;
            }
            if !(c.is_whitespace()
                || matches!(c, ':' | '.' | '-' | '°' | 'º' | '(' | '[' | '#' | '№'))
            {
                return hash;
            }
            gap += 1;
            chars.next();
        }
        // The previous word, read backwards.
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if !c.is_alphabetic() {
                break;
            }
            if word.len() > MAX_WORD {
                return hash;
            }
            word.extend(c.to_lowercase());
            chars.next();
        }
        if word.is_empty() {
            return hash;
        }
        let word: String = word.chars().rev().collect();
        if PERSONAL.contains(&word.as_str()) {
            return false;
        }
        if hash || is_label(&word) {
            return true;
        }
        if !FILLERS.contains(&word.as_str()) || fillers == MAX_FILLERS {
            return false;
        }
        fillers += 1;
    }
}

fn is_label(word: &str) -> bool {
    LABELS
        .iter()
        .any(|label| word == *label || (label.chars().count() >= 5 && word.starts_with(label)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(text: &str) -> bool {
        let start = text.find(|c: char| c.is_ascii_digit()).unwrap();
        is_identifier(text, start)
    }

    #[test]
    fn recognises_labels_in_several_languages() {
        assert!(labelled("Order 123456789"));
        assert!(labelled("order no. 123456789"));
        assert!(labelled("my order number is 123456789"));
        assert!(labelled("#123456789"));
        assert!(labelled("Order #: 123456789"));
        assert!(labelled("Bestellnummer: 123456789"));
        assert!(labelled("Rechnung Nr. 123456789"));
        assert!(labelled("numéro de commande 123456789") || labelled("commande 123456789"));
        assert!(labelled("N° de commande : 123456789") || labelled("commande : 123456789"));
        assert!(labelled("pedido 123456789"));
        assert!(labelled("fattura n. 123456789"));
    }

    #[test]
    fn other_words_are_not_labels() {
        assert!(!labelled("123456789"));
        assert!(!labelled("my ssn is 123456789"));
        assert!(!labelled("call me on 2125551234"));
        assert!(!labelled("Telefon Nr. 2125551234"));
        assert!(!labelled("order: I paid with 123456789 yesterday"));
        assert!(!labelled("SSN #123456789"));
        assert!(!labelled("SSN#: 123456789"));
        assert!(!labelled("Tel.# 2125551234"));
    }
}
