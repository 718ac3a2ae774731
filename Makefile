# SPDX-License-Identifier: Apache-2.0
# bpfmesh build. `make` builds the one binary (agent and CLI); `make test` runs
# every test suite; `make demo` starts the demo shop. See README.md.

BUILD    ?= build
CLANG    ?= clang
PROTOC_C ?= protoc-c
BPFTOOL  ?= bpftool
CC       ?= gcc
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

PKGS     := libbpf libelf zlib yaml-0.1 libmicrohttpd json-c libprotobuf-c libcurl libnghttp2
OPT      ?= -O2 -g
# Where the BPF objects and their skeletons are built (-I for "skel/*.skel.h"):
# they do not depend on OPT or CC, so the sanitizer trees take the caller's
# instead of compiling them again (test-unit-asan, UBSAN_MAKE).
SKEL_BUILD ?= $(BUILD)
# -MMD: every object depends on exactly the headers it includes (build/**/*.d).
CFLAGS   := $(OPT) -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -MMD -MP -I. -Iagent -I$(SKEL_BUILD) -I$(BUILD)/proto \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror -MMD -MP -I. -Ibpf

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(SKEL_BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(SKEL_BUILD)/skel/%.skel.h,$(BPF_SRCS))
# OTLP protobuf-c sources are generated from exporters/proto into $(BUILD)/proto.
PROTOS     := $(addprefix exporters/proto/opentelemetry/proto/,common/v1/common.proto \
              resource/v1/resource.proto trace/v1/trace.proto collector/trace/v1/trace_service.proto \
              metrics/v1/metrics.proto collector/metrics/v1/metrics_service.proto)
