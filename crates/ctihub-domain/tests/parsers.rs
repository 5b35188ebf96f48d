//! Fuzzing the pure parsers with proptest (stable Rust has no cargo-fuzz): arbitrary text and
//! structure-aware inputs (valid-looking values with one part mutated) must never panic, and
//! what parses must mean what it says.
//!
//! Cases per property come from `PROPTEST_CASES` (proptest's own variable; 256 by default).
//! A longer run: `PROPTEST_CASES=100000 cargo test -p ctihub-domain --test parsers --release`.

use ctihub_domain::phone::{CallerNumber, PhoneKey, PhoneNormalizer, Region};
use ctihub_domain::search::{Pattern, digits, parse_query};
use ctihub_domain::time::{format_millis, format_millis_precise, parse_timestamp};
use jiff::tz::TimeZone;
use proptest::prelude::*;
use proptest::sample::select;

const REGIONS: &[&str] = &["US", "DE", "GB", "FR", "IN", "CH", "AT", "BR", "JP"];

/// Text the way PBXs and customers write numbers, with the odd hostile character mixed in.
fn phone_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,6}",
        Just("+".to_owned()),
        Just("00".to_owned()),
        Just("(0)".to_owned()),
        "[ ./()#*x-]",
        Just(" ext. ".to_owned()),
        Just(";ext=".to_owned()),
        Just("anonymous".to_owned()),
        Just("sip:".to_owned()),
        Just("@".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{660}\u{661}".to_owned()),   // Arabic-Indic digits
        Just("\u{ff11}\u{ff12}".to_owned()), // full-width digits
        Just("\u{202e}".to_owned()),
        "\\PC{1,3}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn phone_normalization_is_total_and_stable(raw in phone_like(), region in select(REGIONS)) {
        let n = PhoneNormalizer::new(Region::parse(region).unwrap());
        let normalized = n.normalize(&raw);
        let _ = n.pretty(&raw);
        let (key, _) = n.key_and_pretty(&raw);
        prop_assert_eq!(key.as_ref().map(PhoneKey::as_str), normalized.key().map(PhoneKey::as_str));
        for found in n.extract_numbers(&raw) {
            prop_assert!(!found.as_str().is_empty());
        }
        // An E.164 key looked up again finds itself: the index is keyed by what normalize returns.
        // (Digits-only fallback keys of unparseable text may parse once the junk is gone.)
        if let CallerNumber::Number(k) = &normalized
            && k.is_e164()
        {
            let again = n.normalize(k.as_str());
            prop_assert_eq!(again.key().map(PhoneKey::as_str), Some(k.as_str()), "raw {:?}", raw);
        }
    }

    #[test]
    fn phone_normalization_survives_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let raw = String::from_utf8_lossy(&bytes);
        let n = PhoneNormalizer::new(Region::parse("DE").unwrap());
        let _ = n.normalize(&raw);
        let _ = n.extract_numbers(&raw);
        let _ = n.pretty(&raw);
    }

    #[test]
    fn long_numbers_do_not_panic(digits in "[0-9]{20,400}", plus in any::<bool>()) {
        let raw = if plus { format!("+{digits}") } else { digits };
        let n = PhoneNormalizer::default();
        let _ = n.normalize(&raw);
        let _ = n.extract_numbers(&raw);
    }

    #[test]
    fn region_codes_never_panic(code in "\\PC{0,4}") {
        if let Ok(region) = Region::parse(&code) {
            prop_assert_eq!(region.code(), code.trim().to_ascii_uppercase());
        }
    }
}

/// A search term as a client writes it: `key:value`, `-key:"a phrase"`, a free word. (A value
/// starting with `-` would read as a negation, so the generator does not write one.)
fn search_term() -> impl Strategy<Value = (bool, Option<String>, String, bool)> {
    (any::<bool>(), proptest::option::of("[a-zA-Z_][a-zA-Z0-9_.]{0,10}"), "[^\\s\":-][^\\s\":]{0,11}", any::<bool>())
}

