//! Numbers read lately, shared by every thread.
//!
//! Recording one call reads its caller's number several times (identification, the caller-index
//! key of every state change, the ringing toast's display form), a journal page shows the same
//! numbers at every refresh, and libphonenumber's parsing and validation is the costliest step of
//! both. Reading a number is a pure function of the region and the text, so remembering recent
//! readings changes nothing but the time. Shared, so that a request's thread can read an event's
//! numbers before handing it to the one ledger writer, which then finds them read. Direct-mapped
//! and bounded: a slot holds the last number whose text hashed to it, behind a lock of its own.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{LazyLock, Mutex, PoisonError};

use phonenumber::PhoneNumber;

use super::{CallerNumber, Region};

/// Enough for a few journal pages (300 rows each) and the calls being recorded meanwhile.
const SLOTS: usize = 4096;

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

static RECENT: LazyLock<Vec<Mutex<Option<Slot>>>> = LazyLock::new(|| (0..SLOTS).map(|_| Mutex::new(None)).collect());

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
    let slot = &RECENT[(hasher.finish() % SLOTS as u64) as usize];
    // A panic in `use_it` leaves a whole reading behind: the lock's poison means nothing here.
    let lock = || slot.lock().unwrap_or_else(PoisonError::into_inner);
    {
        let mut held = lock();
        if let Some(s) = held.as_mut().filter(|s| s.region == region && s.raw == raw) {
            return use_it(&mut s.reading);
        }
    }
    // Read without holding the slot: parsing is slow, and another thread may want the slot.
    let reading = read();
    let mut held = lock();
    let s = held.insert(Slot { region, raw: raw.to_owned(), reading });
    use_it(&mut s.reading)
}

#[cfg(test)]
mod tests {
    use super::{Reading, with_reading};
    use crate::phone::{CallerNumber, PhoneNormalizer, Region};

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

    #[test]
    fn a_reading_made_on_one_thread_is_found_on_another() {
        let region = Region::parse("DE").unwrap();
        let raw = "recent.rs test number 0301234";
        let read = || Reading { number: CallerNumber::NotANumber, valid: None, pretty: Some("read".into()) };
        std::thread::spawn(move || with_reading(region, raw, read, |_| ())).join().unwrap();
        let found = with_reading(region, raw, || panic!("read again"), |reading| reading.pretty.clone());
        assert_eq!(found.as_deref(), Some("read"));
    }
}
