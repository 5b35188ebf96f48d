//! Inbound routing rules: which group, agent, priority and tags a call's ticket gets, and whether
//! the call came in outside its line's business hours.
//!
//! Pure: the caller gathers the facts (dialed number, start time, the caller's tags and their
//! organization's tags) and gets a [`Decision`]. Evaluation is documented in `docs/routing.md`:
//! the line is found first (first line whose number matches), then the rules are tried in order
//! and the first whose every condition holds decides; no rule matching is a decision too.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cti::wildcard_match;
use crate::phone::PhoneNormalizer;
use crate::ticket::{NewTicket, Priority};
use crate::time::Millis;
use crate::{DomainError, Id, normalize_tags};

/// The settings document the rules are stored under.
pub const SETTING: &str = "routing";

/// Everything an admin configures for routing: the lines with their business hours, and the
/// ordered rule list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub lines: Vec<Line>,
    pub rules: Vec<Rule>,
}

/// A number callers dial, with the hours it is staffed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// The dialed number, in any spelling, or a pattern with `*` (one or more characters).
    pub number: String,
    #[serde(default)]
    pub name: String,
    /// An IANA time zone (`Europe/Berlin`); the hours are read in it.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// When the line is staffed. None: always.
    #[serde(default)]
    pub hours: Vec<Hours>,
}

fn utc() -> String {
    "UTC".into()
}

/// Opening hours on some weekdays: from `open` (included) to `close` (excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub days: Vec<Day>,
    pub open: ClockTime,
    pub close: ClockTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn of(weekday: Weekday) -> Day {
        match weekday {
            Weekday::Monday => Day::Mon,
            Weekday::Tuesday => Day::Tue,
            Weekday::Wednesday => Day::Wed,
            Weekday::Thursday => Day::Thu,
            Weekday::Friday => Day::Fri,
            Weekday::Saturday => Day::Sat,
            Weekday::Sunday => Day::Sun,
        }
    }

    pub fn parse(s: &str) -> Result<Day, DomainError> {
        let all = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun];
        let wanted = s.trim().to_ascii_lowercase();
        all.into_iter()
            .find(|d| d.as_str() == wanted || wanted.len() > 3 && d.full_name().starts_with(&wanted))
            .ok_or_else(|| DomainError::new("days", format!("`{s}` is not one of mon, tue, wed, thu, fri, sat, sun")))
    }

    pub fn as_str(&self) -> &'static str {
        &self.full_name()[..3]
    }

    fn full_name(&self) -> &'static str {
        match self {
            Day::Mon => "monday",
            Day::Tue => "tuesday",
            Day::Wed => "wednesday",
            Day::Thu => "thursday",
            Day::Fri => "friday",
            Day::Sat => "saturday",
            Day::Sun => "sunday",
        }
    }
}

/// A time of day as `HH:MM`, `00:00` to `24:00` (the end of the day, for closing times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(u16);

impl ClockTime {
    pub fn parse(s: &str) -> Result<ClockTime, DomainError> {
        let bad = || DomainError::new("hours", format!("`{s}` is not a time of day such as 09:00 or 17:30"));
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(ClockTime(h * 60 + m))
    }

    pub fn minutes(&self) -> u16 {
        self.0
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ClockTime::parse(&text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// One rule: when every condition given holds, its actions decide.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub when: Conditions,
    pub then: Actions,
}

/// Conditions left out match every call; a rule without any is a catch-all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    /// The dialed number (DNIS), in any spelling, or a pattern with `*`.
    pub dialed: Option<String>,
    /// A tag of the identified caller.
    pub user_tag: Option<String>,
    /// A tag of the identified caller's organization.
    pub organization_tag: Option<String>,
    /// Inside or outside the dialed line's business hours.
    pub hours: Option<HoursCondition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoursCondition {
    Inside,
    Outside,
}

/// What a matching rule sets on the ticket. Ticket values the request already set are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Actions {
    pub group_id: Option<Id>,
    /// The agent the ticket is assigned to.
    pub assignee_id: Option<Id>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
}

impl Actions {
    fn is_empty(&self) -> bool {
        self.group_id.is_none() && self.assignee_id.is_none() && self.priority.is_none() && self.tags.is_empty()
    }
}

/// What routing needs to know about a call.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// The number the caller dialed: the DNIS, else the called line.
    pub dialed: &'a str,
    pub started_at: Millis,
    /// The identified caller's tags; empty when nobody was identified.
    pub user_tags: &'a [String],
    pub organization_tags: &'a [String],
}

