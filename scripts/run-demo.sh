#!/usr/bin/env bash
# Start the sync-server on embedded SQLite with demo data for all of Hubei (seeded on first run).
# Usage: scripts/run-demo.sh [extra sync-server serve flags]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_rust
need_apt build-essential pkg-config
use_shared_target_dir
cargo build --release -p sync-server
exec "$CARGO_TARGET_DIR/release/sync-server" serve --demo "$@"