proptest! {
    #[test]
    fn search_queries_never_panic(query in "\\PC{0,120}") {
        if let Ok(terms) = parse_query(&query) {
            for term in terms {
                let _ = term.keyword();
                let _ = term.pattern().to_like();
            }
        }
    }

    #[test]
    fn search_queries_with_syntax_characters_never_panic(
        query in proptest::collection::vec(select(&["\"", ":", "-", "*", " ", "\t", "a", "é", "%", "_", "\\"][..]), 0..40)
    ) {
        let query = query.concat();
        if let Ok(terms) = parse_query(&query) {
            for term in terms {
                prop_assert!(term.key.as_ref().is_none_or(|k| !k.is_empty()), "{:?}", query);
                let _ = term.pattern().to_like();
            }
        }
    }

    /// Terms written out and read back are the same terms.
    #[test]
    fn written_terms_read_back(terms in proptest::collection::vec(search_term(), 0..6)) {
        let written: Vec<String> = terms
            .iter()
            .map(|(negated, key, value, quoted)| {
                let value = if *quoted { format!("\"{value}\"") } else { value.clone() };
                let key = key.as_ref().map(|k| format!("{k}:")).unwrap_or_default();
                format!("{}{key}{value}", if *negated { "-" } else { "" })
            })
            .collect();
        let read = parse_query(&written.join("  ")).unwrap();
        prop_assert_eq!(read.len(), terms.len());
        for (term, (negated, key, value, quoted)) in read.iter().zip(&terms) {
            prop_assert_eq!(term.negated, *negated);
            prop_assert_eq!(&term.key, key);
            prop_assert_eq!(&term.value, value);
            prop_assert_eq!(term.quoted, *quoted);
        }
    }

    /// A LIKE pattern never lets a literal `%`, `_` or `\` act as a wildcard.
    #[test]
    fn like_patterns_escape_their_metacharacters(value in "[a-z%_\\\\*]{0,20}", quoted in any::<bool>()) {
        let like = Pattern::read(&value, quoted).to_like();
        let mut chars = like.chars();
        let mut wildcards = 0;
        while let Some(c) = chars.next() {
            match c {
                '\\' => prop_assert!(matches!(chars.next(), Some('\\' | '%' | '_')), "{like}"),
                '%' => wildcards += 1,
                '_' => prop_assert!(false, "an unescaped _ in {like}"),
                _ => {}
            }
        }
        if quoted || !value.contains('*') {
            prop_assert_eq!(wildcards, 0, "{}", like);
        }
    }

    #[test]
    fn digits_keeps_only_ascii_digits(value in "\\PC{0,40}") {
        let d = digits(&value);
        prop_assert!(d.chars().all(|c| c.is_ascii_digit()));
        prop_assert_eq!(d.len(), value.chars().filter(char::is_ascii_digit).count());
    }
}

/// A timestamp written in one of the forms partner integrations use, and the instant it means.
fn written_timestamp() -> impl Strategy<Value = (String, i64)> {
    let instant = -2_208_988_800i64..4_102_444_800; // 1900..2100
    let offset_minutes = select(&[0i64, 60, -60, 120, 330, -300, 545, -570, 840, -720][..]);
    let form = 0..6usize;
    (instant, offset_minutes, form).prop_map(|(seconds, offset, form)| {
        let local = jiff::Timestamp::from_second(seconds + offset * 60).unwrap().strftime("%Y-%m-%dT%H:%M:%S");
        let sign = if offset < 0 { '-' } else { '+' };
        let (h, m) = (offset.abs() / 60, offset.abs() % 60);
        let text = match form {
            0 if offset == 0 => format!("{local}Z"),
            0 | 1 => format!("{local}{sign}{h:02}:{m:02}"),
            2 => format!("{local}{sign}{h:02}{m:02}"),
            3 if m == 0 => format!("{local}{sign}{h:02}"),
            3 | 4 => format!("{} {sign}{h:02}{m:02}", local.to_string().replace('T', " ")),
            _ => format!("{}{sign}{h:02}{m:02}", local.to_string().replace('T', " ")),
        };
        (text, seconds * 1000)
    })
}

proptest! {
    #[test]
    fn timestamps_never_panic(input in "\\PC{0,60}") {
        let _ = parse_timestamp(&input, &TimeZone::UTC);
        let _ = parse_timestamp(&input, &TimeZone::fixed(jiff::tz::offset(-11)));
    }

    #[test]
    fn timestamp_shaped_garbage_never_panics(
        input in "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}[T ][0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?(\\.[0-9]{0,12})?( ?[+-][0-9]{0,5}|Z)?"
    ) {
        let _ = parse_timestamp(&input, &TimeZone::UTC);
    }

    #[test]
    fn every_written_form_means_its_instant((text, millis) in written_timestamp()) {
        let parsed = parse_timestamp(&text, &TimeZone::UTC);
        prop_assert_eq!(parsed.map(|t| t.as_millisecond()), Some(millis), "{}", text);
        prop_assert_eq!(parse_timestamp(&format!("  {text}\n"), &TimeZone::UTC).map(|t| t.as_millisecond()), Some(millis));
    }

    #[test]
    fn any_millis_formats_without_panicking(millis in any::<i64>()) {
        let _ = format_millis(millis);
        let _ = format_millis_precise(millis);
    }
}
