// node-zendesk against a live ctihub: the CTI guide's flows through the library's own methods
// (search, users, user and ticket fields, tickets), and its generic `post` for the voice-channel
// endpoints it has no methods for, as a Node integration written for Zendesk does. The client
// is pointed at ctihub with `endpointUri` only.
// compat/run sets CTIHUB_URL, CTIHUB_EMAIL, CTIHUB_PASSWORD, CTIHUB_TOKEN, CTIHUB_AGENT_ID,
// CTIHUB_ADMIN_EMAIL and CTIHUB_ADMIN_TOKEN.

const assert = require("node:assert/strict");
const { test, after } = require("node:test");
const crypto = require("node:crypto");
const zendesk = require("node-zendesk");

const URL = process.env.CTIHUB_URL;
const AGENT_ID = Number(process.env.CTIHUB_AGENT_ID);
const client = zendesk.createClient({
  username: process.env.CTIHUB_ADMIN_EMAIL,
  token: process.env.CTIHUB_ADMIN_TOKEN,
  endpointUri: `${URL}/api/v2`,
  throwOriginalException: true,
});

const number = () => "+1718557" + String(crypto.randomInt(10000)).padStart(4, "0");
const voiceComment = (from) => ({
  from, to: "+16617480123", recording_url: "http://www.yourdomain.com/recordings/2.wav",
  started_at: "2019-04-16T09:14:57Z", call_duration: 40, answered_by_id: AGENT_ID,
  transcription_text: "Hello from Node", location: "Dublin, Ireland",
});

/** The agent's console: a session signed in through the form, and the page's live event stream. */
async function openConsole() {
  // `headers.get` joins several Set-Cookie headers with ", " (getSetCookie needs a newer Node
  // than Debian's 18); cookie values here are tokens without commas or semicolons.
  const cookieOf = (response, name) => {
    const value = (response.headers.get("set-cookie") || "").match(new RegExp(`(?:^|, )${name}=([^;,]*)`));
    assert.ok(value, `no ${name} cookie`);
    return `${name}=${value[1]}`;
  };
  const csrfOf = (html) => html.match(/name="csrf" value="([^"]+)"/)[1];
  const form = await fetch(`${URL}/console/login`);
  const loginCookie = cookieOf(form, "ctihub_login");
  const body = new URLSearchParams({
    csrf: csrfOf(await form.text()), email: process.env.CTIHUB_EMAIL,
    password: process.env.CTIHUB_PASSWORD, next: "/console/journal",
  });
  const signedIn = await fetch(`${URL}/console/login`, {
    method: "POST", body, redirect: "manual", headers: { cookie: loginCookie },
  });
  assert.equal(signedIn.status, 303);
  const session = cookieOf(signedIn, "ctihub_session");

  // The console page's own stream: holding it open is what makes the console count as open.
  const stream = await fetch(`${URL}/console/events`, { headers: { cookie: session, accept: "text/event-stream" } });
  assert.equal(stream.status, 200);
  const reader = stream.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    async next(kind) {
      const deadline = Date.now() + 8000;
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(block.split("\n").map((l) => [l.split(":")[0], l.slice(l.indexOf(":") + 1).trim()]));
          if (fields.event === kind) return JSON.parse(fields.data);
          continue;
        }
        assert.ok(Date.now() < deadline, `no ${kind} event`);
        const { value, done } = await reader.read();
        assert.ok(!done, "the event stream ended");
        buffer += decoder.decode(value, { stream: true });
      }
    },
    async close() {
      await reader.cancel();
      const page = await fetch(`${URL}/console/journal`, { headers: { cookie: session } });
      await fetch(`${URL}/console/logout`, {
        method: "POST", redirect: "manual", headers: { cookie: session },
        body: new URLSearchParams({ csrf: csrfOf(await page.text()) }),
      });
    },
  };
}

