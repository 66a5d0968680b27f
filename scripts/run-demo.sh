#!/usr/bin/env bash
# Start the sync-server on embedded SQLite with demo data for all of Hubei (seeded on first run;
# prints the demo accounts), serving the browser console at its root, and the field app pointed
# at it. Without a display, the server (and console) runs alone. Usage: scripts/run-demo.sh [extra `sync-server serve` flags]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_rust
need_apt build-essential pkg-config curl libwebkit2gtk-4.1-dev fonts-noto-cjk
use_shared_target_dir
bash scripts/build-ui.sh
cargo build --release -p sync-server -p qingliu-app --features qingliu-app/app --locked

listen=${QINGLIU_LISTEN:-127.0.0.1:8080}
"$CARGO_TARGET_DIR/release/sync-server" serve --demo "$@" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  if curl -sf "http://$listen/healthz" >/dev/null 2>&1; then break; fi
  kill -0 $server 2>/dev/null || { echo "sync-server exited" >&2; exit 1; }
  sleep 0.5
done
echo "console: http://$listen/  (API: /api/openapi.json)"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "starting the field app; log in at http://$listen with a demo account above"
  "$CARGO_TARGET_DIR/release/qingliu"
else
  echo "no display: the field app needs a desktop session; the server keeps running (Ctrl-C stops it)"
  wait $server
fi
