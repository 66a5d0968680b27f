# Shared by the scripts: install what the project needs on a Debian machine, idempotently.
# Sourced, not run.

need_apt() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

need_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust with rustup (https://rustup.rs), then run this again" >&2
    exit 1
  fi
}

# Keep the build cache outside the checkout so fresh clones (CI) rebuild incrementally.
use_shared_target_dir() {
  if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    export CARGO_TARGET_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/qingliu/target"
  fi
  mkdir -p "$CARGO_TARGET_DIR"
}

# The wasm-bindgen CLI must equal the crate version pinned in ui/Cargo.toml.
WASM_BINDGEN_VERSION=0.2.130
need_wasm_bindgen() {
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
    cargo install wasm-bindgen-cli@$WASM_BINDGEN_VERSION
  fi
}

TAURI_DRIVER_VERSION=2.1.0
need_tauri_driver() {
  if ! cargo install --list 2>/dev/null | grep -q "^tauri-driver v$TAURI_DRIVER_VERSION:"; then
    cargo install tauri-driver@$TAURI_DRIVER_VERSION --locked
  fi
}
