//! `ctihub cti …` against the data directory of a running server: each change holds at once.

use crate::helpers::{Sandbox, http_post_form};

#[test]
fn cti_settings_made_on_the_command_line_hold_in_a_running_server_at_once() {
    let sandbox = Sandbox::new();
    let server = sandbox.serve();

    let path = sandbox.run(&["cti", "enable"]).success().stdout;
    let path = path.trim();
    assert!(path.starts_with("/api/v1/cti/") && !path.contains('\n') && path.len() > 30, "{path:?}");
    let new_call = "event=newCall&direction=in&from=491715000000&to=4930600000000&callId=1";
    assert_eq!(http_post_form(&server.url, path, new_call), (200, "{}".into()));

    sandbox.run(&["cti", "block", "add", "491715000000", "--note", "spam"]).success();
    let blocked = "event=newCall&direction=in&from=491715000000&to=4930600000000&callId=2";
    assert_eq!(http_post_form(&server.url, path, blocked), (200, r#"{"action":"reject","reason":"busy"}"#.into()));
    sandbox.run(&["cti", "block", "remove", "491715000000"]).success();
    let unblocked = "event=newCall&direction=in&from=491715000000&to=4930600000000&callId=3";
    assert_eq!(http_post_form(&server.url, path, unblocked).1, "{}");

    sandbox.run(&["cti", "route", "add", "41*", "41715880339000"]).success();
    sandbox.run(&["cti", "caller-id", "4930609854180"]).success();
    let (status, body) =
        http_post_form(&server.url, path, "event=newCall&direction=out&from=201&to=41715880339111&callId=4");
    assert_eq!(status, 200);
    assert!(body.contains(r#""caller_id":"41715880339000""#), "{body}");
    let (_, body) = http_post_form(&server.url, path, "event=newCall&direction=out&from=201&to=4989123456&callId=5");
    assert!(body.contains(r#""caller_id":"4930609854180""#), "the default caller id: {body}");

    sandbox.create_user("agent", "Anna", "anna@example.com");
    sandbox.run(&["cti", "notify", "add", "4930600000000", "--agent", "anna@example.com"]).success();
    let shown: serde_json::Value = serde_json::from_str(&sandbox.run(&["cti", "show"]).success().stdout).unwrap();
    assert_eq!(shown["enabled"], true);
    assert_eq!(shown["push_path"], path);
    assert_eq!(shown["outbound"]["routing_table"][0]["dest"], "41*");
    assert_eq!(shown["notify_map"][0]["queue"], "4930600000000");
    assert_eq!(shown["default_region"], "US");

    let rotated = sandbox.run(&["cti", "token", "rotate"]).success().stdout;
    let rotated = rotated.trim();
    assert_ne!(rotated, path);
    assert_eq!(http_post_form(&server.url, path, new_call).0, 401, "the old push URL stops working at once");
    assert_eq!(http_post_form(&server.url, rotated, "event=newCall&direction=in&from=1&to=2&callId=6").0, 200);

    sandbox.run(&["cti", "disable"]).success();
    assert_eq!(http_post_form(&server.url, rotated, "event=newCall&direction=in&from=1&to=2&callId=7").0, 422);
}

#[test]
fn cti_commands_explain_what_is_wrong() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["cti", "notify", "add", "support", "--agent", "nobody@example.com"]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("no user has the email address nobody@example.com"), "{out:?}");
    sandbox.create_user("end-user", "Carl", "carl@example.com");
    let out = sandbox.run(&["cti", "notify", "add", "support", "--agent", "carl@example.com"]);
    assert!(out.stderr.contains("carl@example.com is not an agent"), "{out:?}");
    let out = sandbox.run(&["cti", "block", "remove", "12345"]);
    assert!(out.stderr.contains("12345 is not on the block list"), "{out:?}");
    let out = sandbox.run(&["cti", "freshdesk", "--new-ticket", "maybe"]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("possible values: on, off"), "{out:?}");
    let out = sandbox.run(&["cti", "route", "add", "", "4930"]);
    assert!(!out.status.success(), "an empty pattern is refused: {out:?}");
    assert!(out.stderr.contains("outbound.routing_table[0].dest"), "{out:?}");
}

#[test]
fn freshdesks_new_ticket_option_is_switched_on_the_command_line_and_shown() {
    let sandbox = Sandbox::new();
    let shown = |sandbox: &Sandbox| -> serde_json::Value {
        serde_json::from_str(&sandbox.run(&["cti", "show"]).success().stdout).unwrap()
    };
    assert_eq!(shown(&sandbox)["freshdesk"]["new_ticket"], false);
    let out = sandbox.run(&["cti", "freshdesk", "--new-ticket", "on"]).success();
    assert_eq!(out.stdout, "", "nothing to print");
    assert_eq!(shown(&sandbox)["freshdesk"]["new_ticket"], true);
    sandbox.run(&["cti", "freshdesk", "--new-ticket", "off"]).success();
    assert_eq!(shown(&sandbox)["freshdesk"]["new_ticket"], false);
}
