//! Zendesk tickets, ticket fields and the voice channel: tickets from calls and voicemails,
//! voice comments with recordings, call metrics in custom fields, and the display endpoints
//! that pop a ticket or profile in an agent's console.

use std::time::Duration;

use ctihub_domain::phone::PhoneKind;
use ctihub_domain::user::{NewUser, Role};
use ctihub_store::JournalFilter;
use reqwest::Method;
use serde_json::{Value, json};

use crate::console_helpers::sign_in;
use crate::helpers::{TestApp, on_each_app};
use crate::sse::EventStream;
use crate::zendesk_helpers::{Zendesk, ids};

fn voice_comment() -> Value {
    json!({
        "from": "+16617480240", "to": "+16617480123",
        "recording_url": "http://www.yourdomain.com/recordings.mp3",
        "started_at": "2013-06-24 15:31:44 +0000", "call_duration": 414,
        "transcription_text": "The transcription of the call", "location": "Dublin, Ireland"
    })
}

async fn caller(app: &TestApp) -> i64 {
    let mut user = NewUser::new(Role::EndUser, "Eric Caller");
    user.phones = vec![(PhoneKind::Phone, "+16617480240".into())];
    app.store.create_user(user).await.unwrap().id
}

#[tokio::test]
async fn tickets_carry_comments_custom_fields_and_tags_with_an_audit() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let requester = caller(app).await;
        let talk = zd.created("/api/v2/ticket_fields.json", json!({"ticket_field": {"type": "integer", "title": "Talk time"}}), "ticket_field").await;
        let wrap = zd.created("/api/v2/ticket_fields", json!({"ticket_field": {"type": "text", "title": "Wrap-up code"}}), "ticket_field").await;
        assert_eq!(ids(&zd.get("/api/v2/ticket_fields.json").await.body["ticket_fields"]), vec![talk["id"].as_i64().unwrap(), wrap["id"].as_i64().unwrap()]);

        let created = zd.post("/api/v2/tickets.json", json!({"ticket": {
            "subject": "Phone call", "requester_id": requester,
            "comment": {"body": "Caller asked about billing", "public": false},
            "custom_fields": [{"id": talk["id"], "value": 0}], "tags": ["phone", "IVR_2"],
        }})).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let ticket = &created.body["ticket"];
        let id = ticket["id"].as_i64().unwrap();
        assert_eq!(ticket["tags"], json!(["phone", "ivr_2"]));
        assert_eq!(ticket["description"], "Caller asked about billing");
        assert_eq!(ticket["status"], "new");
        assert_eq!(ticket["custom_fields"], json!([{"id": talk["id"], "value": 0}, {"id": wrap["id"], "value": null}]));
        assert!(created.headers["location"].to_str().unwrap().ends_with(&format!("/api/v2/tickets/{id}.json")));
        let audit = &created.body["audit"];
        assert_eq!(audit["ticket_id"], id);
        assert!(audit["events"].as_array().unwrap().iter().any(|e| e["type"] == "Comment" && e["public"] == false));

        // Call metrics and the wrap-up code after the call, through an update (feature 9).
        let updated = zd.put(&format!("/api/v2/tickets/{id}.json"), json!({"ticket": {
            "id": id, "custom_fields": [{"id": talk["id"], "value": 414}, {"id": wrap["id"], "value": "sale"}],
            "additional_tags": ["wrapup_sale"], "status": "solved",
        }})).await;
        assert_eq!(updated.status, 200, "{}", updated.body);
        let changes: Vec<(String, Value)> = updated.body["audit"]["events"].as_array().unwrap().iter()
            .map(|e| (e["field_name"].as_str().unwrap_or_default().to_owned(), e["value"].clone())).collect();
        assert!(changes.contains(&("status".into(), json!("solved"))), "{changes:?}");
        assert!(changes.contains(&(talk["id"].to_string(), json!(414))), "{changes:?}");
        let shown = zd.get(&format!("/api/v2/tickets/{id}")).await.body["ticket"].clone();
        assert_eq!(shown["custom_fields"], json!([{"id": talk["id"], "value": 414}, {"id": wrap["id"], "value": "sale"}]));
        assert_eq!(shown["tags"], json!(["phone", "ivr_2", "wrapup_sale"]));
        // Stored for search too.
        assert_eq!(ids(&zd.search(&format!("type:ticket custom_field_{}:sale", wrap["id"])).await["results"]), vec![id]);
        assert_eq!(ids(&zd.search("type:ticket tags:wrapup_sale").await["results"]), vec![id]);
        assert_eq!(zd.get("/api/v2/tickets.json").await.body["count"], 1);

        let bad = zd.post("/api/v2/tickets.json", json!({"ticket": {
            "requester_id": 999999, "comment": {"body": "x"}, "custom_fields": [{"id": 1, "value": 1}, {"id": talk["id"], "value": "lots"}],
            "status": "done", "assignee_id": requester,
        }})).await;
        assert_eq!(bad.status, 422);
        for field in ["requester_id", "custom_fields", "status", "assignee_id"] {
            assert!(bad.body["details"].get(field).is_some(), "{field}: {}", bad.body);
        }
        assert_eq!(bad.body["details"]["custom_fields"].as_array().unwrap().len(), 2);
        let via = zd.post("/api/v2/tickets.json", json!({"ticket": {"via_id": 46, "requester_id": requester, "comment": {"body": "Called back"}}})).await;
        assert_eq!(via.status, 201);
        assert_eq!((via.body["ticket"]["via"]["channel"].as_str(), via.body["ticket"]["via"]["source"]["rel"].as_str()), (Some("voice"), Some("outbound")));
        let bad_via = zd.post("/api/v2/tickets.json", json!({"ticket": {"via_id": 3, "comment": {"body": "x"}}})).await;
        assert!(bad_via.body["details"]["via_id"].is_array(), "{}", bad_via.body);
        let empty = zd.post("/api/v2/tickets.json", json!({"ticket": {"subject": "nothing"}})).await;
        assert_eq!(empty.body["details"]["description"][0]["error"], "BlankValue");
        assert_eq!(zd.get("/api/v2/tickets/999999.json").await.status, 404);
        assert_eq!(zd.get("/api/v2/tickets.json").await.body["count"], 2, "refused tickets leave nothing behind");
    })
    .await;
}

