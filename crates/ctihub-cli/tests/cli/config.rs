use crate::helpers::Sandbox;

#[test]
fn zero_config_keeps_its_data_in_ctihub_data() {
    let sandbox = Sandbox::new();
    let out = sandbox.cmd(&["migrate"]).run().success();
    assert_eq!(out.stdout, "migrated SQLite file ./ctihub-data/ctihub.sqlite3\n");
    assert!(sandbox.path().join("ctihub-data/ctihub.sqlite3").is_file());
    assert_eq!(out.stderr, "", "a clean start says nothing on stderr");
}

#[test]
fn flags_beat_environment_beat_file() {
    let sandbox = Sandbox::new();
    sandbox.write("ctihub.toml", "data_dir = \"from-file\"\n");
    let migrate = |env: Option<&str>, flag: Option<&str>| {
        let mut args = vec!["migrate"];
        if let Some(dir) = flag {
            args.extend(["--data-dir", dir]);
        }
        let mut invocation = sandbox.cmd(&args);
        if let Some(dir) = env {
            invocation = invocation.env("CTIHUB_DATA_DIR", dir);
        }
        invocation.run().success().stdout
    };
    assert_eq!(migrate(None, None), "migrated SQLite file from-file/ctihub.sqlite3\n");
    assert_eq!(migrate(Some("from-env"), None), "migrated SQLite file from-env/ctihub.sqlite3\n");
    assert_eq!(migrate(Some("from-env"), Some("from-flag")), "migrated SQLite file from-flag/ctihub.sqlite3\n");
    for dir in ["from-file", "from-env", "from-flag"] {
        assert!(sandbox.path().join(dir).join("ctihub.sqlite3").is_file(), "{dir}");
    }
}

#[test]
fn a_database_url_overrides_the_data_dir() {
    let sandbox = Sandbox::new();
    let out =
        sandbox.cmd(&["migrate", "--data-dir", "unused"]).env("CTIHUB_DATABASE_URL", "sqlite://elsewhere.db").run();
    assert_eq!(out.success().stdout, "migrated SQLite file elsewhere.db\n");
    assert!(sandbox.path().join("elsewhere.db").is_file());
    assert!(!sandbox.path().join("unused").exists());
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let sandbox = Sandbox::new();
    let out = sandbox.data_cmd(&["migrate"]).env("CTIHUB_DEFAULT_REGION", "XX").run().failure();
    assert!(
        out.stderr.starts_with(
            "error: invalid default_region \"XX\" (from environment variable CTIHUB_DEFAULT_REGION): `XX` is not"
        ),
        "{out:?}"
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn a_bad_file_value_names_the_file() {
    let sandbox = Sandbox::new();
    sandbox.write("ctihub.toml", "default_region = \"XX\"\n");
    let out = sandbox.run(&["migrate"]).failure();
    assert!(out.stderr.starts_with("error: invalid default_region \"XX\" (in ctihub.toml): "), "{out:?}");

    // The flag layer wins, so the file's bad value is never used and never reported.
    sandbox.run(&["migrate", "--default-region", "DE"]).success();
}

#[test]
fn a_bad_flag_value_names_the_flag() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["serve", "--listen", "8080"]).failure();
    assert!(out.stderr.starts_with("error: invalid listen \"8080\" (from command-line flag --listen): "), "{out:?}");
}

#[test]
fn unknown_keys_in_the_file_are_errors() {
    let sandbox = Sandbox::new();
    sandbox.write("ctihub.toml", "listen = \"127.0.0.1:8080\"\ndatabase = \"x\"\n");
    let out = sandbox.run(&["migrate"]).failure();
    assert!(out.stderr.starts_with("error: ctihub.toml: unknown key `database`"), "{out:?}");
}

#[test]
fn an_explicit_config_file_is_used_and_must_exist() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("other.toml", "data_dir = \"from-other\"\n");
    let out = sandbox.cmd(&["migrate", "--config", "other.toml"]).run().success();
    assert_eq!(out.stdout, "migrated SQLite file from-other/ctihub.sqlite3\n");
    let out = sandbox.cmd(&["migrate"]).env("CTIHUB_CONFIG", &file).run().success();
    assert_eq!(out.stdout, "migrated SQLite file from-other/ctihub.sqlite3\n");

    let out = sandbox.cmd(&["migrate", "--config", "missing.toml"]).run().failure();
    assert_eq!(out.stderr.trim_end(), "error: config file missing.toml does not exist");
}

#[test]
fn misspelled_environment_variables_are_warned_about() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .run_env(&["migrate"], &[("CTIHUB_LISTNE", "127.0.0.1:1"), ("CTIHUB_TEST_ANYTHING", "ignored")])
        .success();
    assert!(
        out.stderr.contains("ignoring unknown environment variable CTIHUB_LISTNE (did you mean CTIHUB_LISTEN?)"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("CTIHUB_TEST_ANYTHING"), "{out:?}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let sandbox = Sandbox::new();
    let out = sandbox.run_env(&["migrate"], &[("CTIHUB_LOG_FORMAT", "json"), ("CTIHUB_LISTNE", "x")]).success();
    let line = out.stderr.lines().next().unwrap_or_else(|| panic!("no log line: {out:?}"));
    let event: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(event["level"], "WARN");
    assert!(event["fields"]["message"].as_str().unwrap().contains("CTIHUB_LISTNE"), "{line}");
}
