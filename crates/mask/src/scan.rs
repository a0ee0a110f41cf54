//! Character classes and neighbour look-ups shared by the detectors.
//!
//! The detectors are hand-written scanners rather than regular expressions:
//! they look at each character once, allocate almost nothing, and make the
//! "what counts as a boundary" rules explicit in one place.

/// The value of a decimal digit, in ASCII or in one of the other digit
/// scripts customers commonly type: full-width digits (Japanese and Chinese
/// input methods), Arabic-Indic and Eastern Arabic-Indic digits (Arabic and
/// Persian keyboards), Devanagari and Bengali digits. A card number typed as
/// `٤١١١ ١١١١ ١١١١ ١١١١` is as sensitive as one typed in ASCII.
pub(crate) fn digit_value(c: char) -> Option<u8> {
    if c.is_ascii_digit() {
        return Some(c as u8 - b'0');
    }
    const ZEROS: [u32; 5] = [0x0660, 0x06F0, 0x0966, 0x09E6, 0xFF10];
    let cp = c as u32;
    ZEROS
        .iter()
        .find(|&&zero| cp >= zero && cp < zero + 10)
        .map(|&zero| (cp - zero) as u8)
}

/// Spaces people put between digit groups: the ASCII space, and the
/// no-break, figure, thin, narrow no-break and ideographic spaces that
/// keyboards, word processors and French or Swiss number formatting insert.
pub(crate) fn is_space_sep(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{a0}' | '\u{2007}' | '\u{2009}' | '\u{202f}' | '\u{3000}'
    )
}

/// Dashes people put between digit groups: the ASCII hyphen-minus and the
/// hyphens and dashes that autocorrect substitutes for it.
pub(crate) fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2212}' | '\u{ff0d}'
    )
}

/// A leading plus of an international phone number (ASCII or full-width).
pub(crate) fn is_plus(c: char) -> bool {
    c == '+' || c == '\u{ff0b}'
}

/// Currency symbols: a number right after one is an amount, not an identity
/// number or a phone number.
pub(crate) fn is_currency(c: char) -> bool {
    matches!(
        c,
        '$' | '€'
            | '£'
            | '¥'
            | '¢'
            | '₹'
            | '₽'
            | '₩'
            | '₺'
            | '₫'
            | '₪'
            | '฿'
            | '₴'
            | '₦'
            | '₱'
            | '₲'
            | '₡'
            | '﷼'
    )
}

/// Letters and digits that make a word. A sensitive number must stand on
/// its own: `A4111111111111111` is a product code, not a card number.
///
/// Scripts written without spaces between words (Chinese, Japanese, Korean
/// particles, Thai, Lao, Khmer, Burmese) put numbers right against their
/// letters — `カード番号は4111111111111111です` — so their letters do not
/// glue a number into a word.
pub(crate) fn is_word(c: char) -> bool {
    c.is_alphanumeric() && !is_unspaced_script(c)
}

fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF // Thai, Lao
        | 0x1000..=0x109F // Myanmar
        | 0x1100..=0x11FF // Hangul Jamo
        | 0x1780..=0x17FF // Khmer
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xFF66..=0xFF9F // half-width Katakana
    )
}

/// The character that ends just before byte offset `i` (a char boundary).
pub(crate) fn prev_char(text: &str, i: usize) -> Option<char> {
    text[..i].chars().next_back()
}

/// The character that starts at byte offset `i` (a char boundary).
pub(crate) fn next_char(text: &str, i: usize) -> Option<char> {
    text[i..].chars().next()
}

/// The character before the character that ends at `i`.
pub(crate) fn prev_prev_char(text: &str, i: usize) -> Option<char> {
    let mut it = text[..i].chars();
    it.next_back()?;
    it.next_back()
}

/// The character after the character that starts at `i`.
pub(crate) fn next_next_char(text: &str, i: usize) -> Option<char> {
    let mut it = text[i..].chars();
    it.next()?;
    it.next()
}

/// Whether `c` is a digit in any script we read.
pub(crate) fn is_digit(c: char) -> bool {
    digit_value(c).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_in_several_scripts() {
        assert_eq!(digit_value('7'), Some(7));
        assert_eq!(digit_value('٤'), Some(4)); // Arabic-Indic
        assert_eq!(digit_value('۴'), Some(4)); // Eastern Arabic-Indic
        assert_eq!(digit_value('४'), Some(4)); // Devanagari
        assert_eq!(digit_value('৪'), Some(4)); // Bengali
        assert_eq!(digit_value('４'), Some(4)); // full-width
        assert_eq!(digit_value('a'), None);
        assert_eq!(digit_value('²'), None); // superscripts are not digits people type in numbers
    }

    #[test]
    fn neighbours_respect_char_boundaries() {
        let s = "é4ü";
        assert_eq!(prev_char(s, 2), Some('é'));
        assert_eq!(next_char(s, 2), Some('4'));
        assert_eq!(prev_prev_char(s, 3), Some('é'));
        assert_eq!(next_next_char(s, 2), Some('ü'));
        assert_eq!(prev_char(s, 0), None);
        assert!(is_word('a') && is_word('é') && is_word('ж') && is_word('7'));
        assert!(!is_word('は') && !is_word('号') && !is_word('는') && !is_word('-'));
        assert_eq!(next_char(s, s.len()), None);
    }
}
