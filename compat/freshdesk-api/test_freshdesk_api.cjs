// freshdesk-api (Node) against a live ctihub: find a caller, create a contact and a ticket, add
// a note, and drive the CTI screen pop and call details through the library's exported
// `makeRequest` helper (it has no CTI methods), as an integration written for Freshdesk does.
// freshdesk-api takes a base URL verbatim, so it is pointed at ctihub's `/freshdesk` prefix.
// compat/run starts the server and sets CTIHUB_URL, CTIHUB_TOKEN and CTIHUB_AGENT_ID.

const assert = require("node:assert/strict");
const { test } = require("node:test");
const { promisify } = require("node:util");
const crypto = require("node:crypto");
const Freshdesk = require("freshdesk-api");
const { makeRequest, FreshdeskError } = require("freshdesk-api/lib/utils");

const URL = process.env.CTIHUB_URL;
const AGENT_ID = Number(process.env.CTIHUB_AGENT_ID);
const base = `${URL}/freshdesk`;
const fd = new Freshdesk(base, process.env.CTIHUB_TOKEN);
const call = (method, ...args) => promisify(fd[method].bind(fd))(...args);
const raw = promisify((method, url, qs, data, cb) => makeRequest(method, fd._auth, url, qs, data, cb));

const number = () => "+1513556" + String(crypto.randomInt(10000)).padStart(4, "0");
const reference = () => "fdn-" + crypto.randomUUID().slice(0, 12);

test("a caller is found by phone and a phone ticket logged", async () => {
  const phone = number();
  assert.deepEqual(await call("listAllContacts", { phone }), []);
  const contact = await call("createContact", { name: "Nora Node", phone });
  assert.equal(contact.phone, phone);
  const listed = await call("listAllContacts", { phone });
  assert.deepEqual(listed.map((c) => c.id), [contact.id]);
  // filterContacts leaves the `+` unescaped; ctihub compares numbers normalised.
  const found = await call("filterContacts", `phone:'${phone}'`);
  assert.deepEqual(found.results.map((c) => c.id), [contact.id]);
  assert.equal((await call("getContact", contact.id)).name, "Nora Node");

  const ticket = await call("createTicket", {
    subject: "Call from Nora", requester_id: contact.id, description: "Printer", source: 3, status: 2, priority: 1,
  });
  assert.equal(ticket.source, 3);
  assert.equal((await call("getTicket", ticket.id)).subject, "Call from Nora");
  const note = await call("createNote", ticket.id, { body: "Called back", private: true });
  assert.equal(note.private, true);
  assert.equal(note.ticket_id, ticket.id);
});

test("agents", async () => {
  assert.equal((await call("currentAgent")).id, AGENT_ID);
  assert.ok((await call("listAllAgents", {})).some((a) => a.id === AGENT_ID));
});

test("errors become FreshdeskErrors, never JSON parse errors", async () => {
  await assert.rejects(call("getContact", 999999999), (e) => e instanceof FreshdeskError && e.status === 404);
  await assert.rejects(
    call("createContact", { name: "Nobody" }),
    (e) => e instanceof FreshdeskError && e.status === 400 && e.message === "Validation failed",
  );
});

test("screen pop and call details through makeRequest", async () => {
  const ref = reference();
  const phone = number();
  const popped = await raw("POST", `${base}/api/v2/integrations/cti/pop`, null, {
    requester_phone: phone, responder_id: AGENT_ID, call_reference_id: ref, new_ticket: true,
    call_url: `https://rec.example/${ref}.mp3`, call_info: { Queue: "Support" },
  });
  assert.equal(popped.call_reference_id, ref);
  assert.equal(typeof popped.ticket_id, "number");
  const details = await raw("GET", `${base}/api/v2/integrations/cti/details`, { call_reference_id: ref }, null);
  assert.equal(details[0].ticket_id, popped.ticket_id);
  assert.equal(details[0].responder_id, AGENT_ID);
  assert.equal((await call("getContact", details[0].requester_id)).name, phone);

  await assert.rejects(
    raw("POST", `${base}/api/v2/integrations/cti/pop`, null, { responder_id: AGENT_ID }),
    (e) => e instanceof FreshdeskError && e.status === 400 && e.data.errors.some((x) => x.field === "call_reference_id"),
  );
  await assert.rejects(
    raw("GET", `${base}/api/v2/integrations/cti/details`, { call_reference_id: "never-popped" }, null),
    (e) => e instanceof FreshdeskError && e.status === 404,
  );
});
