#!/usr/bin/env python3
"""receiver.py - a webhook receiver for tests/test_webhooks.sh (stdlib only).

    receiver.py PORT LOG [CONTROL]

Listens on 127.0.0.1:PORT and appends one JSON line per POST to LOG:
    {"path": ..., "status": <answered>, "headers": {lowercased: value},
     "body": "<the body as text>"}
Every POST is logged, whatever it is answered. CONTROL (a file, read at
each request) says how to answer, one word per line, first match wins:
    fail500 N      answer 500 to the next N requests (counted in CONTROL.n)
    fail429 N S    answer 429 with Retry-After: S to the next N requests
    status CODE    answer CODE to every request
otherwise 200. Writes "ready" to LOG.ready once listening.
"""
import http.server
import json
import os
import sys

PORT = int(sys.argv[1])
LOG = sys.argv[2]
CONTROL = sys.argv[3] if len(sys.argv) > 3 else None


def count_path():
    return CONTROL + ".n"


def used():
    try:
        with open(count_path()) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def decide():
    """(status, extra headers) for this request."""
    if not CONTROL or not os.path.exists(CONTROL):
        return 200, {}
    with open(CONTROL) as f:
        words = f.read().split()
    if not words:
        return 200, {}
    if words[0] == "status":
        return int(words[1]), {}
    if words[0] in ("fail500", "fail429"):
        n = used()
        if n < int(words[1]):
            with open(count_path(), "w") as f:
                f.write(str(n + 1))
            if words[0] == "fail500":
                return 500, {}
            return 429, {"Retry-After": words[2]}
    return 200, {}


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        status, extra = decide()
        rec = {
            "path": self.path,
            "status": status,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        with open(LOG, "a") as f:
            f.write(json.dumps(rec) + "\n")
        out = b"ok\n" if status < 300 else b"no\n"
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, fmt, *args):
        pass


class S(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


srv = S(("127.0.0.1", PORT), H)
with open(LOG + ".ready", "w") as f:
    f.write("ready\n")
srv.serve_forever()
