#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make test-kernels`: boot Debian 12's packaged kernels in qemu with the
# agent in an initramfs, run the checks of tests/kernels/init in each guest,
# and judge them against tests/kernels/expect. Exits non-zero when a check
# expected to pass on a kernel fails. Everything runs inside the guests: the
# host's cgroups, network and bpffs are never touched.
#
# Environment:
#   KERNELS="6.1 6.12"   the series to boot (also 6.1-cloud, 6.12-cloud)
#   KERNELS_ACCEL=auto   kvm | tcg | auto (kvm when /dev/kvm opens)
#   KERNELS_CACHE=DIR    where vmlinuz and config of each package are kept
#                        (default $XDG_CACHE_HOME/bpfmesh/kernels)
#   KERNELS_AGENT=FILE   the bpfmesh binary to test (default build/bpfmesh)
#   KERNELS_PROGLOAD=auto  the per-program load matrix in the guest: auto
#                        (when a check failed), 1 (always) or 0 (never)
#   KERNELS_TIMEOUT=S    per guest (default 150 under KVM, 360 under TCG)
#   KERNELS_BOOT_CONFIG=0  1: put the package's config at /boot in the guest
#                        (a diagnostic: shows what fails after the kconfig)
#   KERNELS_APPEND="..." more kernel command line; NAME=VALUE words without
#                        a dot reach /init, and so the agent, as environment
# Output: build/kernels/<release>/{console.log,guest.log}, and a table.
set -u
cd "$(dirname "$0")/../.." || exit 1
T_START=$(date +%s.%N)
BUILD=${BUILD:-build}
HERE=tests/kernels
OUT=$BUILD/kernels
AGENT_BIN=${KERNELS_AGENT:-$BUILD/bpfmesh}
E2E=$BUILD/tests/e2e
CACHE=${KERNELS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/bpfmesh/kernels}
SERIES=${KERNELS:-6.1 6.12}
ACCEL=${KERNELS_ACCEL:-auto}
PROGLOAD=${KERNELS_PROGLOAD:-auto}
BOOT_CONFIG=${KERNELS_BOOT_CONFIG:-0}
PKGS="qemu-system-x86 busybox-static"
# kernel modules put in the guest (and loaded by /init) for classic tc
MODULES="./lib/modules/*/kernel/net/sched/sch_ingress.ko* ./lib/modules/*/kernel/net/sched/cls_bpf.ko*"

TMP=$(mktemp -d /tmp/bpfmesh-kernels.XXXXXX)
QEMU_PID=""
FETCH_TMP=""
cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
	rm -rf "$TMP" ${FETCH_TMP:+"$FETCH_TMP"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "kernels: $*"; }
die() {
	echo "kernels: $*" >&2
	echo "kernels: 0 passed, 1 failed"
	mkdir -p "$BUILD" && echo "0 1" >> "${TEST_COUNTS:-$BUILD/test-counts}"
	exit 1
}

# --- tools: qemu and a static busybox, from Debian, without recommends
install_tools() {
	local missing="" p
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		[ "${CI:-}" = true ] && die "needs$missing, or root to install them"
		say "skipped: needs$missing (apt-get install --no-install-recommends$missing)"
		exit 0
	fi
	say "installing:$missing"
	apt-get update -q > /dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing > /dev/null ||
		die "apt-get install$missing failed"
}

# --- kernels: the newest package of a series in the configured archive
series_regex() {
	case "$1" in
	6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
	6.1-cloud) echo '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' ;;
	6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
	6.12-cloud) echo '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$' ;;
	*) return 1 ;;
	esac
}

