#!/bin/sh
# fuzz.sh fuzzes h2rpc's fuzz targets one after another: every Fuzz* function
# in every package of every module, or the one named.
#
#	tools/fuzz.sh [-keep] FUZZTIME [NAME]
#
# FUZZTIME is go test's -fuzztime (10m, 1h, 5000x). NAME picks one target by
# its function name, wherever it lives (in every package that has one by that
# name). The targets are found by `go test -list '^Fuzz' ./...` in each module,
# so a new target joins without editing anything.
#
# -keep keeps the corpus the fuzzer grows. Go's fuzzer writes new interesting
# inputs to its cache, $(go env GOCACHE)/fuzz/<import path>/<Name>/, and only
# inputs that fail to the package's testdata/fuzz/<Name>/. With -keep, after
# each target's run the inputs in the cache that testdata/fuzz/<Name>/ lacks
# are copied there (same file names: the fuzzer names inputs by a hash of
# their content), so the next `go test` runs them as seeds and a commit keeps
# them. Review and commit them like any test data.
#
# A failing target does not stop the others; the exit status is 1 if any
# failed. Run from the repository root (the Makefile's fuzz and fuzz-long do).
set -u

keep=0
if [ "${1:-}" = "-keep" ]; then
	keep=1
	shift
fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: tools/fuzz.sh [-keep] FUZZTIME [NAME]" >&2
	exit 2
fi
fuzztime=$1
only=${2:-}
go=${GO:-go}
root=$(pwd)
cache=$($go env GOCACHE)/fuzz

# targets prints "module-dir import-path Name" for each fuzz target. go test
# -list prints a package's matching names, then its "ok <import path>" line.
targets() {
	for mod in $(find . -name go.mod -not -path '*/testdata/*' | sort); do
		dir=$(dirname "$mod")
		(cd "$dir" && $go test -list '^Fuzz' ./...) | awk -v dir="$dir" '
			/^Fuzz/ { names[n++] = $1; next }
			/^ok[ \t]/ { for (i = 0; i < n; i++) print dir, $2, names[i]; n = 0; next }
			/^(FAIL|---)/ { print "fuzz.sh: go test -list failed in " dir ": " $0 > "/dev/stderr"; bad = 1 }
			END { exit bad }' || return 1
	done
}

list=$(targets) || exit 1
if [ -n "$only" ]; then
	list=$(printf '%s\n' "$list" | awk -v name="$only" '$3 == name')
	if [ -z "$list" ]; then
		echo "fuzz.sh: no fuzz target named $only" >&2
		exit 2
	fi
fi
total=$(printf '%s\n' "$list" | wc -l)

i=0
failed=""
printf '%s\n' "$list" | {
	while read -r dir pkg name; do
		i=$((i + 1))
		echo "== [$i/$total] $name ($pkg) for $fuzztime"
		if ! (cd "$root/$dir" && $go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$pkg"); then
			failed="$failed $name"
		fi
		if [ $keep = 1 ] && [ -d "$cache/$pkg/$name" ]; then
			dst=$(cd "$root/$dir" && $go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name
			mkdir -p "$dst"
			added=0
			for f in "$cache/$pkg/$name"/*; do
				[ -f "$f" ] || continue
				if [ ! -e "$dst/${f##*/}" ]; then
					cp "$f" "$dst/" && added=$((added + 1))
				fi
			done
			echo "   kept $added new corpus inputs in ${dst#"$root"/}"
		fi
	done
	echo "== fuzzed $i of $total targets for $fuzztime each"
	if [ -n "$failed" ]; then
		echo "== failed:$failed (failing inputs are in their package's testdata/fuzz)" >&2
		exit 1
	fi
}
