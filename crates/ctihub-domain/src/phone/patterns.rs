//! libphonenumber's patterns, compiled once and matched without its regex cache.
//!
//! `phonenumber` keeps its compiled patterns in one cache of a hundred, behind one mutex for the
//! whole process, and finds a pattern there by hashing its source text at every match (the
//! North American fixed-line pattern alone is over a kilobyte). Reading a new caller's number
//! took a dozen such matches, and under ingest the lookups and the waits for that mutex, with two
//! request threads and the writer reading numbers at once, cost about as much as the matching.
//!
//! Here a pattern is compiled on first use, with the options `phonenumber` compiles it with,
//! and found again by where its source text is. Only the metadata's own text is accepted
//! (`&'static str`: `phonenumber::metadata::DATABASE` lives as long as the process and never
//! changes), so a place names one pattern for good.
//!
//! Most questions are whether a pattern matches at the start of a number. Those use the pattern
//! anchored there (`^(?:…)`), compiled beside the plain one: the answer is the same (a match at
//! the start is the leftmost one, and the same alternative wins), but the search neither scans
//! the rest of the text for a match further on nor runs backwards to find where one began.

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use phonenumber::metadata::Descriptor;
use regex::{Regex, RegexBuilder};

/// Where a pattern may match: anywhere, or only at the start of the text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Anchoring {
    Anywhere,
    AtStart,
}

/// A pattern's source text by its address and length, and how it is anchored.
type Place = (usize, usize, Anchoring);

/// Compiled patterns by their place.
static COMPILED: LazyLock<RwLock<HashMap<Place, Regex>>> = LazyLock::new(Default::default);

/// Run `use_it` with the pattern whose source is `source`, anchored as asked.
fn with_regex<T>(source: &'static str, anchoring: Anchoring, use_it: impl FnOnce(&Regex) -> T) -> T {
    let place: Place = (source.as_ptr() as usize, source.len(), anchoring);
    {
        let compiled = COMPILED.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(regex) = compiled.get(&place) {
            return use_it(regex);
        }
    }
    let regex = match anchoring {
        Anchoring::Anywhere => compile(source),
        // The group closes on a line of its own: with whitespace ignored, `#` starts a comment
        // that runs to the end of the line, and must not swallow the `)`.
        Anchoring::AtStart => compile(&format!("^(?:{source}\n)")),
    };
    let answer = use_it(&regex);
    COMPILED.write().unwrap_or_else(PoisonError::into_inner).insert(place, regex);
    answer
}

/// As `regex_cache` builds it for `phonenumber` (whitespace in the source is not matched), but
/// with room for the lazy DFA of the larger patterns. The North American fixed-line pattern
/// lists every area code and exchange; matching callers spread over a city's exchanges, its DFA
/// outgrew the default 2 MiB cache, which was then cleared and rebuilt over and over: 5.7 µs per
/// new number read and formatted at 2 MiB, 4.4 µs at 8 MiB, where the whole DFA fits in about
/// 3 MiB per thread. The limit only bounds the cache; the answers are the same. Every pattern
/// in the metadata compiles (`phonenumber` compiled them all when it loaded the metadata), so a
/// failure here is a broken build.
fn compile(source: &str) -> Regex {
    RegexBuilder::new(source)
        .ignore_whitespace(true)
        .size_limit(10 * (1 << 20))
        .dfa_size_limit(8 * (1 << 20))
        .build()
        .unwrap_or_else(|e| panic!("libphonenumber's pattern `{source}` compiles: {e}"))
}

/// Where the pattern's first match in `text` ends, when that match starts at the beginning:
/// how `phonenumber` asks whether a pattern "matches at the start" (`find`, then `start == 0`).
pub(super) fn end_of_match_at_start(source: &'static str, text: &str) -> Option<usize> {
    with_regex(source, Anchoring::AtStart, |regex| regex.find(text).map(|m| m.end()))
}

pub(super) fn matches_at_start(source: &'static str, text: &str) -> bool {
    end_of_match_at_start(source, text).is_some()
}

/// The first match in `text` replaced by `with` (`$1`-style groups), as `Regex::replace`.
pub(super) fn replace_first(source: &'static str, text: &str, with: &str) -> String {
    with_regex(source, Anchoring::Anywhere, |regex| regex.replace(text, with).into_owned())
}

/// `Descriptor::is_match`: one of the type's possible lengths, and its pattern matches at the start.
pub(super) fn describes(descriptor: &'static Descriptor, national: &str) -> bool {
    let lengths = descriptor.possible_length();
    if !lengths.is_empty() && !lengths.iter().any(|&l| usize::from(l) == national.len()) {
        return false;
    }
    matches_at_start(descriptor.national_number().as_str(), national)
}

#[cfg(test)]
mod tests {
    use phonenumber::metadata::DATABASE;

    use super::*;

    #[test]
    fn a_pattern_answers_as_phonenumber_does_and_is_compiled_once() {
        let us = DATABASE.by_id("US").unwrap();
        let fixed_line = us.descriptors().fixed_line().unwrap();
        for national in ["5132001234", "1132001234", "513200123", "51320012345", "2015550123"] {
            assert_eq!(describes(fixed_line, national), fixed_line.is_match(national), "{national}");
        }
        let source = fixed_line.national_number().as_str();
        let count = || COMPILED.read().unwrap().keys().filter(|(at, _, _)| *at == source.as_ptr() as usize).count();
        assert_eq!(count(), 1);
        describes(fixed_line, "5132001234");
        assert_eq!(count(), 1, "found again, not compiled again");
    }

    #[test]
    fn a_comment_in_a_pattern_does_not_swallow_the_anchoring_group() {
        static WITH_COMMENT: &str = "12 # a comment";
        assert_eq!(end_of_match_at_start(WITH_COMMENT, "123"), Some(2));
        assert_eq!(end_of_match_at_start(WITH_COMMENT, "312"), None);
    }

    #[test]
    fn anchored_patterns_answer_as_a_search_that_must_start_at_the_beginning() {
        // The unanchored search, then `start == 0`: what `phonenumber` does.
        let searched = |source: &'static str, text: &str| {
            with_regex(source, Anchoring::Anywhere, |regex| {
                regex.find(text).filter(|m| m.start() == 0).map(|m| m.end())
            })
        };
        let (mut compared, mut matched) = (0, 0);
        for code in [1u16, 7, 44, 49, 61, 262, 590, 599, 882] {
            let metas = DATABASE.region(&code).unwrap().into_iter().filter_map(|region| DATABASE.by_id(region));
            for meta in metas.chain(DATABASE.by_code(&code).into_iter().flatten()) {
                let types = meta.descriptors();
                let sources = [types.general(), types.fixed_line().unwrap_or(types.general())]
                    .into_iter()
                    .chain(types.mobile())
                    .map(|d| d.national_number().as_str())
                    .chain(meta.leading_digits().map(|l| l.as_str()));
                for source in sources {
                    for digits in super::super::sample::international_digits().iter().step_by(7) {
                        // The number itself, and text where a match can only come later.
                        for text in [digits.clone(), format!("x{digits}")] {
                            let expected = searched(source, &text);
                            assert_eq!(end_of_match_at_start(source, &text), expected, "{source} on {text}");
                            compared += 1;
                            matched += usize::from(expected.is_some());
                        }
                    }
                }
            }
        }
        assert!(compared > 100_000 && matched > 1_000, "{matched} of {compared} matched");
    }
}
