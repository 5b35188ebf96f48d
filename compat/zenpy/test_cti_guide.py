"""The Zendesk CTI development guide's flows through zenpy's own methods, against a live ctihub.

zenpy is pointed at ctihub with ZENPY_FORCE_NETLOC / ZENPY_FORCE_SCHEME only. The integration
signs in as an admin (it defines custom fields when installed, as the guide suggests); the agent
whose console receives the pops signs in through the console form and reads its event stream.
compat/run sets CTIHUB_URL, CTIHUB_EMAIL, CTIHUB_TOKEN, CTIHUB_PASSWORD, CTIHUB_AGENT_ID,
CTIHUB_ADMIN_EMAIL and CTIHUB_ADMIN_TOKEN.
"""

import os
import uuid

import pytest
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, CustomField, Ticket, TicketAudit, TicketField, User, UserField
from zenpy.lib.exception import APIException, RecordNotFoundException

from console import Console, sign_in, sign_out

AGENT_ID = int(os.environ["CTIHUB_AGENT_ID"])
ADMIN_EMAIL = os.environ["CTIHUB_ADMIN_EMAIL"]
ADMIN_TOKEN = os.environ["CTIHUB_ADMIN_TOKEN"]

# The guide's five spellings of one number (area code 617 here: the Calls suite uses 513).
FORMATS = ["+1 617.555.7611", "(617) 555-7611", "617 555 7611", "617-555-7611", "617.555.7611"]


@pytest.fixture
def zp():
    # Without disable_cache zenpy answers re-reads from its cache and never asks the server.
    return Zenpy(subdomain="acme", email=ADMIN_EMAIL, token=ADMIN_TOKEN, disable_cache=True)


@pytest.fixture
def console():
    """The agent's console, open: signed in, and its live stream connected."""
    session = sign_in()
    stream = Console(session)
    yield stream
    stream.close()
    sign_out(session)


def unique_number():
    return "+1617556" + str(uuid.uuid4().int % 10000).zfill(4)


def voice_comment(number, **extra):
    return {
        "from": number,
        "to": "+16617480123",
        "recording_url": "http://www.yourdomain.com/recordings/1.mp3",
        "started_at": "2019-04-16T09:14:57Z",
        "call_duration": 40,
        "transcription_text": "The transcription of the call",
        "location": "Dublin, Ireland",
        **extra,
    }


def test_a_caller_is_found_by_phone_in_the_five_formats(zp):
    created = [zp.users.create(User(name=f"Format {i}", phone=phone)).id for i, phone in enumerate(FORMATS)]
    # The guide's single query, and zenpy's keyword form of it.
    found = zp.search("role:end-user phone:*6175557611")
    assert len(found) == 5
    assert sorted(user.id for user in found) == sorted(created)
    assert all(isinstance(user, User) for user in zp.search("phone:*6175557611", type="user", role="end-user"))
    assert sorted(u.id for u in zp.users.search(query="phone:*6175557611")) == sorted(created)


def test_a_user_is_created_with_only_a_phone(zp):
    number = unique_number()
    user = zp.users.create(User(name=f"Caller: {number}", phone=number))
    assert isinstance(user.id, int)
    assert user.phone == number
    assert user.role == "end-user"
    assert [u.id for u in zp.search(f"phone:*{number[2:]}", type="user")] == [user.id]
    assert zp.users(id=user.id).name == f"Caller: {number}"


def test_an_agent_is_found_by_a_custom_user_field(zp):
    key = "agentID" + uuid.uuid4().hex[:6]
    field = zp.user_fields.create(UserField(key=key, title="Call-center agent id", type="text"))
    assert field.key == key
    agent = zp.users(id=AGENT_ID)
    agent.user_fields = {key: "1234"}
    zp.users.update(agent)
    found = list(zp.search(type="user", **{key: "1234"}))
    assert [u.id for u in found] == [AGENT_ID]


