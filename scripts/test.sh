#!/usr/bin/env bash
# Runs every test of rollout-console on a fresh Debian machine: installs what the tests need
# (tmux for the end-to-end tests), checks formatting and lints, then runs the whole suite once,
# in release mode, so the end-to-end tests drive the release binary that `cargo test` built.
set -euo pipefail
cd "$(dirname "$0")/.."

install_packages() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

command -v tmux >/dev/null 2>&1 || install_packages tmux

cargo fmt --check
cargo clippy --release --all-targets --locked -- -D warnings
cargo test --release --locked
