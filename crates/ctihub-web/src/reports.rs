//! What the reports page, its JSON twin and the CSV export share: reading the date-range filter,
//! folding the calls into figures, and streaming calls as CSV rows.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ctihub_domain::DomainError;
use ctihub_domain::call::{Call, Direction};
use ctihub_domain::report::{CallReport, MAX_REPORT_DAYS, ReportFigures, ReportRange};
use ctihub_store::{CallRange, Store, StoreResult};
use futures_util::StreamExt;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use crate::zendesk::tpe;

/// Rows written into one chunk of the CSV body.
const ROWS_PER_CHUNK: usize = 128;

/// The filter every report and export takes. Empty values (as a plain HTML form sends them) are
/// the same as absent.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct ReportParams {
    /// First day, `YYYY-MM-DD`; default six days before `to`.
    pub from: Option<String>,
    /// Last day (included), `YYYY-MM-DD`; default today.
    pub to: Option<String>,
    /// IANA time zone the days and hours are read in; default `UTC`.
    pub tz: Option<String>,
    /// `inbound`, `outbound`, `internal` or `callback`; default all.
    pub direction: Option<String>,
}

/// A resolved filter.
#[derive(Debug, Clone)]
pub struct ReportFilter {
    pub range: ReportRange,
    pub tz_name: String,
    pub direction: Option<Direction>,
}

impl ReportFilter {
    pub fn calls(&self) -> CallRange {
        let (since, until) = self.range.bounds();
        CallRange { since, until, direction: self.direction }
    }
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ReportParams {
    /// Read the filter. `max_days` bounds the range (the page draws a bar per day; an export
    /// streams and needs no bound).
    pub fn resolve(&self, max_days: Option<i32>) -> Result<ReportFilter, DomainError> {
        let tz_name = given(&self.tz).unwrap_or("UTC").to_owned();
        let tz = TimeZone::get(&tz_name)
            .map_err(|_| DomainError::new("tz", format!("`{tz_name}` is not a time zone such as Europe/Berlin")))?;
        let date = |field: &str, value: &str| {
            value.parse::<Date>().map_err(|_| DomainError::new(field, format!("`{value}` is not a date (YYYY-MM-DD)")))
        };
        let to = match given(&self.to) {
            Some(v) => date("to", v)?,
            None => jiff::Timestamp::now().to_zoned(tz.clone()).date(),
        };
        let from = match given(&self.from) {
            Some(v) => date("from", v)?,
            None => to.checked_sub(6.days()).unwrap_or(to),
        };
        let direction = given(&self.direction).map(Direction::parse).transpose()?;
        let range = match max_days {
            Some(_) => ReportRange::new(from, to, tz)?,
            None if to < from => return Err(DomainError::new("to", format!("{to} is before {from}"))),
            None => ReportRange { from, to, tz },
        };
        Ok(ReportFilter { range, tz_name, direction })
    }
}

/// The longest range the reports page accepts.
pub const PAGE_MAX_DAYS: Option<i32> = Some(MAX_REPORT_DAYS);

/// Fold every call in the filter into the report's figures, one row at a time.
pub async fn figures(store: &Store, filter: &ReportFilter) -> StoreResult<ReportFigures> {
    let mut report = CallReport::new(filter.range.clone());
    store.fold_call_metrics(filter.calls(), |call| report.add(&call)).await?;
    Ok(report.finish())
}

/// A call-object field as a CSV cell: text as is, numbers and booleans as JSON writes them,
/// `null` as an empty cell.
fn cell(value: Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn csv_rows(rows: impl IntoIterator<Item = Vec<String>>) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&row);
    }
    Bytes::from(writer.into_inner().unwrap_or_default())
}

fn call_row(call: &Call) -> Vec<String> {
    tpe::field_names().map(|name| cell(tpe::field_value(call, name))).collect()
}

/// Every call in the filter as CSV with a header row of the call object's field names, streamed
/// from the database cursor: a year of calls is never held at once.
pub fn csv_export(store: &Store, filter: &ReportFilter) -> Response {
    let header = csv_rows([tpe::field_names().map(str::to_owned).collect::<Vec<_>>()]);
    let rows = store.stream_calls(filter.calls()).ready_chunks(ROWS_PER_CHUNK).map(|chunk| {
        let mut calls = Vec::with_capacity(chunk.len());
        for item in chunk {
            match item {
                Ok(call) => calls.push(call_row(&call)),
                Err(e) => {
                    // The status line is long gone; cutting the body short is how the client
                    // learns the export is incomplete.
                    tracing::error!(error = %e, "call export failed");
                    return Err(std::io::Error::other("call export failed"));
                }
            }
        }
        Ok(csv_rows(calls))
    });
    let body = futures_util::stream::once(async { Ok::<_, std::io::Error>(header) }).chain(rows);
    let name = format!("attachment; filename=\"calls-{}-{}.csv\"", filter.range.from, filter.range.to);
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(from: &str, to: &str, tz: &str) -> ReportParams {
        ReportParams {
            from: Some(from.into()),
            to: Some(to.into()),
            tz: Some(tz.into()),
            direction: Some(String::new()),
        }
    }

    #[test]
    fn filters_are_read_and_bad_values_named() {
        let f = params("2026-01-01", "2026-01-31", "Europe/Berlin").resolve(PAGE_MAX_DAYS).unwrap();
        assert_eq!((f.range.days().len(), f.tz_name.as_str(), f.direction), (31, "Europe/Berlin", None));
        assert_eq!(params("2026-01-01", "x", "UTC").resolve(PAGE_MAX_DAYS).unwrap_err().field, "to");
        assert_eq!(params("2026-01-01", "2026-01-02", "Nowhere/City").resolve(None).unwrap_err().field, "tz");
        assert_eq!(params("2026-01-05", "2026-01-02", "UTC").resolve(None).unwrap_err().field, "to");
        assert!(params("2020-01-01", "2026-01-02", "UTC").resolve(PAGE_MAX_DAYS).is_err());
        assert!(params("2020-01-01", "2026-01-02", "UTC").resolve(None).is_ok(), "exports are not bounded");
        let defaults = ReportParams::default().resolve(PAGE_MAX_DAYS).unwrap();
        assert_eq!(defaults.range.days().len(), 7, "the last seven days");
        let inbound = ReportParams { direction: Some("inbound".into()), ..Default::default() };
        assert_eq!(inbound.resolve(None).unwrap().direction, Some(Direction::Inbound));
    }

    #[test]
    fn cells_are_plain_text() {
        assert_eq!(cell(Value::Null), "");
        assert_eq!(cell(serde_json::json!("a,b")), "a,b");
        assert_eq!(cell(serde_json::json!(12)), "12");
        assert_eq!(cell(serde_json::json!(true)), "true");
        let bytes = csv_rows([vec!["a,b".to_owned(), "line\nbreak".into(), String::new()]]);
        assert_eq!(&bytes[..], b"\"a,b\",\"line\nbreak\",\n");
    }
}
