//! Call reporting: the figures of the reports page, aggregated in one pass over narrow call
//! rows so a year of calls never sits in memory. Percentiles are exact but need no list of
//! values: each metric keeps a count per whole second seen, which is bounded by how long calls
//! last, not by how many there are.
//!
//! Definitions (also in `docs/reports.md`):
//! - **Outcome** of a call, first that applies: *voicemail* (the call's `voicemail` flag, or
//!   status `pending_voicemail` / `abandoned_in_voicemail`); *answered* (status `completed`, or
//!   answered with no status that says otherwise); *abandoned* (the caller gave up:
//!   `abandoned_in_queue`, `abandoned_in_ivr`, `abandoned_on_hold`, or `dropped_by_caller` before
//!   an answer);
//!   *in progress* (not ended, no status); *missed* (everything else: `missed`, `declined`,
//!   `dropped`, `dropped_by_agent`, or ended unanswered without a status).
//! - **Time to answer**: `time_to_answer`, else answered minus started, for answered calls.
//!   **Wait** and **hold**: the reported values. **Talk**: `talk_time`, else ended minus answered.
//!   Calls without a value are left out of that metric.
//! - **Median** and **p90** are nearest-rank percentiles of whole seconds.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::call::{CallState, CompletionStatus, Direction};
use crate::time::Millis;
use crate::{DomainError, Id};

/// What the report reads of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallMetrics {
    pub direction: Direction,
    pub state: CallState,
    pub completion_status: Option<CompletionStatus>,
    pub voicemail: bool,
    pub started_at: Millis,
    pub answered_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub agent_id: Option<Id>,
    pub queue_name: Option<String>,
    /// The line the call came in on (or went out from): see [`CallMetrics::line`].
    pub from_line: String,
    pub to_line: String,
    pub dnis: Option<String>,
    pub time_to_answer: Option<i64>,
    pub wait_time: Option<i64>,
    pub talk_time: Option<i64>,
    pub hold_time: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answered,
    Missed,
    Abandoned,
    Voicemail,
    InProgress,
}

impl CallMetrics {
    pub fn outcome(&self) -> Outcome {
        use CompletionStatus::*;
        let status = self.completion_status;
        if self.voicemail || matches!(status, Some(PendingVoicemail | AbandonedInVoicemail)) {
            return Outcome::Voicemail;
        }
        // The statuses the TPE dialect reads as "nobody answered" (zendesk::tpe); a caller who
        // hangs up after being answered (`dropped_by_caller`) was answered.
        let unanswered =
            matches!(status, Some(AbandonedInQueue | AbandonedInIvr | AbandonedOnHold | Missed | Declined));
        if status == Some(Completed) || (self.answered_at.is_some() && !unanswered) {
            return Outcome::Answered;
        }
        match status {
            Some(AbandonedInQueue | AbandonedInIvr | AbandonedOnHold | DroppedByCaller) => Outcome::Abandoned,
            None if self.state != CallState::Ended => Outcome::InProgress,
            _ => Outcome::Missed,
        }
    }

    /// Our line: the DNIS or called number of an incoming call, the calling line of an
    /// outbound one (as routing reads it).
    pub fn line(&self) -> &str {
        match self.direction {
            Direction::Outbound => &self.from_line,
            _ => self.dnis.as_deref().filter(|d| !d.trim().is_empty()).unwrap_or(&self.to_line),
        }
    }

    fn time_to_answer(&self) -> Option<i64> {
        if self.outcome() != Outcome::Answered {
            return None;
        }
        self.time_to_answer.or_else(|| self.answered_at.map(|a| (a - self.started_at).max(0) / 1000))
    }

    fn talk(&self) -> Option<i64> {
        self.talk_time.or_else(|| match (self.answered_at, self.ended_at) {
            (Some(a), Some(e)) => Some((e - a).max(0) / 1000),
            _ => None,
        })
    }
}

/// Calls per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    pub answered: u64,
    pub missed: u64,
    pub abandoned: u64,
    pub voicemail: u64,
    pub in_progress: u64,
}

impl OutcomeCounts {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Answered => self.answered += 1,
            Outcome::Missed => self.missed += 1,
            Outcome::Abandoned => self.abandoned += 1,
            Outcome::Voicemail => self.voicemail += 1,
            Outcome::InProgress => self.in_progress += 1,
        }
    }
}

/// Median and p90 of one metric, in seconds; `None` when no call had a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub calls: u64,
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

/// How many calls had each value of one metric (whole seconds).
#[derive(Debug, Clone, Default)]
pub struct Distribution {
    counts: BTreeMap<i64, u64>,
    total: u64,
}

impl Distribution {
    pub fn add(&mut self, value: Option<i64>) {
        if let Some(value) = value {
            *self.counts.entry(value).or_default() += 1;
            self.total += 1;
        }
    }

