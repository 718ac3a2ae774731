# SPDX-License-Identifier: Apache-2.0
"""grpc_echo: a real gRPC (C-core, python3-grpcio) server and client for the
e2e tests, with raw-bytes methods so no generated code is needed.
  grpc_echo.py server NAME ADDR:PORT   answers /bpfmesh.test.Echo/Name with NAME
                                       (NAME unavailable: with UNAVAILABLE)
  grpc_echo.py client TARGET N         N calls; prints "endpoint NAME COUNT",
                                       "failed N" and the first error
  grpc_echo.py rpcserver ADDR:PORT     bpfmesh.test.Echo with Say (unary echo),
                                       Count (server streaming: as many replies
                                       as the request's byte says), Fail
                                       (UNAVAILABLE) and Slow (answers after
                                       500 ms); prints "ready", then a line
                                       "call METHOD START_NS DURATION_NS" per
                                       call: the server's own figure, from
                                       the handler's start (the request is
                                       all in, HEADERS and DATA) to its end
                                       (the last reply or the abort handed
                                       to C-core, before the trailers go
                                       out): inside the wire time by the
                                       request's arrival and the response's
                                       write
  grpc_echo.py rpcclient TARGET N      on one channel: N Say, 3 Count of 5, 2
                                       Fail, 1 Slow with a 100 ms deadline;
                                       prints "METHOD CODE COUNT" lines
C-core dials an IPv4 target from an AF_INET6 socket as ::ffff:ADDR.
"""
import os
import sys
import time
from concurrent import futures

import grpc

METHOD = "/bpfmesh.test.Echo/Name"


def serve(name, addr):
    def handler(request, context):
        if name == "unavailable":  # an endpoint that fails every call
            context.abort(grpc.StatusCode.UNAVAILABLE, "down")
        return name.encode()

    generic = grpc.method_handlers_generic_handler(
        "bpfmesh.test.Echo", {"Name": grpc.unary_unary_rpc_method_handler(handler)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((generic,))
    if not server.add_insecure_port(addr):
        print("cannot listen on", addr, flush=True)
        return 1
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()
    return 0


def call(target, n):
    counts, failed, first_err = {}, 0, ""
    # GRPC_CALL_GAP_MS between calls: HTTP/2 outcomes reach outlier
    # detection through the agent's ring reads (every 20 ms), so a client
    # calling back to back on a loaded machine can outrun it by a call or two
    gap = int(os.environ.get("GRPC_CALL_GAP_MS", "0")) / 1000.0
    for i in range(n):
        if i and gap:
            time.sleep(gap)
        # a channel per call: every call is a new connect() to the service
        with grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)]) as ch:
            try:
                name = ch.unary_unary(METHOD)(b"", timeout=5).decode()
                counts[name] = counts.get(name, 0) + 1
            except grpc.RpcError as e:
                failed += 1
                first_err = first_err or "%s: %s" % (e.code(), e.details())
    for name, c in sorted(counts.items()):
        print("endpoint", name, c)
    print("failed", failed)
    if first_err:
        print("first_error", first_err.replace("\n", " "))
    return 0


def timed(name, fn):
    """fn, printing "call NAME START_NS DURATION_NS" when it is done
    (returned, raised, or its generator exhausted)."""
    def note(t0, w0):
        print("call", name, w0, time.perf_counter_ns() - t0, flush=True)

    def unary(request, context):
        t0, w0 = time.perf_counter_ns(), time.time_ns()
        try:
            return fn(request, context)
        finally:
            note(t0, w0)

    def stream(request, context):
        t0, w0 = time.perf_counter_ns(), time.time_ns()
        try:
            yield from fn(request, context)
        finally:
            note(t0, w0)

    return stream if name == "Count" else unary


def rpc_serve(addr):
    def say(request, context):
        return request

    def count(request, context):
        for i in range(request[0] if request else 1):
            yield bytes([i])

    def fail(request, context):
        context.abort(grpc.StatusCode.UNAVAILABLE, "try another")

    def slow(request, context):
        time.sleep(0.5)
        return b"late"

    handlers = {
        "Say": grpc.unary_unary_rpc_method_handler(timed("Say", say)),
        "Count": grpc.unary_stream_rpc_method_handler(timed("Count", count)),
        "Fail": grpc.unary_unary_rpc_method_handler(timed("Fail", fail)),
        "Slow": grpc.unary_unary_rpc_method_handler(timed("Slow", slow)),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bpfmesh.test.Echo", handlers),))
    if not server.add_insecure_port(addr):
        print("cannot listen on", addr, flush=True)
        return 1
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()
    return 0


def rpc_calls(target, n):
    results = {}

    def note(method, code):
        results[(method, code)] = results.get((method, code), 0) + 1

    svc = "/bpfmesh.test.Echo/"
    with grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)]) as ch:
        calls = [("Say", 0, n, 5), ("Count", 5, 3, 5), ("Fail", 0, 2, 5), ("Slow", 0, 1, 0.1)]
        for method, arg, times, timeout in calls:
            for _ in range(times):
                try:
                    if method == "Count":
                        replies = list(ch.unary_stream(svc + method)(bytes([arg]), timeout=timeout))
                        note(method, "OK" if len(replies) == arg else "SHORT")
                    else:
                        ch.unary_unary(svc + method)(b"hello", timeout=timeout)
                        note(method, "OK")
                except grpc.RpcError as e:
                    note(method, e.code().name)
    for (method, code), c in sorted(results.items()):
        print(method, code, c)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "rpcserver":
        sys.exit(rpc_serve(sys.argv[2]))
    if len(sys.argv) == 4 and sys.argv[1] == "rpcclient":
        sys.exit(rpc_calls(sys.argv[2], int(sys.argv[3])))
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        sys.exit(serve(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "client":
        sys.exit(call(sys.argv[2], int(sys.argv[3])))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
