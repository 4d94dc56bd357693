#!/usr/bin/env bash
# Builds fastspf-milter against an installed libfastspf (pkg-config), drives
# it with Debian's miltertest against a DNS server on loopback that serves
# examples/demo.zone and examples/milter/test.zone, checks its options, then
# runs it in front of a real Postfix (postfix_test.py). Usage: test.sh PREFIX
# (where `make install` put libfastspf). Needs root for Postfix.
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

# The DNS server: the demo zone and the milter's test zone, with a name that
# answers SERVFAIL.
cargo build --quiet --locked -p spf-testdns
coproc DNS { exec "$target/debug/spf-testdns" --zone "$root/examples/demo.zone" --zone "$root/examples/milter/test.zone" \
    --servfail broken.demo.example; }
read -r -u "${DNS[0]}" line
dns="${line#listening on }"
trap 'kill "$DNS_PID" 2>/dev/null || true' EXIT

# Unix sockets in our own folder: no port to collide with. miltertest starts
# (and stops) the main milter; a second one, with -e accept, runs beside it.
socket="$work/milter.sock"
socket2="$work/milter-accept.sock"
rm -f "$socket" "$socket2"
log="$work/miltertest.log"
# It also has local policy: a trusted forwarder (provider.demo.example passes
# 198.51.100.0/25) and networks that are never checked.
"$work/fastspf-milter" -p "unix:$socket2" -n "$dns" -t 2000 -r mx.receiver.example -e accept \
    -f provider.demo.example -s 198.18.0.0/15 2> "$work/milter-accept.log" &
milter2=$!
trap 'kill "$DNS_PID" "$milter2" 2>/dev/null || true' EXIT
status=0
miltertest -D milter="$work/fastspf-milter" -D socket="unix:$socket" -D socket2="unix:$socket2" -D nameserver="$dns" \
    -s "$root/examples/milter/test.lua" > "$log" 2>&1 || status=$?
kill "$milter2"
wait "$milter2" || true
cat "$work/milter-accept.log" >> "$log"
cat "$log"
expect() {
    if grep -qF -- "$1" "$log"; then echo "ok: ${1:0:200}"; passed=$((passed + 1)); else echo "MISSING: $1"; failed=$((failed + 1)); fi
}
passed=0
failed=0
[ "$status" -eq 0 ] && passed=$((passed + 1)) || { echo "miltertest exited $status"; failed=$((failed + 1)); }
expect "pass: continued, Received-SPF and Authentication-Results added, forged ones deleted"
expect "none: nothing deleted, Authentication-Results added"
expect "64 forged: accepted"
expect "65 forged: refused"
expect "length bounds: checked"
expect "-e accept: temperror accepted, Authentication-Results spf=temperror added"
expect "local policy: forwarded fail accepted and named, skipped client not checked"
expect 'ip=198.51.100.7 identity=mailfrom sender=<alice@fail.demo.example> result=fail mechanism=-all policy=forwarded action=accept reply=""'
expect 'ip=198.18.0.1 identity=mailfrom sender=<alice@fail.demo.example> result=none mechanism=- policy=exempt action=accept'

expect 'sender=<alice@broken.demo.example> result=temperror mechanism=- action=accept reply=""'
expect 'sender=<alice@pass.demo.example> result=pass mechanism=ip4:192.0.2.0/24 action=accept'
expect 'sender=<alice@fail.demo.example> result=fail mechanism=-all action=reject reply="550 5.7.23 SPF fail: 203.0.113.9 is not a mail server of fail.demo.example; ask postmaster@fail.demo.example"'
expect 'sender=<alice@broken.demo.example> result=temperror mechanism=- action=tempfail reply="451 4.7.24 SPF temperror: DNS TXT lookup of broken.demo.example failed'
expect 'sender=<alice@permerror.demo.example> result=permerror mechanism=- action=reject reply="550 5.7.24 SPF permerror: invalid SPF record at permerror.demo.example'
# Item: the HELO identity is named; '"' is kept (escaped in the log only).
expect 'identity=helo sender=<mail.demo.example> result=fail mechanism=-all action=reject reply="550 5.7.23 SPF fail for the HELO identity mail.demo.example: mail.demo.example does not designate 203.0.113.9 as a permitted sender"'
expect 'invalid CIDR length in term \"ip4:192.0.2.0/33\" at byte 7"'
# '%' and '"' from an exp= text reach the reply as written.
expect 'reply="550 5.7.23 SPF fail: 203.0.113.9 \"may not\" send for fail.milter.example: (100% sure)"'
# The reply line at 512 octets, and one past it (cut, ending in "...").
a478="$(printf 'a%.0s' $(seq 478))"
a475="$(printf 'a%.0s' $(seq 475))"
expect "reply=\"550 5.7.23 SPF fail: 100% sure: $a478\""
expect "reply=\"550 5.7.23 SPF fail: 100% sure: $a475...\""
expect "deleted 3 Authentication-Results field(s) claiming to be from mx.receiver.example: #1 #3 #5"
expect "deleted 64 Authentication-Results field(s) claiming to be from mx.receiver.example: #1 #2 #3"
expect "forged Authentication-Results fields: more than 64 action=reject"
expect "identity=helo sender=<$(printf 'h%.0s' $(seq 505))> result=none"
expect "identity=helo not checked: longer than 505 octets"
expect "identity=mailfrom sender=<$(printf 's%.0s' $(seq 1006))@pass.demo.example> result=pass"
expect "identity=mailfrom sender-length=1025 action=reject"

