#!/usr/bin/env bash
# Builds fastspf-milter against an installed libfastspf (pkg-config) and
# drives it with Debian's miltertest against a DNS server on loopback that
# serves examples/demo.zone. Usage: test.sh PREFIX (where `make install` put
# libfastspf).
set -euo pipefail
prefix="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$target/milter-test"
mkdir -p "$work"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"

# shellcheck disable=SC2046 # pkg-config output is meant to be split
cc -Wall -Wextra -Werror -std=c11 "$root/examples/milter/fastspf-milter.c" -o "$work/fastspf-milter" \
    $(pkg-config --cflags --libs fastspf) -lmilter -lpthread -Wl,-rpath,"$prefix/lib"

# The DNS server: demo zone, with a name that answers SERVFAIL.
cargo build --quiet --locked -p spf-testdns
coproc DNS { exec "$target/debug/spf-testdns" --zone "$root/examples/demo.zone" --servfail broken.demo.example; }
read -r -u "${DNS[0]}" line
dns="${line#listening on }"
trap 'kill "$DNS_PID" 2>/dev/null || true' EXIT

port=$((20000 + RANDOM % 20000))
log="$work/miltertest.log"
status=0
miltertest -D milter="$work/fastspf-milter" -D socket="inet:$port@127.0.0.1" -D nameserver="$dns" \
    -s "$root/examples/milter/test.lua" > "$log" 2>&1 || status=$?
cat "$log"
expect() {
    if grep -qF -- "$1" "$log"; then echo "ok: $1"; passed=$((passed + 1)); else echo "MISSING: $1"; failed=$((failed + 1)); fi
}
passed=0
failed=0
[ "$status" -eq 0 ] && passed=$((passed + 1)) || { echo "miltertest exited $status"; failed=$((failed + 1)); }
expect "pass: continued, Received-SPF added"
expect 'sender=<alice@pass.demo.example> result=pass mechanism=ip4:192.0.2.0/24 action=accept'
expect 'sender=<alice@fail.demo.example> result=fail mechanism=-all action=reject reply="550 5.7.23 SPF fail: 203.0.113.9 is not a mail server of fail.demo.example; ask postmaster@fail.demo.example"'
expect 'sender=<alice@broken.demo.example> result=temperror mechanism=- action=tempfail reply="451 4.7.24 SPF temperror: DNS TXT lookup of broken.demo.example failed'
expect 'sender=<alice@permerror.demo.example> result=permerror mechanism=- action=reject reply="550 5.7.24 SPF permerror: invalid SPF record at permerror.demo.example'
echo "milter tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