#[tokio::test]
async fn a_recording_is_added_as_a_voice_comment_and_the_call_is_kept() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let requester = caller(app).await;
        let ticket = zd
            .created(
                "/api/v2/tickets.json",
                json!({"ticket": {"requester_id": requester, "comment": {"body": "Call"}}}),
                "ticket",
            )
            .await;
        let id = ticket["id"].as_i64().unwrap();
        let mut voice = voice_comment();
        voice["answered_by_id"] = json!(zd.user.id);
        let updated = zd.put(&format!("/api/v2/tickets/{id}.json"), json!({"ticket": {"voice_comment": voice}})).await;
        assert_eq!(updated.status, 200, "{}", updated.body);
        let event = updated.body["audit"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "VoiceComment")
            .cloned()
            .unwrap();
        assert_eq!(event["data"]["recording_url"], "http://www.yourdomain.com/recordings.mp3");
        assert_eq!(event["data"]["transcription_text"], "The transcription of the call");
        assert_eq!(event["data"]["started_at"], "2013-06-24T15:31:44Z");

        let comments = zd.get(&format!("/api/v2/tickets/{id}/comments.json")).await.body["comments"].clone();
        let added = &comments[1];
        assert_eq!(added["type"], "VoiceComment");
        assert_eq!(added["public"], false);
        let body = added["body"].as_str().unwrap();
        for line in [
            "Call from: +16617480240",
            "Answered by: pbx",
            "Length of phone call: 414 seconds",
            "Location: Dublin, Ireland",
        ] {
            assert!(body.contains(line), "{line} in {body}");
        }
        // The call it reports is stored: it is in the journal, answered, on the ticket.
        let stored = app.store.get_comment(added["id"].as_i64().unwrap()).await.unwrap();
        let call = app.store.get_call(stored.voice.unwrap().call_id.unwrap()).await.unwrap();
        assert_eq!(
            (call.data.ticket_id, call.data.agent_id, call.data.talk_time),
            (Some(id), Some(zd.user.id), Some(414))
        );
        let journal = app.store.list_journal(&JournalFilter::default(), 10).await.unwrap();
        assert!(journal.iter().any(|c| c.id == call.id));

        let mut bad = voice_comment();
        bad.as_object_mut().unwrap().remove("to");
        bad["recording_url"] = json!("recording.mp3");
        bad["answered_by_id"] = json!(requester);
        let refused = zd.put(&format!("/api/v2/tickets/{id}.json"), json!({"ticket": {"voice_comment": bad}})).await;
        assert_eq!(refused.status, 422);
        for field in ["voice_comment.to", "voice_comment.recording_url", "voice_comment"] {
            assert!(refused.body["details"].get(field).is_some(), "{field}: {}", refused.body);
        }
    })
    .await;
}

