#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The layering check of `make check`: every #include "..." of agent/, exporters/
# and bpf/ must point at a folder its own folder may use. The table below is
# the architecture (README.md, "Layout"); lower layers never include upper
# ones, and since the table has no two folders that allow each other, there
# are no cycles between folders. Exits 1 and names each offending line.
set -u
cd "$(dirname "$0")/.."

# folder -> the folders its files may include (itself always allowed)
declare -A allow=(
	[lib]=""
	[exporters]="proto"
	[bpf]=""
	[config]="lib"
	[kube]="lib"
	[lb]="lib config bpf skel"
	[trace]="lib config bpf exporters"
	[metrics]="lib config trace exporters"
	[daemon]="lib config kube lb trace metrics exporters bpf skel"
	[api]="lib config kube lb trace metrics daemon exporters bpf skel"
	[cli]="lib config kube lb bpf"
	[root]="lib config kube lb trace metrics daemon api cli exporters bpf skel"
)

folder_of() { # source file -> its folder
	case "$1" in
	agent/*/*) local f=${1#agent/}; echo "${f%%/*}" ;;
	agent/*) echo root ;;
	exporters/*) echo exporters ;;
	bpf/*) echo bpf ;;
	esac
}

target_of() { # including file, included path -> the folder included
	local src=$1 inc=$2 first=${2%%/*}
	if [[ "$src" == bpf/* ]]; then
		# kernel code: bpf/ (built with -Ibpf) and the committed vmlinux.h
		case "$inc" in
		vmlinux.h | bpf/*) echo bpf ;;
		*) if [ -e "bpf/$inc" ] || [ -e "$(dirname "$src")/$inc" ]; then echo bpf; else echo "unknown:$inc"; fi ;;
		esac
		return
	fi
	if [[ "$inc" != */* ]]; then
		# a bare name is a sibling (the compiler looks beside the file first)
		if [ -e "$(dirname "$src")/$inc" ]; then folder_of "$src"; else echo "unknown:$inc"; fi
		return
	fi
	case "$first" in
	lib | config | kube | lb | trace | metrics | daemon | api | cli) echo "$first" ;;
	exporters | bpf | skel) echo "$first" ;;
	opentelemetry) echo proto ;;
	*) if [ -e "$(dirname "$src")/$inc" ]; then folder_of "$src"; else echo "unknown:$inc"; fi ;;
	esac
}

bad=0
while IFS= read -r src; do
	from=$(folder_of "$src")
	[ -n "$from" ] || continue
	while IFS=: read -r line inc; do
		to=$(target_of "$src" "$inc")
		[ "$to" = "$from" ] && continue
		ok=0
		for a in ${allow[$from]}; do [ "$a" = "$to" ] && ok=1; done
		if [ $ok -eq 0 ]; then
			echo "$src:$line: includes \"$inc\" ($to), which $from/ may not use (allowed: ${allow[$from]:-nothing})"
			bad=1
		fi
	done < <(grep -n '^#include "' "$src" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1:\2/')
done < <(git ls-files 'agent/*.[ch]' 'exporters/*.[ch]' 'bpf/*.[ch]'; git ls-files --others --exclude-standard 'agent/*.[ch]' 'exporters/*.[ch]' 'bpf/*.[ch]')

if [ $bad -ne 0 ]; then
	echo "layering check failed: see the table in tests/check_layers.sh and README.md, \"Layout\""
	exit 1
fi
echo "layering: ok"
