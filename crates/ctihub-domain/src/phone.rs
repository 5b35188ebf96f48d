//! Phone numbers as the caller index sees them.
//!
//! Every phone-like value is normalized once, when written, into an index key: E.164 (`+…`) when
//! libphonenumber says the number is valid, the bare digits otherwise. A lookup normalizes the
//! incoming number the same way, so any spelling of a number meets its stored form in one index
//! probe. Extensions are split off (a call from `… ext. 12` is from the same company line), and
//! the words PBXs send for suppressed numbers are recognised instead of indexed.

use std::fmt;
use std::str::FromStr;

use phonenumber::{PhoneNumber, country};
use serde::{Deserialize, Serialize};

use crate::DomainError;

mod format;
mod parse;
mod patterns;
mod recent;
#[cfg(test)]
mod sample;
mod validity;

/// Inputs longer than this are not phone numbers; they are cut before parsing so a hostile value
/// cannot make the parser work hard.
const MAX_INPUT_CHARS: usize = 64;

/// What PBXs and providers send when the caller withheld the number.
const WITHHELD_WORDS: &[&str] = &[
    "anonymous",
    "unknown",
    "restricted",
    "private",
    "unavailable",
    "withheld",
    "blocked",
    "no caller id",
    "clip no screening",
];

/// An ISO 3166 country code used to read national formats (`030 5557 1600` in `DE`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(country::Id);

impl Region {
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        country::Id::from_str(&code.trim().to_ascii_uppercase()).map(Region).map_err(|_| {
            DomainError::new("default_region", format!("`{code}` is not an ISO 3166 country code such as US or DE"))
        })
    }

    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

impl Default for Region {
    fn default() -> Self {
        Region(country::Id::US)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The result of normalizing one phone-like value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerNumber {
    /// Empty, or a word such as `anonymous`: there is nobody to identify.
    Withheld,
    /// Text with no digits in it (`garbage`, `sip:alice@pbx`).
    NotANumber,
    /// A number with its index key.
    Number(PhoneKey),
}

impl CallerNumber {
    pub fn key(&self) -> Option<&PhoneKey> {
        match self {
            CallerNumber::Number(key) => Some(key),
            _ => None,
        }
    }
}

/// The caller index key of a number: `+15135557611` when valid, else its digits (`201` for an
/// internal extension). Only [`PhoneNormalizer`] builds these, so two keys are equal exactly when
/// the numbers are the same line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhoneKey {
    key: String,
    extension: Option<String>,
}

impl PhoneKey {
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// True when the key is a valid E.164 number rather than a digits-only fallback.
    pub fn is_e164(&self) -> bool {
        self.key.starts_with('+')
    }

    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// The last digits of the key, stored beside it so that a suffix search (`phone:*5557611`)
    /// probes an index instead of scanning every key.
    pub fn tail(&self) -> &str {
        phone_tail(&self.key)
    }

    /// Rebuild a key read back from storage. The store only holds keys this module made.
    pub fn from_stored(key: String, extension: Option<String>) -> Self {
        PhoneKey { key, extension }
    }
}

impl fmt::Display for PhoneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// How many trailing digits [`PhoneKey::tail`] keeps. Seven is the shortest subscriber number
/// worth searching for; a shorter search digit string falls back to a scan.
pub const PHONE_TAIL_DIGITS: usize = 7;

/// The last [`PHONE_TAIL_DIGITS`] digits of a digit string (or all of a shorter one).
pub fn phone_tail(digits: &str) -> &str {
    let digits = digits.trim_start_matches('+');
    &digits[digits.len().saturating_sub(PHONE_TAIL_DIGITS)..]
}

/// Normalizes phone numbers with a configured default region.
#[derive(Debug, Clone, Copy, Default)]
pub struct PhoneNormalizer {
    region: Region,
}

impl PhoneNormalizer {
    pub fn new(region: Region) -> Self {
        PhoneNormalizer { region }
    }

    pub fn region(&self) -> Region {
        self.region
    }

    /// libphonenumber deserialises its metadata on first use (hundreds of milliseconds in a debug
    /// build); call this at start-up so the first caller does not pay for it.
    pub fn warm_up(&self) {
        let _ = self.normalize("+1 513 555 7611");
    }

    pub fn normalize(&self, raw: &str) -> CallerNumber {
        recent::with_reading(self.region, raw, || self.read(raw), |reading| reading.number.clone())
    }

