#!/usr/bin/env bash
# Runs every test of the project: the README's second command and what CI runs.
# Installs what the tests need (idempotently), then runs each suite; exits
# non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (workspace)"
cargo test --workspace --locked

step "fuzz targets compile (running them needs nightly: see fuzz/README.md)"
cargo check --quiet --manifest-path fuzz/Cargo.toml

step "all tests passed"