# Options: -h prints the usage on standard output and exits 0; an unknown
# option prints it on standard error and exits 2.
milter="$work/fastspf-milter"
rc=0; "$milter" -h > "$work/h.out" 2> "$work/h.err" || rc=$?
check_usage() {
    if [ "$1" ]; then echo "ok: $2"; passed=$((passed + 1)); else echo "FAILED: $2"; failed=$((failed + 1)); fi
}
check_usage "$([ "$rc" -eq 0 ] && grep -q -- '-d DEADLINE_MS' "$work/h.out" && [ ! -s "$work/h.err" ] && echo y)" "-h: usage on stdout, exit 0"
rc=0; "$milter" -x > "$work/x.out" 2> "$work/x.err" || rc=$?
check_usage "$([ "$rc" -eq 2 ] && grep -q '^usage:' "$work/x.err" && [ ! -s "$work/x.out" ] && echo y)" "unknown option: usage on stderr, exit 2"
rc=0; "$milter" -p inet:1@127.0.0.1 -d 99 > "$work/d.out" 2> "$work/d.err" || rc=$?
check_usage "$([ "$rc" -eq 2 ] && grep -q 'fastspf-milter: -d wants' "$work/d.err" && echo y)" "-d 99 (below 100): refused, exit 2"
rc=0; "$milter" -p inet:1@127.0.0.1 -d 300001 > "$work/d.out" 2> "$work/d.err" || rc=$?
check_usage "$([ "$rc" -eq 2 ] && grep -q 'fastspf-milter: -d wants' "$work/d.err" && echo y)" "-d 300001 (above 300000): refused, exit 2"
rc=0; "$milter" -p inet:1@127.0.0.1 -i 'bad id;' > "$work/i.out" 2> "$work/i.err" || rc=$?
check_usage "$([ "$rc" -eq 2 ] && grep -q 'authserv-id' "$work/i.err" && echo y)" "-i with a non-token authserv-id: refused, exit 2"
rc=0; "$milter" -p inet:1@127.0.0.1 -s 10.0.0.0/33 > "$work/s.out" 2> "$work/s.err" || rc=$?
check_usage "$([ "$rc" -eq 2 ] && grep -qF 'bad local policy option: "10.0.0.0/33" is not an IP network' "$work/s.err" && echo y)" "-s with a bad network: refused with the reason, exit 2"
rc=0; "$milter" -p inet:1@127.0.0.1 -w maybe > "$work/w.out" 2> "$work/w.err" || rc=$?
check_usage "$([ "$rc" -eq 2 ] && grep -qF 'wide-open pass "maybe" is neither' "$work/w.err" && echo y)" "-w maybe: refused with the reason, exit 2"
echo "milter tests (miltertest): $passed passed, $failed failed"
[ "$failed" -eq 0 ]

# The same milter in front of a real Postfix run from a private folder
# (scripts/postfix_instance.py; installs Debian's postfix if missing, never
# touches the system's Postfix service), and the README's Postfix snippet.
python3 "$root/scripts/postfix_instance.py" ensure-installed
python3 "$root/examples/milter/postfix_test.py" --milter "$work/fastspf-milter" --testdns "$target/debug/spf-testdns"
