//! Phone numbers (PII), by libphonenumber's rules as shipped in the
//! `phonenumber` crate.
//!
//! Two kinds of number are masked:
//! - a number in international form, with a leading `+`, whose length is
//!   *possible* for its country calling code. "Possible" is
//!   libphonenumber's length test, not its validity test: `+1 (123) 456
//!   7890` has no valid US area code but has the length of a North American
//!   number, and a customer who wrote it meant a phone number. We take the
//!   lengths a full national number of any type may have (not the shorter
//!   "local only" lengths, which cannot be dialled with a country code).
//! - a number in national form that is *valid* for the configured default
//!   region (or for another region sharing its calling code: a Canadian
//!   number for a US deployment), written with the national prefix where the
//!   region's formatting rules require one — libphonenumber's
//!   `PhoneNumberMatcher` calls this `isNationalPrefixPresentIfRequired`,
//!   and it is what keeps a German post code `10115` or a French
//!   `123456789` from being taken for a phone number.
//!
//! The scanner finds candidate runs; the crate's metadata decides. We read
//! the metadata's patterns once, into our own compiled `regex`es, instead of
//! asking `PhoneNumber::is_valid`: that walks every region of a calling code
//! through a shared 100-entry regex cache behind one mutex, and for the 25
//! regions of +1 it recompiles patterns on every call.

use std::sync::OnceLock;

use phonenumber::country::{self, Source};
use phonenumber::metadata::{Metadata, DATABASE};
use phonenumber::Type;
use regex::{Regex, RegexBuilder};

use crate::label;
use crate::scan::{
    digit_value, is_currency, is_dash, is_digit, is_plus, is_space_sep, is_word, next_char,
    next_next_char, prev_char, prev_prev_char,
};
use crate::{Finding, Kind, MaskError};

/// E.164 allows 15 digits; we leave room for a national or international
/// prefix written in front of a national number.
const MAX_DIGITS: usize = 17;
/// The shortest international number we consider: a country code and a
/// few digits.
const MIN_INTERNATIONAL_DIGITS: usize = 4;

/// The number types libphonenumber counts as valid numbers.
const TYPES: [Type; 10] = [
    Type::FixedLine,
    Type::Mobile,
    Type::TollFree,
    Type::PremiumRate,
    Type::SharedCost,
    Type::PersonalNumber,
    Type::Voip,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
];

// ---------------------------------------------------------------------------
// International numbers: possible lengths per calling code.

/// What we need to know about a country calling code.
struct CodeInfo {
    /// Bit `n` set when a national significant number may have `n` digits.
    lengths: u32,
    /// The national prefix (trunk code), such as `0` in the UK: people
    /// write `+44 (0)20 …`, and libphonenumber strips it when parsing.
    national_prefix: Option<String>,
}

impl CodeInfo {
    fn allows(&self, len: usize) -> bool {
        len < 32 && self.lengths & (1 << len) != 0
    }
}

/// Calling codes are at most three digits: a table indexed by code.
///
/// Like libphonenumber's `isPossibleNumber`, we read the lengths of the
/// code's main region (the US for +1, the UK for +44): a smaller region
/// sharing the code may allow odd lengths (Canada has 7-digit UAN numbers)
/// that would make `+1 555 1234` look complete.
fn codes() -> &'static [Option<CodeInfo>] {
    static CODES: OnceLock<Vec<Option<CodeInfo>>> = OnceLock::new();
    CODES.get_or_init(|| {
        (0u16..1000)
            .map(|code| {
                let metas = DATABASE.by_code(&code)?;
                let main = metas
                    .iter()
                    .find(|m| m.is_main_country_for_code())
                    .or_else(|| metas.first())?;
                Some(CodeInfo {
                    lengths: length_bits(main),
                    national_prefix: main.national_prefix().map(str::to_owned),
                })
            })
            .collect()
    })
}

/// The possible lengths of a full national number of any valid type.
fn length_bits(meta: &Metadata) -> u32 {
    TYPES
        .iter()
        .filter_map(|&t| meta.descriptors().get(t))
        .flat_map(|d| d.possible_length().iter())
        .filter(|&&len| len < 32)
        .fold(0, |bits, &len| bits | (1 << len))
}