def test_a_voice_ticket_is_displayed_to_the_agent_and_gets_a_recording(zp, console):
    number = unique_number()
    caller = zp.users.create(User(name=f"Caller: {number}", phone=number))
    audit = zp.talk_pe.create_ticket(
        AGENT_ID,
        Ticket(via_id=45, subject="Call from " + number, requester_id=caller.id, comment=Comment(body="Inbound call")),
    )
    assert isinstance(audit, TicketAudit)
    ticket = audit.ticket
    assert ticket.via.channel == "voice"
    pop = console.next_of("screen_pop")
    assert pop["ticket_id"] == ticket.id

    # Feature 6: the recording and transcript as a voice comment, by ticket update.
    update = zp.tickets.update(Ticket(id=ticket.id, voice_comment=voice_comment(number, answered_by_id=AGENT_ID)))
    assert isinstance(update, TicketAudit)
    comments = list(zp.tickets.comments(ticket.id))
    voice = [c for c in comments if c.type == "VoiceComment"]
    assert len(voice) == 1
    assert voice[0].data["recording_url"] == "http://www.yourdomain.com/recordings/1.mp3"
    assert voice[0].data["transcription_text"] == "The transcription of the call"


def test_a_voicemail_ticket_is_created(zp):
    number = unique_number()
    audit = zp.talk_pe.create_ticket(None, Ticket(via_id=44, description=f"Voicemail from: {number}", voice_comment=voice_comment(number)))
    ticket = audit.ticket
    source = ticket.via.source
    assert (source.rel if hasattr(source, "rel") else source["rel"]) == "voicemail"
    assert [c.type for c in zp.tickets.comments(ticket.id)][-1] == "VoiceComment"


def test_call_metrics_go_into_custom_fields_and_tags(zp):
    talk = zp.ticket_fields.create(TicketField(type="integer", title="Talk time " + uuid.uuid4().hex[:4]))
    wrap = zp.ticket_fields.create(TicketField(type="text", title="Wrap-up " + uuid.uuid4().hex[:4]))
    caller = zp.users.create(User(name="Metrics Caller", phone=unique_number()))
    audit = zp.tickets.create(
        Ticket(
            subject="Phone call",
            requester_id=caller.id,
            comment=Comment(body="Call logged", public=False),
            custom_fields=[CustomField(id=talk.id, value=0)],
            tags=["phone"],
        )
    )
    ticket = audit.ticket
    ticket.custom_fields = [CustomField(id=talk.id, value=414), CustomField(id=wrap.id, value="sale")]
    ticket.tags = ["phone", "ivr_2", "wrapup_sale"]
    zp.tickets.update(ticket)
    shown = zp.tickets(id=ticket.id)
    values = {f["id"]: f["value"] for f in shown.custom_fields}
    assert values[talk.id] == 414
    assert values[wrap.id] == "sale"
    assert shown.tags == ["phone", "ivr_2", "wrapup_sale"]
    assert [t.id for t in zp.users.requested(caller.id)] == [ticket.id]


def test_a_user_and_a_ticket_are_displayed(zp, console):
    caller = zp.users.create(User(name="Displayed Caller", phone=unique_number()))
    ticket = zp.tickets.create(Ticket(subject="Shown", requester_id=caller.id, comment=Comment(body="x"))).ticket
    assert zp.talk_pe.display_user(AGENT_ID, caller.id).status_code == 200
    assert console.next_of("screen_pop")["user_id"] == caller.id
    assert zp.talk_pe.display_ticket(AGENT_ID, ticket.id).status_code == 200
    assert console.next_of("screen_pop")["ticket_id"] == ticket.id


def test_errors_raise_what_zenpy_raises_against_zendesk(zp):
    with pytest.raises(RecordNotFoundException):
        zp.users(id=999999999)
    with pytest.raises(RecordNotFoundException):
        zp.talk_pe.display_ticket(AGENT_ID, 999999999)
    with pytest.raises(APIException) as invalid:
        zp.talk_pe.create_ticket(None, Ticket(via_id=7, comment=Comment(body="x")))
    assert invalid.value.response.status_code == 422
    assert "via_id" in invalid.value.response.json()["details"]
    stranger = Zenpy(subdomain="acme", email=ADMIN_EMAIL, token="wrong", disable_cache=True)
    with pytest.raises(APIException) as unauthorized:
        stranger.users.me()
    assert unauthorized.value.response.status_code == 401
