use crate::helpers::{Sandbox, basic_auth, http_get};

#[test]
fn user_create_prints_the_new_id_and_nothing_else() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .run(&[
            "user",
            "create",
            "--role",
            "agent",
            "--name",
            "Ada Lovelace",
            "--email",
            "ada@example.com",
            "--password",
            "correct horse",
            "--phone",
            "+1 513 555 7611",
            "--mobile",
            "+49 171 1234567",
            "--agent-id",
            "7",
            "--extension",
            "201",
            "--organization",
            "Acme",
        ])
        .success();
    let id: i64 = out.stdout.trim_end().parse().unwrap_or_else(|_| panic!("stdout is not an id: {out:?}"));
    assert!(id > 0);
    assert_eq!(out.stdout, format!("{id}\n"));

    // Same organization, case aside: found, not created twice (a second create would clash).
    let second = sandbox.run(&["user", "create", "--role", "end-user", "--name", "Bob", "--organization", "ACME"]);
    let second_id: i64 = second.success().stdout.trim().parse().unwrap();
    assert!(second_id > id);
}

#[test]
fn user_create_reports_problems_on_stderr_and_fails() {
    let sandbox = Sandbox::new();
    sandbox.create_user("admin", "Ada", "ada@example.com");

    let out =
        sandbox.run(&["user", "create", "--role", "agent", "--name", "Other", "--email", "ADA@example.com"]).failure();
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.trim_end(), "error: email: is already used by another user");

    let out = sandbox.run(&["user", "create", "--role", "agent", "--name", "X", "--email", "not-an-email"]).failure();
    assert_eq!(out.stderr.trim_end(), "error: email: `not-an-email` is not an e-mail address");

    let out = sandbox.run(&["user", "create", "--role", "agent", "--name", "X", "--password", "short"]).failure();
    assert_eq!(out.stderr.trim_end(), "error: password: must be at least 8 characters");

    let out = sandbox.run(&["user", "create", "--role", "boss", "--name", "X"]).failure();
    assert!(out.stderr.contains("possible values: admin, agent, end-user"), "{out:?}");
}

#[test]
fn token_create_prints_one_token_and_nothing_else() {
    let sandbox = Sandbox::new();
    sandbox.create_user("agent", "Ada", "ada@example.com");
    let out = sandbox.run(&["token", "create", "--email", "ada@example.com", "--label", "asterisk"]).success();
    let token = out.stdout.trim_end();
    assert_eq!(out.stdout, format!("{token}\n"));
    assert_eq!(token.len(), 43, "{token:?}");
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{token:?}");

    let again = sandbox.run(&["token", "create", "--email", "ada@example.com"]).success();
    assert_ne!(again.stdout, out.stdout, "every token is new");
}

#[test]
fn token_create_for_an_unknown_email_fails() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["token", "create", "--email", "nobody@example.com"]).failure();
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.trim_end(), "error: no user has the email address nobody@example.com");
}

/// The commands write to the data directory of a server that is running (SQLite in WAL mode
/// allows it), and the server accepts the token at once in every Basic form ctihub supports.
#[test]
fn users_and_tokens_made_beside_a_running_server_work_on_it() {
    let sandbox = Sandbox::new();
    let server = sandbox.serve();
    let id = sandbox.create_user("agent", "Ada", "ada@example.com");
    let token = sandbox.run(&["token", "create", "--email", "ada@example.com"]).success().stdout.trim().to_owned();

    let (status, body) = http_get(&server.url, "/api/hub/me", Some(&basic_auth("ada@example.com/token", &token)));
    assert_eq!(status, 200, "{body}\n{}", server.diagnostics());
    let me: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["id"], id);

    let (status, body) = http_get(&server.url, "/api/hub/me", Some(&basic_auth(&token, "X")));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"email\":\"ada@example.com\""), "{body}");

    // The token is Ada's, not anyone's: a wrong token and a right token for someone else fail.
    sandbox.create_user("agent", "Bob", "bob@example.com");
    let (status, _) = http_get(&server.url, "/api/hub/me", Some(&basic_auth("bob@example.com/token", &token)));
    assert_eq!(status, 401);
    let (status, _) = http_get(&server.url, "/api/hub/me", Some(&basic_auth(&format!("{token}x"), "X")));
    assert_eq!(status, 401);
}
