"""docs/integrations/twilio-bridge.py against a live ctihub, fed status callbacks shaped and
signed as Twilio documents them.

The bridge runs as its own process, as an operator runs it; the test plays Twilio. Signatures
are computed here from Twilio's documentation (base64 of HMAC-SHA1 with the auth token over the
full URL followed by every POST parameter's name and value, sorted by name), not with the
bridge's own function, so a bridge that signs the wrong thing fails. PUBLIC_URL is a host the
bridge is not listening on, as behind a TLS proxy: the signature covers the public URL.

compat/run starts the server and sets CTIHUB_URL, CTIHUB_TOKEN (an agent) and CTIHUB_ADMIN_TOKEN.
"""

import base64
import hashlib
import hmac
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

URL = os.environ["CTIHUB_URL"]
TOKEN = os.environ["CTIHUB_TOKEN"]
ADMIN_TOKEN = os.environ["CTIHUB_ADMIN_TOKEN"]

BRIDGE = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "twilio-bridge.py"
AUTH_TOKEN = "compat-twilio-auth-token-" + uuid.uuid4().hex
PUBLIC_URL = "https://bridge.example.com"
# The callback URL of a <Dial>ed agent leg, as docs/integrations/twilio.md configures it.
CHILD_LEG = "/twilio?direction=in"
TIMEOUT = 10


def hub(method, path, token=ADMIN_TOKEN, **kwargs):
    response = requests.request(
        method, URL + path, headers={"Authorization": "Bearer " + token}, timeout=TIMEOUT, **kwargs
    )
    assert response.status_code < 300, (method, path, response.status_code, response.text)
    return response.json()


def number():
    """A Berlin number no earlier test used."""
    return "+4930" + str(uuid.uuid4().int % 10**8).zfill(8)


def call_sid():
    """Twilio's shape: CA and 32 hex digits."""
    return "CA" + uuid.uuid4().hex


def twilio_signature(auth_token, url, params):
    """Twilio's request validation: the URL, then each parameter's name and value, by name."""
    payload = url + "".join(name + value for name, value in sorted(params, key=lambda p: p[0]))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def push_url():
    """The generic CTI push URL, enabling the integration if no earlier suite did."""
    settings = hub("GET", "/api/hub/cti/config")
    if not settings["config"]["enabled"] or not settings["push_path"]:
        config = dict(settings["config"], enabled=True)
        settings = hub("PUT", "/api/hub/cti/config", json=config)
    assert settings["config"]["enabled"] and settings["push_path"], settings
    return URL + settings["push_path"]