    /// `raw` normalized afresh, with the valid number libphonenumber parsed from it (to format).
    fn read(&self, raw: &str) -> recent::Reading {
        let (number, valid) = self.normalize_afresh(raw);
        recent::Reading { number, valid, pretty: None }
    }

    fn normalize_afresh(&self, raw: &str) -> (CallerNumber, Option<PhoneNumber>) {
        let text: String = raw.trim().chars().take(MAX_INPUT_CHARS).collect();
        if text.is_empty() {
            return (CallerNumber::Withheld, None);
        }
        let lower = text.to_lowercase();
        if WITHHELD_WORDS.iter().any(|w| lower == *w) {
            return (CallerNumber::Withheld, None);
        }
        let text = strip_sip_uri(&text);
        let (base, extension) = split_extension(text);
        let digits: String = base.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return (CallerNumber::NotANumber, None);
        }

        let extension = extension.filter(|e| !e.is_empty());
        let number = |key: String| CallerNumber::Number(PhoneKey { key, extension: extension.clone() });
        match self.e164(base, &digits) {
            Some(valid) => (number(format::e164(&valid)), Some(valid)),
            None => (number(digits), None),
        }
    }

    /// The E.164 form of a number when libphonenumber finds it valid.
    ///
    /// International forms are never read in our region: `phonenumber` 0.3.10 strips the default
    /// region's trunk prefix from foreign numbers (`+49 151…` read in `US` loses its `1`), so a
    /// number that names its own country is read in that country (`parse::parse_international`).
    fn e164(&self, base: &str, digits: &str) -> Option<PhoneNumber> {
        let international = base.trim_start().trim_start_matches("tel:").starts_with('+');
        if international {
            return valid_international(digits);
        }
        // `00` is the international prefix almost everywhere; `011` in the NANP countries.
        let idd = if self.region_calling_code() == Some(1) { "011" } else { "00" };
        if let Some(rest) = digits.strip_prefix(idd).or_else(|| digits.strip_prefix("00")) {
            return valid_international(rest);
        }
        // Providers such as sipgate send international numbers without `+` (`4915…`). A long
        // digit string with no trunk `0` is tried as international first.
        if !digits.starts_with('0')
            && digits.len() >= 11
            && let Some(e164) = valid_international(digits)
        {
            return Some(e164);
        }
        valid(parse::parse(Some(self.region.0), base))
    }

    fn region_calling_code(&self) -> Option<u16> {
        phonenumber::metadata::DATABASE.by_id(self.region.code()).map(|m| m.country_code())
    }
}

/// `+{digits}`, parsed, when valid.
fn valid_international(digits: &str) -> Option<PhoneNumber> {
    valid(parse::parse_international(digits))
}

fn valid(parsed: Option<PhoneNumber>) -> Option<PhoneNumber> {
    parsed.filter(validity::is_valid)
}

impl PhoneNormalizer {
    /// How a number is shown to people: international format when valid
    /// (`+49 30 55571600`), else as it was sent (`007`, `anonymous`).
    pub fn pretty(&self, raw: &str) -> String {
        self.key_and_pretty(raw).1
    }

    /// A number's index key and its display form together, for pages that need both of many
    /// numbers (parsing is what a journal page spends its time on).
    pub fn key_and_pretty(&self, raw: &str) -> (Option<PhoneKey>, String) {
        recent::with_reading(
            self.region,
            raw,
            || self.read(raw),
            |reading| {
                let pretty = reading.pretty.get_or_insert_with(|| match &reading.valid {
                    Some(valid) => format::international(valid),
                    None => raw.trim().to_owned(),
                });
                (reading.number.key().cloned(), pretty.clone())
            },
        )
    }

    /// Numbers written in free text (a signature's `Fon: +49 (0)30 5557-1600`), as index keys.
    ///
    /// A candidate is a run of digits, spaces and `-()./|`, optionally after a `+`. Runs with fewer
    /// than six digits (extensions, years, `test 123`) are never caller ids, and runs with more
    /// than one `/` are dates (`12/12/2024`), not numbers.
    pub fn extract_numbers(&self, text: &str) -> Vec<PhoneKey> {
        let mut keys: Vec<PhoneKey> = Vec::new();
        for run in number_runs(text) {
            let digits = run.chars().filter(char::is_ascii_digit).count();
            if !(6..=20).contains(&digits) || run.matches('/').count() > 1 {
                continue;
            }
            if let CallerNumber::Number(key) = self.normalize(run)
                && !keys.iter().any(|k| k.as_str() == key.as_str())
            {
                keys.push(key);
            }
        }
        keys
    }
}

