//! Call reports against a generated set of calls whose figures are known in advance, calls from
//! the dialects counted alike, and the CSV export read back with the csv crate.

use ctihub_domain::call::{CallData, CallState, CompletionStatus, Direction};
use ctihub_domain::time::{Millis, now_millis};
use ctihub_domain::user::Role;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_each_app};

const LINE: &str = "+18005550100";
const D1: Date = date(2026, 3, 2);
const D2: Date = date(2026, 3, 3);

fn at(day: Date, hour: i8, second: i8) -> Millis {
    day.at(hour, 0, second, 0).to_zoned(TimeZone::UTC).unwrap().timestamp().as_millisecond()
}

fn ended(started_at: Millis) -> CallData {
    let mut call = CallData::new(Direction::Inbound, "+15135557611", LINE, started_at);
    call.state = CallState::Ended;
    call.ended_at = Some(started_at + 300_000);
    call
}

/// Twenty calls on D1–D2 (UTC) plus two just outside. Answers in the test below.
async fn generate(app: &TestApp, agents: (i64, i64)) {
    let store = &app.store;
    // Ten answered at 09:xx on D1: time to answer 1..10 s, talk 10..100 s, hold 0..90 s;
    // even ones to the first agent, odd to the second; queue support.
    for i in 0..10i64 {
        let mut call = ended(at(D1, 9, i as i8));
        call.completion_status = Some(CompletionStatus::Completed);
        call.answered_at = Some(call.started_at + (i + 1) * 1000);
        call.time_to_answer = Some(i + 1);
        call.talk_time = Some((i + 1) * 10);
        call.hold_time = Some(i * 10);
        call.agent_id = Some(if i % 2 == 0 { agents.0 } else { agents.1 });
        call.queue_name = Some("support".into());
        store.create_call(&call, &[], None).await.unwrap();
    }
    // Four missed at 14:xx on D1, waited 20..50 s; queue sales.
    for (i, wait) in [20, 30, 40, 50].into_iter().enumerate() {
        let mut call = ended(at(D1, 14, i as i8));
        call.completion_status = Some(CompletionStatus::Missed);
        call.wait_time = Some(wait);
        call.queue_name = Some("sales".into());
        store.create_call(&call, &[], None).await.unwrap();
    }
    // Three abandoned in the queue at 14:xx on D2, waited 5..7 s, dialed 0800-12345.
    for (i, wait) in [5, 6, 7].into_iter().enumerate() {
        let mut call = ended(at(D2, 14, i as i8));
        call.completion_status = Some(CompletionStatus::AbandonedInQueue);
        call.wait_time = Some(wait);
        call.queue_name = Some("sales".into());
        call.dnis = Some("0800-12345".into());
        store.create_call(&call, &[], None).await.unwrap();
    }
    // Two voicemails at 22:00 on D2 (the TPE flag; the status says completed).
    for i in 0..2 {
        let mut call = ended(at(D2, 22, i));
        call.completion_status = Some(CompletionStatus::Completed);
        call.details.insert("voicemail".into(), json!(true));
        store.create_call(&call, &[], None).await.unwrap();
    }
    // One still ringing at 23:00 on D2.
    store
        .create_call(&CallData::new(Direction::Inbound, "+15135557611", LINE, at(D2, 23, 0)), &[], None)
        .await
        .unwrap();
    // Outside the range: the second before D1 and the first second after D2.
    store.create_call(&ended(at(D1, 0, 0) - 1000), &[], None).await.unwrap();
    store.create_call(&ended(at(date(2026, 3, 4), 0, 0)), &[], None).await.unwrap();
}

async fn report(app: &TestApp, token: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let response = app.client.get(app.url("/api/hub/reports/calls")).query(query).bearer_auth(token).send().await;
    let response = response.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn spread(calls: u64, median: i64, p90: i64) -> Value {
    json!({"calls": calls, "median": median, "p90": p90})
}

fn slice<'a>(rows: &'a Value, key: &Value) -> &'a Value {
    let row = rows.as_array().unwrap().iter().find(|r| r[0] == *key);
    &row.unwrap_or_else(|| panic!("{key} not in {rows}"))[1]
}