@pytest.fixture(scope="module")
def bridge(push_url, tmp_path_factory):
    """The bridge as a process on a free loopback port; yields its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("twilio") / "bridge.log"
    env = dict(
        os.environ,
        CTIHUB_PUSH_URL=push_url,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        PUBLIC_URL=PUBLIC_URL,
        LISTEN=f"127.0.0.1:{port}",
    )
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, str(BRIDGE)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"the bridge exited with {process.returncode}: {log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the bridge did not listen on port {port} within {TIMEOUT} s: {log.read_text()}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
        # An event ctihub refused is only logged by the bridge (Twilio ignores the answer).
        assert "did not take" not in log.read_text(), log.read_text()
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def callback(bridge, path, params, auth_token=AUTH_TOKEN):
    """Post one status callback as Twilio does: form-encoded, signed over the public URL."""
    signature = twilio_signature(auth_token, PUBLIC_URL + path, params)
    return requests.post(bridge + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=TIMEOUT)


def child_leg(parent, child, caller, dialled, status, sequence=0):
    """A <Number>ed leg's callback. Twilio calls it outbound-dial; the caller's number is From.

    In the order Twilio's examples list the parameters, not sorted, so a bridge that signs them
    in arrival order fails; the timestamp's spaces, commas and `+` test the form decoding.
    """
    return [
        ("Called", dialled),
        ("ParentCallSid", parent),
        ("CallStatus", status),
        ("From", caller),
        ("Direction", "outbound-dial"),
        ("Timestamp", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())),
        ("AccountSid", "AC" + "0" * 32),
        ("CallbackSource", "call-progress-events"),
        ("Caller", caller),
        ("SequenceNumber", str(sequence)),
        ("To", dialled),
        ("CallSid", child),
        ("ApiVersion", "2010-04-01"),
    ]


def create_user(role, name, phone):
    body = {"role": role, "name": name, "phones": [{"kind": "phone", "number": phone}]}
    return hub("POST", "/api/hub/users", json=body)["id"]


def log_entry(call_id):
    """The Zammad caller-log item for `call_id`, as an agent sees it, or None."""
    log = hub("GET", "/api/v1/cti/log", token=TOKEN)
    items = [item for item in log["list"] if item["call_id"] == call_id]
    assert len(items) <= 1, items
    return items[0] if items else None


def journal_entry(caller):
    """The one native journal entry from `caller` (every test calls from a fresh number)."""
    page = hub("GET", "/api/hub/journal", params={"all": "true", "limit": 500})
    entries = [e for e in page["entries"] if e["from"] == caller]
    assert len(entries) == 1, entries
    return entries[0]


def play(bridge, parent, caller, dialled, statuses):
    child = call_sid()
    for sequence, status in enumerate(statuses):
        response = callback(bridge, CHILD_LEG, child_leg(parent, child, caller, dialled, status, sequence))
        assert response.status_code == 204, (status, response.status_code, response.text)
        # Waiting and talking time come from the callbacks' arrival, in whole seconds.
        time.sleep(1.1)


def test_an_answered_inbound_call_is_one_answered_entry_with_caller_and_agent(bridge):
    caller, dialled = number(), number()
    customer = create_user("end-user", "Theo Twilio", caller)
    agent = create_user("agent", "Dana Twilio", dialled)
    parent = call_sid()

    play(bridge, parent, caller, dialled, ["ringing", "in-progress", "completed"])

    item = log_entry(parent)
    assert item is not None, "the call is not in the caller log under its ParentCallSid"
    assert item["direction"] == "in"
    assert item["state"] == "hangup"
    assert (item["from"], item["to"]) == (caller, dialled)
    assert item["comment"] == "normalClearing"
    assert item["start_at"] is not None and item["end_at"] is not None
    assert item["duration_waiting_time"] >= 1
    assert item["duration_talking_time"] >= 1
    assert item["done"] is True
    assert [c["user_id"] for c in item["preferences"]["from"]] == [customer]
    assert item["from_comment"] == "Theo Twilio"

    entry = journal_entry(caller)
    assert entry["id"] == item["id"]
    assert entry["direction"] == "inbound"
    assert entry["agent_id"] == agent
    assert entry["end_user_id"] == customer
    assert [c["level"] for c in entry["from_callers"]] == ["known"]


def test_a_ringing_call_nobody_answers_is_a_missed_call(bridge):
    caller, dialled = number(), number()
    parent = call_sid()

    play(bridge, parent, caller, dialled, ["ringing", "no-answer"])

    item = log_entry(parent)
    assert item is not None
    assert item["direction"] == "in"
    assert item["state"] == "hangup"
    assert item["comment"] == "noAnswer"
    assert item["start_at"] is None
    assert item["done"] is False
    entry = journal_entry(caller)
    assert entry["cause"] == "noAnswer"
    assert entry["agent_id"] is None
    assert entry["answered_at"] is None


def test_a_busy_agent_leg_is_an_unanswered_call_with_cause_busy(bridge):
    caller, dialled = number(), number()
    parent = call_sid()

    play(bridge, parent, caller, dialled, ["ringing", "busy"])

    item = log_entry(parent)
    assert item is not None
    assert item["state"] == "hangup"
    assert item["comment"] == "busy"
    assert item["start_at"] is None
    assert item["done"] is False
    assert journal_entry(caller)["cause"] == "busy"


def test_a_callback_with_a_wrong_signature_is_refused_and_not_journalled(bridge):
    caller, dialled = number(), number()
    parent, child = call_sid(), call_sid()
    params = child_leg(parent, child, caller, dialled, "ringing")

    # Signed with another account's token; signed over the bridge's local URL instead of the
    # public one; signed, then a parameter changed; not signed at all.
    wrong_token = callback(bridge, CHILD_LEG, params, auth_token="not-" + AUTH_TOKEN)
    local_url = requests.post(
        bridge + CHILD_LEG,
        data=params,
        headers={"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, bridge + CHILD_LEG, params)},
        timeout=TIMEOUT,
    )
    tampered = requests.post(
        bridge + CHILD_LEG,
        data=[(k, "+4930999" if k == "From" else v) for k, v in params],
        headers={"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_URL + CHILD_LEG, params)},
        timeout=TIMEOUT,
    )
    unsigned = requests.post(bridge + CHILD_LEG, data=params, timeout=TIMEOUT)
    for response in (wrong_token, local_url, tampered, unsigned):
        assert response.status_code == 403, (response.status_code, response.text)

    # The same callback correctly signed is taken, so the refusals above were the signature's.
    later = call_sid()
    accepted = callback(bridge, CHILD_LEG, child_leg(later, child, caller, dialled, "ringing"))
    assert accepted.status_code == 204
    assert log_entry(parent) is None
    assert log_entry(later) is not None
    assert journal_entry(caller)["state"] == "ringing"
    hangup = callback(bridge, CHILD_LEG, child_leg(later, child, caller, dialled, "canceled", 1))
    assert hangup.status_code == 204
    assert journal_entry(caller)["cause"] == "cancel"
