#!/usr/bin/env bash
# spf-compat's tests, with Debian's unchanged programs: fastspf's
# libspf2.so.2 installed with `make install-compat` and put in front of the
# system's libspf2 with LD_LIBRARY_PATH.
#
#   1. ABI: every size, offset and enum value of libspf2's structures, from
#      Debian's libspf2-dev headers and from ours (identical); every text of
#      SPF_strresult/strreason/strerror/strrrtype from Debian's library and
#      from ours (identical); the whole API offline under valgrind (tests/c/api.c).
#   2. Debian's spfquery over the RFC 7208 suite, stock libspf2 and ours,
#      both counted; parts of it under valgrind (examples/spfquery_suite).
#   3. Exim 4.96 (exim4-daemon-heavy, unpacked, not installed): the `spf`
#      ACL condition and $spf_* variables in `exim -bh` for senders of every
#      result.
#   4. OpenDMARC (its SPF through libopendmarc2 -> libspf2) under miltertest:
#      pass and fail senders, same verdicts as on stock libspf2.
#   5. Mail::SPF_XS (libmail-spf-xs-perl): zone resolver, process, compile,
#      modifier, expand.
#   6. A whole-system switch in a private mount namespace: ldconfig with
#      the compat directory listed first, and spfquery resolving to it.
#   7. `make install PREFIX=/usr/local` as root runs ldconfig (over tmpfs
#      and a copy-on-write /etc, in the same namespace): a program linked
#      without rpath runs at once.
#
# Steps 2-6 run as root in a private network and mount namespace
# (`unshare --net --mount`): loopback only, with a scratch file
# bind-mounted over /etc/resolv.conf naming DNS servers on 127.0.0.0/8.
# Installs the Debian packages it needs (only those missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
work="$target/spf-compat-test"
say() { printf -- '--> %s\n' "$*"; }

