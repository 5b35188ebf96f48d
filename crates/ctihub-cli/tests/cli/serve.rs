use crate::helpers::{Sandbox, shell_words};

/// First start: the banner says where it listens and how to make the first admin; the printed
/// command works as printed; SIGTERM stops the server cleanly; the next start sees the admin.
#[test]
fn serve_lifecycle() {
    let sandbox = Sandbox::new();
    let mut server = sandbox.serve();
    let data_file = sandbox.data_dir().join("ctihub.sqlite3");
    let lines = server.wait_for_stdout("the admin hint", |l| l.contains("ctihub user create --role admin"));
    assert_eq!(lines[0], format!("ctihub listening on {} (SQLite file {})", server.url, data_file.display()));
    assert!(server.url.starts_with("http://127.0.0.1:"), "{}", server.url);
    let hint = lines.iter().find(|l| l.contains("ctihub user create")).unwrap();

    // The healthcheck finds the server through the same setting the server used.
    let port = server.url.rsplit(':').next().unwrap();
    sandbox.cmd(&["healthcheck"]).env("CTIHUB_LISTEN", format!("127.0.0.1:{port}")).run().success();

    let words = shell_words(hint);
    assert_eq!(words[0], "ctihub");
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    assert!(args.windows(2).any(|w| w == ["--data-dir", sandbox.data_dir().to_str().unwrap()]), "{hint}");
    let id = sandbox.cmd(&args).run().success().stdout;
    assert!(id.trim().parse::<i64>().is_ok(), "{id:?}");

    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "{}", server.diagnostics());
    assert!(server.stderr().contains("stopped"), "{}", server.diagnostics());
    sandbox.cmd(&["healthcheck", "--url", &server.url]).run().failure();

    let mut server = sandbox.serve();
    assert_eq!(server.terminate().code(), Some(0));
    let lines = server.stdout();
    assert!(lines[0].starts_with("ctihub listening on "), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("no admin")), "an admin exists now: {lines:?}");
}

#[test]
fn serve_refuses_an_address_in_use() {
    let sandbox = Sandbox::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = sandbox.run(&["serve", "--listen", &addr]).failure();
    assert!(out.stderr.contains(&format!("error: cannot listen on {addr}")), "{out:?}");
}
