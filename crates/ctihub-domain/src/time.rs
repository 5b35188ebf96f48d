//! Time is stored as UTC milliseconds and parsed leniently at the edge, because PBXs and
//! partner integrations send `+01`, `+0000` and space-separated forms.

use jiff::{Timestamp, civil::DateTime, tz::TimeZone};

/// Milliseconds since the Unix epoch, UTC. Orders and indexes the same on SQLite and PostgreSQL.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    Timestamp::now().as_millisecond()
}

/// Parse an ISO 8601 / RFC 3339 timestamp the way partner integrations actually write them:
/// `2022-01-27T15:31:40+01`, `…Z`, `+01:00`, `2013-06-24 15:31:44 +0000`. A value without an
/// offset is read in `zone`.
pub fn parse_timestamp(input: &str, zone: &TimeZone) -> Option<Timestamp> {
    let input = input.trim();
    if input.is_empty() {
        return None;
    }
    if let Ok(ts) = input.parse::<Timestamp>() {
        return Some(ts);
    }
    for format in ["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S %z"] {
        if let Ok(ts) = Timestamp::strptime(format, input) {
            return Some(ts);
        }
    }
    let civil: DateTime = input.parse().ok()?;
    civil.to_zoned(zone.clone()).ok().map(|z| z.timestamp())
}

/// Render milliseconds the way every API answers: `2022-01-27T14:31:40Z`.
pub fn format_millis(millis: Millis) -> String {
    Timestamp::from_millisecond(millis).map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

/// With milliseconds, as Rails renders timestamps (`2022-01-27T14:31:40.000Z`).
pub fn format_millis_precise(millis: Millis) -> String {
    Timestamp::from_millisecond(millis).map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> String {
        format_millis(parse_timestamp(s, &TimeZone::UTC).unwrap().as_millisecond())
    }

    #[test]
    fn lenient_offsets_are_read() {
        assert_eq!(parsed("2022-01-27T15:31:40+01"), "2022-01-27T14:31:40Z");
        assert_eq!(parsed("2022-01-27T15:31:40+01:00"), "2022-01-27T14:31:40Z");
        assert_eq!(parsed("2022-01-27T15:31:40Z"), "2022-01-27T15:31:40Z");
        assert_eq!(parsed("2013-06-24 15:31:44 +0000"), "2013-06-24T15:31:44Z");
        assert_eq!(parsed("2022-01-27 15:31:40"), "2022-01-27T15:31:40Z");
    }

    #[test]
    fn precise_format_keeps_milliseconds() {
        assert_eq!(format_millis_precise(1_643_293_900_123), "2022-01-27T14:31:40.123Z");
        assert_eq!(format_millis_precise(1_643_293_900_000), "2022-01-27T14:31:40.000Z");
    }

    #[test]
    fn garbage_is_none() {
        assert!(parse_timestamp("yesterday", &TimeZone::UTC).is_none());
        assert!(parse_timestamp("", &TimeZone::UTC).is_none());
    }
}