# resolve SERIES: "PACKAGE VERSION" of the newest installable package
resolve() {
	local re p cand
	re=$(series_regex "$1") || return 1
	for p in $(apt-cache pkgnames linux-image-6. 2>/dev/null | grep -E "$re" | sort -rV); do
		cand=$(apt-cache policy "$p" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
		if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then
			echo "$p $cand"
			return 0
		fi
	done
	return 1
}

# newest_cached SERIES: the cache directory of the newest package fetched before
newest_cached() {
	local re d
	re=$(series_regex "$1") || return 1
	for d in $(ls -d "$CACHE"/linux-image-*_* 2>/dev/null | sort -rV); do
		[ -f "$d/vmlinuz" ] && basename "$d" | sed 's/_.*//' | grep -qE "$re" && { echo "$d"; return 0; }
	done
	return 1
}

fetch_done() {
	rm -rf "$FETCH_TMP"
	FETCH_TMP=""
}

# fetch SERIES: sets KDIR to a cache directory holding vmlinuz and config
fetch() {
	local s=$1 pkg ver re d deb
	KDIR=""
	read -r pkg ver < <(resolve "$s")
	if [ -z "${pkg:-}" ] && [ "$(id -u)" -eq 0 ]; then
		say "$s: no package in the apt lists, running apt-get update"
		apt-get update -q > /dev/null
		read -r pkg ver < <(resolve "$s")
	fi
	if [ -z "${pkg:-}" ]; then
		KDIR=$(newest_cached "$s") && { say "$s: archive unreachable, using cached $(basename "$KDIR")"; return 0; }
		return 1
	fi
	d="$CACHE/${pkg}_$ver"
	# modules/: kept since classic tc is tested; older caches lack it
	if [ -f "$d/vmlinuz" ] && [ -d "$d/modules" ]; then
		KDIR=$d
		say "$s: $pkg $ver (cached)"
		return 0
	fi
	mkdir -p "$CACHE"
	FETCH_TMP=$(mktemp -d "$CACHE/.fetch.XXXXXX")
	# apt downloads as _apt when that user can write the directory
	chown _apt "$FETCH_TMP" 2>/dev/null
	if ! (cd "$FETCH_TMP" && apt-get download -q "$pkg=$ver" > /dev/null 2>&1); then
		# stale lists name a file the archive no longer has
		[ "$(id -u)" -eq 0 ] && apt-get update -q > /dev/null
		if ! (cd "$FETCH_TMP" && apt-get download -q "$pkg=$ver" > /dev/null); then
			fetch_done
			KDIR=$(newest_cached "$s") || return 1
			say "$s: download failed, using cached $(basename "$KDIR")"
			return 0
		fi
	fi
	deb=$(ls "$FETCH_TMP"/*.deb)
	mkdir -p "$FETCH_TMP/x"
	if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$FETCH_TMP/x" --wildcards './boot/vmlinuz-*' './boot/config-*'; then
		fetch_done
		return 1
	fi
	mkdir -p "$FETCH_TMP/k/modules"
	# the modules classic tc needs (clsact, cls_bpf): a node's kernel loads
	# them on demand, the guest has no /lib/modules; some series may lack them
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$FETCH_TMP/x" --wildcards $MODULES 2> /dev/null
	find "$FETCH_TMP/x/lib" -name '*.ko*' -exec mv {} "$FETCH_TMP/k/modules/" \; 2> /dev/null
	mv "$FETCH_TMP"/x/boot/vmlinuz-* "$FETCH_TMP/k/vmlinuz"
	mv "$FETCH_TMP"/x/boot/config-* "$FETCH_TMP/k/config"
	echo "$pkg $ver" > "$FETCH_TMP/k/package"
	rm -rf "$d"
	mv "$FETCH_TMP/k" "$d"
	fetch_done
	# keep one package per series: the one just fetched
	re=$(series_regex "$s")
	for old in "$CACHE"/linux-image-*_*; do
		[ "$old" != "$d" ] && basename "$old" | sed 's/_.*//' | grep -qE "$re" && rm -rf "$old"
	done
	KDIR=$d
	say "$s: $pkg $ver (fetched, $(du -sh "$d" | cut -f1) kept in $CACHE)"
}

# --- the initramfs: busybox, the agent, the test tools, their libraries
# copy_bin FILE DIR: FILE into DIR of the initramfs, with what ldd names
copy_bin() {
	local f=$1 dir=$2 lib
	mkdir -p "$ROOTFS$dir"
	cp "$f" "$ROOTFS$dir/" || return 1
	for lib in $(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -e "$ROOTFS$lib" ] && continue
		mkdir -p "$ROOTFS$(dirname "$lib")"
		cp -L "$lib" "$ROOTFS$lib" || return 1
	done
}

build_initramfs() {
	local a t
	ROOTFS=$TMP/rootfs
	mkdir -p "$ROOTFS"/{bin,dev,proc,sys,tmp,etc/bpfmesh,opt/bpfmesh}
	cp /bin/busybox "$ROOTFS/bin/busybox" || return 1
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$ROOTFS/bin/$a"
	done
	copy_bin "$AGENT_BIN" /opt/bpfmesh || return 1
	for t in lbclient echosrv httpsvc; do copy_bin "$E2E/$t" /opt/bpfmesh || return 1; done
	copy_bin "$BUILD/tests/kernels/progload" /opt/bpfmesh || return 1
	cp "$BUILD"/bpf/*.bpf.o "$ROOTFS/opt/bpfmesh/" || return 1
	install -m 0755 "$HERE/init" "$ROOTFS/init"
	cp "$HERE/mesh.yaml" "$ROOTFS/etc/bpfmesh/"
	(cd "$ROOTFS" && find . | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 > "$TMP/initramfs.gz"
}

# initramfs_for KDIR: the initramfs plus the kernel's modules in /lib/modules
# (cpio archives may be concatenated)
initramfs_for() {
	local r=$TMP/mod-rootfs out=$TMP/initramfs-mod.gz
	rm -rf "$r"
	mkdir -p "$r/lib/modules"
	cp "$1"/modules/*.ko* "$r/lib/modules/" 2> /dev/null
	cp "$TMP/initramfs.gz" "$out"
	(cd "$r" && find . | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 >> "$out"
	echo "$out"
}

# initramfs_with_config CONFIG: the initramfs plus /boot/config-RELEASE
# (KERNELS_BOOT_CONFIG=1 only; cpio archives may be concatenated)
initramfs_with_config() {
	local r=$TMP/boot-rootfs
	rm -rf "$r"
	mkdir -p "$r/boot"
	cp "$1" "$r/boot/config-$2"
	cp "$3" "$TMP/initramfs-boot.gz"
	(cd "$r" && find . | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 >> "$TMP/initramfs-boot.gz"
	echo "$TMP/initramfs-boot.gz"
}

kvm_usable() { [ -e /dev/kvm ] && (exec 3<> /dev/kvm) 2> /dev/null; }

# A /dev/kvm that opens may still not run Linux (nested virtualisation that
# cannot emulate what the kernel's decompressor does: the guest hangs or
# stops with "KVM internal error"). The first KVM guest proves it: /init's
# first line within KVM_PROBE_S, or TCG from then on, and the verdict kept
# in the cache for this host kernel and qemu.
KVM_PROBE_S=20
KVM_PROVEN=0
kvm_marker() { echo "$(uname -r) $(qemu-system-x86_64 --version | head -1)"; }

# kvm_watch CONSOLE: 0 when the guest reached /init, 1 when KVM failed it
kvm_watch() {
	local _
	for _ in $(seq $((KVM_PROBE_S * 4))); do
		grep -q 'guest: kernel' "$1" 2> /dev/null && { KVM_PROVEN=1; return 0; }
		grep -q 'KVM internal error' "$1" 2> /dev/null && return 1
		kill -0 "$QEMU_PID" 2> /dev/null || break
		sleep 0.25
	done
	grep -q 'guest: kernel' "$1" 2> /dev/null && { KVM_PROVEN=1; return 0; }
	return 1
}

# boot LABEL KDIR: one guest; console and the second serial port to files;
# sets WALL (seconds of qemu)
boot() {
	local label=$1 kdir=$2 dir=$OUT/$1 initrd=$TMP/initramfs.gz limit ready accel_args t0 rc
	mkdir -p "$dir"
	rm -f "$dir"/*.log
	if [ "$ACCEL_USED" = kvm ]; then
		# without arch-capabilities: some nested hosts refuse its MSR
		accel_args=(-accel kvm -cpu "host,-arch-capabilities")
		limit=${KERNELS_TIMEOUT:-150}
	else
		accel_args=(-accel tcg -cpu max)
		limit=${KERNELS_TIMEOUT:-360}
	fi
	# what is left after the agent gave up: checks, progload, the logs
	ready=$((limit * 2 / 3))
	initrd=$(initramfs_for "$kdir")
	[ "$BOOT_CONFIG" = 1 ] && initrd=$(initramfs_with_config "$kdir/config" "$label" "$initrd")
	t0=$(date +%s.%N)
	timeout -k 5 "$limit" qemu-system-x86_64 "${accel_args[@]}" -machine q35 -m 1024 -smp 2 \
		-nographic -monitor none -serial stdio -serial "file:$dir/guest.log" -nic none -no-reboot \
		-kernel "$kdir/vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 bpfmesh.ready_timeout=$ready bpfmesh.progload=$PROGLOAD ${KERNELS_APPEND:-}" \
		< /dev/null > "$dir/console.log" 2>&1 &
	QEMU_PID=$!
	if [ "$ACCEL" = auto ] && [ "$ACCEL_USED" = kvm ] && [ "$KVM_PROVEN" = 0 ] && ! kvm_watch "$dir/console.log"; then
		kill "$QEMU_PID" 2> /dev/null
		wait "$QEMU_PID" 2> /dev/null
		QEMU_PID=""
		say "kvm: the guest did not reach /init within ${KVM_PROBE_S}s ($(grep -m1 -E 'KVM internal error|error|Assertion' "$dir/console.log" || echo hangs)); software emulation (TCG) from now on"
		mkdir -p "$CACHE" && kvm_marker > "$CACHE/kvm-unusable"
		ACCEL_USED=tcg
		boot "$@"
		return
	fi
	wait "$QEMU_PID"
	rc=$?
	QEMU_PID=""
	WALL=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	[ "$rc" -eq 124 ] && echo "RESULT kernel=$label check=guest fail timed out after ${limit}s" >> "$dir/console.log"
	return 0
}

# --- judging
# expectation SERIES CHECK: "pass" or "fail REASON" from the expect file
expectation() {
	awk -v s="$1" -v c="$2" '$1 == s && $2 == c { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }' "$HERE/expect"
}

# checks SERIES: the checks the expect file names for a series, in order
checks_of() { awk -v s="$1" '$1 == s { print $2 }' "$HERE/expect"; }

# features_check SERIES CONSOLE: "ok ..." or "fail ..." against the
# `features SERIES k=v...` line of the expect file
features_check() {
	local want got k v bad=""
	want=$(awk -v s="$1" '$1 == "features" && $2 == s { $1 = ""; $2 = ""; print }' "$HERE/expect")
	got=$(grep '^FEATURES ' "$2" | tail -1)
	[ -n "$got" ] || { echo "fail no status to read features from"; return; }
	for kv in $want; do
		k=${kv%%=*} v=${kv#*=}
		echo " $got " | grep -q " $k=$v " || bad="$bad $k (want $v, got $(echo " $got " | grep -o " $k=[^ ]*" | cut -d= -f2 || echo none))"
	done
	[ -z "$bad" ] && echo "ok $(echo "$got" | cut -d' ' -f3-)" || echo "fail$bad"
}

install_tools
for f in "$AGENT_BIN" "$E2E/lbclient" "$E2E/echosrv" "$E2E/httpsvc" "$BUILD/tests/kernels/progload"; do
	[ -x "$f" ] || die "$f missing: run make test-kernels (it builds them)"
done
[ -f "$HERE/expect" ] || die "$HERE/expect missing"
mkdir -p "$OUT"
case "$ACCEL" in
auto)
	ACCEL_USED=tcg
	if kvm_usable; then
		if [ "$(cat "$CACHE/kvm-unusable" 2> /dev/null)" = "$(kvm_marker)" ]; then
			say "kvm: failed on this host before; TCG (rm $CACHE/kvm-unusable to try again)"
		else
			ACCEL_USED=kvm
		fi
	fi
	;;
kvm | tcg) ACCEL_USED=$ACCEL ;;
*) die "KERNELS_ACCEL=$ACCEL: kvm, tcg or auto" ;;
esac
build_initramfs || die "building the initramfs failed"
say "initramfs $(du -h "$TMP/initramfs.gz" | cut -f1), accelerator $ACCEL_USED"

passed=0 failed=0 known=0 LABELS=""
ROWS=$TMP/rows TIMES=$TMP/times
: > "$ROWS"
: > "$TIMES"
for s in $SERIES; do
	series_regex "$s" > /dev/null || die "unknown kernel series $s (6.1, 6.12, 6.1-cloud, 6.12-cloud)"
	fetch "$s" || {
		printf '%s\tfetch\tFAIL\tno package found or downloaded\t\n' "$s" >> "$ROWS"
		failed=$((failed + 1))
		continue
	}
	label=$(sed 's/^linux-image-//; s/ .*//' "$KDIR/package")
	LABELS="$LABELS $label"
	say "booting $label ($ACCEL_USED)"
	boot "$label" "$KDIR"
	con=$OUT/$label/console.log
	# the firmware's terminal escapes, and the serial line's \r
	sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b[a-zA-Z]//g; s/\r//g' "$con" > "$TMP/console" && mv "$TMP/console" "$con"
	sed -i 's/\r//g' "$OUT/$label/guest.log" 2> /dev/null
	boot_s=$(sed -n 's/.*guest: kernel .*, booted in \([0-9.]*\)s$/\1/p' "$con")
	ready=$(grep -o 'check=ready ok boot_to_ready_s=[0-9.]* agent_to_ready_s=[0-9.]*' "$con" | sed 's/.*boot_to_ready_s=\([0-9.]*\) agent_to_ready_s=\([0-9.]*\)/\1 \2/')
	echo "$label $ACCEL_USED ${boot_s:--} ${ready:--  -} $WALL" >> "$TIMES"
	# guest-level failures (timeout) first, then each expected check
	if grep -q '^RESULT .* check=guest ' "$con"; then
		printf '%s\tguest\tFAIL\t%s\t\n' "$label" "$(grep -m1 '^RESULT .* check=guest ' "$con" | cut -d' ' -f5-)" >> "$ROWS"
		failed=$((failed + 1))
	fi
	# the expect file's checks, then any other check the guest reported
	for c in $( (checks_of "$s"; grep -o '^RESULT kernel=[^ ]* check=[^ ]*' "$con" | sed 's/.*check=//' | grep -vx guest) | awk '!seen[$0]++'); do
		if [ "$c" = features ]; then
			r=$(features_check "$s" "$con")
		else
			r=$(grep "^RESULT kernel=[^ ]* check=$c " "$con" | tail -1 | cut -d' ' -f4-)
			[ -n "$r" ] || r="fail no result from the guest"
		fi
		exp=$(expectation "$s" "$c")
		st=${r%% *}
		detail=${r#"$st"}
		[ -n "$exp" ] || exp=pass
		detail=${detail# }
		note=""
		case "$st:${exp%% *}" in
		ok:pass) verdict=ok; passed=$((passed + 1)) ;;
		ok:fail) verdict=ok; note="expected to fail: flip it to pass in tests/kernels/expect"; passed=$((passed + 1)) ;;
		fail:fail) verdict=known; note=${exp#fail }; known=$((known + 1)) ;;
		*) verdict=FAIL; failed=$((failed + 1)) ;;
		esac
		printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$c" "$verdict" "$detail" "$note" >> "$ROWS"
	done
	# the program matrix: what loads on this kernel, one program at a time
	grep '^PROG ' "$con" > "$OUT/$label/programs.txt"
done

echo
printf '%-22s %-13s %-6s %s\n' kernel check result "what happened (known failures: and what tests/kernels/expect says)"
awk -F'\t' '{ printf "%-22s %-13s %-6s %s\n", $1, $2, $3, $4; if ($5 != "" && $5 != $4) printf "%-22s %-13s %-6s expected: %s\n", "", "", "", $5 }' "$ROWS"
header="programs that load (progload, run where a check failed; CONFIG_HZ from clock_getres):"
for l in $LABELS; do
	p=$OUT/$l/programs.txt
	[ -s "$p" ] || continue
	[ -n "$header" ] && printf '\n%s\n' "$header"
	header=""
	echo "  $l: $(grep -c ' ok$' "$p") of $(wc -l < "$p") load"
	# one line per object and reason: a missing kfunc fails every program
	grep ' fail ' "$p" | sed 's/^PROG kernel=[^ ]* object=\([^ ]*\) prog=\([^ ]*\) type=[^ ]* ms=[^ ]* fail /\1\t\2\t/; s/ reason=/: /' |
		awk -F'\t' '{ k = $1 "\t" $3; if (!(k in p)) o[n++] = k; p[k] = p[k] (p[k] == "" ? "" : " ") $2 }
			END { for (i = 0; i < n; i++) { split(o[i], a, "\t"); printf "    %s %s: %s\n", a[1], p[o[i]], a[2] } }'
done
echo
echo "timing (seconds):"
printf '  %-24s %-5s %10s %14s %15s %10s\n' kernel accel "boot" "boot_to_ready" "agent_to_ready" "qemu_wall"
while read -r l a b r1 r2 w; do printf '  %-24s %-5s %10s %14s %15s %10s\n' "$l" "$a" "$b" "$r1" "$r2" "$w"; done < "$TIMES"
awk -v s="$T_START" -v e="$(date +%s.%N)" 'BEGIN { printf "  make test-kernels: %.0f s\n", e - s }'
echo "logs: $OUT/<kernel>/console.log (checks), guest.log (agent -v log, libbpf, dmesg)"
mkdir -p "$BUILD"
echo "$passed $failed" >> "${TEST_COUNTS:-$BUILD/test-counts}"
echo "kernels: $passed passed, $failed failed, $known skipped"
[ "$failed" -eq 0 ]
