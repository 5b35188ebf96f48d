//! Parsing with `phonenumber`, made safe to call on anything and cheaper for international
//! numbers of a calling code several regions share.
//!
//! Given no region, `phonenumber::parse` searches the code's regions for the number's own
//! (its `validator::source_for`), through its regex cache: for a `+1` number that is up to
//! twenty-five regions and several patterns each. `validity::source_for` does the same search
//! with the patterns compiled here, and the region it finds is handed to the parser, which
//! then reads the number exactly as it would have (the region only chooses the metadata that
//! strips a national prefix). A test holds both readings equal over numbers of many codes.

use phonenumber::metadata::DATABASE;
use phonenumber::{PhoneNumber, country};

use super::{patterns, validity};

/// The longest calling code: three digits.
const MAX_CALLING_CODE_DIGITS: usize = 3;

/// `text` parsed in `region` (`None`: it names its country), or `None` when it is no number.
pub(super) fn parse(region: Option<country::Id>, text: &str) -> Option<PhoneNumber> {
    // The parser has internal `unwrap`s; a malformed value must never take a request down.
    std::panic::catch_unwind(|| phonenumber::parse(region, text)).ok()?.ok()
}

/// `+{digits}` parsed as `parse(None, …)` parses it.
pub(super) fn parse_international(digits: &str) -> Option<PhoneNumber> {
    let text = format!("+{digits}");
    parse(own_region(digits), &text)
}

/// The region `phonenumber` would find for `+{digits}` itself, when it would search several
/// and handing it over reads the number the same way.
fn own_region(digits: &str) -> Option<country::Id> {
    let (code, national) = split_calling_code(digits)?;
    if DATABASE.region(&code)?.len() < 2 {
        // One region: the parser takes it without a search.
        return None;
    }
    let source = validity::source_for(code, national.trim_start_matches('0'))?;
    // Given a region, the parser also strips that region's international prefix from the
    // digits after the `+`; where that prefix begins them, it must not be given one.
    if let Some(idd) = source.meta.international_prefix()
        && patterns::matches_at_start(idd.as_str(), digits)
    {
        return None;
    }
    source.meta.id().parse().ok()
}

/// The calling code the digits begin with and the digits after it, as the parser splits a
/// number after `+`: the shortest prefix that is a known code (none begins with `0`).
fn split_calling_code(digits: &str) -> Option<(u16, &str)> {
    if digits.starts_with('0') {
        return None;
    }
    (1..=MAX_CALLING_CODE_DIGITS.min(digits.len())).find_map(|length| {
        let code: u16 = digits[..length].parse().ok()?;
        DATABASE.by_code(&code).map(|_| (code, &digits[length..]))
    })
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;

    #[test]
    fn international_numbers_read_as_the_parser_reads_them_alone() {
        let (mut searched, mut handed_a_region) = (0, 0);
        for digits in sample::international_digits() {
            let expected = phonenumber::parse(None, format!("+{digits}")).ok();
            assert_eq!(parse_international(&digits), expected, "+{digits}");
            if split_calling_code(&digits).is_some_and(|(code, _)| DATABASE.region(&code).is_some_and(|r| r.len() > 1))
            {
                searched += 1;
                handed_a_region += usize::from(own_region(&digits).is_some());
            }
        }
        // Not vacuous: thousands took the shortcut (the rest no region claims).
        assert!(handed_a_region > 3_000, "{handed_a_region} of {searched}");
    }

    #[test]
    fn a_region_whose_international_prefix_begins_the_digits_is_not_handed_over() {
        // `+1 011 …`: given `US`, the parser would take `011` for the international prefix.
        assert_eq!(own_region("10114930555716"), None);
        assert_eq!(parse_international("10114930555716"), phonenumber::parse(None, "+10114930555716").ok());
        assert_eq!(own_region("15135557611"), Some(country::Id::US));
    }

    #[test]
    fn calling_codes_split_as_the_parser_splits_them() {
        assert_eq!(split_calling_code("15135557611"), Some((1, "5135557611")));
        assert_eq!(split_calling_code("4930555716"), Some((49, "30555716")));
        assert_eq!(split_calling_code("8821234"), Some((882, "1234")));
        assert_eq!(split_calling_code("0123"), None);
        assert_eq!(split_calling_code(""), None);
    }
}
