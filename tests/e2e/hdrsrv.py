# SPDX-License-Identifier: Apache-2.0
# hdrsrv.py PORT: an HTTP/1.1 server (keep-alive, pipelining) that prints,
# per request, one JSON line with its path and every traceparent header it
# received, and answers 200 "ok". The end-to-end tests run it outside the
# mesh's cgroup, as the callee that sees what bpfmesh injected.
import http.server
import json
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        print(json.dumps({"path": self.path,
                          "traceparent": self.headers.get_all("traceparent") or [],
                          "lines": [k.lower() for k in self.headers.keys()]}), flush=True)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("ready", flush=True)
srv.serve_forever()
