# SPDX-License-Identifier: Apache-2.0
# poolsrv.py: a threaded HTTP/1.1 server (a thread per connection) whose
# calls share a pool of keep-alive connections to one upstream, the way an
# application's HTTP client pool does: each request takes a connection from
# the pool, calls the upstream with its own path, and puts the connection
# back. A pooled connection so carries many calls, from one thread after
# another, which is what bpfmesh's thread records must follow for the
# calls to nest under the right SERVER span.
#
# poolsrv.py PORT UPSTREAM_HOST UPSTREAM_PORT POOL: serves on 127.0.0.1:PORT
# and prints "ready" once it listens; each answer is 200 "ok\n" after the
# upstream answered (502 when it did not).
import http.client
import queue
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UP_HOST, UP_PORT, POOL = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pool = queue.Queue()
for _ in range(POOL):
    pool.put(http.client.HTTPConnection(UP_HOST, UP_PORT, timeout=10))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        conn = pool.get()
        try:
            conn.request("GET", self.path)
            conn.getresponse().read()
            code = 200
        except (OSError, http.client.HTTPException):
            conn.close()  # reconnects at its next request
            code = 502
        finally:
            pool.put(conn)
        self.send_response(code)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
