"""zenpy's Talk Partner Edition call methods against a live ctihub.

zp.calls.create, zp.calls(id=...), zp.calls.update and zp.calls.comment are used exactly as an
integration written for Zendesk uses them; zenpy is pointed at ctihub with its
ZENPY_FORCE_NETLOC / ZENPY_FORCE_SCHEME variables, nothing else. compat/run starts the server
and sets CTIHUB_URL, CTIHUB_EMAIL, CTIHUB_TOKEN and CTIHUB_AGENT_ID.
"""

import os
import uuid

import pytest
from zenpy import Zenpy
from zenpy.lib.api_objects.talk_objects import CallPe, VoiceComment
from zenpy.lib.exception import APIException, RecordNotFoundException

from console import Console

URL = os.environ["CTIHUB_URL"]
EMAIL = os.environ["CTIHUB_EMAIL"]
TOKEN = os.environ["CTIHUB_TOKEN"]
AGENT_ID = int(os.environ["CTIHUB_AGENT_ID"])

APP_ID = 735264019863524
LINE = "+149488484873"


@pytest.fixture
def zp():
    # Without disable_cache zenpy answers re-reads from its cache and never asks the server.
    return Zenpy(subdomain="acme", email=EMAIL, token=TOKEN, disable_cache=True)


def caller():
    """A number no earlier test used, so each test starts with an unknown caller."""
    return "+1513555" + str(uuid.uuid4().int % 10000).zfill(4)


def new_call(from_line, **fields):
    """The documentation's minimal call, its five mandatory fields, plus `fields`."""
    mandatory = dict(
        app_id=APP_ID,
        from_line=from_line,
        to_line=LINE,
        call_started_at="2022-01-27T15:31:40+01",
        direction="inbound",
    )
    return CallPe(**{**mandatory, **fields})


def test_create_answers_the_call_object_with_times_in_utc(zp):
    number = caller()
    call = zp.calls.create(new_call(number, duration=345, external_id="ext-" + number))
    assert isinstance(call, CallPe)
    assert isinstance(call.id, int)
    assert call.app_id == APP_ID
    assert call.from_line == number
    assert call.call_started_at == "2022-01-27T14:31:40Z"
    assert call.duration == 345
    assert call.external_id == "ext-" + number
    # No comment: no ticket, and an unknown caller is not invented.
    assert call.ticket_id is None
    assert call.end_user_id is None
    assert call.completion_status is None


def test_a_call_is_read_back_by_id(zp):
    created = zp.calls.create(new_call(caller(), queue_name="priority_one"))
    shown = zp.calls(id=created.id)
    assert isinstance(shown, CallPe)
    assert shown.id == created.id
    assert shown.queue_name == "priority_one"
    assert shown.to_dict() == created.to_dict()


def test_an_unknown_call_raises_record_not_found(zp):
    with pytest.raises(RecordNotFoundException):
        zp.calls(id=999999999)


def test_create_with_a_comment_creates_the_ticket_and_pops_it(zp):
    console = Console()
    try:
        number = caller()
        comment = VoiceComment(
            title="Printer on fire",
            call_fields=["from_line", "to_line", "call_started_at", "duration"],
            display_to_agent=AGENT_ID,
        )
        call = zp.calls.create(new_call(number, duration=60), comment=comment)
        assert isinstance(call.ticket_id, int)
        assert isinstance(call.end_user_id, int), "a requester was created for the unknown caller"
        pop = console.next_of("screen_pop")
        assert pop["screen"] == "ticket"
        assert pop["ticket_id"] == call.ticket_id
        assert pop["call_id"] == call.id
    finally:
        console.close()

    # The same caller again is the same requester.
    again = zp.calls.create(new_call(number), comment=VoiceComment(title="Second call"))
    assert again.end_user_id == call.end_user_id
    assert again.ticket_id != call.ticket_id


def test_update_changes_the_call(zp):
    call = zp.calls.create(new_call(caller()), comment=VoiceComment(title="Call", call_fields=["duration"]))
    call.duration = 120
    call.call_ended_at = "2022-01-27T15:33:40+01"
    call.recording_url = "http://external.site.com/recordings/abcdef"
    call.completion_status = "completed"
    updated = zp.calls.update(call)
    assert isinstance(updated, CallPe)
    assert updated.duration == 120
    assert updated.call_ended_at == "2022-01-27T14:33:40Z"
    assert updated.recording_url == "http://external.site.com/recordings/abcdef"
    assert updated.ticket_id == call.ticket_id
    shown = zp.calls(id=call.id)
    assert (shown.duration, shown.completion_status) == (120, "completed")


def test_comment_adds_a_voice_comment_and_links_a_ticket(zp):
    console = Console()
    try:
        call = zp.calls.create(new_call(caller(), call_ended_at="2022-01-27T15:32:40+01"))
        assert call.ticket_id is None
        comment = zp.calls.comment(
            call,
            VoiceComment(
                title="this is the title",
                call_fields=["from_line", "to_line", "call_started_at", "call_ended_at", "direction", "not_a_field"],
                display_to_agent=AGENT_ID,
            ),
        )
        # zenpy hands the TpeVoiceComment back as the plain dict the server sent.
        assert isinstance(comment, dict)
        assert comment["type"] == "TpeVoiceComment"
        assert comment["author_id"] == AGENT_ID, "no author, no end user: the integration user"
        data = comment["data"]
        assert data["call_id"] == call.id
        assert data["app_id"] == APP_ID
        assert data["title"] == "this is the title"
        assert data["call_ended_at"] == "2022-01-27T14:32:40Z"
        assert data["direction"] == "inbound"
        assert "not_a_field" not in data
        pop = console.next_of("screen_pop")
        assert pop["ticket_id"] == comment["ticket_id"]
    finally:
        console.close()

    linked = zp.calls(id=call.id)
    assert linked.ticket_id == comment["ticket_id"]
    # A second comment goes to the same ticket; an id works in place of the call object.
    second = zp.calls.comment(call.id, VoiceComment(title="second"))
    assert second["ticket_id"] == linked.ticket_id


def test_validation_errors_are_record_invalid(zp):
    incomplete = CallPe(app_id=APP_ID, from_line=caller(), direction="inbound")
    with pytest.raises(APIException) as raised:
        zp.calls.create(incomplete)
    response = raised.value.response
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "RecordInvalid"
    assert set(body["details"]) == {"to_line", "call_started_at"}

    with pytest.raises(APIException) as raised:
        zp.calls.create(new_call(caller(), direction="sideways", ticket_id=1))
    assert set(raised.value.response.json()["details"]) == {"direction", "ticket_id"}

    call = zp.calls.create(new_call(caller()))
    with pytest.raises(APIException) as raised:
        zp.calls.comment(call, VoiceComment(call_fields=["duration"]))
    assert raised.value.response.json()["details"]["title"][0]["error"] == "BlankValue"


def test_bad_credentials_are_refused():
    stranger = Zenpy(subdomain="acme", email=EMAIL, token="not-the-token", disable_cache=True)
    with pytest.raises(APIException) as raised:
        stranger.calls(id=1)
    assert raised.value.response.status_code == 401
    assert raised.value.response.json() == {"error": "Couldn't authenticate you"}
