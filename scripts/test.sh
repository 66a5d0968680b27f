#!/usr/bin/env bash
# Run every check and test: formatting, lints (native, wasm and the Tauri shell), the wasm build
# of `shared`, `cargo test` (unit, property and cross-crate tests against a real server on a real
# port, the console in headless Chromium), the server suite again on PostgreSQL with photos in
# an S3-compatible bucket (both started here) and the chaos seeds against two server processes
# behind HAProxy, then the end-to-end test of the real app in the
# real webview under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_rust
need_apt build-essential pkg-config libwebkit2gtk-4.1-dev xvfb xauth webkit2gtk-driver fonts-noto-cjk \
  chromium chromium-driver dbus-daemon systemd geoclue-2.0 geoclue-2-demo poppler-utils haproxy xdg-utils file
use_shared_target_dir
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown >/dev/null
need_tauri_driver
need_postgres
drop_test_databases
need_s3s_fs
need_schemathesis

log=$(mktemp)
s3=$(mktemp -d)
S3S_PID=
trap 'rm -f "$log"; [ -n "$S3S_PID" ] && kill "$S3S_PID" 2>/dev/null; rm -rf "$s3"' EXIT

echo "== fmt"; cargo fmt --all -- --check
echo "== UI bundle"; bash scripts/build-ui.sh
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p qingliu-app --features app --locked -- -D warnings
cargo clippy -p qingliu-ui --target wasm32-unknown-unknown --locked -- -D warnings
echo "== shared builds for wasm32"; cargo check -p shared --target wasm32-unknown-unknown --locked
# The domain crate of the Android build (the rest needs the NDK's C compiler: see the README).
echo "== shared builds for Android"
rustup target add aarch64-linux-android >/dev/null
cargo check -p shared --target aarch64-linux-android --locked
echo "== tests"
# On SQLite: the embedded default (the harness picks PostgreSQL only when told to).
QINGLIU_TEST_POSTGRES= QINGLIU_TEST_S3= cargo test --workspace --locked 2>&1 | tee -a "$log"
echo "== the server conformance suite on PostgreSQL with photos in S3 (s3s-fs)"
s3port=$(free_port)
start_s3s_fs "$s3port" "$s3/objects" qingliu-test qingliu qingliu-test-secret
QINGLIU_TEST_S3="http://127.0.0.1:$s3port" cargo test -p qingliu-tests --test server --locked 2>&1 | tee -a "$log"
drop_test_databases
echo "== end to end (real webview)"
cargo build -p qingliu-app --features app --locked
QINGLIU_APP_BIN="$CARGO_TARGET_DIR/debug/qingliu" \
  cargo test -p qingliu-tests --test e2e_app --locked -- --ignored --test-threads=1 2>&1 | tee -a "$log"
echo "screenshots: tests/artifacts/"
# One closing line for the whole run (cargo's own last line is the last crate's doc-tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