if [ "${1:-}" = "--in-namespace" ]; then
    # ---- Inside the private namespace (see the bottom of this file). ----
    prefix="$2"
    compat="$prefix/lib/fastspf-compat"
    ip link set lo up
    cp /etc/resolv.conf "$work/resolv.conf.orig" 2>/dev/null || true
    printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' > "$work/resolv.conf"
    mount --bind "$work/resolv.conf" /etc/resolv.conf

    say "2. Debian's spfquery over the RFC 7208 suite: stock libspf2 and fastspf's"
    "$target/debug/examples/spfquery_suite" \
        --suite "$root/spf-core/tests/data/spf-test-suite/rfc7208-tests.yml" \
        --spfquery /usr/bin/spfquery.libspf2 --compat-lib "$compat" --resolv-conf "$work/resolv.conf" \
        --report "$work/spfquery-suite.tsv" --known-failures "$root/spf-compat/tests/spfquery-known-failures.txt" \
        --valgrind record_lookup --valgrind include_mechanism_semantics_and_syntax \
        --valgrind semantics_of_exp_and_other_modifiers

    # The demo zone on 127.0.0.1:53 for Exim and OpenDMARC; temp.demo.example
    # answers SERVFAIL.
    printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' > "$work/resolv.conf"
    "$target/debug/spf-testdns" --zone "$root/examples/demo.zone" --servfail temp.demo.example \
        --listen 127.0.0.1:53 --forever > "$work/dns.log" 2>&1 &
    dns_pid=$!
    trap 'kill "$dns_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 50); do grep -q listening "$work/dns.log" && break; sleep 0.1; done

    say "3. Exim: the spf ACL condition and \$spf_* variables in exim -bh"
    exim="$work/debs/exim4-daemon-heavy/usr/sbin/exim4"
    mkdir -p "$work/exim/spool"
    sed -e "s|@WORK@|$work/exim|g" "$root/spf-compat/tests/exim/exim.conf" > "$work/exim/exim.conf"
    passed=0
    failed=0
    exim_case() { # ip sender expected-result expected-smtp-reply
        local ip="$1" sender="$2" want="$3" reply="$4" out
        out="$(printf 'EHLO mail.demo.example\r\nMAIL FROM:<%s>\r\nRCPT TO:<postmaster@mx.example.net>\r\nQUIT\r\n' "$sender" \
            | LD_LIBRARY_PATH="$compat" LD_DEBUG=libs "$exim" -C "$work/exim/exim.conf" -bh "$ip" 2>&1)"
        local got received comment lib
        got="$(sed -n 's/^LOG: spf_result=\[\([^]]*\)\].*/\1/p' <<< "$out" | head -n 1)"
        received="$(sed -n 's/^LOG: spf_result=.* spf_received=\[\([^]]*\)\].*/\1/p' <<< "$out" | head -n 1)"
        comment="$(sed -n 's/^LOG: spf_result=.* spf_header_comment=\[\([^]]*\)\].*/\1/p' <<< "$out" | head -n 1)"
        lib="$(grep -o 'calling init: [^ ]*libspf2.so.2' <<< "$out" | head -n 1)"
        local problems=()
        [ "$got" = "$want" ] || problems+=("\$spf_result is [$got], want [$want]")
        grep -q "^$reply" <<< "$out" || problems+=("no SMTP reply starting '$reply'")
        [[ "$received" == "Received-SPF: $want (mx.example.net: "*" client-ip=$ip; envelope-from=$sender; helo=mail.demo.example;" ]] \
            || problems+=("\$spf_received is [$received]")
        [[ "$comment" == "mx.example.net: "* ]] || problems+=("\$spf_header_comment is [$comment]")
        [ "$lib" = "calling init: $compat/libspf2.so.2" ] || problems+=("libspf2 loaded: [$lib]")
        if [ "$want" = fail ]; then
            grep -q '^550 SPF fail: .* : Reason: mechanism' <<< "$out" || problems+=("no 550 with \$spf_smtp_comment")
        fi
        if [ "${#problems[@]}" -eq 0 ]; then
            echo "ok: exim -bh $ip <$sender>: spf_result=$want, $reply"
            passed=$((passed + 1))
        else
            echo "FAILED: exim -bh $ip <$sender>: ${problems[*]}"
            grep -v -E '^ *[0-9]+:' <<< "$out" | tail -n 40
            failed=$((failed + 1))
        fi
    }
    exim_case 192.0.2.10 alice@pass.demo.example pass "250 Accepted"
    exim_case 203.0.113.9 alice@fail.demo.example fail "550 SPF fail"
    exim_case 203.0.113.9 alice@softfail.demo.example softfail "250 Accepted"
    exim_case 203.0.113.9 alice@neutral.demo.example neutral "250 Accepted"
    exim_case 192.0.2.10 alice@none.demo.example none "250 Accepted"
    exim_case 192.0.2.10 alice@permerror.demo.example permerror "250 Accepted"
    exim_case 203.0.113.9 alice@toomany.demo.example permerror "250 Accepted"
    exim_case 192.0.2.10 alice@temp.demo.example temperror "451 SPF temperror"
    exim_case 198.51.100.7 alice@provider.demo.example pass "250 Accepted"
    exim_case 2001:db8:100::25 alice@provider.demo.example pass "250 Accepted"
    echo "exim tests: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]

    say "4. OpenDMARC under miltertest: its SPF check through libspf2"
    opendmarc="$work/debs/opendmarc/usr/sbin/opendmarc"
    mkdir -p "$work/opendmarc"
    : > "$work/opendmarc/ignore"
    sed -e "s|@WORK@|$work/opendmarc|g" "$root/spf-compat/tests/opendmarc/opendmarc.conf" > "$work/opendmarc/opendmarc.conf"
    for lib in stock compat; do
        port=$((20000 + RANDOM % 20000))
        if [ "$lib" = compat ]; then libpath="$compat"; else libpath=""; fi
        LD_LIBRARY_PATH="$libpath" LD_DEBUG=libs miltertest -D milter="$opendmarc" \
            -D conf="$work/opendmarc/opendmarc.conf" -D socket="inet:$port@127.0.0.1" \
            -s "$root/spf-compat/tests/opendmarc/test.lua" > "$work/opendmarc/$lib.log" 2>&1 \
            || { cat "$work/opendmarc/$lib.log"; echo "miltertest failed ($lib)"; exit 1; }
        grep '^from=' "$work/opendmarc/$lib.log" > "$work/opendmarc/$lib.verdicts"
    done
    cat "$work/opendmarc/compat.verdicts"
    grep -q "calling init: $compat/libspf2.so.2" "$work/opendmarc/compat.log" \
        || { echo "opendmarc did not load $compat/libspf2.so.2"; exit 1; }
    grep -q 'from=<alice@pass.demo.example> spf=pass' "$work/opendmarc/compat.verdicts"
    grep -q 'from=<alice@fail.demo.example> spf=fail' "$work/opendmarc/compat.verdicts"
    diff "$work/opendmarc/stock.verdicts" "$work/opendmarc/compat.verdicts" \
        || { echo "opendmarc's verdicts differ between stock libspf2 and fastspf's"; exit 1; }
    echo "opendmarc: pass and fail senders (and softfail, neutral, none) judged as on stock libspf2"

    say "5. Mail::SPF_XS (libmail-spf-xs-perl) on fastspf's libspf2"
    LD_LIBRARY_PATH="$compat" perl "$root/spf-compat/tests/perl/spf_xs.pl" "$compat"

    say "6. The whole system switched: ldconfig lists the compat directory first"
    printf '%s\n' "$compat" > "$work/ld.so.conf"
    cat /etc/ld.so.conf.d/*.conf >> "$work/ld.so.conf" 2>/dev/null || true
    ldconfig -C "$work/ld.so.cache" -f "$work/ld.so.conf"
    mount --bind "$work/ld.so.cache" /etc/ld.so.cache
    resolved="$(ldd /usr/bin/spfquery.libspf2 | sed -n 's/.*libspf2.so.2 => \([^ ]*\).*/\1/p')"
    [ "$resolved" = "$compat/libspf2.so.2" ] || { echo "spfquery resolves libspf2.so.2 to $resolved"; exit 1; }
    out="$(/usr/bin/spfquery.libspf2 -ip 203.0.113.9 -sender alice@permerror.demo.example 2>&1 || true)"
    grep -q '^Received-SPF: permerror' <<< "$out" || { echo "$out"; exit 1; }
    umount /etc/ld.so.cache
    echo "ok: with the cache rebuilt, spfquery (no LD_LIBRARY_PATH) loads $resolved and answers permerror"

    say "7. make install PREFIX=/usr/local as root runs ldconfig (tmpfs over /usr/local/{lib,include}, /etc copy-on-write)"
    mount -t tmpfs tmpfs /usr/local/lib
    mount -t tmpfs tmpfs /usr/local/include
    # ldconfig replaces /etc/ld.so.cache by renaming: give it a copy-on-write /etc.
    mkdir -p "$work/etc-overlay"
    mount -t tmpfs tmpfs "$work/etc-overlay"
    mkdir -p "$work/etc-overlay/upper" "$work/etc-overlay/work"
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$work/etc-overlay/upper,workdir=$work/etc-overlay/work" /etc
    CARGO_NET_OFFLINE=true make -s -C "$root" install PREFIX=/usr/local PROFILE=debug >/dev/null
    grep -q 'libfastspf.so.0 .*=> /usr/local/lib/libfastspf.so.0$' <<< "$(ldconfig -p)" \
        || { echo "ldconfig did not run: libfastspf.so.0 is not in the cache"; exit 1; }
    cc -Wall -Wextra -Werror -std=c11 -I "$root/spf-ffi/tests/c" "$root/spf-ffi/tests/c/results.c" \
        -o "$work/results-no-rpath" -I /usr/local/include -L /usr/local/lib -lfastspf
    "$work/results-no-rpath" "$root/examples/demo.zone" | tail -n 1
    echo "ok: a program linked without rpath runs right after make install: $(ls -l /usr/local/lib/libfastspf.so.0.* | awk '{print $5}') bytes (stripped, debug build)"
    umount /etc /usr/local/include /usr/local/lib "$work/etc-overlay"
    exit 0
