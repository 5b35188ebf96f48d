//! The reports page: call volumes per hour and day, outcomes, times (median and p90) and the
//! same per agent, queue and line, for a date range; and the CSV export behind a console link.
//! Figures come from [`crate::reports`], the same as `GET /api/hub/reports/calls`.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::Response;
use ctihub_domain::Id;
use ctihub_domain::report::{ReportFigures, SliceFigures, Spread};

use super::Layout;
use super::charts;
use super::session::{Agent, Refusal};
use crate::AppState;
use crate::reports::{self, PAGE_MAX_DAYS, ReportFilter, ReportParams};

/// `42 s`, `3 m 05 s`, `1 h 02 m`; `–` without a value.
fn duration(seconds: Option<i64>) -> String {
    match seconds {
        None => "–".into(),
        Some(s) if s < 60 => format!("{s} s"),
        Some(s) if s < 3600 => format!("{} m {:02} s", s / 60, s % 60),
        Some(s) => format!("{} h {:02} m", s / 3600, (s % 3600) / 60),
    }
}

pub(crate) struct MetricRow {
    id: &'static str,
    name: &'static str,
    calls: u64,
    median: String,
    p90: String,
}

fn metric(id: &'static str, name: &'static str, spread: Spread) -> MetricRow {
    MetricRow { id, name, calls: spread.calls, median: duration(spread.median), p90: duration(spread.p90) }
}

pub(crate) struct SliceRow {
    name: String,
    calls: u64,
    answered: u64,
    missed: u64,
    abandoned: u64,
    voicemail: u64,
    answer_median: String,
    answer_p90: String,
    talk_median: String,
    talk_p90: String,
}

fn slice_row(name: String, s: &SliceFigures) -> SliceRow {
    SliceRow {
        name,
        calls: s.calls,
        answered: s.outcomes.answered,
        missed: s.outcomes.missed,
        abandoned: s.outcomes.abandoned,
        voicemail: s.outcomes.voicemail,
        answer_median: duration(s.time_to_answer.median),
        answer_p90: duration(s.time_to_answer.p90),
        talk_median: duration(s.talk.median),
        talk_p90: duration(s.talk.p90),
    }
}

/// One breakdown table: per agent, per queue or per line.
pub(crate) struct Breakdown {
    title: &'static str,
    id: &'static str,
    rows: Vec<SliceRow>,
}

pub(crate) struct OutcomeRow {
    id: &'static str,
    name: &'static str,
    calls: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/reports.html")]
pub(crate) struct ReportsPage {
    layout: Layout,
    from: String,
    to: String,
    tz: String,
    direction: String,
    /// The same filter for the CSV link.
    export_query: String,
    error: String,
    total: u64,
    outcomes: Vec<OutcomeRow>,
    outcome_chart: String,
    metrics: Vec<MetricRow>,
    hour_chart: String,
    day_chart: String,
    breakdowns: Vec<Breakdown>,
}

fn query_string(params: &ReportParams) -> String {
    let pairs = [("from", &params.from), ("to", &params.to), ("tz", &params.tz), ("direction", &params.direction)];
    let mut out = Vec::new();
    for (name, value) in pairs {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            // Dates, zone names and directions: encode the few characters a query cannot hold.
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => char::from(b).to_string(),
                    b => format!("%{b:02X}"),
                })
                .collect();
            out.push(format!("{name}={v}"));
        }
    }
    out.join("&")
}

