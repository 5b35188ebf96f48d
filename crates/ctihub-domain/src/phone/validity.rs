//! Whether a parsed number is valid, with libphonenumber's answer at a fraction of its cost.
//!
//! `phonenumber::is_valid` finds the number's region by working out its type (premium rate,
//! toll free, shared cost, … fixed line, mobile: one regular expression each, tried in that
//! order), then works the type out again for the region it found. A North American number
//! costs about twenty matches that way, and reading a new caller's number was an eighth of the
//! request threads' time during ingest. Validity only asks whether *some* type matches, so this
//! tries the common types first, stops at the first match, and finds the region and the answer
//! in one pass. The region rules are libphonenumber's: a calling code shared by several regions
//! goes to the first whose leading digits begin the number, or, for a region without leading
//! digits, whose patterns match it. A test holds both answers equal over numbers of many codes.
//! Parsing an international number uses the same search (`super::parse`), and the patterns
//! are matched without `phonenumber`'s regex cache (`super::patterns`).

use phonenumber::metadata::{DATABASE, Descriptor};
use phonenumber::{Metadata, PhoneNumber, country};

use super::patterns;

/// The same answer as `phonenumber::is_valid(number)`.
pub(super) fn is_valid(number: &PhoneNumber) -> bool {
    let national = number.national().to_string();
    source_for(number.country().code(), &national).is_some_and(|source| source.is_valid(&national))
}

/// The metadata libphonenumber reads a number by (its `validator::source_for`).
pub(super) struct Source {
    pub(super) meta: &'static Metadata,
    /// Finding the region already showed the number is of one of its types.
    has_a_type: bool,
}

impl Source {
    fn is_valid(&self, national: &str) -> bool {
        self.has_a_type || has_a_type(self.meta, national)
    }
}

/// The metadata for a number of calling code `code` with national significant number
/// `national`: the code's one region; or of a code shared by several regions, the first whose
/// leading digits begin the number or, for a region without leading digits, whose patterns
/// match it. `None` when the code is unknown or no region claims the number.
pub(super) fn source_for(code: u16, national: &str) -> Option<Source> {
    let regions = DATABASE.region(&code)?;
    if let [only] = regions[..] {
        // A non-geographic code (`001`: satellite, UIFN) has its metadata under the code.
        let meta = if only == "001" {
            DATABASE.by_code(&code).and_then(|metas| metas.into_iter().next())
        } else {
            only.parse::<country::Id>().ok().and_then(|id| DATABASE.by_id(id.as_ref()))
        };
        return meta.map(|meta| Source { meta, has_a_type: false });
    }
    regions.into_iter().filter_map(|region| DATABASE.by_id(region)).find_map(|meta| match meta.leading_digits() {
        Some(leading) => {
            patterns::matches_at_start(leading.as_str(), national).then_some(Source { meta, has_a_type: false })
        }
        None => has_a_type(meta, national).then_some(Source { meta, has_a_type: true }),
    })
}

/// Whether some number type of the region matches: its general pattern, then any one type.
fn has_a_type(meta: &'static Metadata, national: &str) -> bool {
    let types = meta.descriptors();
    if !patterns::describes(types.general(), national) {
        return false;
    }
    // Most numbers people call from are fixed lines or mobiles: those first.
    [
        types.fixed_line(),
        types.mobile(),
        types.toll_free(),
        types.premium_rate(),
        types.shared_cost(),
        types.voip(),
        types.personal_number(),
        types.pager(),
        types.uan(),
        types.voicemail(),
    ]
    .into_iter()
    .flatten()
    .any(|kind: &'static Descriptor| patterns::describes(kind, national))
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;

    #[test]
    fn answers_as_libphonenumber_does_for_numbers_of_many_codes() {
        let (mut valid, mut compared) = (0, 0);
        for digits in sample::international_digits() {
            let Ok(number) = phonenumber::parse(None, format!("+{digits}")) else {
                continue;
            };
            let expected = phonenumber::is_valid(&number);
            assert_eq!(is_valid(&number), expected, "+{digits}");
            compared += 1;
            valid += usize::from(expected);
        }
        // Not vacuous: plenty of both answers.
        assert!(compared > 10_000 && valid > 1_000 && compared - valid > 1_000, "{valid} of {compared} valid");
    }

    #[test]
    fn known_numbers_keep_their_answers() {
        for (text, expected) in [
            ("+1 113 241 7611", false),
            ("+1 513 241 7611", true),
            ("+1 268 464 1234", true),
            ("+49 30 55571600", true),
            ("+44 1481 256789", true),
            ("+7 701 234 5678", true),
            ("+49 123", false),
        ] {
            let number = phonenumber::parse(None, text).unwrap();
            assert_eq!((text, is_valid(&number)), (text, expected));
            assert_eq!(phonenumber::is_valid(&number), expected, "{text}: libphonenumber agrees");
        }
    }
}