fi

# ---- Outside: packages, builds, ABI tests, then the namespace. ----
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
mkdir -p "$work/debs"
debs=(exim4-daemon-heavy opendmarc)
need=()
for pkg in spfquery libspf2-dev libmail-spf-xs-perl libopendmarc2 miltertest valgrind gcc iproute2; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# Exim and OpenDMARC are unpacked, not installed (Exim conflicts with Postfix,
# and neither daemon should start); only their libraries are installed.
for deb in "${debs[@]}"; do
    if ! ls "$work/debs/${deb}"_*.deb >/dev/null 2>&1; then
        [ -n "${apt_updated:-}" ] || { "${sudo_cmd[@]}" apt-get update -qq; apt_updated=1; }
        (cd "$work/debs" && apt-get download -qq "$deb" 2>/dev/null)
    fi
    [ -d "$work/debs/$deb" ] || dpkg -x "$work/debs/${deb}"_*.deb "$work/debs/$deb"
    depends="$(dpkg-deb -f "$work/debs/${deb}"_*.deb Depends)"
    for dep in $(tr ',' '\n' <<< "$depends" | sed -e 's/|.*//' -e 's/(.*)//' -e 's/ //g'); do
        case "$dep" in exim4-base | debconf | adduser | lsb-base | dbconfig-* | publicsuffix | "") continue ;; esac
        dpkg -s "$dep" >/dev/null 2>&1 || need+=("$dep")
    done