async fn page_for(
    state: &AppState,
    layout: Layout,
    filter: &ReportFilter,
    figures: ReportFigures,
    params: &ReportParams,
) -> Result<ReportsPage, Refusal> {
    let agent_ids: Vec<Id> = figures.per_agent.iter().filter_map(|(id, _)| *id).collect();
    let names: HashMap<Id, String> = state
        .store
        .get_users(&agent_ids)
        .await?
        .into_iter()
        .map(|u| (u.id, crate::cti::view::display_name(&u).to_owned()))
        .collect();
    let o = figures.outcomes;
    let outcomes = vec![
        OutcomeRow { id: "answered", name: "Answered", calls: o.answered },
        OutcomeRow { id: "missed", name: "Missed", calls: o.missed },
        OutcomeRow { id: "abandoned", name: "Abandoned", calls: o.abandoned },
        OutcomeRow { id: "voicemail", name: "Voicemail", calls: o.voicemail },
        OutcomeRow { id: "in_progress", name: "In progress", calls: o.in_progress },
    ];
    let outcome_bars: Vec<(String, u64)> = outcomes.iter().map(|r| (r.name.to_owned(), r.calls)).collect();
    let hours: Vec<(String, u64)> = figures.by_hour.iter().enumerate().map(|(h, n)| (format!("{h:02}"), *n)).collect();
    let days: Vec<(String, u64)> = figures.by_day.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    // A date label is ~60 px wide: label one bar in as many as it takes not to overlap.
    let day_width = if days.len() > 60 { 4 } else { 16 };
    let label_every = (64 / day_width as usize).max(1);
    Ok(ReportsPage {
        layout,
        from: filter.range.from.to_string(),
        to: filter.range.to.to_string(),
        tz: filter.tz_name.clone(),
        direction: filter.direction.map(|d| d.as_str().to_owned()).unwrap_or_default(),
        export_query: query_string(params),
        error: String::new(),
        total: figures.total,
        outcome_chart: charts::rows("chart-outcomes", "Calls by outcome", &outcome_bars),
        outcomes,
        metrics: vec![
            metric("time_to_answer", "Time to answer", figures.time_to_answer),
            metric("wait", "Wait", figures.wait),
            metric("talk", "Talk", figures.talk),
            metric("hold", "Hold", figures.hold),
        ],
        hour_chart: charts::columns("chart-hours", "Calls per hour of the day", &hours, 22, 3),
        day_chart: charts::columns("chart-days", "Calls per day", &days, day_width, label_every),
        breakdowns: vec![
            Breakdown {
                title: "Per agent",
                id: "per-agent",
                rows: figures
                    .per_agent
                    .iter()
                    .map(|(id, s)| {
                        let name = match id {
                            Some(id) => names.get(id).cloned().unwrap_or_else(|| format!("#{id}")),
                            None => "No agent".into(),
                        };
                        slice_row(name, s)
                    })
                    .collect(),
            },
            Breakdown {
                title: "Per queue",
                id: "per-queue",
                rows: figures
                    .per_queue
                    .iter()
                    .map(|(q, s)| slice_row(if q.is_empty() { "No queue".into() } else { q.clone() }, s))
                    .collect(),
            },
            Breakdown {
                title: "Per line",
                id: "per-line",
                rows: figures
                    .per_line
                    .iter()
                    .map(|(l, s)| slice_row(if l.is_empty() { "No line".into() } else { l.clone() }, s))
                    .collect(),
            },
        ],
    })
}

pub(crate) async fn page(
    State(state): State<AppState>,
    agent: Agent,
    Query(params): Query<ReportParams>,
) -> Result<Response, Refusal> {
    use axum::response::IntoResponse;
    let layout = Layout::new(&state, &agent, "Reports", "reports").await?;
    match params.resolve(PAGE_MAX_DAYS) {
        Ok(filter) => {
            let figures = reports::figures(&state.store, &filter).await?;
            Ok(page_for(&state, layout, &filter, figures, &params).await?.into_response())
        }
        Err(e) => {
            // Show the default range with the problem, rather than a bare error page.
            let filter = ReportParams::default().resolve(PAGE_MAX_DAYS).map_err(super::internal)?;
            let figures = reports::figures(&state.store, &filter).await?;
            let mut shown = page_for(&state, layout, &filter, figures, &ReportParams::default()).await?;
            shown.error = format!("{}: {}", e.field, e.message);
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, shown).into_response())
        }
    }
}

/// The CSV export for a signed-in console user (the API twin needs an `Authorization` header a
/// plain link cannot send).
pub(crate) async fn export(
    State(state): State<AppState>,
    _agent: Agent,
    Query(params): Query<ReportParams>,
) -> Result<Response, Refusal> {
    let filter = params.resolve(None).map_err(|e| Refusal::BadForm(format!("{}: {}", e.field, e.message)))?;
    Ok(reports::csv_export(&state.store, &filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(None), "–");
        assert_eq!(duration(Some(42)), "42 s");
        assert_eq!(duration(Some(185)), "3 m 05 s");
        assert_eq!(duration(Some(3720)), "1 h 02 m");
    }

    #[test]
    fn the_export_link_keeps_the_filter() {
        let params = ReportParams {
            from: Some("2026-03-01".into()),
            to: Some(" ".into()),
            tz: Some("America/New_York".into()),
            direction: Some("inbound".into()),
        };
        assert_eq!(query_string(&params), "from=2026-03-01&tz=America/New_York&direction=inbound");
        let odd = ReportParams { tz: Some("a b&c".into()), ..Default::default() };
        assert_eq!(query_string(&odd), "tz=a%20b%26c");
    }
}
