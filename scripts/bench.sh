#!/usr/bin/env bash
# Read-path benchmark: GET /v1/accounts/{id}?include_credentials=1 with wrk on loopback,
# on SQLite and on PostgreSQL, each against nginx serving the same JSON body as a static
# file in the same run. Prints a table of ratios with PASS/FAIL target lines and writes
# bench-results/read.json.
#
# Targets (at 64 connections): Latchkey req/s >= 0.5 x nginx req/s, and Latchkey p99 <= 2 x
# nginx p99. A missed target prints FAIL but never fails the script: the numbers depend on
# the machine. The script does exit non-zero when a scenario is broken (non-2xx responses
# or socket errors reported by wrk, or the server died), since then the numbers are wrong.
#
# Environment (all optional):
#   DURATION=10s       measured wrk run per target (CI: DURATION=3s)
#   WARMUP=2s          discarded warm-up run before each measured run
#   CONNECTIONS=64     wrk connections (the targets are defined at 64)
#   THREADS=2          wrk threads
#   BACKENDS="sqlite postgres"
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432   server for a throw-away database
#   LATCHKEY_BIN=path  use this binary instead of building target/release/latchkey
#   SKIP_BUILD=1       use the existing release binary without running cargo
#   RESULTS_DIR=bench-results
#   SCENARIOS="read refresh"   which benchmarks to run
#   STORM_ACCOUNTS=5000        accounts expiring together in the refresh storm
#   STORM_SCENARIOS=sqlite:1,postgres:1,postgres:3
#
# The refresh storm (crates/latchkey-bench) refreshes STORM_ACCOUNTS OAuth accounts due at
# once with 1 and 3 instances against the OAuth peer (tests/peers/oidc), compared with the
# peer's own token endpoint throughput in the same run; it counts duplicate and late refreshes
# and writes bench-results/refresh.json.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/scripts/bench
# shellcheck source-path=SCRIPTDIR source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BACKENDS=${BACKENDS:-sqlite postgres}
BENCH_PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench-results}
RPS_RATIO_TARGET=0.5 # Latchkey rps / nginx rps must be >= this
P99_RATIO_TARGET=2.0 # Latchkey p99 / nginx p99 must be <= this

# The bench sets every Latchkey setting it relies on; a LATCHKEY_* variable left in the
# caller's shell (say, a DATABASE_URL) must not leak into a scenario.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^LATCHKEY_' | grep -vx LATCHKEY_BIN || true)

WORK=$(mktemp -d /tmp/latchkey-bench.XXXXXX)
NGINX_PID="" LK_PID="" PG_DB=""

cleanup() {
    local rc=$?
    set +e
    stop_pid "$LK_PID"
    stop_pid "$NGINX_PID"
    if [[ -n $PG_DB ]]; then
        psql "$BENCH_PG_URL/postgres" -Atqc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            log "bench: could not drop database $PG_DB"
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools and binary --------------------------------------------------------------------

ensure_debs wrk=wrk nginx='nginx-light|nginx' curl=curl openssl=openssl
command -v python3 >/dev/null || die "python3 is required"

if [[ -n ${LATCHKEY_BIN:-} ]]; then
    [[ -x $LATCHKEY_BIN ]] || die "LATCHKEY_BIN=$LATCHKEY_BIN is not executable"
else
    LATCHKEY_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/latchkey
    if [[ ${SKIP_BUILD:-0} != 1 ]]; then
        log "bench: cargo build --release -p latchkey-cli"
        (cd "$ROOT" && cargo build --release -q -p latchkey-cli) || die "release build failed"
    fi
    [[ -x $LATCHKEY_BIN ]] || die "$LATCHKEY_BIN not found (build it, or unset SKIP_BUILD)"
fi

# --- header ------------------------------------------------------------------------------

CORES=$(nproc)
cat <<EOF
Latchkey read benchmark: GET /v1/accounts/{id}?include_credentials=1 vs nginx static file
  date        $(date -u +%Y-%m-%dT%H:%M:%SZ)
  commit      $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (dirty tree)')
  cpu         ${CORES} cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown))
  wrk         -t${THREADS} -c${CONNECTIONS} -d${DURATION} (warm-up ${WARMUP}), loopback, keep-alive
  tools       $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(nginx -v 2>&1 | sed 's/^nginx version: //')
  nginx       worker_processes auto (= ${CORES}, like tokio's one worker per core), access_log off,
              sendfile, open_file_cache; same path, same Authorization header, same body bytes
  note        wrk, the server under test (and PostgreSQL) share these ${CORES} cores: absolute
              numbers are low; the ratios against nginx on the same machine are what counts.
EOF
# Other work on the machine (a parallel cargo build, say) skews both sides, unevenly.
LOAD1=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0.5 * int(sys.argv[2]) else 1)' "$LOAD1" "$CORES"; then
    echo "  warning     load average ${LOAD1} before the run: other processes are using the CPU"