test("a caller is found by phone in every format and created with only a phone", async () => {
  const formats = ["+1 718.555.7611", "(718) 555-7611", "718 555 7611", "718-555-7611", "718.555.7611"];
  const ids = [];
  for (const [i, phone] of formats.entries()) {
    const { result } = await client.users.create({ user: { name: `Node Format ${i}`, phone } });
    ids.push(result.id);
  }
  const { result } = await client.search.query("role:end-user phone:*7185557611");
  assert.deepEqual(result.map((u) => u.id).sort(), ids.sort());
  assert.ok(result.every((u) => u.result_type === "user"));
  const all = await client.search.queryAll("phone:*7185557611");
  assert.equal(all.length, 5);
  const users = await client.users.search({ query: "phone:*7185557611" });
  assert.equal(users.length, 5);

  const phone = number();
  const created = (await client.users.create({ user: { name: `Caller: ${phone}`, phone } })).result;
  assert.equal(created.phone, phone);
  assert.equal((await client.users.show(created.id)).result.name, `Caller: ${phone}`);
});

test("an agent is found by a custom user field", async () => {
  const key = "nodeAgent" + crypto.randomInt(100000);
  const field = (await client.userfields.create({ user_field: { key, title: "Agent id", type: "text" } })).result;
  assert.equal(field.key, key);
  await client.users.update(AGENT_ID, { user: { user_fields: { [key]: "4321" } } });
  const found = await client.search.queryAll(`type:user ${key}:4321`);
  assert.deepEqual(found.map((u) => u.id), [AGENT_ID]);
});

test("voice tickets, voice comments, call metrics and displays", async () => {
  const agentConsole = await openConsole();
  after(() => agentConsole.close());
  const phone = number();
  const caller = (await client.users.create({ user: { name: "Node Caller", phone } })).result;
  const talk = (await client.ticketfields.create({ ticket_field: { type: "integer", title: `Node talk ${crypto.randomInt(1000)}` } })).result;

  const voice = await client.tickets.post(["channels", "voice", "tickets"], {
    display_to_agent: AGENT_ID,
    ticket: { via_id: 45, requester_id: caller.id, subject: "Node call", comment: { body: "Inbound" } },
  });
  const ticket = voice.result;
  assert.equal(ticket.via.channel, "voice");
  assert.equal((await agentConsole.next("screen_pop")).ticket_id, ticket.id);

  const updated = await client.tickets.update(ticket.id, {
    ticket: { voice_comment: voiceComment(phone), custom_fields: [{ id: talk.id, value: 40 }], tags: ["phone", "wrapup_done"] },
  });
  assert.deepEqual(updated.result.tags, ["phone", "wrapup_done"]);
  const shown = (await client.tickets.show(ticket.id)).result;
  assert.equal(shown.custom_fields.find((f) => f.id === talk.id).value, 40);
  const comments = await client.tickets.getComments(ticket.id);
  const recording = comments.find((c) => c.type === "VoiceComment");
  assert.equal(recording.data.recording_url, "http://www.yourdomain.com/recordings/2.wav");
  assert.deepEqual((await client.tickets.listByUserRequested(caller.id)).map((t) => t.id), [ticket.id]);

  const voicemail = await client.tickets.post(["channels", "voice", "tickets"], {
    ticket: { via_id: 44, voice_comment: voiceComment(phone) },
  });
  assert.equal(voicemail.result.via.source.rel, "voicemail");

  const shownTicket = await client.tickets.post(["channels", "voice", "agents", AGENT_ID, "tickets", ticket.id, "display"], {});
  assert.equal(shownTicket.response.status, 200);
  assert.equal((await agentConsole.next("screen_pop")).ticket_id, ticket.id);
  const shownUser = await client.tickets.post(["channels", "voice", "agents", AGENT_ID, "users", caller.id, "display"], {});
  assert.equal(shownUser.response.status, 200);
  assert.equal((await agentConsole.next("screen_pop")).user_id, caller.id);
});

test("errors arrive as node-zendesk raises them", async () => {
  await assert.rejects(client.users.show(999999999), (e) => e.statusCode === 404 && e.result.error === "RecordNotFound");
  await assert.rejects(
    client.tickets.post(["channels", "voice", "tickets"], { ticket: { via_id: 12, comment: { body: "x" } } }),
    (e) => e.statusCode === 422 && "via_id" in e.result.details,
  );
  await assert.rejects(
    client.tickets.post(["channels", "voice", "agents", AGENT_ID, "tickets", 999999999, "display"], {}),
    (e) => e.statusCode === 404,
  );
  const stranger = zendesk.createClient({ username: "nobody@example.com", token: "wrong", endpointUri: `${URL}/api/v2`, throwOriginalException: true });
  await assert.rejects(stranger.users.me(), (e) => e.statusCode === 401);
});
