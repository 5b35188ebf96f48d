//! Numbers of many calling codes, for the tests that hold this module's shortcuts to
//! libphonenumber's own answers. The same pseudo-random digits on every run.

/// Codes of one region, codes shared by several (NANP, +7, +44, +47, +61, +262, +590, +599),
/// with and without leading digits, and a non-geographic one (+882).
const PREFIXES: [&str; 38] = [
    "1", "1268", "1340", "1441", "1787", "1876", "7", "76", "77", "20", "27", "30", "31", "33", "34", "39", "3906698",
    "41", "44", "441481", "441534", "447", "47", "4779", "49", "4915", "61", "6189164", "81", "86", "91", "262",
    "262269", "590", "599", "5999", "882", "971",
];

/// Digits as written after `+`: each prefix, then 4 to 12 random digits, sixty of each length.
pub(super) fn international_digits() -> Vec<String> {
    let mut seed = 7;
    let mut numbers = Vec::new();
    for prefix in PREFIXES {
        for length in 4..=12 {
            for _ in 0..60 {
                numbers.push(format!("{prefix}{}", digits(&mut seed, length)));
            }
        }
    }
    numbers
}

fn digits(seed: &mut u64, count: usize) -> String {
    (0..count)
        .map(|_| {
            *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            char::from(b'0' + ((*seed >> 33) % 10) as u8)
        })
        .collect()
}