    /// Nearest rank: the smallest value with at least `p` % of the values at or below it.
    pub fn percentile(&self, p: u32) -> Option<i64> {
        if self.total == 0 {
            return None;
        }
        let rank = (self.total * u64::from(p)).div_ceil(100).clamp(1, self.total);
        let mut seen = 0;
        for (value, count) in &self.counts {
            seen += count;
            if seen >= rank {
                return Some(*value);
            }
        }
        self.counts.keys().next_back().copied()
    }

    fn spread(&self) -> Spread {
        Spread { calls: self.total, median: self.percentile(50), p90: self.percentile(90) }
    }
}

/// A date range in a time zone: `from` and `to` both included.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRange {
    pub from: Date,
    pub to: Date,
    pub tz: TimeZone,
}

/// The longest range the reports page draws a bar per day for.
pub const MAX_REPORT_DAYS: i32 = 366;

impl ReportRange {
    pub fn new(from: Date, to: Date, tz: TimeZone) -> Result<Self, DomainError> {
        if to < from {
            return Err(DomainError::new("to", format!("{to} is before {from}")));
        }
        let range = ReportRange { from, to, tz };
        if range.days().len() > MAX_REPORT_DAYS as usize {
            return Err(DomainError::new("to", format!("a report covers at most {MAX_REPORT_DAYS} days")));
        }
        Ok(range)
    }

    /// `[start of from, start of the day after to)` as UTC milliseconds.
    pub fn bounds(&self) -> (Millis, Millis) {
        let start = |d: Date| {
            self.tz
                .to_ambiguous_zoned(d.to_datetime(jiff::civil::Time::midnight()))
                .compatible()
                .map_or_else(|_| Timestamp::MAX.as_millisecond(), |z| z.timestamp().as_millisecond())
        };
        let after = self.to.checked_add(1.day()).unwrap_or(self.to);
        (start(self.from), start(after))
    }

