//! How long the console's caller journal takes with 300 rows, through the real router (session
//! cookie, store queries, caller identification, template) on an SQLite store. The issue asks for
//! under 20 ms. Run in release mode:
//!
//! ```sh
//! cargo run --release -p ctihub-web --example journal_render [ITERATIONS]
//! ```

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ctihub_domain::call::{CallData, CallState, CompletionStatus, Direction};
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::time::now_millis;
use ctihub_domain::user::{NewUser, Role};
use ctihub_store::testing::fresh_sqlite_store;
use ctihub_web::AppState;
use ctihub_web::auth::secrets;
use tower::ServiceExt;

const ROWS: usize = 300;

#[tokio::main]
async fn main() {
    let iterations: usize = std::env::args().nth(1).map_or(200, |n| n.parse().expect("ITERATIONS is a number"));
    let db = fresh_sqlite_store("DE").await;
    let store = db.store.clone();

    let admin = store.create_user(NewUser::new(Role::Admin, "Bench Admin")).await.unwrap();
    let mut agents = Vec::new();
    for i in 0..10 {
        let mut agent = NewUser::new(Role::Agent, format!("Agent {i}"));
        agent.extension = Some(format!("2{i:02}"));
        agents.push(store.create_user(agent).await.unwrap().id);
    }
    // Half the calls come from known callers, so identification has work to do.
    let mut numbers = Vec::new();
    for i in 0..50 {
        let number = format!("030 5557{i:04}");
        let mut caller = NewUser::new(Role::EndUser, format!("Caller {i} <&>"));
        caller.phones = vec![(PhoneKind::Phone, number.clone())];
        store.create_user(caller).await.unwrap();
        numbers.push(number);
    }
    let now = now_millis();
    for i in 0..ROWS {
        let from = if i % 2 == 0 { numbers[i % numbers.len()].clone() } else { format!("0171 {:07}", 1_000_000 + i) };
        let mut call = CallData::new(Direction::Inbound, from, "4930600000000", now - (ROWS - i) as i64 * 60_000);
        call.queue_name = Some(["support", "sales", "billing"][i % 3].into());
        call.state = CallState::Ended;
        call.done = i % 4 == 0;
        if i % 3 == 0 {
            call.completion_status = Some(CompletionStatus::parse("completed").unwrap());
            call.agent_id = Some(agents[i % agents.len()]);
            call.talk_time = Some(30 + i as i64);
        }
        store.create_call(&call, &[], None).await.unwrap();
    }
    let mut config = ctihub_web::cti::load_config(&store).await.unwrap();
    config.view_limit = ROWS as i64;
    ctihub_web::cti::save_config(&store, &config).await.unwrap();

    let token = secrets::generate_token();
    store.create_console_session(admin.id, &secrets::hash_token(&token), now, now + 24 * 3_600_000).await.unwrap();
    let cookie = format!("ctihub_session={token}");
    let app = ctihub_web::app(AppState::new(store));

    for path in ["/console/journal", "/console/journal/rows"] {
        let fetch = async || {
            let request = Request::get(path).header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
            let started = Instant::now();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (started.elapsed(), body)
        };
        let (_, body) = fetch().await;
        let html = std::str::from_utf8(&body).unwrap();
        assert_eq!(html.matches("<tr id=\"call-").count(), ROWS, "{path} shows every row");
        for _ in 0..20 {
            fetch().await;
        }
        let mut times: Vec<Duration> = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            times.push(fetch().await.0);
        }
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "{path}: {ROWS} rows, {} KiB, {iterations} requests: median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
            body.len() / 1024,
            at(0.5).as_secs_f64() * 1e3,
            at(0.9).as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
        );
    }
}
