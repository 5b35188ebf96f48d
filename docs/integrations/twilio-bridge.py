#!/usr/bin/env python3
"""Forwards Twilio call status callbacks to ctihub's generic CTI API (newCall, answer, hangup).

ctihub has no Twilio dialect; this bridge maps one onto the other. Standard library only.
See docs/integrations/twilio.md for the set-up and for what was and was not tested.

Environment:
  CTIHUB_PUSH_URL    ctihub's push URL, e.g. https://ctihub.example.com/api/v1/cti/TOKEN
  TWILIO_AUTH_TOKEN  the account's auth token; requests without a valid X-Twilio-Signature
                     are refused (403). Empty: no check (only for trying it out).
  PUBLIC_URL         the bridge's URL as Twilio calls it, scheme and host, e.g.
                     https://bridge.example.com (the signature covers the full URL)
  LISTEN             host:port to listen on (default 127.0.0.1:8099), behind a TLS proxy
"""

import base64
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PUSH_URL = os.environ["CTIHUB_PUSH_URL"]
AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
PUBLIC_URL = os.environ.get("PUBLIC_URL", "").rstrip("/")
HOST, PORT = os.environ.get("LISTEN", "127.0.0.1:8099").rsplit(":", 1)

# Twilio CallStatus -> (ctihub event, hangup cause)
EVENTS = {
    "queued": ("newCall", None),
    "initiated": ("newCall", None),
    "ringing": ("newCall", None),
    "in-progress": ("answer", None),
    "answered": ("answer", None),
    "completed": ("hangup", "normalClearing"),
    "busy": ("hangup", "busy"),
    "no-answer": ("hangup", "noAnswer"),
    "canceled": ("hangup", "cancel"),
    "failed": ("hangup", "congestion"),
}


def signature_ok(url, params, given):
    """Twilio's scheme: base64(HMAC-SHA1(auth token, URL + each name and value, by name))."""
    if not AUTH_TOKEN:
        return True
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(AUTH_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), given or "")


def ctihub_event(query, params):
    """The generic CTI event for one status callback, or None for a status it does not map."""
    p = dict(params)
    event, cause = EVENTS.get(p.get("CallStatus", ""), (None, None))
    if event is None:
        return None
    # The URL may say which way calls go (?direction=in); else Twilio's Direction decides
    # (inbound, or outbound-api / outbound-dial).
    direction = query.get("direction", ["in" if p.get("Direction") == "inbound" else "out"])[0]
    fields = {
        "event": event,
        "direction": direction,
        "from": p.get("From", ""),
        "to": p.get("To", ""),
        # A <Dial>ed leg reports under its parent, so both legs are one call in ctihub.
        "callId": p.get("ParentCallSid") or p.get("CallSid", ""),
    }
    if event == "answer" and direction == "in":
        # Who picked up: the dialled leg's To (an agent's number, or client:NAME).
        fields["answeringNumber"] = p.get("To", "").removeprefix("client:")
    if cause:
        fields["cause"] = cause
    return fields


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        params = urllib.parse.parse_qsl(body, keep_blank_values=True)
        if not signature_ok(PUBLIC_URL + self.path, params, self.headers.get("X-Twilio-Signature")):
            self.send_error(403, "bad X-Twilio-Signature")
            return
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        fields = ctihub_event(query, params)
        if fields is not None:
            data = urllib.parse.urlencode(fields).encode()
            request = urllib.request.Request(PUSH_URL, data=data, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    response.read()
            except (urllib.error.URLError, OSError) as e:
                # The event is lost, the call is not: log and move on.
                print(f"ctihub did not take {fields['event']} for {fields['callId']}: {e}", file=sys.stderr)
        # Status callbacks ignore the answer body.
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    ThreadingHTTPServer((HOST, int(PORT)), Handler).serve_forever()
