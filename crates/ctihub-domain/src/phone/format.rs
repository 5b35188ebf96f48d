//! A valid number written out as `phonenumber` writes it, matching its patterns in
//! `super::patterns` rather than through its regex cache.

use phonenumber::metadata::DATABASE;
use phonenumber::{Mode, PhoneNumber};

use super::patterns;

/// `+15135557611`: `Mode::E164`, which is the code and the national number. (Its formatter
/// picks a national format first even for this, through the regex cache, and does not use it.)
pub(super) fn e164(number: &PhoneNumber) -> String {
    format!("+{}{}", number.country().code(), number.national())
}

/// `+1 513-555-7611`: `Mode::International`.
pub(super) fn international(number: &PhoneNumber) -> String {
    let code = number.country().code();
    let Some(meta) = DATABASE.by_code(&code).and_then(|metas| metas.into_iter().next()) else {
        // Not a number this module is handed (it was found valid); the library says the rest.
        return number.format().mode(Mode::International).to_string();
    };
    if number.extension().is_some() {
        return number.format().mode(Mode::International).to_string();
    }
    let national = number.national().to_string();
    let formats = if meta.international_formats().is_empty() { meta.formats() } else { meta.international_formats() };
    // The library's choice, precedence included: a format without leading digits is taken
    // as it is; one with them when the last matches at the start and its pattern the whole.
    let chosen = formats.iter().find(|format| match format.leading_digits().last() {
        None => true,
        Some(leading) => {
            patterns::matches_at_start(leading.as_str(), &national)
                && patterns::end_of_match_at_start(format.pattern().as_str(), &national) == Some(national.len())
        }
    });
    match chosen {
        Some(format) => {
            format!("+{code} {}", patterns::replace_first(format.pattern().as_str(), &national, format.format()))
        }
        None => format!("+{code} {national}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{sample, validity};
    use super::*;

    #[test]
    fn valid_numbers_are_written_as_phonenumber_writes_them() {
        let mut written = 0;
        for digits in sample::international_digits() {
            let Ok(number) = phonenumber::parse(None, format!("+{digits}")) else {
                continue;
            };
            if !validity::is_valid(&number) {
                continue;
            }
            assert_eq!(e164(&number), number.format().mode(Mode::E164).to_string(), "+{digits}");
            assert_eq!(international(&number), number.format().mode(Mode::International).to_string(), "+{digits}");
            written += 1;
        }
        assert!(written > 1_000, "{written} valid numbers written");
    }

    #[test]
    fn known_numbers_keep_their_forms() {
        for (text, expected) in [
            ("+1 513 555 7611", "+1 513-555-7611"),
            ("+49 30 55571600", "+49 30 55571600"),
            ("+44 20 7946 0958", "+44 20 7946 0958"),
        ] {
            let number = phonenumber::parse(None, text).unwrap();
            assert_eq!(international(&number), expected);
        }
    }
}