    pub fn days(&self) -> Vec<Date> {
        let mut days = Vec::new();
        let mut day = self.from;
        while day <= self.to && days.len() <= MAX_REPORT_DAYS as usize {
            days.push(day);
            match day.checked_add(1.day()) {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        days
    }
}

/// A slice of the calls (one agent, queue or line) with its outcomes and main times.
#[derive(Debug, Clone, Default)]
struct Slice {
    calls: u64,
    outcomes: OutcomeCounts,
    time_to_answer: Distribution,
    talk: Distribution,
}

impl Slice {
    fn add(&mut self, call: &CallMetrics, outcome: Outcome) {
        self.calls += 1;
        self.outcomes.add(outcome);
        self.time_to_answer.add(call.time_to_answer());
        self.talk.add(call.talk());
    }

    fn finish(self) -> SliceFigures {
        SliceFigures {
            calls: self.calls,
            outcomes: self.outcomes,
            time_to_answer: self.time_to_answer.spread(),
            talk: self.talk.spread(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliceFigures {
    pub calls: u64,
    pub outcomes: OutcomeCounts,
    pub time_to_answer: Spread,
    pub talk: Spread,
}

/// Accumulates calls one at a time; [`CallReport::finish`] computes the figures.
#[derive(Debug)]
pub struct CallReport {
    range: ReportRange,
    days: Vec<Date>,
    total: u64,
    by_hour: [u64; 24],
    by_day: Vec<u64>,
    outcomes: OutcomeCounts,
    time_to_answer: Distribution,
    wait: Distribution,
    talk: Distribution,
    hold: Distribution,
    per_agent: BTreeMap<Option<Id>, Slice>,
    per_queue: BTreeMap<String, Slice>,
    per_line: BTreeMap<String, Slice>,
}

/// The figures of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportFigures {
    pub total: u64,
    /// Calls started in each hour of the day (0–23) in the report's time zone.
    pub by_hour: [u64; 24],
    /// Calls started on each day of the range.
    pub by_day: Vec<(Date, u64)>,
    pub outcomes: OutcomeCounts,
    pub time_to_answer: Spread,
    pub wait: Spread,
    pub talk: Spread,
    pub hold: Spread,
    /// `None`: calls no agent took.
    pub per_agent: Vec<(Option<Id>, SliceFigures)>,
    /// `""`: calls without a queue.
    pub per_queue: Vec<(String, SliceFigures)>,
    pub per_line: Vec<(String, SliceFigures)>,
}

impl CallReport {
    pub fn new(range: ReportRange) -> Self {
        let days = range.days();
        CallReport {
            by_day: vec![0; days.len()],
            days,
            range,
            total: 0,
            by_hour: [0; 24],
            outcomes: OutcomeCounts::default(),
            time_to_answer: Distribution::default(),
            wait: Distribution::default(),
            talk: Distribution::default(),
            hold: Distribution::default(),
            per_agent: BTreeMap::new(),
            per_queue: BTreeMap::new(),
            per_line: BTreeMap::new(),
        }
    }

    /// Count one call. Calls outside the range are ignored.
    pub fn add(&mut self, call: &CallMetrics) {
        let Ok(ts) = Timestamp::from_millisecond(call.started_at) else { return };
        let local = ts.to_zoned(self.range.tz.clone());
        let Ok(day_index) = self.days.binary_search(&local.date()) else { return };
        self.total += 1;
        self.by_day[day_index] += 1;
        self.by_hour[local.hour() as usize] += 1;
        let outcome = call.outcome();
        self.outcomes.add(outcome);
        self.time_to_answer.add(call.time_to_answer());
        self.wait.add(call.wait_time);
        self.talk.add(call.talk());
        self.hold.add(call.hold_time);
        self.per_agent.entry(call.agent_id).or_default().add(call, outcome);
        let queue = call.queue_name.as_deref().unwrap_or("").trim().to_owned();
        self.per_queue.entry(queue).or_default().add(call, outcome);
        self.per_line.entry(call.line().trim().to_owned()).or_default().add(call, outcome);
    }

    pub fn finish(self) -> ReportFigures {
        // Busiest first, then by key, so the tables lead with what matters.
        fn ranked<K: Clone>(slices: BTreeMap<K, Slice>) -> Vec<(K, SliceFigures)> {
            let mut rows: Vec<(K, SliceFigures)> = slices.into_iter().map(|(k, s)| (k, s.finish())).collect();
            rows.sort_by_key(|(_, s)| std::cmp::Reverse(s.calls));
            rows
        }
        ReportFigures {
            total: self.total,
            by_hour: self.by_hour,
            by_day: self.days.into_iter().zip(self.by_day).collect(),
            outcomes: self.outcomes,
            time_to_answer: self.time_to_answer.spread(),
            wait: self.wait.spread(),
            talk: self.talk.spread(),
            hold: self.hold.spread(),
            per_agent: ranked(self.per_agent),
            per_queue: ranked(self.per_queue),
            per_line: ranked(self.per_line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn call(started_at: Millis) -> CallMetrics {
        CallMetrics {
            direction: Direction::Inbound,
            state: CallState::Ended,
            completion_status: None,
            voicemail: false,
            started_at,
            answered_at: None,
            ended_at: Some(started_at + 60_000),
            agent_id: None,
            queue_name: None,
            from_line: "+15135557611".into(),
            to_line: "+18005550100".into(),
            dnis: None,
            time_to_answer: None,
            wait_time: None,
            talk_time: None,
            hold_time: None,
        }
    }

    fn utc_range(from: Date, to: Date) -> ReportRange {
        ReportRange::new(from, to, TimeZone::UTC).unwrap()
    }

    fn at(d: Date, hour: i8) -> Millis {
        d.at(hour, 0, 0, 0).to_zoned(TimeZone::UTC).unwrap().timestamp().as_millisecond()
    }

    #[test]
    fn outcomes_follow_the_documented_order() {
        use CompletionStatus::*;
        let base = call(0);
        let with = |status: Option<CompletionStatus>, answered: bool, voicemail: bool, state: CallState| {
            let mut c = base.clone();
            c.completion_status = status;
            c.answered_at = answered.then_some(5_000);
            c.voicemail = voicemail;
            c.state = state;
            c.outcome()
        };
        let ended = CallState::Ended;
        assert_eq!(with(Some(Completed), false, false, ended), Outcome::Answered);
        assert_eq!(with(None, true, false, ended), Outcome::Answered, "answered, no status");
        assert_eq!(with(None, true, false, CallState::InProgress), Outcome::Answered, "talking now");
        assert_eq!(with(Some(Completed), true, true, ended), Outcome::Voicemail, "voicemail flag first");
        assert_eq!(with(Some(PendingVoicemail), false, false, ended), Outcome::Voicemail);
        assert_eq!(with(Some(AbandonedInVoicemail), false, false, ended), Outcome::Voicemail);
        for s in [AbandonedInQueue, AbandonedInIvr, AbandonedOnHold, DroppedByCaller] {
            assert_eq!(with(Some(s), false, false, ended), Outcome::Abandoned, "{s:?}");
        }
        assert_eq!(with(Some(AbandonedOnHold), true, false, ended), Outcome::Abandoned, "status beats answered_at");
        for s in [Missed, Declined, Dropped, DroppedByAgent] {
            assert_eq!(with(Some(s), false, false, ended), Outcome::Missed, "{s:?}");
        }
        assert_eq!(with(Some(Dropped), true, false, ended), Outcome::Answered, "dropped after answer");
        assert_eq!(with(Some(DroppedByCaller), true, false, ended), Outcome::Answered, "hung up after answer");
        assert_eq!(with(None, false, false, ended), Outcome::Missed);
        assert_eq!(with(None, false, false, CallState::Ringing), Outcome::InProgress);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let of = |values: &[i64]| {
            let mut d = Distribution::default();
            values.iter().for_each(|v| d.add(Some(*v)));
            d
        };
        assert_eq!(of(&[]).percentile(50), None);
        assert_eq!(of(&[7]).percentile(90), Some(7));
        let ten: Vec<i64> = (1..=10).rev().collect();
        assert_eq!((of(&ten).percentile(50), of(&ten).percentile(90)), (Some(5), Some(9)));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!((of(&eleven).percentile(50), of(&eleven).percentile(90)), (Some(6), Some(10)));
        // Repeated values count once each: 3 3 3 3 9 → median 3, p90 9.
        let repeated = of(&[3, 9, 3, 3, 3]);
        assert_eq!(
            (repeated.percentile(50), repeated.percentile(90), repeated.percentile(100)),
            (Some(3), Some(9), Some(9))
        );
        let mut skipped = Distribution::default();
        skipped.add(None);
        assert_eq!(skipped.spread(), Spread { calls: 0, median: None, p90: None });
    }

    #[test]
    fn ranges_include_both_days_in_their_zone() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let range = ReportRange::new(date(2026, 3, 1), date(2026, 3, 2), berlin).unwrap();
        let (start, end) = range.bounds();
        assert_eq!(start, at(date(2026, 2, 28), 23));
        assert_eq!(end, at(date(2026, 3, 2), 23));
        assert_eq!(range.days(), vec![date(2026, 3, 1), date(2026, 3, 2)]);
        assert!(ReportRange::new(date(2026, 3, 2), date(2026, 3, 1), TimeZone::UTC).is_err());
        assert!(ReportRange::new(date(2025, 1, 1), date(2026, 1, 1), TimeZone::UTC).is_ok(), "366 days");
        assert!(ReportRange::new(date(2025, 1, 1), date(2026, 1, 2), TimeZone::UTC).is_err());
    }

    #[test]
    fn calls_are_counted_by_hour_day_outcome_and_slice() {
        let (d1, d2) = (date(2026, 5, 4), date(2026, 5, 5));
        let mut report = CallReport::new(utc_range(d1, d2));
        let mut answered = call(at(d1, 9));
        answered.answered_at = Some(answered.started_at + 12_000);
        answered.agent_id = Some(7);
        answered.queue_name = Some("support".into());
        answered.hold_time = Some(30);
        answered.wait_time = Some(12);
        report.add(&answered); // time to answer 12 s derived, talk 48 s derived
        let mut reported = call(at(d1, 9) + 1_800_000);
        reported.completion_status = Some(CompletionStatus::Completed);
        reported.time_to_answer = Some(20);
        reported.talk_time = Some(100);
        reported.agent_id = Some(7);
        reported.dnis = Some("0800-12345".into());
        report.add(&reported);
        let mut missed = call(at(d2, 23));
        missed.completion_status = Some(CompletionStatus::Missed);
        missed.queue_name = Some("support".into());
        report.add(&missed);
        report.add(&call(at(date(2026, 5, 6), 0))); // the day after the range
        report.add(&call(at(d1, 0) - 1)); // the second before it

        let f = report.finish();
        assert_eq!(f.total, 3);
        assert_eq!((f.by_hour[9], f.by_hour[23], f.by_hour.iter().sum::<u64>()), (2, 1, 3));
        assert_eq!(f.by_day, vec![(d1, 2), (d2, 1)]);
        assert_eq!((f.outcomes.answered, f.outcomes.missed), (2, 1));
        assert_eq!(f.time_to_answer, Spread { calls: 2, median: Some(12), p90: Some(20) });
        assert_eq!(f.talk, Spread { calls: 2, median: Some(48), p90: Some(100) });
        assert_eq!(f.hold, Spread { calls: 1, median: Some(30), p90: Some(30) });
        assert_eq!(f.wait.calls, 1);
        assert_eq!(f.per_agent[0].0, Some(7));
        assert_eq!((f.per_agent[0].1.calls, f.per_agent[1].0, f.per_agent[1].1.calls), (2, None, 1));
        let support = f.per_queue.iter().find(|(q, _)| q == "support").unwrap();
        assert_eq!((support.1.calls, support.1.outcomes.missed), (2, 1));
        let lines: Vec<(&str, u64)> = f.per_line.iter().map(|(l, s)| (l.as_str(), s.calls)).collect();
        assert_eq!(lines, vec![("+18005550100", 2), ("0800-12345", 1)]);
    }
}