/// Whether `digits` (ASCII, after the `+`) is a calling code followed by a
/// national number of a possible length for it.
pub(crate) fn is_possible_international(digits: &str) -> bool {
    let table = codes();
    // Calling codes are prefix-free (ITU-T E.164), so the first code that
    // exists is the only one that can match.
    for code_len in 1..=3 {
        if digits.len() <= code_len {
            return false;
        }
        let Ok(code) = digits[..code_len].parse::<usize>() else {
            return false;
        };
        let Some(Some(info)) = table.get(code) else {
            continue;
        };
        let national = &digits[code_len..];
        if info.allows(national.len()) {
            return true;
        }
        return info.national_prefix.as_deref().is_some_and(|prefix| {
            national.starts_with(prefix) && info.allows(national.len() - prefix.len())
        });
    }
    false
}

// ---------------------------------------------------------------------------
// National numbers: validity for the default region.

/// A region's validity and formatting rules, compiled once.
struct RegionRules {
    national_prefix: Option<String>,
    /// The region's general pattern: every valid number matches it.
    general: Regex,
    /// Any of the region's number-type patterns.
    types: Regex,
    formats: Vec<FormatRule>,
}

/// One national formatting rule: which numbers it applies to, and whether
/// the national prefix must be written with them.
struct FormatRule {
    leading: Option<Regex>,
    pattern: Regex,
    prefix_required: bool,
}

/// The default region for national numbers.
pub(crate) struct Region {
    id: country::Id,
    name: String,
    code: u16,
    /// The configured region first, then the others sharing its calling
    /// code, in the metadata's order.
    rules: Vec<RegionRules>,
    /// The fewest digits a valid national number of this region has.
    min_digits: usize,
    /// The most digits a national number may be written with: the longest
    /// valid number plus room for a national prefix and a carrier code.
    max_digits: usize,
    /// The region's international prefix (`00`, `011`): a number dialled
    /// abroad may be longer than `max_digits`.
    idd: Option<Regex>,
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region").field("name", &self.name).finish()
    }
}

impl Region {
    /// Reads an ISO 3166 alpha-2 code (`US`, `gb`), or fails if
    /// libphonenumber has no metadata for it.
    pub(crate) fn new(name: &str) -> Result<Region, MaskError> {
        let upper = name.trim().to_ascii_uppercase();
        let unknown = || MaskError::UnknownRegion(name.to_owned());
        // Only two-letter codes: the metadata also holds "001" for
        // non-geographic entities, which is not a region.
        if upper.len() != 2 || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(unknown());
        }
        let id: country::Id = upper.parse().map_err(|_| unknown())?;
        let meta = DATABASE.by_id(upper.as_str()).ok_or_else(unknown)?;
        let code = meta.country_code();
        let mut metas = vec![meta];
        for other in DATABASE.by_code(&code).unwrap_or_default() {
            if other.id() != meta.id() {
                metas.push(other);
            }
        }
        let rules = metas
            .iter()
            .map(|m| compile(m))
            .collect::<Result<Vec<_>, _>>()?;
        // The configured region's shortest number: a shorter one of another
        // region sharing the code (Canada's 7-digit UAN numbers under +1)
        // is not worth parsing every 7-digit number a US customer writes.
        let min_digits = (length_bits(meta).trailing_zeros() as usize).clamp(2, MAX_DIGITS);
        let max_digits = metas
            .iter()
            .map(|m| 32 - length_bits(m).leading_zeros() as usize)
            .max()
            .unwrap_or(MAX_DIGITS)
            + 4;
        let idd = meta
            .international_prefix()
            .map(|r| regex(&format!("^(?:{})", r.as_str())))
            .transpose()?;
        Ok(Region {
            id,
            name: upper,
            code,
            rules,
            min_digits,
            max_digits,
            idd,
        })
    }

    /// The region's ISO code, upper case.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether `digits` has a length worth asking the library about: most
    /// candidates (post codes, dates, order numbers) are ruled out by their
    /// length alone, before the comparatively slow parse.
    fn worth_parsing(&self, digits: &str) -> bool {
        let len = digits.len();
        len >= self.min_digits
            && len <= MAX_DIGITS
            && (len <= self.max_digits || self.idd.as_ref().is_some_and(|r| r.is_match(digits)))
    }

    /// Whether `digits` (ASCII, as written, without `+`) is a phone number
    /// valid for this region, or an international number dialled from it
    /// (`00 44 …` from Germany, `011 44 …` from the US) of a possible length.
    fn is_valid(&self, digits: &str) -> bool {
        let Ok(number) = phonenumber::parse(Some(self.id), digits) else {
            return false;
        };
        let national = number.national().to_string();
        if number.code().value() != self.code {
            // Dialled with the international prefix to another country.
            return is_possible_international(&format!("{}{national}", number.code().value()));
        }
        let Some(rules) = self
            .rules
            .iter()
            .find(|r| r.general.is_match(&national) && r.types.is_match(&national))
        else {
            return false;
        };
        if number.code().source() != Source::Default {
            return true;
        }
        match (rules.prefix_required(&national), &rules.national_prefix) {
            (true, Some(prefix)) => digits.starts_with(prefix.as_str()),
            _ => true,
        }
    }

    /// Compiles the patterns the regex cache would compile on first use, so
    /// that the first message after start-up is as fast as the others.
    pub(crate) fn warm_up(&self) {
        for rules in &self.rules {
            let _ = rules.general.is_match("0");
        }
        if let Some(meta) = DATABASE.by_id(self.name.as_str()) {
            for t in TYPES {
                if let Some(example) = meta.descriptors().get(t).and_then(|d| d.example()) {
                    let _ = self.is_valid(example);
                }
            }
        }
    }
}

