"""The agent's side of a pop in the compatibility suites: a signed-in console session and the
live event stream the browser console reads. compat/run sets CTIHUB_URL, CTIHUB_EMAIL,
CTIHUB_PASSWORD and CTIHUB_TOKEN for the agent.
"""

import json
import os
import re
import socket
from urllib.parse import urlsplit

import requests

URL = os.environ["CTIHUB_URL"]
TOKEN = os.environ["CTIHUB_TOKEN"]


def sign_in(email=None, password=None):
    """Sign in through the console's form, as the agent's browser does; the session it opens is
    what makes the agent's console count as open. Returns the requests session."""
    email = email or os.environ["CTIHUB_EMAIL"]
    password = password or os.environ["CTIHUB_PASSWORD"]
    session = requests.Session()
    form = session.get(f"{URL}/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answer = session.post(
        f"{URL}/console/login",
        data={"csrf": csrf, "email": email, "password": password, "next": "/console/journal"},
        allow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return session


def sign_out(session):
    """End the console session, so later suites find the agent offline again (the Freshdesk
    dialect treats an agent with a console open as online)."""
    page = session.get(f"{URL}/console/journal")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = session.post(f"{URL}/console/logout", data={"csrf": csrf}, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    session.close()


class Console:
    """The agent's live channel as the browser console reads it: Server-Sent Events.

    A plain socket rather than requests: a streaming requests response cannot be closed while a
    thread reads it, and this way nothing outlives the test.
    """

    def __init__(self, session=None):
        """The agent's API event stream, or with a signed-in `session` the console page's own
        stream, which is what makes the console count as open for the display APIs."""
        address = urlsplit(URL)
        self.sock = socket.create_connection((address.hostname, address.port), timeout=8)
        if session is None:
            path, credentials = "/api/hub/events", f"Authorization: Bearer {TOKEN}"
        else:
            path, credentials = "/console/events", f"Cookie: ctihub_session={session.cookies['ctihub_session']}"
        # HTTP/1.0, so the stream comes without chunked framing.
        request = (
            f"GET {path} HTTP/1.0\r\n"
            f"Host: {address.netloc}\r\n"
            f"{credentials}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.buffer = b""
        status_line = self._until(b"\r\n\r\n").split(b"\r\n")[0]
        # Once the headers are here the server is subscribed: nothing published later is missed.
        assert status_line.split()[1] == b"200", status_line

    def _until(self, separator):
        while separator not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("the event stream ended")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(separator, 1)
        return head

    def next_of(self, kind):
        """The data of the next event of `kind`; a socket timeout fails the test."""
        while True:
            fields = {}
            for line in self._until(b"\n\n").decode().split("\n"):
                name, _, value = line.partition(":")
                fields[name] = fields.get(name, "") + value.strip()
            if fields.get("event") == kind:
                return json.loads(fields["data"])

    def close(self):
        self.sock.close()