PROTO_HDRS := $(patsubst exporters/proto/%.proto,$(BUILD)/proto/%.pb-c.h,$(PROTOS))
PROTO_OBJS := $(patsubst exporters/proto/%.proto,$(BUILD)/proto/%.pb-c.o,$(PROTOS))
AGENT_SRCS := $(wildcard agent/*.c agent/*/*.c exporters/*.c)
# `bpfmesh manifests` prints these files, embedded at build time, in apply order
MANIFESTS  := $(sort $(wildcard deploy/crds/*.yaml)) $(sort $(wildcard deploy/kubernetes/*.yaml))
AGENT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(AGENT_SRCS)) $(PROTO_OBJS) $(BUILD)/gen/manifests.o
LIB_OBJS   := $(filter-out $(BUILD)/agent/main.o,$(AGENT_OBJS))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
BPFT_SRCS  := $(wildcard tests/bpf/test_*.c)
BPFT_BINS  := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(BPFT_SRCS))
E2E_SRCS   := $(wildcard tests/e2e/*.c)
E2E_BINS   := $(patsubst tests/e2e/%.c,$(BUILD)/tests/e2e/%,$(E2E_SRCS))
HDRS       := $(wildcard agent/*/*.h bpf/*.h bpf/lib/*.h exporters/*.h)

.PHONY: all deps vmlinux test test-unit test-unit-asan test-unit-ubsan test-bpf test-e2e \
	test-e2e-ubsan test-kernels demo bench check clean fuzz fuzz-build test-fuzz \
	image image-deps test-deploy
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/bpfmesh $(E2E_BINS)

# Debian packages the build, the tests and the demo need; installs only what is missing.
# libclang-rt-14-dev: clang 14's libFuzzer and sanitizer runtimes (`make fuzz`;
# clang only recommends it).
DEB_PKGS := clang llvm make gcc pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev \
            libyaml-dev libmicrohttpd-dev libjson-c-dev libcmocka-dev iproute2 procps curl \
            python3 xxd protobuf-c-compiler libprotobuf-c-dev libcurl4-openssl-dev clang-format cppcheck \
            python3-yaml python3-jsonschema python3-grpcio \
            libclang-rt-14-dev
# HPACK decoding of captured HTTP/2 header blocks (agent/trace/h2_hpack.c)
DEB_PKGS += libnghttp2-dev
# HTTP/2 end to end (tests/e2e/test_h2.sh) and bench/h2.sh: nghttpd, nghttp, h2load, nghttpx
DEB_PKGS += nghttp2-server nghttp2-client nghttp2-proxy
# promtool and a Prometheus server for test_metrics; without its recommends
# (a node exporter that would start a daemon on the machine)
DEB_PKGS_BARE := prometheus
# OpenSSL for the test OTLP receiver's TLS, and its CLI for the test's CA
DEB_PKGS += libssl-dev openssl
# Node.js and npm for tests/e2e/otel-node (a service with the OpenTelemetry JS
# SDK); its npm packages are pinned by its package-lock.json (npm ci below).
# npm only where no npm is installed: some nodejs builds bundle it and
# conflict with Debian's.
DEB_PKGS += nodejs
OTEL_NODE := tests/e2e/otel-node
deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	bare=""; for p in $(DEB_PKGS_BARE); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || bare="$$bare $$p"; \
	done; \
	if [ -n "$$missing$$bare" ]; then apt-get update -q; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi; \
	if [ -n "$$bare" ]; then \
		echo "installing:$$bare"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$bare; \
	fi
	@command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm
	@# without them test_otel_sdk is skipped; under CI that is a failure
	@cd $(OTEL_NODE) && npm ci --no-audit --no-fund --loglevel=error || \
		{ echo "npm ci in $(OTEL_NODE) failed: test_otel_sdk will be skipped"; [ "$$CI" != true ]; }

# `make image` (deploy/image/build.sh): podman imports the image into its
# store, runc runs it in the image test where crun cannot (tests/deploy/
# test_image.sh says why). Kept out of DEB_PKGS: only the image needs them.
IMAGE_DEB_PKGS := podman runc ca-certificates binutils xxd
image-deps:
	@missing=""; for p in $(IMAGE_DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

image: image-deps $(BUILD)/bpfmesh
	@BUILD=$(BUILD) deploy/image/build.sh

# The manifests (parse, RBAC against the agent's requests, `bpfmesh
# manifests`) and the image (podman run, its layout, the binary on the image's
# own loader and libraries).
test-deploy: all image
	@BUILD=$(BUILD) tests/deploy/run.sh

# vmlinux.h is committed; this regenerates it from the running kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

$(SKEL_BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL_BUILD)/skel/%.skel.h: $(SKEL_BUILD)/bpf/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $(subst .,_,$*)_bpf > $@

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: exporters/proto/%.proto
	@mkdir -p $(BUILD)/proto
	$(PROTOC_C) --c_out=$(BUILD)/proto -Iexporters/proto $<

$(BUILD)/proto/%.o: $(BUILD)/proto/%.c | $(PROTO_HDRS)
	$(CC) $(CFLAGS) -c $< -o $@

# Generated headers must exist before the first compile; after that the .d
# files name the ones each object really includes. Only the sources that
# include a skeleton wait for the BPF objects (bpf/http.bpf.c alone takes
# about a minute of clang): under make -j the rest compile meanwhile. A
# header that included one would make every object wait.
SKEL_USERS := $(patsubst %.c,$(BUILD)/%.o,$(if $(shell grep -l '\#include "skel/' $(HDRS) 2>/dev/null),\
              $(AGENT_SRCS),$(shell grep -l '\#include "skel/' $(AGENT_SRCS) 2>/dev/null)))
# A real prerequisite, not order-only: an object of a sanitizer tree whose
# .d file still names skeletons where that tree once built its own would
# otherwise keep the old layout (seen: tcload.o of build-ubsan loading a
# capture object with another map set, ENOENT).
$(SKEL_USERS): $(SKELS)
$(BUILD)/%.o: %.c | $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/manifests.c: $(MANIFESTS) deploy/embed-manifests.sh
	@mkdir -p $(@D)
	deploy/embed-manifests.sh $(MANIFESTS) > $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/bpfmesh: $(AGENT_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS) -lcmocka

# The test OTLP receiver decodes with the generated code, inflates with zlib
# and speaks TLS with OpenSSL.
$(BUILD)/tests/e2e/otlp_receiver: tests/e2e/otlp_receiver.c $(PROTO_OBJS) | $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(PROTO_OBJS) -o $@ -lprotobuf-c -lz -lssl -lcrypto

# kubewatch drives agent/kube alone: the client and the lib/ it may use.
KUBE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard agent/kube/*.c agent/lib/*.c))
$(BUILD)/tests/e2e/kubewatch: tests/e2e/kubewatch.c $(KUBE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(KUBE_OBJS) -o $@ $(LDLIBS)

$(BUILD)/tests/e2e/%: tests/e2e/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ -lpthread

# In-kernel tests (BPF_PROG_TEST_RUN): root, and the skeletons.
$(BUILD)/tests/bpf/%: tests/bpf/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(LDLIBS) -lcmocka

# The agent's reader of the capture ring, on records the programs wrote.
$(BUILD)/tests/bpf/test_events_ring: tests/bpf/test_events_ring.c $(LIB_OBJS) | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS) -lcmocka

test-bpf: $(BPFT_BINS)
	@mkdir -p build && tests/run-unit.sh $(BPFT_BINS)

test-unit: $(UNIT_BINS)
	@mkdir -p build && tests/run-unit.sh $(UNIT_BINS)

# The same unit tests under AddressSanitizer, in a separate build tree; the
# BPF skeletons are this tree's (SKEL_BUILD). The tree's own skeletons of
# older builds go: objects whose .d names them are then compiled again.
test-unit-asan:
	@rm -rf build-asan/skel build-asan/bpf
	$(MAKE) BUILD=build-asan SKEL_BUILD=$(BUILD) OPT="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" test-unit

test-e2e: all
	@tests/e2e/run.sh

# The agent, the CLI and the tests built by clang with UBSan, in build-ubsan:
# clang checks what gcc's UBSan does not (pointer arithmetic on NULL above
# all). The unit tests run on it, and the end-to-end suite runs the agent and
# the CLI from it; any report fails the run (tests/e2e/run-ubsan.sh).
UBSAN_MAKE := $(MAKE) BUILD=build-ubsan SKEL_BUILD=$(BUILD) CC=$(CLANG) LDFLAGS="-fsanitize=undefined" \
              OPT="-O2 -g -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

test-unit-ubsan:
	@rm -rf build-ubsan/skel build-ubsan/bpf
	@$(UBSAN_MAKE) test-unit

test-e2e-ubsan:
	@rm -rf build-ubsan/skel build-ubsan/bpf
	@$(UBSAN_MAKE) all
	@tests/e2e/run-ubsan.sh

# The guest's per-program load matrix (tests/kernels/progload.c): libbpf only.
$(BUILD)/tests/kernels/progload: tests/kernels/progload.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf)

# Debian 12's packaged kernels (6.1, 6.12), fetched with apt and cached, each
# booted in qemu with the agent in an initramfs (tests/kernels/README.md).
test-kernels: all $(BUILD)/tests/kernels/progload $(BPF_OBJS)
	@BUILD=$(BUILD) tests/kernels/run.sh

test: deps
	@tests/run-all.sh

demo: deps all
	deploy/demo/run.sh

bench: deps all
	bench/run.sh

# libFuzzer harnesses (tests/fuzz/fuzz_NAME.c, seeds in tests/fuzz/corpus/NAME/),
# built with clang in their own tree: the parsers they call are compiled with
# coverage and ASan+UBSan, into an archive the harnesses link what they use
# from. `make fuzz` runs each for FUZZ_SECONDS; `make test-fuzz` is CI's short
# run. FUZZ=NAME runs one. tests/fuzz/run.sh fails on a crash, leak, timeout
# or sanitizer report and keeps the input in $(FUZZ_BUILD)/crashes/NAME/.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wall -Wextra -Werror -std=gnu11 \
                -D_GNU_SOURCE -MMD -MP -I. -Iagent -I$(BUILD) -I$(BUILD)/proto \
                $(shell pkg-config --cflags yaml-0.1 libprotobuf-c zlib 2>/dev/null)
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRCS))
# The input surfaces and what they call; nothing here needs the kernel.
FUZZ_LIB_SRCS := $(filter-out agent/config/watch.c,$(wildcard agent/config/*.c)) \
                 agent/lib/strmap.c agent/trace/proto_http1_head.c agent/trace/tracectx.c \
                 agent/trace/route.c agent/api/api_args.c \
                 agent/trace/h2_conn.c agent/trace/h2_frames.c agent/trace/h2_hpack.c \
                 agent/trace/proto_h2.c \
                 exporters/otlp_encode.c exporters/otlp_metrics_encode.c exporters/otlp_strings.c
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(FUZZ_LIB_SRCS)) \
                 $(patsubst $(BUILD)/proto/%.o,$(FUZZ_BUILD)/proto/%.o,$(PROTO_OBJS))

$(FUZZ_BUILD)/proto/%.o: $(BUILD)/proto/%.c | $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/%.o: %.c | $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libparsers.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/libparsers.a
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ \
		$(shell pkg-config --libs yaml-0.1 libprotobuf-c zlib libnghttp2 2>/dev/null) -lm

fuzz-build: $(FUZZ_BINS)

fuzz: deps fuzz-build
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ)

test-fuzz: fuzz-build
	@tests/fuzz/run.sh --ci 10 $(FUZZ)

check:
	clang-format --dry-run --Werror $(AGENT_SRCS) $(HDRS) $(UNIT_SRCS) $(FUZZ_SRCS) tests/fuzz/*.h \
		$(wildcard tests/kernels/*.c)
	cppcheck --quiet --error-exitcode=1 --enable=warning -Iagent -I. agent exporters
	tests/check_layers.sh
	@# one license for the kernel code (SPDX, the object's license string) and
	@# one for the rest: README.md, "License"
	@bad="$$(grep -L '^/[/*] SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)' bpf/*.[ch] bpf/lib/*.h) \
	      $$(grep -L 'SEC("license") = "Dual BSD/GPL"' bpf/*.bpf.c) \
	      $$(grep -L 'SPDX-License-Identifier: Apache-2.0' $(AGENT_SRCS) $(HDRS:bpf/%=) $(UNIT_SRCS) $(FUZZ_SRCS))"; \
	if [ -n "$$(echo $$bad)" ]; then echo "license statement missing or different in:" $$bad; exit 1; fi

clean:
	rm -rf build build-asan build-ubsan $(FUZZ_BUILD)

# and the BPF objects' headers where another tree builds them (SKEL_BUILD)
-include $(shell find $(BUILD) $(FUZZ_BUILD) $(if $(filter $(SKEL_BUILD),$(BUILD)),,$(SKEL_BUILD)/bpf) \
	-name '*.d' 2>/dev/null)
