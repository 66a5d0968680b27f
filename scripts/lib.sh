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

# A PostgreSQL server on 127.0.0.1:5432 that lets the local `postgres` role in without a
# password (the machines of this project run one; a bare Debian machine gets Debian's, with
# trust for local TCP connections, since it only ever holds throwaway test databases).
# Exports QINGLIU_TEST_POSTGRES for the tests.
need_postgres() {
  export QINGLIU_TEST_POSTGRES="${QINGLIU_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
  if ! command -v pg_isready >/dev/null 2>&1 || ! pg_isready -q -h 127.0.0.1 -p 5432; then
    need_apt postgresql postgresql-client
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
      local hba
      hba=$(ls /etc/postgresql/*/main/pg_hba.conf | sort -V | tail -1)
      if ! $sudo grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
        echo 'host all all 127.0.0.1/32 trust' | $sudo tee /tmp/qingliu-hba >/dev/null
        $sudo sh -c "cat '$hba' >> /tmp/qingliu-hba && cp /tmp/qingliu-hba '$hba'"
      fi
      $sudo pg_ctlcluster "$(basename "$(dirname "$(dirname "$hba")")")" main restart || $sudo service postgresql start
    fi
    for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  psql "$QINGLIU_TEST_POSTGRES/postgres" -qAtc 'SELECT 1' >/dev/null
}

# Drop the throwaway databases test servers left behind (a run that was killed).
drop_test_databases() {
  # Only databases nobody is connected to: what a crashed run left behind. (Not WITH (FORCE):
  # another suite or a soak running on this machine keeps its databases.)
  psql "$QINGLIU_TEST_POSTGRES/postgres" -qAtc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'qingliu\_t\_%'" 2>/dev/null |
    while read -r db; do
      psql "$QINGLIU_TEST_POSTGRES/postgres" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
    done
}

# s3s-fs: an S3-compatible server keeping objects as files (the s3s project's sample server,
# from the Rust registry, so it installs wherever cargo does). Pinned; installed once.
S3S_FS_VERSION=0.13.0
need_s3s_fs() {
  if ! s3s-fs --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
    cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked
  fi
}

# Schemathesis (PyPI) for the API contract test, in its own virtualenv under the cache, pinned
# with the Hypothesis it was released against (newer Hypothesis releases break its 3.x line).
# The test finds it through QINGLIU_SCHEMATHESIS.
SCHEMATHESIS_VERSION=3.39.16
HYPOTHESIS_VERSION=6.115.0
need_schemathesis() {
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/qingliu/venv-schemathesis"
  if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q " $SCHEMATHESIS_VERSION\$" \
    || ! "$venv/bin/python" -c "import hypothesis, sys; sys.exit(hypothesis.__version__ != '$HYPOTHESIS_VERSION')" 2>/dev/null; then
    need_apt python3-venv
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==$HYPOTHESIS_VERSION"
  fi
  export QINGLIU_SCHEMATHESIS="$venv/bin/schemathesis"
}

# Start s3s-fs on 127.0.0.1:$1 with its objects under $2 and the bucket $3, credentials
# $4/$5; waits until it answers. Sets S3S_PID.
start_s3s_fs() {
  local port=$1 root=$2 bucket=$3 key=$4 secret=$5
  mkdir -p "$root/$bucket"
  s3s-fs --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" "$root" \
    >"$root/../s3s-fs.log" 2>&1 &
  S3S_PID=$!
  for _ in $(seq 1 100); do
    # Unsigned requests are refused (403): an answer is all this waits for.
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return 0; fi
    kill -0 "$S3S_PID" 2>/dev/null || { echo "s3s-fs exited" >&2; cat "$root/../s3s-fs.log" >&2; return 1; }
    sleep 0.2
  done
  echo "s3s-fs did not answer on port $port" >&2
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
