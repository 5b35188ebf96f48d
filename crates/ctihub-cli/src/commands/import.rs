//! `ctihub import users FILE.csv`.
//!
//! The whole file is parsed first and written with one `Store::import_users` call, which checks
//! each row on its own and commits in chunks: a 100k-row file costs a few hundred commits, not
//! 100k. A bad row is a rejection reported with its line number, never the end of the import.
//!
//! Output, all on stdout so one redirect captures the report: one `line N: reason` per rejected
//! row in file order, then `imported N users, rejected M`. Exit status 0 when every row was
//! imported, 3 when some were rejected, 1 when the import could not run at all.

use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use csv::{ErrorKind, StringRecord};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{Email, NewUser, Role, validate_name};
use ctihub_domain::{DomainError, Id};

use super::open_store;
use super::user::organization_id;
use crate::config::Settings;

/// Distinct from 1 (nothing or an unknown part was imported) so scripts can tell "look at the
/// report" from "try again".
const SOME_ROWS_REJECTED: u8 = 3;

const COLUMNS: &[&str] = &["name", "email", "phone", "mobile", "organization", "external_id", "role", "tags"];

/// Line numbers are the file's (header = line 1), as an editor shows them.
type Line = u64;

#[derive(Debug)]
struct Row {
    line: Line,
    user: NewUser,
    organization: Option<String>,
}

#[derive(Debug, Default)]
struct Parsed {
    rows: Vec<Row>,
    rejected: Vec<(Line, String)>,
}

/// Column positions by name; only `name` is required.
#[derive(Debug, Default)]
struct Columns {
    index: HashMap<&'static str, usize>,
}

impl Columns {
    fn from_header(header: &StringRecord, source: &str) -> anyhow::Result<Self> {
        if header.iter().all(|h| h.trim().is_empty()) {
            bail!("{source}: the file is empty; the first line must name the columns ({})", COLUMNS.join(","));
        }
        let mut index = HashMap::new();
        for (i, raw) in header.iter().enumerate() {
            // Spreadsheet programs like to start UTF-8 files with a byte-order mark.
            let name = raw.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
            let Some(known) = COLUMNS.iter().find(|c| **c == name) else {
                // Ignoring an unknown column would silently drop a whole column of data.
                bail!("{source}: line 1: unknown column {raw:?}; the columns are {}", COLUMNS.join(","));
            };
            if index.insert(*known, i).is_some() {
                bail!("{source}: line 1: column {known:?} appears twice");
            }
        }
        if !index.contains_key("name") {
            bail!("{source}: line 1: there is no `name` column; the columns are {}", COLUMNS.join(","));
        }
        Ok(Columns { index })
    }

    fn get<'r>(&self, record: &'r StringRecord, column: &str) -> Option<&'r str> {
        let value = record.get(*self.index.get(column)?)?.trim();
        (!value.is_empty()).then_some(value)
    }
}

fn parse_row(record: &StringRecord, columns: &Columns) -> Result<(NewUser, Option<String>), DomainError> {
    let name = validate_name(columns.get(record, "name").unwrap_or(""))?;
    let role = Role::parse(columns.get(record, "role").unwrap_or(""))?;
    let mut user = NewUser::new(role, name);
    user.email = columns.get(record, "email").map(Email::parse).transpose()?;
    user.phones = [("phone", PhoneKind::Phone), ("mobile", PhoneKind::Mobile)]
        .into_iter()
        .filter_map(|(column, kind)| columns.get(record, column).map(|n| (kind, n.to_owned())))
        .collect();
    user.external_id = columns.get(record, "external_id").map(str::to_owned);
    // The store splits on spaces and commas.
    user.tags = columns.get(record, "tags").map(|t| vec![t.to_owned()]).unwrap_or_default();
    Ok((user, columns.get(record, "organization").map(str::to_owned)))
}

fn read_users(input: impl Read, source: &str) -> anyhow::Result<Parsed> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(input);
    let header = reader.headers().with_context(|| format!("{source}: cannot read the header line"))?.clone();
    let columns = Columns::from_header(&header, source)?;
    let mut parsed = Parsed::default();
    let mut record = StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, csv::Position::line);
                match parse_row(&record, &columns) {
                    Ok((user, organization)) => parsed.rows.push(Row { line, user, organization }),
                    Err(e) => parsed.rejected.push((line, e.to_string())),
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                let reason = match e.kind() {
                    ErrorKind::Io(_) => return Err(e).with_context(|| format!("cannot read {source}")),
                    ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("has {len} fields, but the header has {expected_len}")
                    }
                    ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_owned(),
                    _ => e.to_string(),
                };
                parsed.rejected.push((line, reason));
            }
        }
    }
    Ok(parsed)
}

