"""The CloudEvents Python SDK on both ends of herokuevents, for
cloudevents_test.go (run with .venv/bin/python; scripts/setup-tools installs
the pinned SDK).

  send URL          sends the events of stdin ({"path", "attributes", "data"}
                    per line) in binary mode with the SDK's HTTP binding to
                    URL + path (URL holds the publish credentials); prints one
                    JSON line per event: its attributes as the SDK holds them
  parse SECRET      reads the requests a receiver recorded (a JSON list of
                    {"headers", "body_base64"}) on stdin, parses each with the
                    SDK's HTTP binding (binary or structured, as it detects),
                    checks its Standard Webhooks signature with SECRET by hand
                    (HMAC-SHA256 over id.timestamp.body) and prints one JSON
                    line per request: the attributes, the data and whether the
                    signature matched
"""

import base64
import hashlib
import hmac
import json
import sys
import urllib.parse
import urllib.request
from datetime import datetime

from cloudevents.core.bindings import http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent


def canonical(event):
    """The attributes and data of an event, as JSON-able values."""
    out = {}
    for k, v in event.get_attributes().items():
        out[k] = v.isoformat() if isinstance(v, datetime) else v
    out["data"] = event.get_data()
    return out


def send(base):
    u = urllib.parse.urlsplit(base)
    auth = base64.b64encode(
        f"{urllib.parse.unquote(u.username)}:{urllib.parse.unquote(u.password)}".encode()
    ).decode()
    netloc = u.hostname + (f":{u.port}" if u.port else "")
    for line in sys.stdin:
        spec = json.loads(line)
        attrs = dict(spec["attributes"])
        if "time" in attrs:
            attrs["time"] = datetime.fromisoformat(attrs["time"])
        event = CloudEvent(attributes=attrs, data=spec["data"])
        msg = http.to_binary(event, JSONFormat())
        url = urllib.parse.urlunsplit((u.scheme, netloc, u.path + spec["path"], "", ""))
        req = urllib.request.Request(url, data=msg.body, method="POST")
        for k, v in msg.headers.items():
            req.add_header(k, v)
        req.add_header("Authorization", "Basic " + auth)
        with urllib.request.urlopen(req, timeout=10) as resp:
            if resp.status != 202:
                raise SystemExit(f"publish answered {resp.status}: {resp.read()!r}")
        print(json.dumps(canonical(event)), flush=True)


def signature_ok(secret, headers, body):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    h = {k.lower(): v for k, v in headers.items()}
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        s.startswith("v1,") and hmac.compare_digest(s[3:], want)
        for s in h["webhook-signature"].split(" ")
    )


def parse(secret):
    for rec in json.load(sys.stdin):
        body = base64.b64decode(rec["body_base64"])
        headers = {k: v for k, v in rec["headers"].items()}
        event = http.from_http(http.HTTPMessage(headers=headers, body=body), JSONFormat())
        out = canonical(event)
        out["_signature_ok"] = signature_ok(secret, headers, body)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2])
    elif sys.argv[1] == "parse":
        parse(sys.argv[2])
    else:
        raise SystemExit(__doc__)
