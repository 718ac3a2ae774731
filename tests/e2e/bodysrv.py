# SPDX-License-Identifier: Apache-2.0
# bodysrv.py: HTTP/1.x responses whose last byte leaves well after their
# head, for tests of where bpfmesh ends a response's span (the agent reads
# the framing, the kernel says when the bytes passed).
#
# bodysrv.py serve PORT: an HTTP/1.1 server (keep-alive, pipelined requests
# answered in order) on 127.0.0.1:PORT. The first part of a request's path
# chooses how its response goes on the wire (the rest names it in spans):
#   /cl-split...?ms=N       Content-Length, 64 KiB: head and the first half,
#                           the second half N ms later
#   /chunked-split...?ms=N  chunked, a few chunks, the terminating
#                           "0\r\n\r\n" N ms later in a send of its own
#   /cut...?ms=N&after=M    Content-Length 100000 but 10000 bytes: head and
#                           5000, 5000 more N ms later, the close M ms after
#   /legacy...?ms=N&after=M HTTP/1.0, no length: a first part, a second N ms
#                           later, the close M ms after (close-delimited)
#   anything else           200 "ok\n"
# Per request it prints one JSON line: the path, its own time from reading
# the request to the return of the send of its last byte ("ms"), and when
# (Unix time in ns, the clock spans are stamped in) it read the request
# ("read_ns"), started the send of the last byte ("send_ns") and that send
# returned ("sent_ns").
#
# bodysrv.py client HOST PORT [--pipeline] [--hold S --release FILE] PATH...:
# one connection, the requests in order (--pipeline: all in one send before
# reading any answer). Per response it prints one JSON line (path, status,
# body bytes, complete); then it keeps the connection open until FILE exists
# or S seconds passed (a connection that goes quiet), closes it and prints
# {"closed": true}.
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

BIG = 64 * 1024


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def send_parts(conn, parts):
    """parts: bytes to send, or a number of ms to wait, in order. Returns
    when (time.time_ns()) the send of the last bytes started and when it
    returned: their last byte left between the two."""
    start = last = time.time_ns()
    for p in parts:
        if isinstance(p, (int, float)):
            time.sleep(p / 1000.0)
        else:
            start = time.time_ns()
            conn.sendall(p)
            last = time.time_ns()
    return start, last


def head(status_line, fields):
    return (status_line + "\r\n" + "".join(f + "\r\n" for f in fields) + "\r\n").encode()


def answer(path, query):
    """The parts of the response to path, and whether the connection closes
    after it."""
    ms = int(query.get("ms", ["0"])[0])
    after = int(query.get("after", ["0"])[0])
    if path.startswith("/cl-split"):
        body = b"b" * BIG
        h = head("HTTP/1.1 200 OK", ["Content-Length: %d" % BIG, "Content-Type: text/plain"])
        return [h + body[:BIG // 2], ms, body[BIG // 2:]], False
    if path.startswith("/chunked-split"):
        chunks = b"".join(b"%x\r\n%s\r\n" % (n, b"c" * n) for n in (1000, 2000, 3000))
        h = head("HTTP/1.1 200 OK", ["Transfer-Encoding: chunked", "Content-Type: text/plain"])
        return [h + chunks, ms, b"0\r\n\r\n"], False
    if path.startswith("/cut"):
        h = head("HTTP/1.1 200 OK", ["Content-Length: 100000", "Content-Type: text/plain"])
        return [h + b"x" * 5000, ms, b"x" * 5000, after], True
    if path.startswith("/legacy"):
        h = head("HTTP/1.0 200 OK", ["Content-Type: text/plain", "Connection: close"])
        return [h + b"l" * 3000, ms, b"l" * 3000, after], True
    body = b"ok\n"
    return [head("HTTP/1.1 200 OK", ["Content-Length: %d" % len(body)]) + body], False


def serve_conn(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                # pipelined requests read in one recv share its time
                t_read = time.time_ns()
            req, buf = buf.split(b"\r\n\r\n", 1)
            target = req.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            url = urllib.parse.urlsplit(target)
            parts, close = answer(url.path, urllib.parse.parse_qs(url.query))
            after = parts.pop() if close else 0
            t_send, t_last = send_parts(conn, parts)
            out({"path": url.path, "ms": round((t_last - t_read) / 1e6, 3),
                 "read_ns": t_read, "send_ns": t_send, "sent_ns": t_last})
            if close:
                time.sleep(after / 1000.0)
                return
    except OSError:
        return
    finally:
        conn.close()


def serve(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve_conn, args=(conn,), daemon=True).start()


class Reader:
    def __init__(self, sock):
        self.sock, self.buf, self.eof = sock, b"", False

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
        self.buf += data
        return bool(data)

    def until(self, sep):
        while sep not in self.buf:
            if not self.fill():
                return None
        i = self.buf.index(sep) + len(sep)
        got, self.buf = self.buf[:i], self.buf[i:]
        return got

    def take(self, n):
        while len(self.buf) < n and self.fill():
            pass
        got, self.buf = self.buf[:n], self.buf[n:]
        return got


def read_response(r):
    """(status, body bytes, complete) of the next response."""
    h = r.until(b"\r\n\r\n")
    if h is None:
        return 0, 0, False
    lines = h.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
    if "content-length" in fields:
        want = int(fields["content-length"])
        got = len(r.take(want))
        return status, got, got == want
    if fields.get("transfer-encoding", "").lower() == "chunked":
        total = 0
        while True:
            size = r.until(b"\r\n")
            if size is None:
                return status, total, False
            n = int(size.split(b";")[0], 16)
            data = r.take(n + 2)
            if n == 0:
                return status, total, data == b"\r\n"
            total += len(data) - 2
            if len(data) < n + 2:
                return status, total, False
    while r.fill():
        pass
    got, r.buf = len(r.buf), b""
    return status, got, True


def client(argv):
    host, port = argv[0], int(argv[1])
    pipeline, hold, release, paths = False, 0.0, None, []
    args = iter(argv[2:])
    for a in args:
        if a == "--pipeline":
            pipeline = True
        elif a == "--hold":
            hold = float(next(args))
        elif a == "--release":
            release = next(args)
        else:
            paths.append(a)
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    r = Reader(s)

    def request(p):
        return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bodysrv-client\r\n\r\n" % (p, host)).encode()

    if pipeline:
        s.sendall(b"".join(request(p) for p in paths))
    for p in paths:
        if not pipeline:
            s.sendall(request(p))
        status, n, complete = read_response(r)
        out({"path": p, "status": status, "bytes": n, "complete": complete})
    end = time.monotonic() + hold
    while time.monotonic() < end and not (release and os.path.exists(release)):
        time.sleep(0.02)
    out({"closed": True})
    s.close()


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "client":
        client(sys.argv[2:])
    else:
        sys.exit("usage: bodysrv.py serve PORT | client HOST PORT [--pipeline] "
                 "[--hold S --release FILE] PATH...")