#[tokio::test]
async fn report_figures_match_a_generated_set_of_calls() {
    on_each_app(async |app| {
        let (anna, token) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (ben, _) = app.user(Role::Agent, "ben@example.com", "pw").await;
        generate(app, (anna.id, ben.id)).await;

        let (status, f) = report(app, &token, &[("from", "2026-03-02"), ("to", "2026-03-03")]).await;
        assert_eq!(status, 200, "{f}");
        assert_eq!(f["total"], 20);
        let mut hours = vec![0; 24];
        (hours[9], hours[14], hours[22], hours[23]) = (10, 7, 2, 1);
        assert_eq!(f["by_hour"], json!(hours));
        assert_eq!(f["by_day"], json!([["2026-03-02", 14], ["2026-03-03", 6]]));
        assert_eq!(
            f["outcomes"],
            json!({"answered": 10, "missed": 4, "abandoned": 3, "voicemail": 2, "in_progress": 1})
        );
        // Nearest rank: the median of ten values is the 5th, the p90 the 9th.
        assert_eq!(f["time_to_answer"], spread(10, 5, 9));
        assert_eq!(f["talk"], spread(10, 50, 90));
        assert_eq!(f["hold"], spread(10, 40, 80));
        // Waits 5 6 7 20 30 40 50: the 4th and the 7th.
        assert_eq!(f["wait"], spread(7, 20, 50));

        let a = slice(&f["per_agent"], &json!(anna.id));
        assert_eq!((a["calls"].as_u64(), &a["time_to_answer"]), (Some(5), &spread(5, 5, 9)));
        let b = slice(&f["per_agent"], &json!(ben.id));
        assert_eq!((&b["time_to_answer"], &b["talk"]), (&spread(5, 6, 10), &spread(5, 60, 100)));
        assert_eq!(slice(&f["per_agent"], &Value::Null)["calls"], 10, "nobody took the other ten");
        let sales = slice(&f["per_queue"], &json!("sales"));
        assert_eq!(
            (sales["calls"].as_u64(), &sales["outcomes"]["missed"], &sales["outcomes"]["abandoned"]),
            (Some(7), &json!(4), &json!(3))
        );
        assert_eq!(slice(&f["per_queue"], &json!(""))["calls"], 3, "voicemails and the ringing call have no queue");
        assert_eq!(slice(&f["per_line"], &json!(LINE))["calls"], 17);
        assert_eq!(slice(&f["per_line"], &json!("0800-12345"))["outcomes"]["abandoned"], 3);

        // One day in Berlin (UTC+1): D1 09:xx UTC is 10:xx there, D1 14:xx is 15:xx, and the call
        // a second before D1 in UTC is 00:59:59 on D1 in Berlin.
        let (_, f) =
            report(app, &token, &[("from", "2026-03-02"), ("to", "2026-03-02"), ("tz", "Europe/Berlin")]).await;
        assert_eq!(f["total"], 15);
        assert_eq!((&f["by_hour"][0], &f["by_hour"][10], &f["by_hour"][15]), (&json!(1), &json!(10), &json!(4)));
        // Outbound only: none.
        let (_, f) =
            report(app, &token, &[("from", "2026-03-02"), ("to", "2026-03-03"), ("direction", "outbound")]).await;
        assert_eq!(f["total"], 0);
        assert_eq!(f["time_to_answer"], json!({"calls": 0, "median": null, "p90": null}));

        let (status, body) = report(app, &token, &[("from", "2026-03-05"), ("to", "2026-03-01")]).await;
        assert_eq!((status, body["details"][0]["field"].as_str()), (422, Some("to")), "{body}");
        let (status, body) = report(app, &token, &[("tz", "Mars/Base")]).await;
        assert_eq!((status, body["details"][0]["field"].as_str()), (422, Some("tz")), "{body}");
    })
    .await;
}

