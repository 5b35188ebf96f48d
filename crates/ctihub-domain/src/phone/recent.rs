//! Numbers this thread normalized lately.
//!
//! Recording one call reads its caller's number several times (the block list, identification,
//! the caller-index key of every state change, the ringing toast's display form), and
//! libphonenumber's validation is the costliest step of recording an event. Normalizing is a pure
//! function of the region and the text, so remembering recent results changes nothing but the
//! time. Direct-mapped and small: a slot holds the last number whose text hashed to it.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::{CallerNumber, Region};

const SLOTS: usize = 256;

struct Remembered {
    region: Region,
    raw: String,
    number: CallerNumber,
    /// The display form, once somebody asked for it.
    pretty: Option<String>,
}

thread_local! {
    static RECENT: RefCell<Vec<Option<Remembered>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

fn slot(region: Region, raw: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    region.hash(&mut hasher);
    raw.hash(&mut hasher);
    (hasher.finish() % SLOTS as u64) as usize
}

/// `raw` normalized in `region`, computed by `normalize` unless remembered.
pub(super) fn normalized(region: Region, raw: &str, normalize: impl FnOnce() -> CallerNumber) -> CallerNumber {
    let index = slot(region, raw);
    let known = RECENT.with_borrow(|slots| match &slots[index] {
        Some(r) if r.region == region && r.raw == raw => Some(r.number.clone()),
        _ => None,
    });
    if let Some(number) = known {
        return number;
    }
    let number = normalize();
    RECENT.with_borrow_mut(|slots| {
        slots[index] = Some(Remembered { region, raw: raw.to_owned(), number: number.clone(), pretty: None });
    });
    number
}

/// The display form of `raw` (already normalized to `number`), computed by `format` unless
/// remembered.
pub(super) fn pretty(region: Region, raw: &str, number: &CallerNumber, format: impl FnOnce() -> String) -> String {
    let index = slot(region, raw);
    let known = RECENT.with_borrow(|slots| match &slots[index] {
        Some(r) if r.region == region && r.raw == raw => r.pretty.clone(),
        _ => None,
    });
    if let Some(pretty) = known {
        return pretty;
    }
    let pretty = format();
    RECENT.with_borrow_mut(|slots| match &mut slots[index] {
        Some(r) if r.region == region && r.raw == raw => r.pretty = Some(pretty.clone()),
        slot => {
            *slot =
                Some(Remembered { region, raw: raw.to_owned(), number: number.clone(), pretty: Some(pretty.clone()) })
        }
    });
    pretty
}

#[cfg(test)]
mod tests {
    use crate::phone::{PhoneNormalizer, Region};

    #[test]
    fn remembered_results_are_the_fresh_ones_per_region() {
        let de = PhoneNormalizer::new(Region::parse("DE").unwrap());
        let us = PhoneNormalizer::new(Region::parse("US").unwrap());
        for _ in 0..2 {
            // The same text means different numbers in different regions.
            assert_eq!(de.normalize("030 5557 1600").key().unwrap().as_str(), "+493055571600");
            assert_eq!(us.normalize("030 5557 1600").key().unwrap().as_str(), "03055571600");
            assert_eq!(de.pretty("030 5557 1600"), "+49 30 55571600");
            assert_eq!(us.pretty("030 5557 1600"), "030 5557 1600");
            assert_eq!(de.normalize_afresh(" 0049 30 5557 1600 "), de.normalize(" 0049 30 5557 1600 "));
        }
    }
}