/// Maximal runs of number-like characters that start with `+` or a digit and end with a digit.
fn number_runs(text: &str) -> Vec<&str> {
    let is_part = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '/' | '|');
    let mut runs = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let begins =
            c.is_ascii_digit() || (c == '+' || c == '(') && chars.peek().is_some_and(|(_, n)| n.is_ascii_digit());
        match start {
            None if begins => start = Some(i),
            Some(s) if !is_part(c) => {
                runs.push(trim_run(&text[s..i]));
                start = begins.then_some(i);
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(trim_run(&text[s..]));
    }
    runs.into_iter().filter(|r| !r.is_empty()).collect()
}

fn trim_run(run: &str) -> &str {
    run.trim_end_matches(|c: char| !c.is_ascii_digit())
}

/// `sip:+4930555@pbx.example;user=phone` → `+4930555`.
fn strip_sip_uri(text: &str) -> &str {
    let lower = text.get(..5).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower.starts_with("sips:") {
        &text[5..]
    } else if lower.starts_with("sip:") {
        &text[4..]
    } else {
        return text;
    };
    rest.split(['@', ';']).next().unwrap_or("")
}

/// Split `… ext. 12`, `… x12`, `…;ext=12` or `…#12` into base number and extension digits.
fn split_extension(text: &str) -> (&str, Option<String>) {
    let lower = text.to_ascii_lowercase();
    let marker = [";ext=", "extension", "ext.", "ext", " x", "#"]
        .iter()
        .filter_map(|m| lower.find(m).map(|at| (at, m.len())))
        .min_by_key(|(at, _)| *at);
    match marker {
        // `lower` has the same byte offsets as `text` because only ASCII letters changed case.
        Some((at, len)) if text.is_char_boundary(at) && text.is_char_boundary(at + len) => {
            let extension: String = text[at + len..].chars().filter(char::is_ascii_digit).collect();
            (&text[..at], Some(extension))
        }
        _ => (text, None),
    }
}

/// How sure the index is that a number belongs to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum CallerLevel {
    /// The number is one of the user's phone fields.
    Known,
    /// The number was found in text the user wrote (a signature, a ticket body).
    Maybe,
}

impl CallerLevel {
    pub fn as_str(&self) -> &'static str {
        match self {
            CallerLevel::Known => "known",
            CallerLevel::Maybe => "maybe",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "known" => Some(CallerLevel::Known),
            "maybe" => Some(CallerLevel::Maybe),
            _ => None,
        }
    }
}

/// The kind of a user's phone field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    Phone,
    Mobile,
    Work,
    Other,
}