/// The outcome of routing one call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Decision {
    /// The position of the rule that matched (0-based) and its name; `None` when none did.
    pub rule_index: Option<usize>,
    pub rule_name: Option<String>,
    /// The line the dialed number belongs to, by its name (or its number when unnamed).
    pub line: Option<String>,
    /// `None` when the dialed number belongs to no configured line.
    pub outside_business_hours: Option<bool>,
    pub group_id: Option<Id>,
    pub assignee_id: Option<Id>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
}

/// Does `dialed` match a line or rule `pattern`? Without `*`: the same text or the same
/// normalized number (`+49 30 5557 1600` is `030 55571600` in DE). With `*`: the pattern is
/// tried on the text as sent, its E.164 form and that form without the `+`, as the outbound
/// routing table does.
pub fn number_matches(pattern: &str, dialed: &str, phones: &PhoneNormalizer) -> bool {
    let (pattern, dialed) = (pattern.trim(), dialed.trim());
    if pattern.is_empty() || dialed.is_empty() {
        return false;
    }
    let key = phones.normalize(dialed);
    if pattern.contains('*') {
        let mut candidates = vec![dialed.to_owned()];
        if let Some(k) = key.key().filter(|k| k.is_e164()) {
            candidates.push(k.as_str().to_owned());
            candidates.push(k.as_str().trim_start_matches('+').to_owned());
        }
        return candidates.iter().any(|c| wildcard_match(pattern, c));
    }
    pattern == dialed
        || key.key().is_some_and(|k| phones.normalize(pattern).key().is_some_and(|p| p.as_str() == k.as_str()))
}

impl Line {
    /// Is `at` outside this line's hours? A line without hours is always open.
    pub fn outside_hours(&self, at: Millis) -> bool {
        if self.hours.is_empty() {
            return false;
        }
        // Validated on save; a zone that vanished from the system's database reads as UTC.
        let zone = TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC);
        let Ok(ts) = Timestamp::from_millisecond(at) else { return false };
        let local = ts.to_zoned(zone);
        let (day, minute) = (Day::of(local.weekday()), local.hour() as u16 * 60 + local.minute() as u16);
        !self.hours.iter().any(|h| h.days.contains(&day) && h.open.0 <= minute && minute < h.close.0)
    }

    fn label(&self) -> String {
        if self.name.trim().is_empty() { self.number.trim().to_owned() } else { self.name.trim().to_owned() }
    }
}

impl Conditions {
    fn hold(&self, facts: &CallFacts, outside: Option<bool>, phones: &PhoneNormalizer) -> bool {
        let has_tag = |tags: &[String], wanted: &str| tags.iter().any(|t| t.eq_ignore_ascii_case(wanted.trim()));
        self.dialed.as_deref().is_none_or(|p| number_matches(p, facts.dialed, phones))
            && self.user_tag.as_deref().is_none_or(|t| has_tag(facts.user_tags, t))
            && self.organization_tag.as_deref().is_none_or(|t| has_tag(facts.organization_tags, t))
            // A call on no configured line is neither inside nor outside known hours.
            && self.hours.is_none_or(|h| match outside {
                Some(outside) => outside == (h == HoursCondition::Outside),
                None => false,
            })
    }
}

impl Decision {
    /// Fill what the ticket's request left open: a group, assignee or priority the request set
    /// is kept (an agent who files their own call keeps it); tags are added.
    pub fn fill_ticket(&self, ticket: &mut NewTicket) {
        ticket.group_id = ticket.group_id.or(self.group_id);
        ticket.assignee_id = ticket.assignee_id.or(self.assignee_id);
        ticket.priority = ticket.priority.or(self.priority);
        ticket.tags.extend(self.tags.iter().cloned());
    }
}

