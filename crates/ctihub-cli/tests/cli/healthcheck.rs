use crate::helpers::{Sandbox, unused_port};

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let sandbox = Sandbox::new();
    let url = format!("http://127.0.0.1:{}", unused_port());
    let out = sandbox.cmd(&["healthcheck", "--url", &url]).run().failure();
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with(&format!("error: {url}/healthz did not answer")), "{out:?}");
}

#[test]
fn healthcheck_derives_its_url_from_the_listen_setting() {
    let sandbox = Sandbox::new();
    let port = unused_port();
    // A wildcard address is probed on loopback.
    let out = sandbox.cmd(&["healthcheck"]).env("CTIHUB_LISTEN", format!("0.0.0.0:{port}")).run().failure();
    assert!(out.stderr.starts_with(&format!("error: http://127.0.0.1:{port}/healthz did not answer")), "{out:?}");
}