#[tokio::test]
async fn the_voice_channel_checks_via_ids_and_voicemails() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        for (via_id, expected) in
            [(Value::Null, "BlankValue"), (json!(5), "InvalidValue"), (json!("47"), "InvalidValue")]
        {
            let answer = zd
                .post(
                    "/api/v2/channels/voice/tickets.json",
                    json!({"ticket": {"via_id": via_id, "comment": {"body": "x"}}}),
                )
                .await;
            assert_eq!(answer.status, 422, "{via_id}");
            assert_eq!(answer.body["details"]["via_id"][0]["error"], expected);
        }
        let no_voice = zd
            .post("/api/v2/channels/voice/tickets.json", json!({"ticket": {"via_id": 44, "description": "Voicemail"}}))
            .await;
        assert_eq!(no_voice.status, 422);
        assert!(no_voice.body["details"]["voice_comment"][0]["description"].as_str().unwrap().contains("voicemail"));
        let bad_agent = zd
            .post(
                "/api/v2/channels/voice/tickets.json",
                json!({"display_to_agent": 999999, "ticket": {"via_id": 45, "comment": {"body": "x"}}}),
            )
            .await;
        assert_eq!(bad_agent.status, 422);
        assert!(bad_agent.body["details"]["display_to_agent"].is_array());
        assert_eq!(zd.get("/api/v2/tickets.json").await.body["count"], 0, "nothing was created");

        // The guide's voicemail: a ticket whose first comment is the recording, from the caller.
        let requester = caller(app).await;
        let voicemail = zd
            .post(
                "/api/v2/channels/voice/tickets.json",
                json!({"ticket": {"via_id": 44, "voice_comment": voice_comment()}}),
            )
            .await;
        assert_eq!(voicemail.status, 201, "{}", voicemail.body);
        let ticket = &voicemail.body["ticket"];
        assert_eq!(ticket["via"]["channel"], "voice");
        assert_eq!(ticket["via"]["source"]["rel"], "voicemail");
        assert_eq!(ticket["subject"], "Voicemail from: +16617480240");
        assert_eq!(ticket["requester_id"], zd.user.id, "no requester given: the submitter, as in Zendesk");
        let comments = zd.get(&format!("/api/v2/tickets/{}/comments", ticket["id"])).await.body["comments"].clone();
        assert_eq!(comments.as_array().unwrap().len(), 1);
        assert_eq!(comments[0]["type"], "VoiceComment");
        let calls = app.store.list_journal(&JournalFilter::default(), 10).await.unwrap();
        let call = calls.iter().find(|c| c.data.ticket_id == ticket["id"].as_i64()).expect("the voicemail's call");
        assert!(!call.data.done, "a voicemail needs a call back");

        // An inbound call with a requester, zenpy's `""` for no agent to display to.
        let inbound = zd
            .post(
                "/api/v2/channels/voice/tickets.json",
                json!({"display_to_agent": "", "ticket": {
                    "via_id": 45, "requester_id": requester, "subject": "My printer is on fire!",
                    "comment": {"body": "The smoke is very colorful."}, "priority": "urgent",
                }}),
            )
            .await;
        assert_eq!(inbound.status, 201, "{}", inbound.body);
        assert_eq!(inbound.body["ticket"]["via"]["source"]["rel"], "inbound");
        assert_eq!(inbound.body["ticket"]["priority"], "urgent");
        assert!(inbound.body["audit"].is_object());
        let search = zd.search("type:ticket via:voicemail").await;
        assert_eq!(ids(&search["results"]), vec![ticket["id"].as_i64().unwrap()]);
    })
    .await;
}

