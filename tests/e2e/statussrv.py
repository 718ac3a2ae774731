#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""statussrv: an HTTP/1.1 endpoint whose status codes the e2e tests choose.

    statussrv.py NAME ADDR PORT [STATUS]

GET or HEAD of /status/NNN answers NNN; any other path answers STATUS
(default 200). Every answer has a body naming the endpoint (none for 204
and 304) and closes the connection. Prints "ready" once listening and one
line "NAME PATH STATUS" per answer; exits on SIGTERM.
"""
import http.server
import signal
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, with_body):
        parts = self.path.split("?")[0].split("/")
        if len(parts) == 3 and parts[1] == "status" and parts[2].isdigit():
            status = int(parts[2])
        else:
            status = DEFAULT
        body = b"" if status in (204, 304) else (NAME + "\n").encode()
        self.send_response(status)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if with_body:
            self.wfile.write(body)
        print(NAME, self.path, status, flush=True)

    def do_GET(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)

    def log_message(self, *args):
        pass


NAME, ADDR, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
DEFAULT = int(sys.argv[4]) if len(sys.argv) > 4 else 200
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
server = http.server.ThreadingHTTPServer((ADDR, PORT), Handler)
print("ready", flush=True)
server.serve_forever()
