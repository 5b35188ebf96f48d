//! The Talk Partner Edition Calls API as partner integrations call it: every field rule, error
//! and default, the ticket and voice comment a call brings, and the same call seen through the
//! other dialects.

use ctihub_domain::call::{CallState, CompletionStatus, ExternalRef};
use ctihub_domain::organization::NewOrganization;
use ctihub_domain::phone::PhoneKind;
use ctihub_domain::ticket::{Channel, NewTicket};
use ctihub_domain::user::{NewUser, Role, User};
use ctihub_store::JournalFilter;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_each_app};
use crate::sse::EventStream;
use crate::zendesk_helpers::{Answer, answer};

const APP_ID: i64 = 735_264_019_863_524;
const CALLER: &str = "+15135557611";
const LINE: &str = "+18005550100";

/// Every field of the call object the documentation lists.
const CALL_FIELDS: &[&str] = &[
    "agent_id",
    "app_id",
    "brand_id",
    "call_disposition",
    "call_ended_at",
    "call_recording_consent",
    "call_recording_consent_action",
    "call_started_at",
    "call_type",
    "callback_number",
    "callback_source",
    "completion_status",
    "consultation_time",
    "created_at",
    "customer_requested_voicemail",
    "direction",
    "dnis",
    "duration",
    "end_user_id",
    "end_user_location",
    "exceeded_queue_time",
    "external_id",
    "from_line",
    "from_line_nickname",
    "hold_time",
    "id",
    "ivr_action",
    "ivr_destination_group_name",
    "ivr_hops",
    "ivr_routed_to",
    "ivr_time_spent",
    "not_recording_time",
    "organization_id",
    "outside_business_hours",
    "overflowed",
    "overflowed_to",
    "phone_name",
    "queue_name",
    "queue_time",
    "recording_control_interactions",
    "recording_time",
    "recording_url",
    "talk_time",
    "ticket_id",
    "time_to_answer",
    "to_line",
    "to_line_nickname",
    "transcript",
    "updated_at",
    "voicemail",
    "wait_time",
    "wrap_up_time",
];

/// A partner integration signed in as Zendesk clients sign in: e-mail and API token.
struct Integration<'a> {
    app: &'a TestApp,
    user: User,
    email: String,
    token: String,
}

impl Integration<'_> {
    async fn new(app: &TestApp) -> Integration<'_> {
        let (user, token) = app.user(Role::Agent, "pbx@example.com", "pbx password").await;
        Integration { app, user, email: "pbx@example.com".into(), token }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(path))
            .basic_auth(format!("{}/token", self.email), Some(&self.token))
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    async fn raw(&self, method: Method, path: &str, body: &'static str) -> Answer {
        answer(self.request(method, path).header("content-type", "application/json").body(body).send().await.unwrap())
            .await
    }

    async fn create(&self, body: Value) -> Answer {
        self.send(Method::POST, "/api/v2/calls.json", Some(body)).await
    }

    /// Create and expect success; the call object.
    async fn created(&self, body: Value) -> Value {
        let answer = self.create(body).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.body["call"].clone()
    }

    async fn get(&self, id: &Value) -> Answer {
        self.send(Method::GET, &format!("/api/v2/calls/{id}"), None).await
    }

    async fn patch(&self, id: &Value, call: Value) -> Answer {
        self.send(Method::PATCH, &format!("/api/v2/calls/{id}"), Some(json!({ "call": call }))).await
    }

    async fn comment(&self, id: &Value, body: Value) -> Answer {
        self.send(Method::POST, &format!("/api/v2/calls/{id}/comments.json"), Some(body)).await
    }
}

