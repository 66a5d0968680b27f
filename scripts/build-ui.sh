#!/usr/bin/env bash
# Build the Leptos UI bundle into ui/dist (wasm + JS glue + static files), offline, without
# trunk: cargo for wasm32 then the pinned wasm-bindgen CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
use_shared_target_dir
rustup target add wasm32-unknown-unknown >/dev/null
need_wasm_bindgen
profile=${UI_PROFILE:-release}
flag=$([ "$profile" = release ] && echo --release || true)
cargo build -p qingliu-ui --target wasm32-unknown-unknown $flag --locked
rm -rf ui/dist && mkdir -p ui/dist
wasm-bindgen --target web --no-typescript --out-dir ui/dist \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile/qingliu_ui.wasm"
cp ui/static/* ui/dist/
echo "ui/dist: $(du -sh ui/dist | cut -f1)"
