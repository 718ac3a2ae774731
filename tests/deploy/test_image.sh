#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# test_image: the image `make image` built (deploy/image/build.sh).
#
# - podman runs it: `podman run --rm --network none IMAGE bpfmesh validate
#   /etc/bpfmesh` passes, and the image's bpfmesh prints the same manifests
#   as the build's;
# - it is self-contained: in a chroot of its root filesystem the binary runs
#   on the image's own loader and libraries (none missing), and validates the
#   image's /etc/bpfmesh;
# - its OCI archive: one layer, the command, PATH and version label; the
#   binary at /usr/local/bin/bpfmesh, root-owned; /etc/bpfmesh holds exactly
#   the ConfigMap's files; small.
#
# Where podman cannot start a container here the runtime is named and the
# known causes are worked around, each said in the log (this VM: crun refuses
# the hybrid cgroup v1 + v2 layout, "drop all controllers from cgroupv2", and
# podman's default RLIMIT_NOFILE/NPROC of 1048576 cannot be set without
# CAP_SYS_RESOURCE, which this sandbox withholds: runc with the limits at or
# below the hard ones works). Needs root (chroot, podman's store).
set -u
cd "$(dirname "$0")/../.."
NAME=test_image
BUILD=${BUILD:-build}
BIN=$BUILD/bpfmesh
ROOTFS=$BUILD/image/rootfs
failures=0
ok() { echo "[$NAME] ok: $*"; }
fail() { echo "[$NAME] FAIL: $*"; failures=$((failures + 1)); }
check() { # check "what" command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
tmp=$(mktemp -d /tmp/bpfmesh-image.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

[ "$(id -u)" -eq 0 ] || { fail "needs root"; exit 1; }
version=$("$BIN" --version | awk '{ print $2 }')
image=localhost/bpfmesh:$version
check "podman store has $image and :latest, the same image" \
	test -n "$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null)" -a \
	"$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null)" = \
	"$(podman image inspect --format '{{.Id}}' localhost/bpfmesh:latest 2>/dev/null)"

# ---- podman run ----
# run ARGS...: podman run --rm --network none ARGS, plain first; on a runtime
# error (status 126/125 with "OCI" in it) once more with the workaround.
workaround=()
prun() {
	timeout 120 podman run --rm --network none "${workaround[@]}" "$@" >"$tmp/out" 2>"$tmp/err"
}
prun "$image" bpfmesh validate /etc/bpfmesh
rc=$?
if [ $rc -ge 125 ] && grep -q 'OCI\|runtime' "$tmp/err"; then
	echo "[$NAME] note: podman run failed in the runtime (status $rc): $(head -c 300 "$tmp/err")"
	cat >"$tmp/containers.conf" <<-'CONF'
		[containers]
		default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
	CONF
	export CONTAINERS_CONF=$tmp/containers.conf
	if command -v runc >/dev/null; then workaround=(--runtime runc); fi
	echo "[$NAME] note: retrying with ${workaround[*]} and RLIMIT_NOFILE/NPROC 1024 (containers.conf)"
	prun "$image" bpfmesh validate /etc/bpfmesh
	rc=$?
fi
if [ $rc -eq 0 ] && grep -q '^/etc/bpfmesh: valid: .* 1 telemetry$' "$tmp/out"; then
	ok "podman run --rm --network none $image bpfmesh validate /etc/bpfmesh: $(cat "$tmp/out")"
else
	fail "podman run ... bpfmesh validate /etc/bpfmesh: status $rc: $(cat "$tmp/out" "$tmp/err")"
fi
prun "$image" bpfmesh manifests --image x.example/b:1 --namespace ns1
cp "$tmp/out" "$tmp/manifests.image"
"$BIN" manifests --image x.example/b:1 --namespace ns1 >"$tmp/manifests.build"
check "the image's bpfmesh prints the build's manifests" cmp -s "$tmp/manifests.image" "$tmp/manifests.build"
prun "$image"
check "the image's default command is bpfmesh --help" grep -q '^Usage: bpfmesh COMMAND' "$tmp/out"

# ---- the root filesystem alone ----
check "rootfs: /usr/local/bin/bpfmesh is an executable" test -x "$ROOTFS/usr/local/bin/bpfmesh"
interp=$(readelf -l "$ROOTFS/usr/local/bin/bpfmesh" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
check "rootfs: the loader $interp is in the image" test -f "$ROOTFS$interp"
chroot "$ROOTFS" "$interp" --list /usr/local/bin/bpfmesh >"$tmp/libs" 2>&1
check "rootfs: every library resolves inside the image ($(grep -c '=>' "$tmp/libs") libraries)" \
	bash -c "! grep -q 'not found' '$tmp/libs' && grep -q 'libbpf' '$tmp/libs'"
if chroot "$ROOTFS" /usr/local/bin/bpfmesh validate /etc/bpfmesh >"$tmp/out" 2>&1; then
	ok "chroot rootfs bpfmesh validate /etc/bpfmesh: $(cat "$tmp/out")"
else
	fail "chroot rootfs bpfmesh validate /etc/bpfmesh: $(cat "$tmp/out")"
fi
check "rootfs: no /boot" test ! -e "$ROOTFS/boot"
check "rootfs: the CA bundle for OTLP over https" test -s "$ROOTFS/etc/ssl/certs/ca-certificates.crt"

# ---- the OCI archive ----
python3 - "$BUILD/image/bpfmesh-$version.oci.tar" "$version" deploy/kubernetes/20-configmap.yaml >"$tmp/oci" 2>&1 <<'PY'
import io, json, sys, tarfile, yaml
path, version, cmpath = sys.argv[1:]
res = []
def check(cond, what, detail=""):
    res.append(cond)
    print(("ok: " if cond else "FAIL: ") + what + ("" if cond else f": {detail}"))
oci = tarfile.open(path)
blob = lambda d: oci.extractfile("blobs/" + d.replace(":", "/")).read()
index = json.load(oci.extractfile("index.json"))
manifest = json.loads(blob(index["manifests"][0]["digest"]))
config = json.loads(blob(manifest["config"]["digest"]))
cc = config.get("config", {})
check(len(manifest["layers"]) == 1, "OCI: one layer", len(manifest["layers"]))
check(cc.get("Cmd") == ["/usr/local/bin/bpfmesh", "--help"], "OCI: command bpfmesh --help", cc.get("Cmd"))
check(any(e.startswith("PATH=/usr/local/bin:") for e in cc.get("Env", [])), "OCI: PATH starts with /usr/local/bin")
check(cc.get("Labels", {}).get("org.opencontainers.image.version") == version, "OCI: version label", cc.get("Labels"))
layer = tarfile.open(fileobj=io.BytesIO(blob(manifest["layers"][0]["digest"])))
members = {m.name.lstrip("./"): m for m in layer.getmembers()}
b = members.get("usr/local/bin/bpfmesh")
check(b is not None and b.isfile() and b.mode & 0o111 and b.uid == 0, "OCI: /usr/local/bin/bpfmesh, executable, root's")
check(all(m.uid == 0 and m.gid == 0 for m in members.values()), "OCI: every file owned by root")
want = {f"etc/bpfmesh/{k}": v for d in yaml.safe_load_all(open(cmpath)) if d and d["kind"] == "ConfigMap"
        for k, v in d["data"].items()}
have = {n: layer.extractfile(m).read().decode() for n, m in members.items() if n.startswith("etc/bpfmesh/") and m.isfile()}
check(have == want, "OCI: /etc/bpfmesh holds exactly the ConfigMap's files", sorted(have))
size = sum(m.size for m in members.values())
check(size < 64 << 20, f"OCI: small: {size >> 20} MiB unpacked (< 64 MiB)", size)
sys.exit(0 if all(res) else 1)
PY
rc=$?
sed "s/^/[$NAME] /" "$tmp/oci"
[ $rc -eq 0 ] || grep -q 'FAIL:' "$tmp/oci" || fail "OCI archive unreadable (status $rc)"

echo "[$NAME] $([ $failures -eq 0 ] && echo passed || echo "FAILED ($failures checks)")"
[ $failures -eq 0 ]
