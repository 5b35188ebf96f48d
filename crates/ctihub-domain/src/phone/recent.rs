//! Numbers this thread read lately.
//!
//! Recording one call reads its caller's number several times (identification, the caller-index
//! key of every state change, the ringing toast's display form), a journal page shows the same
//! numbers at every refresh, and libphonenumber's parsing and validation is the costliest step of
//! both. Reading a number is a pure function of the region and the text, so remembering recent
//! readings changes nothing but the time. Direct-mapped and bounded: a slot holds the last
//! number whose text hashed to it.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use phonenumber::PhoneNumber;

use super::{CallerNumber, Region};

/// Enough for a journal page (300 rows) and the calls being recorded meanwhile.
const SLOTS: usize = 1024;

/// What reading one text yields.
pub(super) struct Reading {
    pub(super) number: CallerNumber,
    /// The number as libphonenumber parsed it, when valid (formatting needs it).
    pub(super) valid: Option<PhoneNumber>,
    /// The display form, once somebody asked for it.
    pub(super) pretty: Option<String>,
}

struct Slot {
    region: Region,
    raw: String,
    reading: Reading,
}

thread_local! {
    static RECENT: RefCell<Vec<Option<Slot>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// Hand `use_it` the reading of `raw` in `region`, made by `read` unless remembered.
pub(super) fn with_reading<T>(
    region: Region,
    raw: &str,
    read: impl FnOnce() -> Reading,
    use_it: impl FnOnce(&mut Reading) -> T,
) -> T {
    let mut hasher = DefaultHasher::new();
    region.hash(&mut hasher);
    raw.hash(&mut hasher);
    let index = (hasher.finish() % SLOTS as u64) as usize;
    RECENT.with_borrow_mut(|slots| {
        let slot = &mut slots[index];
        match slot {
            Some(s) if s.region == region && s.raw == raw => {}
            _ => *slot = Some(Slot { region, raw: raw.to_owned(), reading: read() }),
        }
        use_it(&mut slot.as_mut().expect("filled above").reading)
    })
}

#[cfg(test)]
mod tests {
    use crate::phone::{PhoneNormalizer, Region};

    #[test]
    fn remembered_readings_are_the_fresh_ones_per_region() {
        let de = PhoneNormalizer::new(Region::parse("DE").unwrap());
        let us = PhoneNormalizer::new(Region::parse("US").unwrap());
        for _ in 0..2 {
            // The same text means different numbers in different regions.
            assert_eq!(de.normalize("030 5557 1600").key().unwrap().as_str(), "+493055571600");
            assert_eq!(us.normalize("030 5557 1600").key().unwrap().as_str(), "03055571600");
            assert_eq!(de.pretty("030 5557 1600"), "+49 30 55571600");
            assert_eq!(us.pretty("030 5557 1600"), "030 5557 1600");
            assert_eq!(de.normalize_afresh(" 0049 30 5557 1600 ").0, de.normalize(" 0049 30 5557 1600 "));
        }
    }
}