fi
if ((CORES <= 2)); then
    echo "  warning     only ${CORES} cores: wrk's ${THREADS} threads take a large share of the CPU"
fi
echo

start_nginx
ROWS=$WORK/rows.tsv
: >"$ROWS"

# --- one scenario per backend ------------------------------------------------------------

# Append one tab-separated row; report.py turns the rows into the table and the JSON.
# Columns: backend status note body_bytes account_id, then parse_wrk's 5 fields for Latchkey
# and for nginx, then the number of warn/error lines in the server log.
row() { (IFS=$'\t'; printf '%s\n' "$*") >>"$ROWS"; }

run_scenario() { # run_scenario BACKEND
    local backend=$1
    LK_DATA_DIR=$WORK/$backend
    LK_DATABASE_URL=""
    mkdir -p "$LK_DATA_DIR"
    case $backend in
    sqlite) ;; # the default: <data dir>/latchkey.db, as a fresh install has it
    postgres)
        if ! pg_available; then
            log "bench: postgres: cannot connect to $BENCH_PG_URL; skipping"
            row postgres skipped "psql cannot connect to $BENCH_PG_URL" 0 - nan nan 0 0 0 nan nan 0 0 0 0
            return 0
        fi
        PG_DB=latchkey_bench_$$_$RANDOM
        pg_sql "CREATE DATABASE \"$PG_DB\""
        LK_DATABASE_URL=$BENCH_PG_URL/$PG_DB
        ;;
    *) die "unknown backend $backend (expected sqlite or postgres)" ;;
    esac
    log "bench: $backend: provisioning"

    # A fresh master key per scenario, as an operator would set it.
    LK_MASTER_KEY=$(openssl rand -base64 32)
    local pw=$LK_DATA_DIR/password
    (umask 077 && echo "bench-password-$RANDOM$RANDOM" >"$pw")
    local init
    init=$(lk init --email bench@latchkey.test --password-file "$pw" --workspace Bench --json 2>"$LK_DATA_DIR/init.log") ||
        die "$backend: latchkey init failed: $(cat "$LK_DATA_DIR/init.log")"
    LK_API_KEY=$(json_field api_key <<<"$init")

    start_latchkey
    local base=http://127.0.0.1:$LK_PORT auth="Authorization: Bearer $LK_API_KEY"
    local created id
    created=$(curl -fsS -X POST "$base/v1/accounts" -H "$auth" -H 'content-type: application/json' \
        -d '{"app":"openai","name":"bench","cfmap":{"api_key":"sk-bench-0123456789abcdefghijklmnopqrstuvwxyz"},"skip_check":true}') ||
        die "$backend: creating the account failed"
    id=$(json_field data.id <<<"$created")

    # The baseline file is the exact body of the read, at the same path under nginx's root,
    # so both servers get byte-identical requests and send the same body.
    local path="/v1/accounts/$id?include_credentials=1" file=$WORK/www/v1/accounts/$id status
    mkdir -p "$(dirname "$file")"
    chmod -R a+rX "$WORK/www"
    status=$(curl -sS -o "$file" -w '%{http_code}' -H "$auth" "$base$path")
    [[ $status == 200 ]] || die "$backend: the read answered $status: $(cat "$file")"
    chmod a+r "$file"
    python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["data"]["credentials"]' "$file" 2>/dev/null ||
        log "bench: $backend: warning: the read's body has no data.credentials"
    cmp -s "$file" <(curl -fsS -H "$auth" "http://127.0.0.1:$NGINX_PORT$path") ||
        die "$backend: nginx does not serve the same bytes"
    local bytes
    bytes=$(wc -c <"$file")
    log "bench: $backend: account $id, body $bytes bytes"

    local out=$WORK/wrk-$backend
    log "bench: $backend: wrk nginx"
    run_wrk "http://127.0.0.1:$NGINX_PORT$path" "$out-nginx.txt"
    log "bench: $backend: wrk latchkey"
    run_wrk "$base$path" "$out-latchkey.txt"

    local status_note="" scen_status=ok
    if ! kill -0 "$LK_PID" 2>/dev/null; then
        scen_status=error status_note="latchkey exited during the run"
    fi
    stop_pid "$LK_PID"
    LK_PID=""
    # Anything Latchkey logged at warn or above during the bench is worth a look.
    local warnings
    warnings=$(grep -ciE '\b(WARN|ERROR)\b' "$LK_DATA_DIR/server.log" || true)
    if ((warnings > 0)); then
        log "bench: $backend: the server logged $warnings warn/error lines:"
        grep -iE '\b(WARN|ERROR)\b' "$LK_DATA_DIR/server.log" | head -5 >&2 || true
        cp "$LK_DATA_DIR/server.log" "$RESULTS_DIR/read-$backend-server.log"
    fi

    if [[ -n $PG_DB ]]; then
        pg_sql "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)"
        PG_DB=""
    fi

    # shellcheck disable=SC2046 # parse_wrk prints 5 space-separated numbers
    row "$backend" "$scen_status" "$status_note" "$bytes" "$id" \
        $(parse_wrk "$out-latchkey.txt") $(parse_wrk "$out-nginx.txt") "$warnings"
}