impl RoutingConfig {
    /// The first line whose number matches the dialed number.
    pub fn line_for(&self, dialed: &str, phones: &PhoneNormalizer) -> Option<&Line> {
        self.lines.iter().find(|line| number_matches(&line.number, dialed, phones))
    }

    /// Route one call: find its line and its hours, then the first rule whose every condition
    /// holds.
    pub fn decide(&self, facts: &CallFacts, phones: &PhoneNormalizer) -> Decision {
        let line = self.line_for(facts.dialed, phones);
        let outside = line.map(|l| l.outside_hours(facts.started_at));
        let mut decision =
            Decision { line: line.map(Line::label), outside_business_hours: outside, ..Default::default() };
        if let Some((index, rule)) = self.rules.iter().enumerate().find(|(_, r)| r.when.hold(facts, outside, phones)) {
            decision.rule_index = Some(index);
            decision.rule_name = Some(rule.name.clone()).filter(|n| !n.trim().is_empty());
            decision.group_id = rule.then.group_id;
            decision.assignee_id = rule.then.assignee_id;
            decision.priority = rule.then.priority;
            decision.tags = normalize_tags(&rule.then.tags);
        }
        decision
    }

    /// Reject configurations that cannot mean what the admin wants, naming the entry. Whether
    /// the groups and agents exist is the store's to say.
    pub fn validate(&self) -> Result<(), DomainError> {
        for (i, line) in self.lines.iter().enumerate() {
            if line.number.trim().is_empty() {
                return Err(DomainError::new(format!("lines[{i}].number"), "is required"));
            }
            if TimeZone::get(line.time_zone.trim()).is_err() {
                return Err(DomainError::new(
                    format!("lines[{i}].time_zone"),
                    format!("`{}` is not a time zone such as Europe/Berlin or UTC", line.time_zone),
                ));
            }
            for (j, hours) in line.hours.iter().enumerate() {
                if hours.days.is_empty() {
                    return Err(DomainError::new(format!("lines[{i}].hours[{j}].days"), "name at least one day"));
                }
                if hours.open >= hours.close {
                    return Err(DomainError::new(
                        format!("lines[{i}].hours[{j}]"),
                        format!("opens at {} but closes at {}: the close must be later", hours.open, hours.close),
                    ));
                }
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let when = &rule.when;
            for (field, value) in
                [("dialed", &when.dialed), ("user_tag", &when.user_tag), ("organization_tag", &when.organization_tag)]
            {
                if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                    return Err(DomainError::new(
                        format!("rules[{i}].when.{field}"),
                        "is empty; leave it out to match every call",
                    ));
                }
            }
            if rule.then.is_empty() {
                return Err(DomainError::new(
                    format!("rules[{i}].then"),
                    "does nothing: set a group_id, assignee_id, priority or tags",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::Region;

    fn de() -> PhoneNormalizer {
        PhoneNormalizer::new(Region::parse("DE").unwrap())
    }

    /// A time on Monday 2026-11-23, UTC.
    fn monday_utc(hour: i8, minute: i8) -> Millis {
        jiff::civil::date(2026, 11, 23)
            .at(hour, minute, 0, 0)
            .to_zoned(TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn facts<'a>(dialed: &'a str, at: Millis, user: &'a [String], org: &'a [String]) -> CallFacts<'a> {
        CallFacts { dialed, started_at: at, user_tags: user, organization_tags: org }
    }

    fn rule(name: &str, when: Conditions, group: Id) -> Rule {
        Rule { name: name.into(), when, then: Actions { group_id: Some(group), ..Default::default() } }
    }

    fn berlin_line() -> Line {
        Line {
            number: "+49 30 5557 1600".into(),
            name: "Support DE".into(),
            time_zone: "Europe/Berlin".into(),
            hours: vec![Hours {
                days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
                open: ClockTime::parse("09:00").unwrap(),
                close: ClockTime::parse("17:00").unwrap(),
            }],
        }
    }

    #[test]
    fn the_test_clock_starts_on_a_monday() {
        let ts = Timestamp::from_millisecond(monday_utc(0, 0)).unwrap();
        assert_eq!(ts.to_zoned(TimeZone::UTC).weekday(), Weekday::Monday);
    }

    #[test]
    fn numbers_match_by_text_by_normalized_key_or_by_pattern() {
        let n = de();
        assert!(number_matches("+49 30 5557 1600", "030 55571600", &n), "national spelling");
        assert!(number_matches("0800-12345", "0800-12345", &n), "same text, not a valid number");
        assert!(!number_matches("+49 30 5557 1600", "+49 30 5557 1601", &n));
        assert!(number_matches("4930*", "030 55571600", &n), "pattern on the E.164 form without +");
        assert!(number_matches("+4930*", "+49 30 5557 1600", &n));
        assert!(!number_matches("4940*", "030 55571600", &n));
        assert!(!number_matches("*", "", &n), "no dialed number matches nothing");
        assert!(!number_matches("", "030 55571600", &n));
    }

    #[test]
    fn business_hours_are_read_in_the_lines_zone() {
        let line = berlin_line();
        // Berlin is UTC+1 in November: 08:30 UTC is 09:30 there.
        assert!(!line.outside_hours(monday_utc(8, 30)));
        assert!(line.outside_hours(monday_utc(7, 59)), "08:59 in Berlin");
        assert!(!line.outside_hours(monday_utc(8, 0)), "opening minute is inside");
        assert!(line.outside_hours(monday_utc(16, 0)), "17:00 in Berlin: closed");
        assert!(!line.outside_hours(monday_utc(15, 59)));
        assert!(line.outside_hours(monday_utc(8, 30) + 5 * 86_400_000), "Saturday");
        let always = Line { hours: Vec::new(), ..berlin_line() };
        assert!(!always.outside_hours(monday_utc(3, 0)), "a line without hours is always open");
    }

    #[test]
    fn the_first_matching_rule_decides_and_conditions_combine() {
        let vip: Vec<String> = vec!["vip".into()];
        let widgets: Vec<String> = vec!["widgets".into()];
        let none: Vec<String> = Vec::new();
        let config = RoutingConfig {
            lines: vec![berlin_line()],
            rules: vec![
                rule("after hours", Conditions { hours: Some(HoursCondition::Outside), ..Default::default() }, 1),
                Rule {
                    name: "widgets on mobile line".into(),
                    when: Conditions {
                        dialed: Some("+1 311 555 0100".into()),
                        organization_tag: Some("Widgets".into()),
                        ..Default::default()
                    },
                    then: Actions {
                        group_id: Some(2),
                        assignee_id: Some(77),
                        priority: None,
                        tags: vec!["Mobile App".into()],
                    },
                },
                Rule {
                    name: "vip".into(),
                    when: Conditions { user_tag: Some("VIP".into()), ..Default::default() },
                    then: Actions { priority: Some(Priority::High), tags: vec!["vip".into()], ..Default::default() },
                },
                rule("support line", Conditions { dialed: Some("+4930*".into()), ..Default::default() }, 3),
            ],
        };
        let n = de();
        let open = monday_utc(10, 0);

        // Inside hours on the Berlin line, nobody identified: the DNIS rule.
        let d = config.decide(&facts("030 55571600", open, &none, &none), &n);
        assert_eq!((d.rule_index, d.group_id, d.outside_business_hours), (Some(3), Some(3), Some(false)));
        assert_eq!((d.line.as_deref(), d.rule_name.as_deref()), (Some("Support DE"), Some("support line")));

        // Outside hours: the first rule wins over the DNIS rule below it.
        let d = config.decide(&facts("030 55571600", monday_utc(20, 0), &vip, &none), &n);
        assert_eq!((d.rule_index, d.group_id, d.outside_business_hours), (Some(0), Some(1), Some(true)));
        assert_eq!(d.priority, None, "only the first match's actions apply");

        // Organization tag and dialed number must both hold.
        let d = config.decide(&facts("+13115550100", open, &none, &widgets), &n);
        assert_eq!((d.rule_index, d.group_id, d.assignee_id), (Some(1), Some(2), Some(77)));
        assert_eq!(d.tags, vec!["mobile", "app"], "tags are normalized");
        assert_eq!((d.line, d.outside_business_hours), (None, None), "not a configured line");
        let d = config.decide(&facts("+13115550199", open, &none, &widgets), &n);
        assert_eq!(d.rule_index, None, "the organization alone is not enough");

        // A user tag, case-insensitively; a VIP on the Berlin line matches the VIP rule first.
        let d = config.decide(&facts("+13115550199", open, &vip, &none), &n);
        assert_eq!((d.rule_index, d.priority, d.group_id), (Some(2), Some(Priority::High), None));
        let d = config.decide(&facts("030 55571600", open, &vip, &none), &n);
        assert_eq!(d.rule_index, Some(2));

        // An hours condition never matches a call on no configured line.
        let d = config.decide(&facts("+13115550199", monday_utc(20, 0), &none, &none), &n);
        assert_eq!(d, Decision::default());
    }

    #[test]
    fn an_inside_hours_rule_and_a_catch_all() {
        let config = RoutingConfig {
            lines: vec![berlin_line()],
            rules: vec![
                rule("staffed", Conditions { hours: Some(HoursCondition::Inside), ..Default::default() }, 5),
                rule("everything else", Conditions::default(), 6),
            ],
        };
        let n = de();
        let d = config.decide(&facts("030 55571600", monday_utc(10, 0), &[], &[]), &n);
        assert_eq!(d.group_id, Some(5));
        let d = config.decide(&facts("030 55571600", monday_utc(22, 0), &[], &[]), &n);
        assert_eq!(d.group_id, Some(6));
        let d = config.decide(&facts("anonymous", monday_utc(10, 0), &[], &[]), &n);
        assert_eq!((d.group_id, d.rule_index), (Some(6), Some(1)));
    }

    #[test]
    fn a_decision_fills_only_what_the_ticket_left_open() {
        let decision = Decision {
            group_id: Some(1),
            assignee_id: Some(2),
            priority: Some(Priority::High),
            tags: vec!["vip".into()],
            ..Default::default()
        };
        let mut ticket = NewTicket { assignee_id: Some(9), tags: vec!["phone".into()], ..Default::default() };
        decision.fill_ticket(&mut ticket);
        assert_eq!((ticket.group_id, ticket.assignee_id, ticket.priority), (Some(1), Some(9), Some(Priority::High)));
        assert_eq!(ticket.tags, vec!["phone", "vip"]);
    }

    #[test]
    fn validation_names_the_entry() {
        let mut config = RoutingConfig { lines: vec![berlin_line()], rules: vec![rule("x", Conditions::default(), 1)] };
        assert!(config.validate().is_ok());

        config.lines[0].time_zone = "Mars/Olympus".into();
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "lines[0].time_zone");

        config.lines[0].time_zone = "UTC".into();
        config.lines[0].hours[0].close = ClockTime::parse("08:00").unwrap();
        assert!(config.validate().unwrap_err().message.contains("opens at 09:00 but closes at 08:00"));

        config.lines[0].hours.clear();
        config.rules.push(Rule { name: "idle".into(), ..Default::default() });
        assert_eq!(config.validate().unwrap_err().field, "rules[1].then");

        config.rules[1] = rule("blank", Conditions { user_tag: Some(" ".into()), ..Default::default() }, 1);
        assert_eq!(config.validate().unwrap_err().field, "rules[1].when.user_tag");
    }

    #[test]
    fn the_stored_form_reads_back() {
        let text = r#"{"lines":[{"number":"+493055571600","time_zone":"Europe/Berlin",
            "hours":[{"days":["mon","fri"],"open":"09:00","close":"24:00"}]}],
            "rules":[{"when":{"hours":"outside"},"then":{"priority":"urgent","tags":["night"]}}]}"#;
        let config: RoutingConfig = serde_json::from_str(text).unwrap();
        assert_eq!(config.lines[0].hours[0].close.minutes(), 1440);
        assert_eq!(config.rules[0].then.priority, Some(Priority::Urgent));
        let again: RoutingConfig = serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(again, config);
        assert!(serde_json::from_str::<RoutingConfig>(r#"{"rules":[{"when":{"dnis":"1"}}]}"#).is_err());
        assert!(ClockTime::parse("24:30").is_err() && ClockTime::parse("9").is_err());
        assert_eq!(Day::parse("Tuesday").unwrap(), Day::Tue);
    }
}