pub async fn users(settings: &Settings, file: &Path) -> anyhow::Result<ExitCode> {
    let source = file.display().to_string();
    let input = std::fs::File::open(file).with_context(|| format!("cannot open {source}"))?;
    let Parsed { rows, mut rejected } = read_users(std::io::BufReader::new(input), &source)?;
    tracing::info!(rows = rows.len() + rejected.len(), file = %source, "parsed");

    let store = open_store(settings).await?;
    // Files repeat the same few organizations on many rows: one lookup per name, not per row.
    let mut organizations: HashMap<String, Id> = HashMap::new();
    let mut lines = Vec::with_capacity(rows.len());
    let mut users = Vec::with_capacity(rows.len());
    for Row { line, mut user, organization } in rows {
        if let Some(name) = organization {
            let key = name.to_lowercase();
            let id = match organizations.get(&key) {
                Some(id) => *id,
                None => {
                    let id = organization_id(&store, &name).await?;
                    organizations.insert(key, id);
                    id
                }
            };
            user.organization_id = Some(id);
        }
        lines.push(line);
        users.push(user);
    }

    // Chunks committed before a database failure stay imported; the message says so.
    let outcomes = store
        .import_users(users)
        .await
        .context("the import stopped (rows of earlier chunks may already be imported)")?;
    store.close().await;
    let mut imported = 0usize;
    for (line, outcome) in lines.into_iter().zip(outcomes) {
        match outcome {
            Ok(_) => imported += 1,
            Err(e) => rejected.push((line, e.to_string())),
        }
    }
    rejected.sort_by_key(|(line, _)| *line);

    let mut out = BufWriter::new(std::io::stdout().lock());
    for (line, reason) in &rejected {
        writeln!(out, "line {line}: {reason}")?;
    }
    writeln!(out, "imported {imported} {}, rejected {}", plural(imported, "user", "users"), rejected.len())?;
    out.flush()?;
    Ok(if rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(SOME_ROWS_REJECTED) })
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Parsed> {
        read_users(text.as_bytes(), "users.csv")
    }

    #[test]
    fn columns_may_come_in_any_order_and_be_missing() {
        let parsed = parse("\u{feff}Email,NAME,tags\nada@example.com,Ada,\"vip, gold\"\n").unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        let row = &parsed.rows[0];
        assert_eq!(row.line, 2);
        assert_eq!(row.user.name, "Ada");
        assert_eq!(row.user.email.as_ref().map(Email::as_str), Some("ada@example.com"));
        assert_eq!(row.user.role, Some(Role::EndUser));
        assert_eq!(row.user.tags, vec!["vip, gold".to_owned()]);
        assert_eq!(row.organization, None);
    }

    #[test]
    fn bad_rows_are_rejected_with_their_line_numbers() {
        let text = "name,email,phone,mobile,organization,external_id,role,tags\n\
                    Ada,ada@example.com,+49 30 1234567,,Acme,A1,agent,\n\
                    Bob,not-an-email,,,,,,\n\
                    \"Multi\nline\",,,,,,,\n\
                    ,nameless@example.com,,,,,,\n\
                    Cy,,,,,,boss,\n\
                    Short,row\n\
                    Dee,,,,,,end_user,\n";
        let parsed = parse(text).unwrap();
        let lines: Vec<Line> = parsed.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 9]);
        assert_eq!(parsed.rows[0].user.role, Some(Role::Agent));
        assert_eq!(parsed.rows[0].user.phones, vec![(PhoneKind::Phone, "+49 30 1234567".to_owned())]);
        assert_eq!(parsed.rows[0].organization.as_deref(), Some("Acme"));
        assert_eq!(parsed.rows[0].user.external_id.as_deref(), Some("A1"));
        let rejected: Vec<(Line, &str)> = parsed.rejected.iter().map(|(l, r)| (*l, r.as_str())).collect();
        assert_eq!(
            rejected,
            vec![
                (3, "email: `not-an-email` is not an e-mail address"),
                (6, "name: is required"),
                (7, "role: `boss` is not one of end-user, agent, admin"),
                (8, "has 2 fields, but the header has 8"),
            ]
        );
    }

    #[test]
    fn header_problems_stop_the_import() {
        for (text, expected) in [
            ("", "the file is empty"),
            ("email,phone\nx@y.z,1\n", "there is no `name` column"),
            ("name,emial\nAda,a@b.c\n", "unknown column \"emial\""),
            ("name,name\nA,B\n", "column \"name\" appears twice"),
        ] {
            let message = format!("{:#}", parse(text).expect_err(text));
            assert!(message.starts_with("users.csv: "), "{message}");
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }
}