#[tokio::test]
async fn calls_from_every_dialect_count() {
    on_each_app(async |app| {
        let (anna, token) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (_, pbx_token) = app.user(Role::Agent, "pbx@example.com", "pw").await;
        // Zammad generic CTI: rung, answered by Anna (mapped by agent id), hung up.
        let patch = ctihub_domain::user::UserPatch { agent_id: Some(Some("a42".into())), ..Default::default() };
        app.store.update_user(anna.id, patch).await.unwrap();
        let url = app.enable_cti(|_| {}).await;
        for event in ["event=newCall", "event=answer&answeringNumber=a42", "event=hangup&cause=normalClearing"] {
            let form = format!("{event}&direction=in&from=15135557611&to=18005550100&callId=z1&user[]=Support");
            assert_eq!(app.push(&url, &form).await.0, 200);
        }
        // Talk Partner Edition: abandoned in the queue after 40 s.
        let started = ctihub_domain::time::format_millis(now_millis() - 60_000);
        let call = json!({"call": {"from_line": "+15135550000", "to_line": LINE, "call_started_at": started,
            "direction": "inbound", "app_id": 1, "completion_status": "abandoned_in_queue", "wait_time": 40}});
        let response = app
            .client
            .post(app.url("/api/v2/calls.json"))
            .basic_auth("pbx@example.com/token", Some(&pbx_token))
            .json(&call)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);

        // Today and yesterday (the TPE call may have started before midnight UTC).
        let today = jiff::Timestamp::now().to_zoned(TimeZone::UTC).date();
        let yesterday = today.yesterday().unwrap().to_string();
        let (status, f) = report(app, &token, &[("from", &yesterday), ("to", &today.to_string())]).await;
        assert_eq!(status, 200, "{f}");
        assert_eq!(f["total"], 2);
        assert_eq!((&f["outcomes"]["answered"], &f["outcomes"]["abandoned"]), (&json!(1), &json!(1)));
        assert_eq!(slice(&f["per_agent"], &json!(anna.id))["calls"], 1);
        assert_eq!(f["wait"]["calls"], 2, "the Zammad call's wait and the reported one");
    })
    .await;
}