impl RegionRules {
    /// libphonenumber's `chooseFormattingPatternForNumber`: the first format
    /// whose last leading-digits pattern matches the start of the number
    /// and whose pattern matches all of it.
    fn prefix_required(&self, national: &str) -> bool {
        self.formats
            .iter()
            .find(|f| {
                f.leading.as_ref().is_none_or(|r| r.is_match(national))
                    && f.pattern.is_match(national)
            })
            .is_some_and(|f| f.prefix_required)
    }
}

fn compile(meta: &Metadata) -> Result<RegionRules, MaskError> {
    let descriptors = meta.descriptors();
    let general = regex(&format!(
        "^(?:{})$",
        descriptors.general().national_number().as_str()
    ))?;
    let alternatives: Vec<String> = TYPES
        .iter()
        .filter_map(|&t| descriptors.get(t))
        .map(|d| format!("(?:{})", d.national_number().as_str()))
        .collect();
    // A region with no type patterns has no valid numbers.
    let types = if alternatives.is_empty() {
        regex("[^\\s\\S]")?
    } else {
        regex(&format!("^(?:{})$", alternatives.join("|")))?
    };
    let formats = meta
        .formats()
        .iter()
        .map(|f| {
            Ok(FormatRule {
                leading: f
                    .leading_digits()
                    .last()
                    .map(|r| regex(&format!("^(?:{})", r.as_str())))
                    .transpose()?,
                pattern: regex(&format!("^(?:{})$", f.pattern().as_str()))?,
                prefix_required: !f.is_national_prefix_optional()
                    && f.national_prefix().is_some_and(|rule| rule.contains("$NP")),
            })
        })
        .collect::<Result<Vec<_>, MaskError>>()?;
    Ok(RegionRules {
        national_prefix: meta.national_prefix().map(str::to_owned),
        general,
        types,
        formats,
    })
}

/// The metadata writes its patterns in verbose mode, as the crate compiles
/// them.
fn regex(source: &str) -> Result<Regex, MaskError> {
    RegexBuilder::new(source)
        .ignore_whitespace(true)
        .build()
        .map_err(|e| MaskError::PhoneMetadata(e.to_string()))
}

// ---------------------------------------------------------------------------
// The scanner.