/// The curl example's call: the five mandatory fields.
fn minimal() -> Value {
    json!({
        "from_line": CALLER,
        "to_line": LINE,
        "call_started_at": "2022-01-27T15:31:40+01",
        "direction": "inbound",
        "app_id": APP_ID,
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn is_utc_timestamp(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T')
}

async fn journal(app: &TestApp, token: &str) -> Value {
    let response = app.client.get(app.url("/api/hub/journal")).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn journal_entry(journal: &Value, id: &Value) -> Value {
    let entries = journal["entries"].as_array().unwrap();
    entries.iter().find(|e| e["id"] == *id).cloned().unwrap_or_else(|| panic!("call {id} not in {journal}"))
}

#[tokio::test]
async fn the_documented_call_object_round_trips_with_every_field() {
    on_each_app(async |app| {
        let tpe = Integration::new(app).await;
        let org = app.store.create_organization(NewOrganization { name: "Acme".into(), ..Default::default() }).await;
        let org = org.unwrap();
        let mut caller = NewUser::new(Role::EndUser, "Known Caller");
        caller.organization_id = Some(org.id);
        let caller = app.store.create_user(caller).await.unwrap();
        // The documentation's example, with ids that exist here, and what a client may add.
        let example = json!({
            "agent_id": tpe.user.id, "app_id": APP_ID, "brand_id": 9157783614_i64,
            "call_disposition": "Call again later", "call_ended_at": "2022-01-27T15:31:40-04:00",
            "call_recording_consent": "opt_in", "call_recording_consent_action": "caller_opted_out",
            "call_started_at": "2022-01-27T15:31:40+01", "call_type": "PSTN", "callback_number": "+1 (661) 748-0123",
            "callback_source": "queue", "completion_status": "completed", "consultation_time": 67,
            "customer_requested_voicemail": false, "direction": "inbound", "dnis": "0800-12345", "duration": 345,
            "end_user_id": caller.id, "end_user_location": "Dublin", "exceeded_queue_time": true,
        });
        // In two parts: one literal this size is past `json!`'s recursion limit.
        let example = with(example, json!({
            "external_id": "1245HN567", "from_line": "+183808333456", "from_line_nickname": "Sales", "hold_time": 120,
            "ivr_action": "voicemail", "ivr_destination_group_name": "Billing", "ivr_hops": 3,
            "ivr_routed_to": "+1311123456789", "ivr_time_spent": 21, "not_recording_time": 210,
            "outside_business_hours": false, "overflowed": false, "overflowed_to": "+1 (661) 748-0123",
            "phone_name": "1300 SELL", "queue_name": "priority_one", "queue_time": 36,
            "recording_control_interactions": 3, "recording_time": 210,
            "recording_url": "https://somedomain.com/recording/123.mp3", "talk_time": 360, "time_to_answer": 24,
            "to_line": "+149488484873", "to_line_nickname": "Technical Support",
            "transcript": "There is an issue with my printer. Can you help? ...", "voicemail": false,
            "wait_time": 20, "wrap_up_time": 210,
            // Read-only and unknown fields are ignored.
            "id": 1, "created_at": "2000-01-01T00:00:00Z", "updated_at": "2000-01-01T00:00:00Z",
            "account_id": 42, "favourite_colour": "blue",
        }));
        let answer = tpe.create(json!({ "call": example })).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let call = answer.body["call"].clone();
        let id = call["id"].as_i64().unwrap();
        assert_ne!(id, 1);
        assert_eq!(
            answer.headers.get("location").unwrap().to_str().unwrap(),
            format!("{}/api/v2/calls/{id}.json", app.base)
        );
        let mut keys: Vec<&str> = call.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, CALL_FIELDS, "every documented field, nothing else");
        assert!(is_utc_timestamp(&call["created_at"]) && call["created_at"] != "2000-01-01T00:00:00Z");
        assert!(is_utc_timestamp(&call["updated_at"]));

        let mut expected = example.clone();
        for gone in ["account_id", "favourite_colour"] {
            expected.as_object_mut().unwrap().remove(gone);
        }
        expected["id"] = json!(id);
        expected["created_at"] = call["created_at"].clone();
        expected["updated_at"] = call["updated_at"].clone();
        // Times are answered in UTC; the organization defaults to the caller's; no ticket yet.
        expected["call_started_at"] = json!("2022-01-27T14:31:40Z");
        expected["call_ended_at"] = json!("2022-01-27T19:31:40Z");
        expected["organization_id"] = json!(org.id);
        expected["ticket_id"] = Value::Null;
        assert_eq!(call, expected);

        for path in [format!("/api/v2/calls/{id}"), format!("/api/v2/calls/{id}.json")] {
            let shown = tpe.send(Method::GET, &path, None).await;
            assert_eq!((shown.status, &shown.body), (200, &json!({ "call": call })), "{path}");
        }

        // Stored on the shared Call: core fields typed, the rest kept under their TPE names.
        let stored = app.store.get_call(id).await.unwrap();
        let data = &stored.data;
        assert_eq!((data.from_name.as_deref(), data.to_name.as_deref()), (Some("Sales"), Some("Technical Support")));
        assert_eq!((data.queue_name.as_deref(), data.dnis.as_deref()), (Some("priority_one"), Some("0800-12345")));
        assert_eq!(data.started_at, 1_643_293_900_000);
        assert_eq!(data.completion_status, Some(CompletionStatus::Completed));
        assert_eq!((data.agent_id, data.end_user_id), (Some(tpe.user.id), Some(caller.id)));
        assert_eq!((data.duration, data.talk_time, data.wait_time), (Some(345), Some(360), Some(20)));
        assert_eq!((data.state, data.done), (CallState::Ended, true), "an answered call needs no callback");
        assert_eq!(data.answered_at, Some(1_643_293_900_000 + 24_000), "started + time to answer");
        assert_eq!(data.details["app_id"], json!(APP_ID));
        assert_eq!(data.details["ivr_hops"], json!(3));
        assert_eq!(data.details["callback_source"], json!("queue"));
        assert!(!data.details.contains_key("favourite_colour"));
        assert_eq!(stored.external_refs, vec![ExternalRef::new("tpe", "1245HN567")]);
        let events = app.store.list_call_events(id).await.unwrap();
        assert_eq!(
            events.iter().map(|e| (e.source.as_str(), e.kind.as_str())).collect::<Vec<_>>(),
            [("tpe", "create")]
        );
        assert_eq!(events[0].payload["call"]["favourite_colour"], "blue", "the request is kept as sent");
    })
    .await;
}

#[tokio::test]
async fn a_minimal_call_defaults_the_rest_to_null_and_identifies_a_known_caller() {
    on_each_app(async |app| {
        let tpe = Integration::new(app).await;
        let call = tpe.created(json!({ "call": minimal() })).await;
        for field in CALL_FIELDS {
            let set =
                ["id", "created_at", "updated_at", "from_line", "to_line", "call_started_at", "direction", "app_id"];
            if !set.contains(field) {
                assert_eq!(call[*field], Value::Null, "{field}");
            }
        }
        assert_eq!(call["call_started_at"], "2022-01-27T14:31:40Z");
        assert!(app.store.identify_caller(CALLER).await.unwrap().is_empty(), "a call without comment creates nobody");
        let entry = journal_entry(&journal(app, &tpe.token).await, &call["id"]);
        assert_eq!((entry["state"].as_str(), entry["done"].as_bool()), (Some("ringing"), Some(false)));
        assert_eq!((entry["direction"].as_str(), entry["from"].as_str()), (Some("inbound"), Some(CALLER)));

        // A caller whose number is stored in another format is found through the caller index.
        let org = app.store.create_organization(NewOrganization { name: "Acme".into(), ..Default::default() }).await;
        let mut known = NewUser::new(Role::EndUser, "Known Caller");
        known.phones = vec![(PhoneKind::Mobile, "(513) 555-7611".into())];
        known.organization_id = Some(org.as_ref().unwrap().id);
        let known = app.store.create_user(known).await.unwrap();
        let call = tpe.created(json!({ "call": minimal() })).await;
        assert_eq!(
            (call["end_user_id"].as_i64(), call["organization_id"].as_i64()),
            (Some(known.id), known.organization_id)
        );

        // On an outbound call the customer is the one called.
        let outbound = with(minimal(), json!({"direction": "outbound", "from_line": LINE, "to_line": "513.555.7611"}));
        let call = tpe.created(json!({ "call": outbound })).await;
        assert_eq!(call["end_user_id"].as_i64(), Some(known.id));
        let entry = journal_entry(&journal(app, &tpe.token).await, &call["id"]);
        assert_eq!(entry["done"], true, "outbound calls never need a callback");
    })
    .await;
}

#[tokio::test]
async fn each_field_rule_is_a_record_invalid_detail() {
    on_each_app(async |app| {
        let tpe = Integration::new(app).await;
        let customer = app.store.create_user(NewUser::new(Role::EndUser, "Customer")).await.unwrap();
        let mut cases: Vec<(String, Value, &str, &str)> = Vec::new();
        for field in ["app_id", "call_started_at", "direction", "from_line", "to_line"] {
            let mut call = minimal();
            call.as_object_mut().unwrap().remove(field);
            cases.push((format!("{field} missing"), call, field, "BlankValue"));
        }
        let invalid = [
            (json!({"from_line": null}), "from_line", "BlankValue"),
            (json!({"to_line": "  "}), "to_line", "BlankValue"),
            (json!({"direction": ""}), "direction", "BlankValue"),
            (json!({"ticket_id": null}), "ticket_id", "InvalidValue"),
            (json!({"ticket_id": 5}), "ticket_id", "InvalidValue"),
            (json!({"duration": "long"}), "duration", "InvalidValue"),
            (json!({"wait_time": true}), "wait_time", "InvalidValue"),
            (json!({"app_id": [1]}), "app_id", "InvalidValue"),
            (json!({"hold_time": 1.5}), "hold_time", "InvalidValue"),
            (json!({"voicemail": "sometimes"}), "voicemail", "InvalidValue"),
            (json!({"overflowed": 2}), "overflowed", "InvalidValue"),
            (json!({"transcript": {"text": "hi"}}), "transcript", "InvalidValue"),
            (json!({"call_type": true}), "call_type", "InvalidValue"),
            (json!({"call_started_at": "yesterday"}), "call_started_at", "InvalidValue"),
            (json!({"call_ended_at": 1643293900}), "call_ended_at", "InvalidValue"),
            (json!({"direction": "sideways"}), "direction", "InvalidValue"),
            (json!({"completion_status": "finished"}), "completion_status", "InvalidValue"),
            (json!({"call_recording_consent": "sometimes"}), "call_recording_consent", "InvalidValue"),
            (json!({"callback_source": "phone"}), "callback_source", "InvalidValue"),
            (json!({"end_user_id": 999_999_999}), "end_user_id", "InvalidValue"),
            (json!({"agent_id": customer.id}), "agent_id", "InvalidValue"),
            (json!({"organization_id": 999_999_999}), "organization_id", "InvalidValue"),
        ];
        for (extra, field, error) in invalid {
            cases.push((extra.to_string(), with(minimal(), extra), field, error));
        }
        for (case, call, field, error) in cases {
            let answer = tpe.create(json!({ "call": call })).await;
            assert_eq!(answer.status, 422, "{case}: {}", answer.body);
            assert_eq!(answer.body["error"], "RecordInvalid", "{case}");
            assert_eq!(answer.body["description"], "Record validation errors", "{case}");
            let details = answer.body["details"].as_object().unwrap();
            assert_eq!(details.keys().collect::<Vec<_>>(), [field], "{case}: {}", answer.body);
            assert_eq!(details[field][0]["error"], error, "{case}");
        }

        // Every problem at once, each worded as Zendesk words them.
        let answer = tpe
            .create(json!({"call": {"ticket_id": null, "direction": "up", "duration": "x", "agent_id": customer.id}}))
            .await;
        assert_eq!(
            answer.body,
            json!({
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": {
                    "agent_id": [{"description": format!("Agent: user {} is not an agent", customer.id), "error": "InvalidValue"}],
                    "app_id": [{"description": "App: cannot be blank", "error": "BlankValue"}],
                    "call_started_at": [{"description": "Call started at: cannot be blank", "error": "BlankValue"}],
                    "direction": [{"description": "Direction: is not one of inbound, outbound, internal, callback", "error": "InvalidValue"}],
                    "duration": [{"description": "Duration: must be an integer", "error": "InvalidValue"}],
                    "from_line": [{"description": "From line: cannot be blank", "error": "BlankValue"}],
                    "ticket_id": [{"description": "Ticket: must not be included when creating a call, not even as null", "error": "InvalidValue"}],
                    "to_line": [{"description": "To line: cannot be blank", "error": "BlankValue"}],
                },
            })
        );

        // The comment's rules, checked before anything is written.
        let comment_cases = [
            (json!({"call_fields": ["duration"]}), "title", "BlankValue"),
            (json!({"title": 5}), "title", "InvalidValue"),
            (json!({"title": "t", "call_fields": 5}), "call_fields", "InvalidValue"),
            (json!({"title": "t", "display_to_agent": customer.id}), "display_to_agent", "InvalidValue"),
            (json!({"title": "t", "display_to_agent": "someone"}), "display_to_agent", "InvalidValue"),
            (json!({"title": "t", "author_id": 999_999_999}), "author_id", "InvalidValue"),
            (json!("a comment"), "comment", "InvalidValue"),
        ];
        for (comment, field, error) in comment_cases {
            let answer = tpe.create(json!({"call": minimal(), "comment": comment})).await;
            assert_eq!(answer.status, 422, "{comment}: {}", answer.body);
            assert_eq!(answer.body["details"][field][0]["error"], error, "{comment}: {}", answer.body);
        }
        let answer = tpe.create(json!({"call": "inbound"})).await;
        assert_eq!((answer.status, &answer.body["details"]["call"][0]["error"]), (422, &json!("InvalidValue")));

        // Bodies that are not a JSON object at all.
        let answer = tpe.raw(Method::POST, "/api/v2/calls.json", "{\"call\": {").await;
        assert_eq!((answer.status, &answer.body["error"]), (400, &json!("Unparseable JSON")));
        assert!(answer.body["description"].as_str().unwrap().starts_with("Server could not parse JSON"));
        let answer = tpe.raw(Method::POST, "/api/v2/calls", "[]").await;
        assert_eq!(answer.status, 400);
        let answer = tpe.raw(Method::POST, "/api/v2/calls", "").await;
        assert_eq!((answer.status, answer.body["details"].as_object().unwrap().len()), (422, 5), "an empty body lacks all");

        assert_eq!(app.store.count_journal(&JournalFilter::default()).await.unwrap(), 0, "no call was stored");
        assert_eq!(app.store.list_tickets(0, 10).await.unwrap().1, 0, "no ticket was created");
        assert!(app.store.identify_caller(CALLER).await.unwrap().is_empty(), "no caller was created");
    })
    .await;
}

#[tokio::test]
async fn a_call_with_a_comment_creates_the_ticket_its_requester_and_the_voice_comment() {
    on_each_app(async |app| {
        let tpe = Integration::new(app).await;
        let (anna, anna_token) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let mut console = EventStream::open(app, &anna_token, None).await;
        let call = with(
            minimal(),
            json!({"recording_url": "https://rec.example/1.mp3", "transcript": "Hello?\nMy printer...",
                   "duration": 345, "end_user_location": "Dublin"}),
        );
        let comment = json!({
            "title": "Printer on fire",
            "call_fields": ["duration", "bogus", "from_line", "recording_url", "location", 7],
            "display_to_agent": anna.id,
        });
        let created = tpe.created(json!({"call": call, "comment": comment})).await;
        let ticket_id = created["ticket_id"].as_i64().expect("the comment created a ticket");

        // The requester: a new end-user with only the caller's number, named like the TPE guide.
        let requester = app.store.get_user(created["end_user_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!(
            (requester.name.as_str(), requester.role, &requester.email),
            ("Caller: +15135557611", Role::EndUser, &None)
        );
        assert_eq!(requester.phones.iter().map(|p| p.raw.as_str()).collect::<Vec<_>>(), [CALLER]);
        assert_eq!(app.store.identify_caller("513-555-7611").await.unwrap()[0].user.id, requester.id);

        let ticket = app.store.get_ticket(ticket_id).await.unwrap();
        assert_eq!(ticket.subject, "Printer on fire", "the title, when there is no subject");
        assert_eq!((ticket.requester_id, ticket.submitter_id), (requester.id, tpe.user.id));
        assert_eq!(ticket.via.channel, Channel::PhoneInbound);
        let comments = app.store.list_comments(ticket_id).await.unwrap();
        assert_eq!(comments.len(), 1);
        let c = &comments[0];
        assert_eq!((c.body.as_str(), c.public, c.author_id), ("Printer on fire", false, requester.id));
        let voice = c.voice.as_ref().expect("a voice comment");
        assert_eq!((voice.from.as_deref(), voice.to.as_deref()), (Some(CALLER), Some(LINE)));
        assert_eq!(voice.recording_url.as_deref(), Some("https://rec.example/1.mp3"));
        assert_eq!(voice.transcript.as_deref(), Some("Hello?\nMy printer..."));
        assert_eq!((voice.duration, voice.location.as_deref()), (Some(345), Some("Dublin")));
        assert_eq!((voice.started_at, voice.call_id), (Some(1_643_293_900_000), created["id"].as_i64()));
        // The fields asked for that the documentation allows, in order, then the required ones.
        assert_eq!(
            voice.call_fields,
            vec![
                ("duration".to_string(), json!(345)),
                ("from_line".to_string(), json!(CALLER)),
                ("recording_url".to_string(), json!("https://rec.example/1.mp3")),
                ("location".to_string(), json!("Dublin")),
                ("app_id".to_string(), json!(APP_ID)),
                ("to_line".to_string(), json!(LINE)),
                ("call_started_at".to_string(), json!("2022-01-27T14:31:40Z")),
                ("direction".to_string(), json!("inbound")),
            ]
        );

        let pop = console.until("screen_pop").await.pop().unwrap();
        assert_eq!(
            pop.data,
            json!({"call_id": created["id"], "screen": "ticket", "ticket_id": ticket_id,
                   "url": format!("/console/tickets/{ticket_id}")})
        );

        // The same caller again: found, not created twice; `subject` wins over `title`.
        let again = tpe
            .created(json!({"call": minimal(), "comment": {"title": "Second call", "subject": "Callback wanted"}}))
            .await;
        assert_eq!(again["end_user_id"].as_i64(), Some(requester.id));
        assert_ne!(again["ticket_id"], created["ticket_id"]);
        let second = app.store.get_ticket(again["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!(second.subject, "Callback wanted");
        let voice = app.store.list_comments(second.id).await.unwrap()[0].voice.clone().unwrap();
        let names: Vec<&str> = voice.call_fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["app_id", "from_line", "to_line", "call_started_at", "direction"], "only the required");

        // An outbound call's ticket is for the number called, and comes in as an outbound call.
        let outbound = with(minimal(), json!({"direction": "outbound", "from_line": LINE, "to_line": "+15135550000"}));
        let out = tpe.created(json!({"call": outbound, "comment": {"title": "Called back"}})).await;
        let callee = app.store.get_user(out["end_user_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!(callee.name, "Caller: +15135550000");
        let ticket = app.store.get_ticket(out["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!((ticket.via.channel, ticket.requester_id), (Channel::PhoneOutbound, callee.id));

        // A named end user is the requester, whatever the number.
        let customer = app.store.create_user(NewUser::new(Role::EndUser, "Named")).await.unwrap();
        let named = tpe
            .created(json!({"call": with(minimal(), json!({"end_user_id": customer.id})), "comment": {"title": "t"}}))
            .await;
        let ticket = app.store.get_ticket(named["ticket_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!(ticket.requester_id, customer.id);
    })
    .await;
}

#[tokio::test]
async fn patching_a_call_updates_it_and_rerenders_its_voice_comment() {
    on_each_app(async |app| {
        let tpe = Integration::new(app).await;
        let comment = json!({"title": "Call", "call_fields": ["duration", "recording_url", "completion_status"]});
        let created = tpe.created(json!({"call": with(minimal(), json!({"duration": 60})), "comment": comment})).await;
        let id = created["id"].clone();
        let ticket_id = created["ticket_id"].as_i64().unwrap();

        // zenpy's update: PATCH without `.json`, the id inside the envelope, changed fields only.
        let patched = tpe
            .patch(
                &id,
                json!({"id": id, "app_id": 1, "duration": 120, "call_ended_at": "2022-04-16T09:15:37Z",
                       "recording_url": "http://external.site.com/recordings/abcdef", "completion_status": "completed",
                       "agent_id": tpe.user.id, "call_disposition": "solved", "ivr_hops": "2"}),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        let call = &patched.body["call"];
        assert_eq!(call["app_id"], json!(APP_ID), "app_id is read-only");
        assert_eq!((call["duration"].as_i64(), call["ivr_hops"].as_i64()), (Some(120), Some(2)));
        assert_eq!(call["call_ended_at"], "2022-04-16T09:15:37Z");
        assert_eq!(
            (call["completion_status"].as_str(), call["call_disposition"].as_str()),
            (Some("completed"), Some("solved"))
        );
        assert_eq!((call["from_line"].as_str(), call["ticket_id"].as_i64()), (Some(CALLER), Some(ticket_id)));
        assert!(call["updated_at"].as_str() >= created["updated_at"].as_str());
        assert_eq!(tpe.get(&id).await.body, patched.body);

        let voice = app.store.list_comments(ticket_id).await.unwrap()[0].voice.clone().unwrap();
        assert_eq!((voice.duration, voice.answered_by_id), (Some(120), Some(tpe.user.id)));
        assert_eq!(voice.recording_url.as_deref(), Some("http://external.site.com/recordings/abcdef"));
        assert_eq!(voice.call_fields[0], ("duration".to_string(), json!(120)));
        assert_eq!(
            voice.call_fields[1],
            ("recording_url".to_string(), json!("http://external.site.com/recordings/abcdef"))
        );
        assert_eq!(voice.call_fields[2], ("completion_status".to_string(), json!("completed")));

        // PUT with `.json` works too; null clears an optional field.
        let put = tpe
            .send(Method::PUT, &format!("/api/v2/calls/{id}.json"), Some(json!({"call": {"call_disposition": null}})))
            .await;
        assert_eq!((put.status, &put.body["call"]["call_disposition"]), (200, &Value::Null));
        assert_eq!(put.body["call"]["duration"], 120, "fields not sent stay as they were");

        // Linking another ticket: its existence is checked.
        let other = app
            .store
            .create_ticket(NewTicket {
                subject: "Other".into(),
                description: "d".into(),
                requester_id: created["end_user_id"].as_i64().unwrap(),
                ..Default::default()
            })
            .await
            .unwrap();
        let linked = tpe.patch(&id, json!({"ticket_id": other.id})).await;
        assert_eq!(linked.body["call"]["ticket_id"], other.id);

        for (body, field, error) in [
            (json!({"from_line": null}), "from_line", "BlankValue"),
            (json!({"direction": "up"}), "direction", "InvalidValue"),
            (json!({"talk_time": "long"}), "talk_time", "InvalidValue"),
            (json!({"ticket_id": 999_999_999}), "ticket_id", "InvalidValue"),
            (json!({"end_user_id": 999_999_999}), "end_user_id", "InvalidValue"),
        ] {
            let answer = tpe.patch(&id, body.clone()).await;
            assert_eq!(answer.status, 422, "{body}");
            assert_eq!(answer.body["details"][field][0]["error"], error, "{body}");
        }
        assert_eq!(tpe.get(&id).await.body["call"]["ticket_id"], other.id, "a rejected update changes nothing");
        let missing = tpe.patch(&json!(999_999_999), json!({"duration": 1})).await;
        assert_eq!(
            (missing.status, missing.body),
            (404, json!({"error": "RecordNotFound", "description": "Not found"}))
        );

        let events = app.store.list_call_events(id.as_i64().unwrap()).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["create", "update", "update", "update"], "every accepted request is recorded");
    })
    .await;
}

#[tokio::test]
async fn the_comments_endpoint_adds_voice_comments_and_pops_them() {
    on_each_app(async |app| {
        let tpe = Integration::new(app).await;
        let (anna, anna_token) = app.user(Role::Agent, "anna@example.com", "anna password").await;
        let mut console = EventStream::open(app, &anna_token, None).await;
        let call = tpe.created(json!({"call": with(minimal(), json!({"call_ended_at": "2022-01-27T15:32:40+01"}))})).await;
        let id = call["id"].clone();
        assert_eq!(call["ticket_id"], Value::Null);

        // The documentation's example body, bare as zenpy sends it.
        let answer = tpe
            .comment(
                &id,
                json!({"title": "this is the title", "display_to_agent": anna.id,
                       "call_fields": ["from_line", "to_line", "call_started_at", "call_ended_at", "direction", "nonsense"]}),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let comment = answer.body;
        assert_eq!((comment["type"].as_str(), comment["public"].as_bool()), (Some("TpeVoiceComment"), Some(false)));
        assert_eq!(comment["author_id"], tpe.user.id, "no author and no end user: the integration user");
        let data = comment["data"].as_object().unwrap();
        for (key, value) in [
            ("app_id", json!(APP_ID)),
            ("call_id", id.clone()),
            ("title", json!("this is the title")),
            ("from_line", json!(CALLER)),
            ("to_line", json!(LINE)),
            ("call_started_at", json!("2022-01-27T14:31:40Z")),
            ("call_ended_at", json!("2022-01-27T14:32:40Z")),
            ("direction", json!("inbound")),
            ("via_id", json!(45)),
        ] {
            assert_eq!(data.get(key), Some(&value), "data.{key}");
        }
        assert!(!data.contains_key("nonsense"), "names outside the list are ignored");
        assert_eq!(comment["formatted_from"], "+1 513-555-7611");
        assert!(is_utc_timestamp(&comment["created_at"]));
        assert!(comment["html_body"].as_str().unwrap().contains("<dt>Call ended at</dt><dd>2022-01-27T14:32:40Z</dd>"));

        // The call had no ticket: one was created for the caller and linked.
        let linked = tpe.get(&id).await.body["call"].clone();
        let ticket_id = linked["ticket_id"].as_i64().expect("linked");
        assert_eq!(comment["ticket_id"], ticket_id);
        let ticket = app.store.get_ticket(ticket_id).await.unwrap();
        assert_eq!((ticket.subject.as_str(), Some(ticket.requester_id)), ("this is the title", linked["end_user_id"].as_i64()));
        let pop = console.until("screen_pop").await.pop().unwrap();
        assert_eq!((pop.data["screen"].as_str(), pop.data["ticket_id"].as_i64()), (Some("ticket"), Some(ticket_id)));

        // Later comments go to the same ticket; the author defaults to the call's end user now.
        let second = tpe.comment(&id, json!({"title": "second"})).await;
        assert_eq!((second.status, &second.body["author_id"]), (201, &linked["end_user_id"]));
        let someone = app.store.create_user(NewUser::new(Role::EndUser, "Someone")).await.unwrap();
        let third = tpe
            .send(
                Method::POST,
                &format!("/api/v2/calls/{id}/comments"),
                Some(json!({"comment": {"title": "third", "author_id": someone.id}})),
            )
            .await;
        assert_eq!((third.status, third.body["author_id"].as_i64()), (201, Some(someone.id)), "an envelope is fine too");
        let comments = app.store.list_comments(ticket_id).await.unwrap();
        let titles: Vec<&str> = comments.iter().map(|c| c.body.as_str()).collect();
        assert_eq!(titles, ["this is the title", "second", "third"]);

        for (body, field, error) in [
            (json!({}), "title", "BlankValue"),
            (json!({"title": "  "}), "title", "BlankValue"),
            (json!({"title": ["t"]}), "title", "InvalidValue"),
            (json!({"title": "t", "display_to_agent": someone.id}), "display_to_agent", "InvalidValue"),
            (json!({"title": "t", "display_to_agent": 999_999_999}), "display_to_agent", "InvalidValue"),
            (json!({"title": "t", "author_id": 999_999_999}), "author_id", "InvalidValue"),
        ] {
            let answer = tpe.comment(&id, body.clone()).await;
            assert_eq!(answer.status, 422, "{body}");
            assert_eq!(answer.body["details"][field][0]["error"], error, "{body}");
        }
        assert_eq!(app.store.list_comments(ticket_id).await.unwrap().len(), 3, "rejected comments add nothing");
        // zenpy writes "no agent" as an empty string.
        let unpopped = tpe.comment(&id, json!({"title": "fourth", "display_to_agent": ""})).await;
        assert_eq!(unpopped.status, 201, "{}", unpopped.body);
        let missing = tpe.comment(&json!(999_999_999), json!({"title": "t"})).await;
        assert_eq!((missing.status, &missing.body["error"]), (404, &json!("RecordNotFound")));
    })
    .await;
}

#[tokio::test]
async fn only_agents_may_call_and_failures_answer_in_zendesks_shape() {
    on_each_app(async |app| {
        let tpe = Integration::new(app).await;
        let (_, admin_token) = app.user(Role::Admin, "admin@example.com", "admin password").await;
        let (_, customer_token) = app.user(Role::EndUser, "customer@example.com", "customer pw").await;
        let calls = app.url("/api/v2/calls.json");
        let body = json!({ "call": minimal() });

        let unauthenticated = [
            ("no credentials", app.client.post(&calls)),
            ("wrong token", app.client.post(&calls).basic_auth("pbx@example.com/token", Some("nope"))),
            ("wrong password", app.client.post(&calls).basic_auth("pbx@example.com", Some("nope"))),
        ];
        for (case, request) in unauthenticated {
            let answer = answer(request.json(&body).send().await.unwrap()).await;
            assert_eq!((answer.status, answer.body), (401, json!({"error": "Couldn't authenticate you"})), "{case}");
        }
        let forbidden = answer(app.client.post(&calls).bearer_auth(&customer_token).json(&body).send().await.unwrap()).await;
        assert_eq!(
            (forbidden.status, forbidden.body),
            (
                403,
                json!({"error": "Forbidden", "description": "You do not have access to this page. Please contact the account owner of this help desk for further help."})
            )
        );

        // Every credential form Zendesk clients use, for agents and admins.
        let created = answer(
            app.client.post(&calls).basic_auth("pbx@example.com", Some("pbx password")).json(&body).send().await.unwrap(),
        )
        .await;
        assert_eq!(created.status, 201, "email:password");
        let id = &created.body["call"]["id"];
        let shown = answer(app.client.get(app.url(&format!("/api/v2/calls/{id}"))).bearer_auth(&admin_token).send().await.unwrap()).await;
        assert_eq!((shown.status, &shown.body["call"]["id"]), (200, id), "Bearer, admin");
        assert_eq!(tpe.get(id).await.status, 200, "email/token");

        for path in ["/api/v2/calls/999999999", "/api/v2/calls/999999999.json", "/api/v2/calls/abc", "/api/v2/calls/1.xml"] {
            let answer = tpe.send(Method::GET, path, None).await;
            assert_eq!((answer.status, answer.body), (404, json!({"error": "RecordNotFound", "description": "Not found"})), "{path}");
        }
        for (method, path) in [(Method::DELETE, format!("/api/v2/calls/{id}")), (Method::GET, "/api/v2/calls.json".into())] {
            let answer = tpe.send(method.clone(), &path, None).await;
            assert_eq!((answer.status, &answer.body["error"]), (404, &json!("InvalidEndpoint")), "{method} {path}");
        }
    })
    .await;
}

#[tokio::test]
async fn one_call_many_views() {
    on_each_app(async |app| {
        let tpe = Integration::new(app).await;
        // A call a PBX pushed through the Zammad dialect, answered and hung up.
        let url = app.enable_cti(|_| {}).await;
        let base = "from=15135557611&to=18005550100&direction=in&callId=zammad-7";
        for event in ["event=newCall", "event=answer&user=pbx", "event=hangup&cause=normalClearing"] {
            assert_eq!(app.push(&url, &format!("{event}&{base}")).await.0, 200);
        }
        let pushed = app.store.find_call_by_ref("zammad", "zammad-7").await.unwrap().unwrap();

        let shown = tpe.get(&json!(pushed.id)).await;
        assert_eq!(shown.status, 200);
        let call = &shown.body["call"];
        assert_eq!((call["direction"].as_str(), call["from_line"].as_str()), (Some("inbound"), Some("15135557611")));
        assert_eq!(
            (call["completion_status"].as_str(), call["external_id"].as_str()),
            (Some("completed"), Some("zammad-7"))
        );
        assert_eq!(call["agent_id"], tpe.user.id, "the agent Zammad's `user` named");
        assert!(is_utc_timestamp(&call["call_started_at"]) && is_utc_timestamp(&call["call_ended_at"]));
        assert_eq!(call["app_id"], Value::Null);

        // Patched here, seen there.
        let patched = tpe
            .patch(&json!(pushed.id), json!({"talk_time": 300, "recording_url": "https://rec.example/z7.mp3"}))
            .await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        let log: Value = app
            .client
            .get(app.url("/api/v1/cti/log"))
            .bearer_auth(&tpe.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let entry = log["list"].as_array().unwrap().iter().find(|e| e["call_id"] == "zammad-7").unwrap();
        assert_eq!((entry["duration_talking_time"].as_i64(), entry["done"].as_bool()), (Some(300), Some(true)));
        let stored = app.store.get_call(pushed.id).await.unwrap();
        assert_eq!(stored.data.answered_at, pushed.data.answered_at, "what the PBX reported stays");
        assert_eq!(stored.data.recording_url.as_deref(), Some("https://rec.example/z7.mp3"));
        assert_eq!(stored.external_refs, pushed.external_refs);

        // A TPE call is a journal entry like any other; an abandoned one needs a callback.
        let abandoned =
            tpe.created(json!({"call": with(minimal(), json!({"completion_status": "abandoned_in_queue"}))})).await;
        let page = journal(app, &tpe.token).await;
        let entry = journal_entry(&page, &abandoned["id"]);
        assert_eq!((entry["state"].as_str(), entry["done"].as_bool()), (Some("ended"), Some(false)));
        assert_eq!(entry["completion_status"], "abandoned_in_queue");
        assert_eq!(page["open_count"], 1);
        // Marked done in the console, it stays done when the partner adds a recording.
        app.store.set_calls_done(&[abandoned["id"].as_i64().unwrap()], true).await.unwrap();
        tpe.patch(&abandoned["id"], json!({"recording_url": "https://rec.example/a.mp3"})).await;
        assert_eq!(journal_entry(&journal(app, &tpe.token).await, &abandoned["id"])["done"], true);
    })
    .await;
}

#[tokio::test]
async fn external_ids_find_the_call_from_other_dialects() {
    on_each_app(async |app| {
        let tpe = Integration::new(app).await;
        let first = tpe.created(json!({"call": with(minimal(), json!({"external_id": "ext-1"}))})).await;
        let found = app.store.find_call_by_ref("tpe", "ext-1").await.unwrap().unwrap();
        assert_eq!(json!(found.id), first["id"]);

        // Zendesk does not make external ids unique; the id keeps finding the first call.
        let second = tpe.created(json!({"call": with(minimal(), json!({"external_id": "ext-1"}))})).await;
        assert_eq!(second["external_id"], "ext-1");
        assert_eq!(json!(app.store.find_call_by_ref("tpe", "ext-1").await.unwrap().unwrap().id), first["id"]);

        let renamed = tpe.patch(&second["id"], json!({"external_id": "ext-2"})).await;
        assert_eq!(renamed.body["call"]["external_id"], "ext-2");
        assert_eq!(json!(app.store.find_call_by_ref("tpe", "ext-2").await.unwrap().unwrap().id), second["id"]);
    })
    .await;
}
