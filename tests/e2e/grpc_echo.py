# SPDX-License-Identifier: Apache-2.0
"""grpc_echo: a real gRPC (C-core, python3-grpcio) server and client for the
e2e tests, with raw-bytes methods so no generated code is needed.
  grpc_echo.py server NAME ADDR:PORT   answers /bpfmesh.test.Echo/Name with NAME
  grpc_echo.py client TARGET N         N calls; prints "endpoint NAME COUNT",
                                       "failed N" and the first error
C-core dials an IPv4 target from an AF_INET6 socket as ::ffff:ADDR.
"""
import sys
import time
from concurrent import futures

import grpc

METHOD = "/bpfmesh.test.Echo/Name"


def serve(name, addr):
    def handler(request, context):
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
    for _ in range(n):
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


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        sys.exit(serve(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "client":
        sys.exit(call(sys.argv[2], int(sys.argv[3])))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
