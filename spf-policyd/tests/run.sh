#!/usr/bin/env bash
# fastspf-policyd with real parts: Postfix (both modes) and Debian's
# policyd-spf side by side. Called by scripts/test.sh; needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
need=()
for pkg in postfix-policyd-spf-python iproute2 util-linux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ! dpkg -s postfix >/dev/null 2>&1; then
    # No system configuration: the service is not set up and does not start.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    need+=(postfix)
fi
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
cargo build --quiet --locked -p spf-policyd -p spf-testdns
target_dir="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
policyd="$target_dir/debug/fastspf-policyd"
testdns="$target_dir/debug/spf-testdns"
# The systemd units are valid (the binary path is the installed one).
units="$(mktemp -d)"
sed "s#/usr/local/bin/fastspf-policyd#$policyd#" spf-policyd/systemd/fastspf-policyd.service > "$units/fastspf-policyd.service"
cp spf-policyd/systemd/fastspf-policyd.socket "$units/"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$units/fastspf-policyd.socket" "$units/fastspf-policyd.service"
fi
rm -rf "$units"
"$policyd" --check-config /etc/postfix-policyd-spf-python/policyd-spf.conf
python3 spf-policyd/tests/postfix_test.py "$policyd" "$testdns"
unshare --net --mount python3 spf-policyd/tests/sidebyside.py "$policyd" "$testdns" \
    spf-core/tests/data/spf-test-suite/rfc7208-tests.yml examples/demo.zone spf-policyd/tests/sidebyside-differences.yml
