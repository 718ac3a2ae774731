#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kube_converge_fake.py: tests/e2e/fake_kube.py for bench/kube_converge.sh,
with a listen backlog of 128 instead of socketserver's 5. The agent opens
its ten LISTs at once; with a backlog of 5 the SYNs past it are dropped and
retried by the kernel a second later, which put 1 s into every initial sync
measured. Arguments as fake_kube.py's."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import fake_kube  # noqa: E402

fake_kube.ApiServer.request_queue_size = 128
fake_kube.main()
