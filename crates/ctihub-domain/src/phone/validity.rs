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

use phonenumber::metadata::{DATABASE, Descriptor};
use phonenumber::{Metadata, PhoneNumber, country};

/// The same answer as `phonenumber::is_valid(number)`.
pub(super) fn is_valid(number: &PhoneNumber) -> bool {
    let code = number.country().code();
    let national = number.national().to_string();
    let Some(regions) = DATABASE.region(&code) else {
        return false;
    };
    if let [only] = regions[..] {
        // A non-geographic code (`001`: satellite, UIFN) has its metadata under the code.
        let meta = if only == "001" {
            DATABASE.by_code(&code).and_then(|metas| metas.into_iter().next())
        } else {
            only.parse::<country::Id>().ok().and_then(|id| DATABASE.by_id(id.as_ref()))
        };
        return meta.is_some_and(|meta| has_a_type(meta, &national));
    }
    for region in regions {
        let Some(meta) = DATABASE.by_id(region) else {
            continue;
        };
        match meta.leading_digits() {
            Some(leading) => {
                if leading.find(&national).is_some_and(|found| found.start() == 0) {
                    return has_a_type(meta, &national);
                }
            }
            None => {
                if has_a_type(meta, &national) {
                    return true;
                }
            }
        }
    }
    false
}

/// Whether some number type of the region matches: its general pattern, then any one type.
fn has_a_type(meta: &Metadata, national: &str) -> bool {
    let types = meta.descriptors();
    if !types.general().is_match(national) {
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
    .any(|kind: &Descriptor| kind.is_match(national))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudo-random digits, the same on every run.
    fn digits(seed: &mut u64, count: usize) -> String {
        (0..count)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                char::from(b'0' + ((*seed >> 33) % 10) as u8)
            })
            .collect()
    }

    #[test]
    fn answers_as_libphonenumber_does_for_numbers_of_many_codes() {
        // Codes of one region, codes shared by several (NANP, +7, +44, +47, +61, +262, +590,
        // +599), with and without leading digits, and a non-geographic one (+882).
        let prefixes = [
            "1", "1268", "1340", "1441", "1787", "1876", "7", "76", "77", "20", "27", "30", "31", "33", "34", "39",
            "3906698", "41", "44", "441481", "441534", "447", "47", "4779", "49", "4915", "61", "6189164", "81", "86",
            "91", "262", "262269", "590", "599", "5999", "882", "971",
        ];
        let mut seed = 7;
        let (mut valid, mut compared) = (0, 0);
        for prefix in prefixes {
            for length in 4..=12 {
                for _ in 0..60 {
                    let text = format!("+{prefix}{}", digits(&mut seed, length));
                    let Ok(number) = phonenumber::parse(None, &text) else {
                        continue;
                    };
                    let expected = phonenumber::is_valid(&number);
                    assert_eq!(is_valid(&number), expected, "{text}");
                    compared += 1;
                    valid += usize::from(expected);
                }
            }
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
