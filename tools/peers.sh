#!/bin/sh
# peers.sh installs the independent peers the interop module's tests run
# against h2rpc, when they are missing, and does nothing when they are all
# there:
#
#   - Debian packages: nginx and haproxy (gRPC reverse proxies),
#     nghttp2-client (h2load), python3-grpcio (gRPC C-core for
#     /usr/bin/python3), and nodejs with npm when node is not on PATH;
#   - grpc-js and proto-loader, with npm ci, into
#     interop/testdata/peers/js/node_modules, at the versions of its
#     package-lock.json.
#
# apt-get update runs only when an install fails without it; sudo is used
# only when not root. `make test` runs this before go test, with
# H2RPC_PEERS=required so that a peer still missing fails its test.
# Run from the repository root.
set -eu

sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo="sudo"
fi

missing=""
need() { missing="$missing $1"; }
# have NAME: the command is on PATH, or in /usr/sbin (where Debian puts
# nginx and haproxy, and which a user's PATH may lack).
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

have nginx || need nginx
have haproxy || need haproxy
have h2load || need nghttp2-client
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need python3-grpcio
have node || need nodejs
have npm || need npm

if [ -n "$missing" ]; then
	echo "peers.sh: apt-get install$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # the list is meant to split
	if ! $sudo apt-get install -y --no-install-recommends $missing; then
		$sudo apt-get update
		$sudo apt-get install -y --no-install-recommends $missing
	fi
fi

# npm ci when node_modules is missing or older than the lock file (npm
# keeps its own copy of the lock in node_modules/.package-lock.json).
js=interop/testdata/peers/js
if [ ! -f "$js/node_modules/.package-lock.json" ] || [ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]; then
	echo "peers.sh: npm ci in $js"
	(cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
fi