#[tokio::test]
async fn display_endpoints_pop_in_an_open_console_and_say_when_they_cannot() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let (agent, _) = app.user(Role::Agent, "desk@example.com", "desk password").await;
        let requester = caller(app).await;
        let ticket = zd.created("/api/v2/tickets.json", json!({"ticket": {"requester_id": requester, "comment": {"body": "x"}}}), "ticket").await;
        let display_ticket = format!("/api/v2/channels/voice/agents/{}/tickets/{}/display.json", agent.id, ticket["id"]);
        let display_user = format!("/api/v2/channels/voice/agents/{}/users/{requester}/display", agent.id);

        // No console open: nothing can be shown.
        let offline = zd.post(&display_ticket, json!({})).await;
        assert_eq!((offline.status, offline.body["error"].as_str()), (409, Some("AgentOffline")));

        // Signed in but with no console page holding its live stream: still nowhere to show it.
        let (cookie, _) = sign_in(app, "desk@example.com", "desk password").await.unwrap();
        let signed_in_only = zd.post(&display_ticket, json!({})).await;
        assert_eq!(signed_in_only.status, 409);
        let mut events = EventStream::open_console(app, &cookie).await;
        // zenpy posts the two bytes `""`; node-zendesk `{}` or nothing.
        let answer = zd.request(Method::POST, &display_ticket).header("content-type", "application/json").body("\"\"").send().await.unwrap();
        let answer = crate::zendesk_helpers::answer(answer).await;
        assert_eq!((answer.status, answer.body.clone()), (200, json!({})));
        let pop = events.until("screen_pop").await.pop().unwrap();
        assert_eq!((pop.data["screen"].as_str(), pop.data["ticket_id"].clone()), (Some("ticket"), ticket["id"].clone()));

        let answer = crate::zendesk_helpers::answer(zd.request(Method::POST, &display_user).send().await.unwrap()).await;
        assert_eq!(answer.status, 200);
        let pop = events.until("screen_pop").await.pop().unwrap();
        assert_eq!((pop.data["screen"].as_str(), pop.data["user_id"].as_i64()), (Some("user_profile"), Some(requester)));

        // A voice ticket shown to the agent as it is created.
        let created = zd.post("/api/v2/channels/voice/tickets.json", json!({"display_to_agent": agent.id, "ticket": {"via_id": 45, "requester_id": requester, "comment": {"body": "Call"}}})).await;
        assert_eq!(created.status, 201);
        let pop = events.until("screen_pop").await.pop().unwrap();
        assert_eq!(pop.data["ticket_id"], created.body["ticket"]["id"]);

        for path in [
            format!("/api/v2/channels/voice/agents/999999/tickets/{}/display.json", ticket["id"]),
            format!("/api/v2/channels/voice/agents/{}/tickets/999999/display.json", agent.id),
            format!("/api/v2/channels/voice/agents/{}/users/999999/display.json", agent.id),
            // An end-user is not an agent.
            format!("/api/v2/channels/voice/agents/{requester}/users/{requester}/display.json"),
        ] {
            let missing = zd.post(&path, json!({})).await;
            assert_eq!((missing.status, missing.body["error"].as_str()), (404, Some("RecordNotFound")), "{path}");
        }
        assert!(events.next(Duration::from_millis(200)).await.is_none_or(|e| e.kind != "screen_pop"));

        // The page went away: its stream no longer counts, and the agent is offline again.
        drop(events);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        loop {
            let answer = zd.post(&display_ticket, json!({})).await;
            if answer.status == 409 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "still counted open: {}", answer.status);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn zendesk_wire_conventions_hold_on_every_route() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let me = zd.get("/api/v2/users/me").await;
        assert_eq!(me.headers["x-rate-limit"], "700");
        assert_eq!(me.headers["x-rate-limit-remaining"], "699");
        assert!(me.headers.get("retry-after").is_none(), "node-zendesk reads Retry-After as rate-limited");
        // GET with a JSON content type and an empty body, as node-zendesk sends it.
        let answer = zd
            .request(Method::GET, "/api/v2/tickets.json")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let wrong_method = zd.send(Method::DELETE, "/api/v2/search.json", None).await;
        assert_eq!((wrong_method.status, wrong_method.body["error"].as_str()), (404, Some("InvalidEndpoint")));
        let not_json = zd
            .request(Method::POST, "/api/v2/tickets.json")
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap();
        assert_eq!(crate::zendesk_helpers::answer(not_json).await.status, 400);
    })
    .await;
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_an_integer_retry_after() {
    crate::helpers::on_each_app_with(
        |state| state.with_api_rate_limit(3),
        async |app| {
            let zd = Zendesk::admin(app).await;
            for remaining in ["2", "1", "0"] {
                let answer = zd.get("/api/v2/users/me.json").await;
                assert_eq!(answer.headers["x-rate-limit-remaining"], remaining);
            }
            let limited = zd.request(Method::GET, "/api/v2/users/me.json").send().await.unwrap();
            assert_eq!(limited.status(), 429);
            let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().expect("whole seconds");
            assert!((1..=60).contains(&retry));
            assert_eq!(limited.headers()["x-rate-limit-remaining"], "0");
            assert_eq!(limited.text().await.unwrap(), "Number of allowed API requests per minute exceeded");
            // Another credential has its own budget.
            let other = Zendesk::as_role(app, Role::Agent, "other@example.com").await;
            assert_eq!(other.get("/api/v2/users/me.json").await.status, 200);
        },
    )
    .await;
}

