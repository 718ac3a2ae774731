#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make image`: the agent's OCI image, built offline, FROM scratch: the binary
# at /usr/local/bin/bpfmesh, exactly the shared libraries it links (ldd) and
# the dynamic loader, copied from this Debian system together with their
# packages' copyright files, the CA bundle (OTLP over https), a root-only
# passwd/group, and /etc/bpfmesh holding the files of the ConfigMap in
# deploy/kubernetes/20-configmap.yaml (a pod mounts its ConfigMap over it).
# No base image, no registry: the root filesystem goes into the local podman
# store with `podman import`, as bpfmesh:VERSION and bpfmesh:latest (VERSION:
# `bpfmesh --version`, from agent/lib/version.h), and is also written as an
# OCI archive for other runtimes (`ctr images import`, `kind load
# image-archive`, `skopeo copy oci-archive:...`).
#
# Out: $BUILD/image/rootfs/ (the tree), rootfs.tar (its one layer),
# bpfmesh-VERSION.oci.tar, and the image in podman's store.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=$BUILD/bpfmesh
OUT=$BUILD/image
ROOT=$OUT/rootfs

[ -x "$BIN" ] || { echo "image: $BIN is missing: run make first" >&2; exit 1; }
version=$("$BIN" --version | awk '{ print $2 }')
[ -n "$version" ] || { echo "image: $BIN --version printed no version" >&2; exit 1; }

rm -rf "$ROOT"
mkdir -p "$ROOT"/{usr/local/bin,etc/bpfmesh,etc/ssl/certs,tmp,proc,sys,dev,run,usr/share/doc}
chmod 1777 "$ROOT/tmp"

# the binary without its debug sections (symbols stay, for backtraces)
objcopy --strip-debug "$BIN" "$ROOT/usr/local/bin/bpfmesh"

# Every library ldd resolves, and the loader the ELF names, each at the path
# the loader looks for it (files, not symlinks). libgcc_s too: glibc loads it
# with dlopen when a thread is cancelled or exits, which ldd cannot see.
interp=$(readelf -l "$BIN" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
libs=$(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
libgcc=$(dirname "$(ldd "$BIN" | awk '$1 ~ /^libc\.so/ { print $3 }')")/libgcc_s.so.1
[ -e "$libgcc" ] && libs="$libs $libgcc"
for f in $interp $libs; do
	mkdir -p "$ROOT$(dirname "$f")"
	cp -L "$f" "$ROOT$f"
	# the Debian package's copyright file: the licence the library ships under
	pkg=$(dpkg -S "$(readlink -f "$f")" 2>/dev/null | head -1 | cut -d: -f1) || true
	if [ -n "$pkg" ] && [ -f "/usr/share/doc/$pkg/copyright" ]; then
		mkdir -p "$ROOT/usr/share/doc/$pkg"
		cp "/usr/share/doc/$pkg/copyright" "$ROOT/usr/share/doc/$pkg/"
	fi
done

cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
	> "$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOT/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$ROOT/etc/nsswitch.conf"

# /etc/bpfmesh: the ConfigMap's files, so the image runs as the DaemonSet does
python3 - "$ROOT/etc/bpfmesh" deploy/kubernetes/20-configmap.yaml <<'PY'
import sys, yaml
out, path = sys.argv[1], sys.argv[2]
n = 0
for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
    if doc and doc.get("kind") == "ConfigMap":
        for name, text in doc.get("data", {}).items():
            with open(f"{out}/{name}", "w", encoding="utf-8") as f:
                f.write(text)
            n += 1
if n == 0:
    sys.exit(f"image: no ConfigMap data in {path}")
PY

# one layer, reproducible: sorted, owned by root, fixed times
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$ROOT" -cf "$OUT/rootfs.tar" .

command -v podman >/dev/null || { echo "image: podman is missing: make image-deps" >&2; exit 1; }
# the image this one replaces, removed below once no tag names it
old=$(podman image inspect --format '{{.Id}}' "localhost/bpfmesh:$version" 2>/dev/null || true)
podman import -q \
	--change "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	--change 'CMD ["/usr/local/bin/bpfmesh", "--help"]' \
	--change "LABEL org.opencontainers.image.title=bpfmesh" \
	--change "LABEL org.opencontainers.image.version=$version" \
	--change "LABEL org.opencontainers.image.licenses=Apache-2.0" \
	"$OUT/rootfs.tar" "localhost/bpfmesh:$version" >/dev/null
podman tag "localhost/bpfmesh:$version" localhost/bpfmesh:latest
if [ -n "$old" ] && [ -z "$(podman image inspect --format '{{.RepoTags}}' "$old" 2>/dev/null | tr -d '[]')" ]; then
	podman rmi -f "$old" >/dev/null 2>&1 || true
fi
rm -f "$OUT"/bpfmesh-*.oci.tar
podman save -q --format oci-archive -o "$OUT/bpfmesh-$version.oci.tar" "localhost/bpfmesh:$version"
echo "image: bpfmesh:$version and bpfmesh:latest ($(du -sh "$ROOT" | cut -f1) unpacked," \
	"$(du -h "$OUT/bpfmesh-$version.oci.tar" | cut -f1) archive: $OUT/bpfmesh-$version.oci.tar)"