impl PhoneKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            PhoneKind::Phone => "phone",
            PhoneKind::Mobile => "mobile",
            PhoneKind::Work => "work",
            PhoneKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "phone" => Ok(PhoneKind::Phone),
            "mobile" => Ok(PhoneKind::Mobile),
            "work" => Ok(PhoneKind::Work),
            "other" => Ok(PhoneKind::Other),
            _ => Err(DomainError::new("phone.kind", format!("`{s}` is not one of phone, mobile, work, other"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(region: &str, raw: &str) -> String {
        let n = PhoneNormalizer::new(Region::parse(region).unwrap());
        match n.normalize(raw) {
            CallerNumber::Number(k) => k.as_str().to_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn us_spellings_meet_in_one_key() {
        let stored = key("US", "+1 513.555.7611");
        assert_eq!(stored, "+15135557611");
        for spelling in ["(513) 555-7611", "513-555-7611", "513.555.7611", "5135557611", "+15135557611"] {
            assert_eq!(key("US", spelling), stored, "{spelling}");
        }
    }

    #[test]
    fn german_spellings_meet_in_one_key() {
        let stored = key("DE", "030 5557 1600");
        assert_eq!(stored, "+493055571600");
        for spelling in ["+49 30 55571600", "0049 30 55571600", "493055571600", "030/5557-1600"] {
            assert_eq!(key("DE", spelling), stored, "{spelling}");
        }
    }

    #[test]
    fn extensions_are_split_off() {
        let n = PhoneNormalizer::new(Region::parse("DE").unwrap());
        let CallerNumber::Number(k) = n.normalize("+49 30 55571600 ext. 12") else { panic!() };
        assert_eq!(k.as_str(), "+493055571600");
        assert_eq!(k.extension(), Some("12"));
        assert_eq!(key("US", "+1 513 555 7611 x99"), "+15135557611");
        assert_eq!(key("US", "tel:+1-513-555-7611;ext=7"), "+15135557611");
    }

    #[test]
    fn international_without_plus_and_sip_uris() {
        assert_eq!(key("US", "4915123456789"), "+4915123456789");
        assert_eq!(key("US", "0049 30 55571600"), "+493055571600");
        assert_eq!(key("US", "011 49 30 55571600"), "+493055571600");
        // phonenumber 0.3.10 alone reads this as +495123456789 in region US.
        assert_eq!(key("US", "+49 151 23456789"), "+4915123456789");
        assert_eq!(key("DE", "0151 23456789"), "+4915123456789");
        assert_eq!(key("DE", "sip:+4930555716@pbx.example;user=phone"), key("DE", "+4930555716"));
    }

    #[test]
    fn withheld_and_garbage() {
        let n = PhoneNormalizer::default();
        assert_eq!(n.normalize(""), CallerNumber::Withheld);
        assert_eq!(n.normalize("  "), CallerNumber::Withheld);
        assert_eq!(n.normalize("Anonymous"), CallerNumber::Withheld);
        assert_eq!(n.normalize("unknown"), CallerNumber::Withheld);
        assert_eq!(n.normalize("garbage"), CallerNumber::NotANumber);
        assert_eq!(n.normalize("sip:alice@pbx"), CallerNumber::NotANumber);
        assert_eq!(key("US", "201"), "201");
        assert_eq!(key("DE", "**21#"), "21");
    }

    #[test]
    fn numbers_are_found_in_text() {
        let n = PhoneNormalizer::new(Region::parse("DE").unwrap());
        let text = "Best regards\nJane\nFon: +49 (0)30 5557-1600, mobile 0151/23456789\n\
                    Order 12/12/2024, room 1234, call 030/1234567 or ext. 12.";
        let keys: Vec<String> = n.extract_numbers(text).iter().map(|k| k.as_str().to_owned()).collect();
        assert_eq!(keys, vec!["+493055571600", "+4915123456789", "+49301234567"]);
        assert!(n.extract_numbers("no numbers, test 123").is_empty());
    }

    #[test]
    fn numbers_are_shown_pretty() {
        let n = PhoneNormalizer::new(Region::parse("DE").unwrap());
        assert_eq!(n.pretty("4930609854180"), "+49 30 609854180");
        assert_eq!(n.pretty("007"), "007");
        assert_eq!(n.pretty("anonymous"), "anonymous");
        let (key, pretty) = n.key_and_pretty(" 007 ");
        assert_eq!((key.map(|k| k.as_str().to_owned()), pretty), (Some("007".to_owned()), "007".to_owned()));
        assert_eq!(n.key_and_pretty("anonymous").0, None);
    }

    #[test]
    fn regions_parse() {
        assert_eq!(Region::parse("de").unwrap().code(), "DE");
        assert!(Region::parse("XX").is_err());
        assert!(Region::parse("").is_err());
    }

    proptest::proptest! {
        #[test]
        fn normalization_never_panics(raw in ".{0,80}", region in proptest::sample::select(vec!["US", "DE", "GB", "FR", "IN"])) {
            let n = PhoneNormalizer::new(Region::parse(region).unwrap());
            let _ = n.normalize(&raw);
            let _ = n.extract_numbers(&raw);
        }

        #[test]
        fn phone_shaped_input_never_panics(raw in "[+(]?[0-9 ()./#x*-]{0,40}(ext\\.? ?[0-9]{0,6})?") {
            let _ = PhoneNormalizer::default().normalize(&raw);
        }

        #[test]
        fn e164_keys_normalize_to_themselves(raw in "\\+?[0-9 ()-]{3,20}") {
            let n = PhoneNormalizer::new(Region::parse("DE").unwrap());
            if let CallerNumber::Number(k) = n.normalize(&raw) && k.is_e164() {
                let again = n.normalize(k.as_str());
                proptest::prop_assert_eq!(again.key().map(PhoneKey::as_str), Some(k.as_str()));
            }
        }
    }
}