#[tokio::test]
async fn the_csv_export_round_trips_every_call_object_field() {
    on_each_app(async |app| {
        let (anna, token) = app.user(Role::Agent, "anna@example.com", "pw").await;
        let (ben, _) = app.user(Role::Agent, "ben@example.com", "pw").await;
        generate(app, (anna.id, ben.id)).await;
        // A TPE call with text that needs quoting and fields only TPE knows.
        let call = json!({"call": {"from_line": "+15135550000", "to_line": LINE, "call_started_at": "2026-03-02T12:00:00Z",
            "direction": "inbound", "app_id": 7, "transcript": "Hello, \"world\"\nbye", "ivr_hops": 3,
            "voicemail": false, "call_disposition": "escalated", "external_id": "x-1"}});
        let response = app
            .client
            .post(app.url("/api/v2/calls.json"))
            .basic_auth("anna@example.com/token", Some(&token))
            .json(&call)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);

        let response = app
            .client
            .get(app.url("/api/hub/calls.csv"))
            .query(&[("from", "2026-03-02"), ("to", "2026-03-03")])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains("calls-2026-03-02-2026-03-03.csv"));
        let text = response.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!((header.first().map(String::as_str), header.last().map(String::as_str)), (Some("id"), Some("updated_at")));
        assert_eq!(header.len(), 52, "id, the 49 documented fields, created_at, updated_at");
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 21, "the twenty generated calls in range and the TPE call");

        let mut previous = String::new();
        for row in &rows {
            let id = &row[0];
            let object: Value = app
                .client
                .get(app.url(&format!("/api/v2/calls/{id}")))
                .basic_auth("anna@example.com/token", Some(&token))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let object = &object["call"];
            for (name, cell) in header.iter().zip(row.iter()) {
                let expected = match &object[name] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                assert_eq!(cell, expected, "call {id}, field {name}");
            }
            let started = object["call_started_at"].as_str().unwrap().to_owned();
            assert!(started >= previous, "oldest first");
            previous = started;
        }
        let tpe = rows.iter().find(|r| &r[header.iter().position(|h| h == "external_id").unwrap()] == "x-1").unwrap();
        assert_eq!(&tpe[header.iter().position(|h| h == "transcript").unwrap()], "Hello, \"world\"\nbye");

        // Agents only.
        let response = app.client.get(app.url("/api/hub/calls.csv")).send().await.unwrap();
        assert_eq!(response.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn the_console_page_draws_the_figures_and_links_the_export() {
    on_each_app(async |app| {
        use crate::console_helpers::{no_redirects, sign_in};
        use reqwest::header::COOKIE;

        let (anna, _) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let (ben, _) = app.user(Role::Agent, "ben@example.com", "pw").await;
        generate(app, (anna.id, ben.id)).await;
        let (cookie, _) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let get = async |path: &str| {
            let response = no_redirects().get(app.url(path)).header(COOKIE, &cookie).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        };

        let (status, html) = get("/console/reports?from=2026-03-02&to=2026-03-03&tz=UTC&direction=").await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(r#"href="/console/reports" aria-current="page""#), "in the top bar");
        assert!(html.contains("<h2>20 calls, 2026-03-02 to 2026-03-03 (UTC)</h2>"), "{html}");
        for (id, n) in [("answered", 10), ("missed", 4), ("abandoned", 3), ("voicemail", 2), ("in_progress", 1)] {
            assert!(html.contains(&format!(r#"<td id="outcome-{id}">{n}</td>"#)), "{id}: {html}");
        }
        assert!(html.contains(r#"<td id="metric-time_to_answer-median">5 s</td>"#), "{html}");
        assert!(html.contains(r#"<td id="metric-talk-p90">1 m 30 s</td>"#), "{html}");
        assert!(html.contains(r#"<td id="metric-wait-median">20 s</td>"#), "{html}");
        // Charts are inline SVG: ten calls in the 09:00 bar, fourteen on the first day.
        assert!(html.contains(r#"<svg id="chart-hours""#) && html.contains("<title>09: 10</title>"), "{html}");
        assert!(html.contains("<title>2026-03-02: 14</title>"), "{html}");
        assert!(html.contains("<title>Answered: 10</title>"), "{html}");
        assert!(
            !html.contains("<script>") && !html.contains("<script src=\"http"),
            "no script beyond the console's own"
        );
        assert!(html.contains("<td>anna</td><td>5</td><td>5</td>"), "per agent, by name: {html}");
        assert!(html.contains("<td>0800-12345</td><td>3</td>"), "per line: {html}");

        let link = "/console/reports/calls.csv?from=2026-03-02&#38;to=2026-03-03&#38;tz=UTC";
        assert!(html.contains(&format!(r#"href="{link}""#)), "{html}");
        let (status, csv) = get(&link.replace("&#38;", "&")).await;
        assert_eq!(status, 200);
        assert_eq!(csv::Reader::from_reader(csv.as_bytes()).records().count(), 20);

        let (status, html) = get("/console/reports?from=2026-13-01").await;
        assert_eq!(status, 422);
        assert!(html.contains("from: `2026-13-01` is not a date (YYYY-MM-DD)"), "{html}");
        let response = no_redirects().get(app.url("/console/reports")).send().await.unwrap();
        assert_eq!(response.status(), 303, "signed out: to the sign-in form");
    })
    .await;
}