#[tokio::test]
async fn voice_tickets_are_routed_like_tickets_from_any_dialect() {
    on_each_app(async |app| {
        let zd = Zendesk::admin(app).await;
        let support = app.store.create_group(ctihub_domain::organization::NewGroup { name: "Support".into(), description: None }).await.unwrap();
        let rules = json!({
            "lines": [{"number": "+16617480123", "name": "Hotline", "time_zone": "UTC",
                       "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}]}],
            "rules": [{"name": "hotline", "when": {"dialed": "+16617480123"}, "then": {"group_id": support.id, "tags": ["hotline"]}}],
        });
        let saved = app.client.put(app.url("/api/hub/routing")).bearer_auth(&zd.token).json(&rules).send().await.unwrap();
        assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());

        // The voice comment's `to` is the line dialed; 2019-04-16 09:14 UTC was a Tuesday, open.
        let voicemail = zd.created("/api/v2/channels/voice/tickets.json", json!({"ticket": {"via_id": 44, "voice_comment": voice_comment()}}), "ticket").await;
        assert_eq!(voicemail["group_id"], support.id);
        assert_eq!(voicemail["tags"], json!(["hotline"]));
        let comments = zd.get(&format!("/api/v2/tickets/{}/comments", voicemail["id"])).await.body["comments"].clone();
        let stored = app.store.get_comment(comments[0]["id"].as_i64().unwrap()).await.unwrap();
        let call = app.store.get_call(stored.voice.unwrap().call_id.unwrap()).await.unwrap();
        assert_eq!(call.data.details["outside_business_hours"], json!(false));

        // What the request sets is kept; a plain API ticket is not a call and is not routed.
        let mut voice = voice_comment();
        voice["started_at"] = json!("2019-04-13T09:00:00Z");
        let chosen = zd.created("/api/v2/channels/voice/tickets.json", json!({"ticket": {"via_id": 45, "tags": ["mine"], "voice_comment": voice}}), "ticket").await;
        assert_eq!(chosen["tags"], json!(["mine", "hotline"]));
        let plain = zd.created("/api/v2/tickets.json", json!({"ticket": {"comment": {"body": "e-mail follow-up"}}}), "ticket").await;
        assert_eq!(plain["group_id"], Value::Null);
    })
    .await;
}
