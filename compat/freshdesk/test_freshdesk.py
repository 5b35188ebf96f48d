"""python-freshdesk against a live ctihub: find a caller, create a contact and a ticket, add a
note, and drive the CTI screen pop and call details through the library's raw request helpers
(it has no CTI methods), exactly as an integration written for Freshdesk does.

python-freshdesk insists on a `*.freshdesk.com` domain and hard-codes `https://{domain}/api/v2/`;
its only override is the `_api_prefix` attribute, set here to ctihub's Freshdesk prefix.
compat/run starts the server and sets CTIHUB_URL, CTIHUB_TOKEN and CTIHUB_AGENT_ID.
"""

import json
import os
import uuid

import pytest
from freshdesk.api import API
from freshdesk.v2.errors import FreshdeskBadRequest, FreshdeskNotFound, FreshdeskUnauthorized

URL = os.environ["CTIHUB_URL"]
TOKEN = os.environ["CTIHUB_TOKEN"]
AGENT_ID = int(os.environ["CTIHUB_AGENT_ID"])


def client(key=TOKEN):
    api = API("acme.freshdesk.com", key)
    api._api_prefix = URL + "/freshdesk/api/v2/"
    return api


@pytest.fixture
def fd():
    return client()


def number():
    """A number no earlier test used."""
    return "+1513555" + str(uuid.uuid4().int % 10000).zfill(4)


def reference():
    return "fd-" + uuid.uuid4().hex[:12]


def test_a_caller_is_found_by_phone_and_a_phone_ticket_logged(fd):
    phone = number()
    assert fd.contacts.list_contacts(phone=phone) == []
    contact = fd.contacts.create_contact(name="Carl Caller", phone=phone)
    assert contact.phone == phone
    assert contact.created_at is not None

    assert [c.id for c in fd.contacts.list_contacts(phone=phone)] == [contact.id]
    # filter_contacts sends the `+` unescaped; ctihub compares numbers normalised.
    assert [c.id for c in fd.contacts.filter_contacts("phone:'%s'" % phone)] == [contact.id]
    assert fd.contacts.get_contact(contact.id).name == "Carl Caller"

    ticket = fd.tickets.create_ticket(
        "Call from Carl", requester_id=contact.id, description="Printer on fire", source=3, tags=["phone"]
    )
    assert ticket.requester_id == contact.id
    assert ticket.source == "phone"
    assert ticket.status == "open"
    assert ticket.priority == "low"
    assert fd.tickets.get_ticket(ticket.id).subject == "Call from Carl"

    note = fd.comments.create_note(ticket.id, "Called back, fixed", private=True)
    assert note.private is True
    assert note.ticket_id == ticket.id


def test_agents(fd):
    me = fd.agents.currently_authenticated_agent()
    assert me.id == AGENT_ID
    assert str(me) == "Compat Agent"
    assert AGENT_ID in [a.id for a in fd.agents.list_agents()]


def test_errors_raise_the_librarys_exceptions(fd):
    with pytest.raises(FreshdeskNotFound):
        fd.contacts.get_contact(999999999)
    with pytest.raises(FreshdeskBadRequest) as bad:
        fd.contacts.create_contact(name="Nobody")
    assert "Validation failed" in str(bad.value)
    with pytest.raises(FreshdeskUnauthorized):
        client("not-a-key").agents.currently_authenticated_agent()


def test_screen_pop_and_call_details_through_the_raw_helpers(fd):
    phone = number()
    ref = reference()
    popped = fd._post(
        "integrations/cti/pop",
        data=json.dumps(
            {
                "requester_phone": phone,
                "responder_id": str(AGENT_ID),
                "call_reference_id": ref,
                "new_ticket": "true",
                "call_url": "https://rec.example/%s.mp3" % ref,
                "call_info": {"Organisation": "XYZ", "Reason": "Priority issue raised.."},
            }
        ),
    )
    assert popped["call_reference_id"] == ref
    assert popped["responder_id"] == AGENT_ID
    ticket_id = popped["ticket_id"]
    assert isinstance(ticket_id, int)

    # The unknown caller became a contact named by the number.
    requester = fd.contacts.get_contact(popped["requester_id"])
    assert requester.name == phone

    details = fd._get("integrations/cti/details", params={"call_reference_id": ref})
    assert details[0]["ticket_id"] == ticket_id
    assert details[0]["requester_id"] == requester.id
    assert details[0]["responder_id"] == AGENT_ID
    assert details[0]["note_id"] is None
    assert details[0]["time_entry"]["timer_running"] is False

    ticket = fd.tickets.get_ticket(ticket_id)
    assert ticket.source == "phone"
    assert ticket.requester_id == requester.id


def test_a_call_about_an_existing_ticket_is_a_note_on_it(fd):
    contact = fd.contacts.create_contact(name="Dora", phone=number())
    ticket = fd.tickets.create_ticket("Open issue", requester_id=contact.id, description="x")
    ref = reference()
    # The compat agent has no console open, so it counts as offline and the call is tied at once.
    fd._post(
        "integrations/cti/pop",
        data=json.dumps(
            {"requester_id": contact.id, "responder_id": AGENT_ID, "call_reference_id": ref, "ticket_id": ticket.id}
        ),
    )
    details = fd._get("integrations/cti/details", params={"call_reference_id": ref})
    assert details[0]["ticket_id"] == ticket.id
    assert isinstance(details[0]["note_id"], int)


def test_cti_errors_come_in_freshdesks_shape(fd):
    with pytest.raises(FreshdeskBadRequest) as bad:
        fd._post("integrations/cti/pop", data=json.dumps({"requester_id": 999999999, "responder_id": AGENT_ID}))
    message = str(bad.value)
    assert "Validation failed" in message
    assert "call_reference_id" in message and "requester_id" in message
    with pytest.raises(FreshdeskNotFound):
        fd._get("integrations/cti/details", params={"call_reference_id": "never-popped"})