mkdir -p "$RESULTS_DIR"
SCENARIOS=${SCENARIOS:-read refresh}
if [[ " $SCENARIOS " == *" refresh "* ]]; then
    log "bench: refresh storm: installing the OAuth peer and building latchkey-bench"
    npm ci --prefix "$ROOT/tests/peers/oidc" --no-audit --no-fund --loglevel=error >&2 ||
        die "npm ci for the OAuth peer failed"
    (cd "$ROOT" && cargo build --release -q -p latchkey-bench) || die "latchkey-bench build failed"
    "${CARGO_TARGET_DIR:-$ROOT/target}/release/latchkey-bench" refresh-storm \
        --accounts "${STORM_ACCOUNTS:-5000}" --scenarios "${STORM_SCENARIOS:-sqlite:1,postgres:1,postgres:3}" \
        --pg-url "$BENCH_PG_URL" --latchkey-bin "$LATCHKEY_BIN" --out "$RESULTS_DIR/refresh.json" ||
        die "the refresh storm failed"
    echo
fi
[[ " $SCENARIOS " == *" read "* ]] || exit 0

for backend in $BACKENDS; do
    run_scenario "$backend"
done

# --- report ------------------------------------------------------------------------------

python3 "$BENCH_DIR/report.py" \
    --rows "$ROWS" --raw "$WORK" --out "$RESULTS_DIR/read.json" \
    --rps-target "$RPS_RATIO_TARGET" --p99-target "$P99_RATIO_TARGET" \
    --duration "$DURATION" --warmup "$WARMUP" --threads "$THREADS" --connections "$CONNECTIONS" \
    --cores "$CORES" --commit "$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --wrk "$(wrk -v 2>&1 | head -1 | awk '{print $2}')" --nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
