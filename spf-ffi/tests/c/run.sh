#!/usr/bin/env bash
# Builds libfastspf, compiles each C test against include/fastspf.h with
# -Wall -Wextra -Werror -std=c11, and runs it under valgrind memcheck (zero
# errors, zero leaks). One test also links the static library.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/c-tests"
mkdir -p "$out"

cargo build --quiet --locked -p spf-ffi
# The shared library carries the soname libfastspf.so.0: lay it out as an
# installed library would be, so the dynamic loader finds it by that name.
lib="$out/lib"
mkdir -p "$lib"
cp "$target/debug/libfastspf.so" "$lib/libfastspf.so.0"
ln -sf libfastspf.so.0 "$lib/libfastspf.so"
cp "$target/debug/libfastspf.a" "$lib/libfastspf.a"
zone="$root/examples/demo.zone"
cflags=(-Wall -Wextra -Werror -std=c11 -g -I "$root/include" -I "$root/spf-ffi/tests/c")
# valgrind.supp: one allocation of Rust's standard library that a C main
# thread keeps until exit (see the file).
valgrind=(valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible
          --errors-for-leak-kinds=definite,indirect,possible --fair-sched=yes
          --suppressions="$root/spf-ffi/tests/c/valgrind.supp")

failed=0
passed=0
for test in results misuse threads async lint; do
    cc "${cflags[@]}" "spf-ffi/tests/c/$test.c" -o "$out/$test" -L "$lib" -lfastspf -lpthread -Wl,-rpath,"$lib"
    echo "--- $test (valgrind memcheck)"
    if "${valgrind[@]}" "$out/$test" "$zone"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $test"; fi
done

# Checks that wait for a real DNS server on loopback (spf-testdns, answering
# after 100 ms): callbacks that block on checks of their own.
cargo build --quiet --locked -p spf-testdns
cat > "$out/slow.zone" <<'ZONE'
$TTL 300
slow.test.  IN TXT "v=spf1 +all"
outer.test. IN TXT "v=spf1 -all"
ZONE
coproc testdns { "$target/debug/spf-testdns" --zone "$out/slow.zone" --listen 127.0.0.1:0 --delay-ms 100; }
# Bash unsets the coprocess variables once it exits: keep what we need.
testdns_pid="$testdns_PID"
testdns_in="${testdns[1]}"
read -r _ _ nameserver <&"${testdns[0]}"
for test in blocking_callbacks; do
    cc "${cflags[@]}" "spf-ffi/tests/c/$test.c" -o "$out/$test" -L "$lib" -lfastspf -lpthread -Wl,-rpath,"$lib"
    echo "--- $test (valgrind memcheck, DNS at $nameserver)"
    if "${valgrind[@]}" "$out/$test" "$nameserver"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $test"; fi
done
# Closing its standard input stops the server.
exec {testdns_in}>&-
wait "$testdns_pid" || true

# The checker's lint fills the cache its checks read: the test starts a DNS
# server of its own and stops it between the lint and the check.
for test in checker_cache; do
    cc "${cflags[@]}" "spf-ffi/tests/c/$test.c" -o "$out/$test" -L "$lib" -lfastspf -lpthread -Wl,-rpath,"$lib"
    echo "--- $test (valgrind memcheck, its own spf-testdns)"
    if "${valgrind[@]}" "$out/$test" "$target/debug/spf-testdns" "$root/spf-ffi/tests/c/$test.zone"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); echo "FAILED: $test"
    fi
done

# Local policy (skip and allow lists, forwarders, best guess, wide-open
# passes) over a zone of its own.
for test in local_policy wide_open; do
    cc "${cflags[@]}" "spf-ffi/tests/c/$test.c" -o "$out/$test" -L "$lib" -lfastspf -lpthread -Wl,-rpath,"$lib"
    echo "--- $test (valgrind memcheck)"
    if "${valgrind[@]}" "$out/$test" "$root/spf-ffi/tests/c/$test.zone"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); echo "FAILED: $test"
    fi
done

# The static library links into a program on its own.
cc "${cflags[@]}" spf-ffi/tests/c/results.c -o "$out/results-static" "$lib/libfastspf.a" -lpthread -ldl -lm
echo "--- results (static library)"
if "$out/results-static" "$zone"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: results-static"; fi

echo "c tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
