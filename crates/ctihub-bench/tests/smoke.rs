//! The benchmark's CI configuration: `ctihub-bench all --smoke` (a couple of thousand users, a
//! second of ingest, a few dozen consoles) against the debug `ctihub` binary, on SQLite and on
//! the PostgreSQL that `scripts/with-postgres` provides. It checks that every measurement runs
//! and lands in the JSON, not the figures: a debug build on a shared CI machine says nothing
//! about speed.

use std::path::PathBuf;
use std::process::Command;

const MEASUREMENTS: &[&str] = &["identify", "dip", "ingest", "ceiling", "pop", "journal", "memory"];

#[test]
fn a_smoke_run_measures_everything_on_both_backends() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_ctihub-bench"));
    // `cargo test --workspace` builds it for the CLI's own tests.
    let ctihub = bench.with_file_name("ctihub");
    assert!(ctihub.is_file(), "{} is missing: run `cargo build -p ctihub-cli` first", ctihub.display());
    let postgres = std::env::var("CTIHUB_TEST_DATABASE_URL")
        .expect("CTIHUB_TEST_DATABASE_URL is unset: run the tests through scripts/with-postgres");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");

    let run = Command::new(&bench)
        .args(["all", "--smoke", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--out-dir")
        .arg(&out)
        .arg("--ctihub")
        .arg(&ctihub)
        .arg("--postgres-url")
        .arg(&postgres)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("| ingest p99 per event | < 10 ms |"), "the table is printed:\n{stdout}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("smoke-results.json")).unwrap()).unwrap();
    let results = json["results"].as_array().unwrap();
    let backends: Vec<&str> = results.iter().map(|r| r["backend"].as_str().unwrap()).collect();
    assert_eq!(backends, ["sqlite", "postgres"]);
    for result in results {
        for m in MEASUREMENTS {
            assert!(result[m].is_object(), "{m} missing: {result}");
        }
        let ingest = &result["ingest"];
        assert!(ingest["calls"].as_u64().unwrap() > 0, "{ingest}");
        assert_eq!(ingest["errors"], 0);
        assert_eq!(result["ingest_events_stored"], ingest["events"], "every acknowledged event is stored");
        assert!(ingest["latency"]["p99_ms"].as_f64().unwrap() > 0.0);
        assert!(result["ceiling"]["calls_per_second"].as_f64().unwrap() > 0.0);
        let pop = &result["pop"];
        let accounted = pop["latency"]["count"].as_u64().unwrap() + pop["missed"].as_u64().unwrap();
        assert_eq!(accounted, pop["consoles"].as_u64().unwrap(), "one pop per console: {pop}");
        assert!(result["identify"]["requests"].as_u64().unwrap() > 0);
        assert!(result["dip"]["requests"].as_u64().unwrap() > 0);
        assert!(result["journal"]["requests"].as_u64().unwrap() > 0);
        for reading in ["idle", "with_users", "after_ingest", "with_consoles"] {
            assert!(result["memory"][reading]["rss_kib"].as_u64().unwrap() > 1024, "{reading}: {result}");
        }
    }
    assert!(json["machine"]["cores"].as_u64().unwrap() > 0);
}