/// A candidate: digits with the separators people write between them.
struct Run {
    /// Where the mask starts: the `+`, an opening bracket that the number
    /// closes, or the first digit.
    start: usize,
    /// Just after the last digit.
    end: usize,
    /// The digits in ASCII, at most `MAX_DIGITS + 1` of them.
    digits: String,
    /// Whether any separator stood between digits.
    separated: bool,
    international: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Opening {
    Plus,
    Bracket,
    Digit,
}

/// Appends the phone numbers in `text` to `out`. Without a region only
/// international numbers are found.
pub(crate) fn find(text: &str, region: Option<&Region>, memo: &mut Memo, out: &mut Vec<Finding>) {
    let mut prev: Option<char> = None;
    let mut skip_to = 0;
    for (i, c) in text.char_indices() {
        let before = prev.replace(c);
        // Inside a run we already judged, or glued to a word or a plus.
        if i < skip_to || before.is_some_and(|p| is_word(p) || is_plus(p)) {
            continue;
        }
        let opening = if is_plus(c) {
            Opening::Plus
        } else if c == '(' {
            Opening::Bracket
        } else if is_digit(c) {
            Opening::Digit
        } else {
            continue;
        };
        let Some(run) = read_run(text, i, opening) else {
            continue;
        };
        // A run is judged whole: parts of a longer digit string are not
        // numbers of their own.
        skip_to = run.end;
        if is_phone(text, &run, region, memo) {
            out.push(Finding {
                kind: Kind::Phone,
                range: run.start..run.end,
            });
        }
    }
}

/// Reads the digits and separators from `i`. Between two digits stand at
/// most three separator characters (`) `, ` - `), a `/` only alone
/// (`030/1234567`, not `… / …`, which separates two numbers), and brackets
/// only balanced.
fn read_run(text: &str, i: usize, opening: Opening) -> Option<Run> {
    let mut pos = i;
    let mut open = false;
    match opening {
        Opening::Plus => {
            pos += next_char(text, pos)?.len_utf8();
            // `+ 1 …`, `+(44) …`
            for _ in 0..2 {
                match next_char(text, pos) {
                    Some(c) if is_space_sep(c) => pos += c.len_utf8(),
                    Some('(') if !open => {
                        open = true;
                        pos += 1;
                    }
                    _ => break,
                }
            }
        }
        Opening::Bracket => {
            open = true;
            pos += 1;
        }
        Opening::Digit => {}
    }
    if !next_char(text, pos).is_some_and(is_digit) {
        return None;
    }
    let first_digit = pos;
    let mut digits = String::new();
    let mut separated = false;
    let mut closed = false;
    let end = loop {
        while let Some(c) = next_char(text, pos) {
            let Some(v) = digit_value(c) else { break };
            if digits.len() <= MAX_DIGITS {
                digits.push(char::from(b'0' + v));
            }
            pos += c.len_utf8();
        }
        let end = pos;
        let mut q = pos;
        let mut count = 0;
        let mut slash = false;
        let mut still_open = open;
        let mut closes = false;
        while count < 3 {
            let Some(c) = next_char(text, q) else { break };
            match c {
                c if is_space_sep(c) || is_dash(c) || c == '.' => {}
                '/' => slash = true,
                '(' if !still_open => still_open = true,
                ')' if still_open => {
                    still_open = false;
                    closes = true;
                }
                _ => break,
            }
            q += c.len_utf8();
            count += 1;
        }
        if count > 0 && !(slash && count > 1) && next_char(text, q).is_some_and(is_digit) {
            separated = true;
            open = still_open;
            closed |= closes;
            pos = q;
        } else {
            break end;
        }
    };
    let start = match opening {
        Opening::Plus | Opening::Digit => i,
        Opening::Bracket if closed => i,
        Opening::Bracket => first_digit,
    };
    Some(Run {
        start,
        end,
        digits,
        separated,
        international: opening == Opening::Plus,
    })
}

fn is_phone(text: &str, run: &Run, region: Option<&Region>, memo: &mut Memo) -> bool {
    // What follows must end the number: not a letter, not a decimal or a
    // time (`2024-01-15 10:30`), not a percentage.
    if let Some(next) = next_char(text, run.end) {
        if is_word(next) || next == '%' {
            return false;
        }
        if matches!(next, '.' | ',' | ':') && next_next_char(text, run.end).is_some_and(is_digit) {
            return false;
        }
    }
    let len = run.digits.len();
    if run.international {
        return (MIN_INTERNATIONAL_DIGITS..=MAX_DIGITS).contains(&len)
            && is_possible_international(&run.digits);
    }
    let Some(region) = region else {
        return false;
    };
    if !region.worth_parsing(&run.digits) {
        return false;
    }
    // An amount (`$2125551234`, `0.2125551234`) is not a phone number.
    if let Some(p) = prev_char(text, run.start) {
        if is_currency(p)
            || (matches!(p, '.' | ',') && prev_prev_char(text, run.start).is_some_and(is_digit))
        {
            return false;
        }
    }
    if !run.separated && label::is_identifier(text, run.start) {
        return false;
    }
    memo.is_valid(region, &run.digits)
}

/// National validity answers already computed during one call to `mask`.
///
/// Masking repeats until a pass changes nothing, and the second pass meets
/// the same unmasked candidates as the first; parsing is the costly step,
/// so each distinct digit string is parsed once per call.
#[derive(Default)]
pub(crate) struct Memo {
    answers: Vec<(String, bool)>,
}

impl Memo {
    fn is_valid(&mut self, region: &Region, digits: &str) -> bool {
        if let Some((_, answer)) = self.answers.iter().find(|(d, _)| d == digits) {
            return *answer;
        }
        let answer = region.is_valid(digits);
        // A message holds a handful of candidates; a pathological one must
        // not make the linear search quadratic.
        if self.answers.len() < 64 {
            self.answers.push((digits.to_owned(), answer));
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found<'t>(text: &'t str, region: Option<&str>) -> Vec<&'t str> {
        let region = region.map(|r| Region::new(r).unwrap());
        let mut out = Vec::new();
        find(text, region.as_ref(), &mut Memo::default(), &mut out);
        out.iter().map(|f| &text[f.range.clone()]).collect()
    }