done
if [ "${#need[@]}" -gt 0 ]; then
    say "installing Debian packages: ${need[*]}"
    [ -n "${apt_updated:-}" ] || "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Exim refuses to start without its compiled-in user.
getent passwd Debian-exim >/dev/null || "${sudo_cmd[@]}" useradd --system --user-group --no-create-home \
    --home-dir /var/spool/exim4 --shell /usr/sbin/nologin Debian-exim
for bin in "$work/debs/exim4-daemon-heavy/usr/sbin/exim4" "$work/debs/opendmarc/usr/sbin/opendmarc"; do
    libs="$(ldd "$bin")"
    if grep -q 'not found' <<< "$libs"; then echo "$libs"; echo "missing libraries for $bin"; exit 1; fi
    grep -q 'libspf2.so.2\|libopendmarc.so.2' <<< "$libs" || { echo "$bin does not link libspf2"; exit 1; }
done
grep -q libspf2.so.2 <<< "$(ldd /usr/lib/x86_64-linux-gnu/libopendmarc.so.2)" \
    || { echo "libopendmarc2 does not link libspf2"; exit 1; }

say "building: make install-compat (debug), the suite driver, spf-testdns"
prefix="$work/prefix"
rm -rf "$prefix"
make -s install-compat PREFIX="$prefix" PROFILE=debug
cargo build --quiet --locked -p spf-compat --example spfquery_suite
cargo build --quiet --locked -p spf-testdns
compat="$prefix/lib/fastspf-compat"
grep -q 'SONAME *libspf2.so.2' <<< "$(objdump -p "$compat/libspf2.so.2")"

say "1. ABI: every consumer's imports, layouts, texts, the API under valgrind"
defined="$(nm -D --defined-only "$compat/libspf2.so.2" | awk '{print $3}' | sort)"
for bin in "$work/debs/exim4-daemon-heavy/usr/sbin/exim4" /usr/bin/spfquery.libspf2 \
    /usr/lib/x86_64-linux-gnu/libopendmarc.so.2 /usr/lib/x86_64-linux-gnu/perl5/5.*/auto/Mail/SPF_XS/SPF_XS.so; do
    imports="$(nm -D --undefined-only "$bin" | awk '$2 ~ /^SPF_/ {print $2}' | sort)"
    missing="$(comm -23 <(echo "$imports") <(echo "$defined"))"
    [ -z "$missing" ] || { echo "$bin imports symbols we lack: $missing"; exit 1; }
    echo "ok: all $(wc -l <<< "$imports") SPF_ symbols $(basename "$bin") imports are defined"
done
cflags=(-Wall -Wextra -Werror -std=c11 -D_DEFAULT_SOURCE)
cc "${cflags[@]}" spf-compat/tests/c/layout.c -o "$work/layout-debian"
cc "${cflags[@]}" -I "$prefix/include/fastspf-compat" spf-compat/tests/c/layout.c -o "$work/layout-ours"
diff <("$work/layout-debian") <("$work/layout-ours")
echo "ok: $("$work/layout-ours" | wc -l) sizes, offsets and enum values identical to Debian's headers"
cc "${cflags[@]}" spf-compat/tests/c/strings.c -o "$work/strings" -lspf2
diff <("$work/strings") <(LD_LIBRARY_PATH="$compat" "$work/strings")
echo "ok: $("$work/strings" | wc -l) texts and the version identical to Debian's libspf2"
cc "${cflags[@]}" -I "$prefix/include/fastspf-compat" spf-compat/tests/c/api.c -o "$work/api" \
    -L "$compat" -lspf2 -Wl,-rpath,"$compat"
valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect "$work/api"
echo "ok: the API test is valgrind-clean"

say "the .deb: make compat-deb"
make -s compat-deb PROFILE=debug >/dev/null
deb="$(ls "$target"/fastspf-libspf2_*.deb)"
contents="$(dpkg-deb -c "$deb")"
for path in ./usr/lib/fastspf-compat/libspf2.so.2 ./etc/ld.so.conf.d/00-fastspf-compat.conf ./usr/include/fastspf-compat/spf2/spf.h; do
    grep -q " $path" <<< "$contents" || { echo "$deb lacks $path"; exit 1; }
done
[ "$(dpkg-deb -f "$deb" Package)" = fastspf-libspf2 ]
echo "ok: $deb ($(du -k "$deb" | cut -f1) KiB): the library, the ld.so.conf.d entry, the headers"

"${sudo_cmd[@]}" unshare --net --mount "$0" --in-namespace "$prefix"
