#!/usr/bin/env bash
# Runs fuzz targets for a while each: fuzz/run.sh SECONDS [TARGET...]
#
# Builds every target with nightly (`cargo +nightly fuzz build`), writes the
# seed corpora from the RFC suites (fuzz/seeds.py, into fuzz/seeds/), then
# runs each named target (all of them when none is named) for SECONDS seconds
# on its seeds and its corpus (fuzz/corpus/<target>, which grows) with the
# SPF dictionary. Runs shorter than 5 minutes (the test command's) start
# from the seeds alone, in a corpus thrown away afterwards: reading a
# campaign's corpus of thousands of worlds takes longer than the run. Each run's
# libFuzzer output goes to fuzz/logs/<target>-<time>.log and one line per
# run to fuzz/logs/runs.tsv (target, seconds, execs, corpus files, outcome).
#
# Exits 0 when nothing crashed; non-zero on a crash, a hang or a leak,
# printing the artifact that reproduces it (`cargo +nightly fuzz run
# <target> <artifact>`). Without a nightly toolchain it prints
# "skipped: <reason>" and exits 0; without cargo-fuzz it installs it from
# crates.io first.
#
# Environment: FUZZ_JOBS (build jobs, default 2).
set -euo pipefail

usage() {
    echo "usage: fuzz/run.sh SECONDS [TARGET...]" >&2
    exit 2
}
[[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || usage
seconds=$1
shift

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

all_targets=(parse_record expand_macro evaluate lint zone_file)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    [[ -f fuzz_targets/$t.rs ]] || { echo "fuzz/run.sh: no target $t" >&2; exit 2; }
done

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: skipped: no nightly toolchain (cargo +nightly); libFuzzer needs one"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz missing, installing it from crates.io"
    if ! cargo install --locked cargo-fuzz --version 0.13.2; then
        echo "fuzz/run.sh: skipped: cargo-fuzz is not installed and did not install"
        exit 0
    fi
fi

if python3 -c 'import yaml' 2>/dev/null; then
    python3 seeds.py
else
    echo "fuzz/run.sh: no PyYAML, running on the existing corpora only"
fi

export CARGO_BUILD_JOBS=${FUZZ_JOBS:-2}
echo "fuzz/run.sh: building the targets with nightly"
cargo +nightly fuzz build

mkdir -p logs
failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t" "seeds/$t"
    corpus=corpus/$t
    if [[ $seconds -lt 300 ]]; then
        corpus=$(mktemp -d)
    fi
    log="logs/$t-$(date -u +%Y%m%dT%H%M%SZ).log"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict=spf.dict)
    case $t in
        evaluate | lint | zone_file) args+=(-max_len=4096) ;;
    esac
    echo "fuzz/run.sh: $t for ${seconds}s (log: fuzz/$log)"
    set +e
    cargo +nightly fuzz run "$t" "$corpus" "seeds/$t" -- "${args[@]}" >"$log" 2>&1
    status=$?
    set -e
    files=$(find "$corpus" -type f | wc -l)
    [[ $corpus == corpus/$t ]] || rm -rf "$corpus"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    ran=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    if [[ $status -eq 0 ]]; then
        outcome=ok
    else
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        outcome="crash ${artifact:-"(no artifact; see fuzz/$log)"}"
        failed=1
        tail -n 40 "$log"
        echo "fuzz/run.sh: $t FAILED (exit $status): ${artifact:+fuzz/$artifact}"
        echo "fuzz/run.sh: reproduce with: cd fuzz && cargo +nightly fuzz run $t ${artifact:-}"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "${ran:-?}" "${execs:-?}" "$files" "$outcome" \
        >>logs/runs.tsv
    echo "fuzz/run.sh: $t: ${ran:-?}s, ${execs:-?} execs, $files corpus files, $outcome"
done
exit $failed