    #[test]
    fn possible_international_numbers() {
        assert!(is_possible_international("11234567890")); // +1 (123) 456 7890
        assert!(is_possible_international("447966197542"));
        assert!(is_possible_international("4407966197542")); // +44 (0)7966 …
        assert!(is_possible_international("33612345678"));
        assert!(!is_possible_international("1234"));
        assert!(!is_possible_international("4479661975"));
        assert!(!is_possible_international("0123456789"));
    }

    #[test]
    fn international_runs() {
        assert_eq!(found("+ 1 (123) 456 7890", None), ["+ 1 (123) 456 7890"]);
        assert_eq!(found("call +447966197542!", None), ["+447966197542"]);
        assert_eq!(found("(+44 7966 197542)", None), ["+44 7966 197542"]);
        assert_eq!(found("+49 30/1234567", None), ["+49 30/1234567"]);
        assert!(found("+10%", None).is_empty());
        assert!(found("+1234", None).is_empty());
        assert!(found("a+447966197542", None).is_empty());
    }

    #[test]
    fn national_runs_need_a_region() {
        assert!(found("(212) 555-1234", None).is_empty());
        assert_eq!(found("(212) 555-1234", Some("US")), ["(212) 555-1234"]);
        assert_eq!(found("212-555-1234", Some("us")), ["212-555-1234"]);
        assert_eq!(found("Ring 020 7946 0958", Some("GB")), ["020 7946 0958"]);
        assert_eq!(found("Tel. 030 1234567", Some("DE")), ["030 1234567"]);
        assert_eq!(found("06 12 34 56 78", Some("FR")), ["06 12 34 56 78"]);
    }

    #[test]
    fn national_prefix_required_where_the_region_writes_it() {
        assert!(found("10115 Berlin", Some("DE")).is_empty());
        assert!(found("30123456", Some("DE")).is_empty());
        assert!(found("612345678", Some("FR")).is_empty());
    }

    #[test]
    fn dates_times_and_amounts_are_not_numbers() {
        assert!(found("2024-01-15 10:30", Some("US")).is_empty());
        assert!(found("$2125551234", Some("US")).is_empty());
        assert!(found("order 2125551234", Some("US")).is_empty());
    }

    #[test]
    fn unknown_regions_are_refused() {
        assert!(Region::new("XX").is_err());
        assert!(Region::new("001").is_err());
        assert!(Region::new("").is_err());
        assert!(Region::new("United States").is_err());
    }
}
