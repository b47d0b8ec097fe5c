#!/usr/bin/env bash
# Runs every test of rollout-console on a fresh Debian machine: installs what the tests need
# (tmux for the end-to-end tests, a real Prometheus and VictoriaMetrics for the metrics tests; each
# test starts its own on a free loopback port and stops it), checks formatting and lints, then runs
# the whole suite once, in release mode, so the end-to-end tests drive the release binary that
# `cargo test` built.
set -euo pipefail
cd "$(dirname "$0")/.."

install_packages() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# tmux for the end-to-end tests; a real Prometheus and VictoriaMetrics for tests/common/tsdb.rs.
missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || missing+=(prometheus)
command -v victoria-metrics >/dev/null 2>&1 || [ -x /usr/bin/victoria-metrics ] \
  || missing+=(victoria-metrics)
# openssl makes the TLS certificates of tests/auth_engines.rs.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ "${#missing[@]}" -eq 0 ] || install_packages "${missing[@]}"

cargo fmt --check
cargo clippy --release --all-targets --locked -- -D warnings
cargo test --release --locked
