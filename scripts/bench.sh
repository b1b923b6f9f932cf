#!/usr/bin/env bash
# Benchmarks, each against a baseline measured in the same run. Prints a table of ratios with
# PASS/FAIL target lines and writes bench-results/<scenario>.json.
#
# read: GET /v1/accounts/{id}?include_credentials=1 with wrk on loopback, on SQLite and on
#   PostgreSQL, against nginx serving the same JSON body as a static file. Targets (at 64
#   connections): Latchkey req/s >= 0.5 x nginx req/s, and Latchkey p99 <= 2 x nginx p99.
#   Writes bench-results/read.json.
#
# proxy: the authenticated proxy, GET /v1/accounts/{id}/proxy/{base64url("/data.json")}
#   through an account of a custom app whose base URL is a local upstream (nginx serving a
#   1 KiB JSON file, refusing requests without the account's credential), on SQLite and on
#   PostgreSQL, against nginx itself reverse-proxying (proxy_pass, keep-alive pool) to the same
#   upstream with a static Authorization header. Also a POST with a 1 KiB JSON body (wrk -s
#   scripts/bench/post.lua; the upstream answers it with the same file). Targets (at 64
#   connections): Latchkey req/s >= 1.0 x nginx proxy req/s, and Latchkey p99 <= 1.5 x nginx
#   proxy p99; the table also shows the latency Latchkey adds at p50 and p99. Every proxied
#   request writes an audit record before it is sent, so this measures that write too.
#   Writes bench-results/proxy.json.
#
# A missed target prints FAIL but never fails the script: the numbers depend on the machine.
# The script does exit non-zero when a scenario is broken (non-2xx responses or socket errors
# reported by wrk, or the server died), since then the numbers are wrong.
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
#   SCENARIOS="read proxy refresh pages listing"   which benchmarks to run
#   PROXY_METHODS="GET POST"         the proxy benchmark's cases (GET is the one with targets
#                                    that matter; POST adds a 1 KiB request body)
#   STORM_ACCOUNTS=5000        accounts expiring together in the refresh storm
#   PAGES_ACCOUNTS=10000       accounts in the workspace for the page benchmark
#   LISTING_ACCOUNTS=1000000   accounts in the workspace for the listing benchmark
#   STORM_SCENARIOS=sqlite:1,postgres:1,postgres:3
#
# pages: the web UI with PAGES_ACCOUNTS (10,000) accounts in the workspace, on SQLite and on
#   PostgreSQL: every main page fetched 200 times in a row, signed in, against /healthz of the
#   same server. Target: each page's p99 <= 50 ms. Writes bench-results/pages.json.
#
# listing: GET /v1/accounts with LISTING_ACCOUNTS (1,000,000) accounts in one workspace (bulk
#   loaded with SQL from one account connected through the API), on SQLite and PostgreSQL:
#   first and second page, a nickname search, an app filter and a member's listing, 200
#   requests each in a row, against /healthz. Target: p99 <= 20 ms. Writes
#   bench-results/listing.json.
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
SCENARIOS=${SCENARIOS:-read proxy refresh pages listing}
PROXY_METHODS=${PROXY_METHODS:-GET POST}
# Targets per scenario: Latchkey rps / baseline rps must be >= the first, Latchkey p99 /
# baseline p99 <= the second.
READ_TARGETS=(0.5 2.0)  # baseline: nginx serving the same bytes as a static file
PROXY_TARGETS=(1.0 1.5) # baseline: nginx proxy_pass to the same upstream

for sc in $SCENARIOS; do
    [[ $sc == read || $sc == proxy || $sc == refresh || $sc == pages || $sc == listing ]] ||
        die "unknown scenario $sc (expected read, proxy, refresh, pages, listing)"
done
for m in $PROXY_METHODS; do
    [[ $m == GET || $m == POST ]] || die "unknown proxy method $m (expected GET, POST)"
done
wants() { [[ " $SCENARIOS " == *" $1 "* ]]; }

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
Latchkey benchmarks: ${SCENARIOS}
  read        GET /v1/accounts/{id}?include_credentials=1 vs nginx serving the same bytes as a static file
  proxy       ${PROXY_METHODS// /, } /v1/accounts/{id}/proxy/{base64url /data.json} to an nginx upstream (1 KiB JSON)
              vs nginx proxy_pass to the same upstream with a static Authorization header
  date        $(date -u +%Y-%m-%dT%H:%M:%SZ)
  commit      $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (dirty tree)')
  cpu         ${CORES} cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown))
  wrk         -t${THREADS} -c${CONNECTIONS} -d${DURATION} (warm-up ${WARMUP}), loopback, keep-alive
  tools       $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(nginx -v 2>&1 | sed 's/^nginx version: //')
  nginx       worker_processes auto (= ${CORES}, like tokio's one worker per core), access_log off,
              sendfile, open_file_cache; read: same path, same Authorization header, same body
              bytes; proxy: keepalive 64 to the upstream, which also serves Latchkey's requests
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

ROWS=$WORK/rows.tsv
: >"$ROWS"

# --- helpers -----------------------------------------------------------------------------

# Append one tab-separated row; report.py turns the rows into the table and the JSON.
# Columns: scenario (read|proxy) method backend status note body_bytes account_id, then
# parse_wrk's 6 fields for Latchkey and for the nginx baseline, then the number of warn/error
# lines in the server log. The raw wrk reports are
# $WORK/wrk-<scenario>-<method>-<backend>-{latchkey,nginx}.txt.
row() { (IFS=$'\t'; printf '%s\n' "$*") >>"$ROWS"; }
skipped_row() { # skipped_row SCENARIO METHOD BACKEND NOTE
    row "$1" "$2" "$3" skipped "$4" 0 - nan nan nan 0 0 0 nan nan nan 0 0 0 0
}

# fetch WHAT OUTFILE CURL_ARG...: one request that must answer 2xx; the body lands in OUTFILE.
fetch() {
    local what=$1 out=$2 status
    shift 2
    status=$(curl -sS -o "$out" -w '%{http_code}' "$@") || die "$what: curl failed"
    [[ $status == 2?? ]] || die "$what answered $status: $(head -c 500 "$out")"
}

# Stop the scenario's server and judge it. Sets SERVER_STATUS, SERVER_NOTE, SERVER_WARNINGS.
finish_server() { # finish_server SCENARIO BACKEND
    local scenario=$1 backend=$2
    SERVER_STATUS=ok SERVER_NOTE=""
    if ! kill -0 "$LK_PID" 2>/dev/null; then
        SERVER_STATUS=error SERVER_NOTE="latchkey exited during the run"
    fi
    stop_pid "$LK_PID"
    LK_PID=""
    # Anything Latchkey logged at warn or above during the bench is worth a look.
    SERVER_WARNINGS=$(grep -ciE '\b(WARN|ERROR)\b' "$LK_LOG" || true)
    if ((SERVER_WARNINGS > 0)); then
        log "bench: $scenario: $backend: the server logged $SERVER_WARNINGS warn/error lines:"
        grep -iE '\b(WARN|ERROR)\b' "$LK_LOG" | head -5 >&2 || true
        cp "$LK_LOG" "$RESULTS_DIR/$scenario-$backend-server.log"
    fi
}

# --- the read benchmark ------------------------------------------------------------------

run_read() { # run_read BACKEND: one row
    local backend=$1
    start_latchkey "$LK_DATA_DIR/server-read.log"
    local base=http://127.0.0.1:$LK_PORT auth="Authorization: Bearer $LK_API_KEY"
    local created id
    created=$(curl -fsS -X POST "$base/v1/accounts" -H "$auth" -H 'content-type: application/json' \
        -d '{"app":"openai","name":"bench","cfmap":{"api_key":"sk-bench-0123456789abcdefghijklmnopqrstuvwxyz"},"skip_check":true}') ||
        die "$backend: creating the account failed"
    id=$(json_field data.id <<<"$created")

    # The baseline file is the exact body of the read, at the same path under nginx's root,
    # so both servers get byte-identical requests and send the same body.
    local path="/v1/accounts/$id?include_credentials=1" file=$WORK/www/v1/accounts/$id
    mkdir -p "$(dirname "$file")"
    chmod -R a+rX "$WORK/www"
    fetch "$backend: the read" "$file" -H "$auth" "$base$path"
    chmod a+r "$file"
    python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["data"]["credentials"]' "$file" 2>/dev/null ||
        log "bench: $backend: warning: the read's body has no data.credentials"
    cmp -s "$file" <(curl -fsS -H "$auth" "http://127.0.0.1:$NGINX_PORT$path") ||
        die "$backend: nginx does not serve the same bytes"
    local bytes
    bytes=$(wc -c <"$file")
    log "bench: read: $backend: account $id, body $bytes bytes"

    local out=$WORK/wrk-read-GET-$backend
    log "bench: read: $backend: wrk nginx"
    run_wrk "http://127.0.0.1:$NGINX_PORT$path" "$out-nginx.txt"
    log "bench: read: $backend: wrk latchkey"
    run_wrk "$base$path" "$out-latchkey.txt"

    finish_server read "$backend"
    # shellcheck disable=SC2046 # parse_wrk prints 6 space-separated numbers
    row read GET "$backend" "$SERVER_STATUS" "$SERVER_NOTE" "$bytes" "$id" \
        $(parse_wrk "$out-latchkey.txt") $(parse_wrk "$out-nginx.txt") "$SERVER_WARNINGS"
}

# --- the proxy benchmark -----------------------------------------------------------------

# The upstream's answer and the POST body: 1 KiB of JSON each, exactly.
write_proxy_files() {
    python3 - "$WORK/www/upstream/data.json" "$WORK/post-body.json" <<'PY'
import json, sys

def sized(n, kind):
    items = [{"id": f"{kind}_{i:04d}", "name": f"Bench {kind} {i}", "active": i % 2 == 0,
              "score": i * 7} for i in range(8)]
    doc = {"object": "list", "data": items, "has_more": False, "pad": ""}
    doc["pad"] = "x" * (n - len(json.dumps(doc, separators=(",", ":"))))
    text = json.dumps(doc, separators=(",", ":"))
    assert len(text) == n, len(text)
    return text

for path, kind in zip(sys.argv[1:], ("item", "input")):
    with open(path, "w", encoding="ascii") as f:
        f.write(sized(1024, kind))
PY
    chmod a+r "$WORK/www/upstream/data.json"
    export BENCH_POST_BODY=$WORK/post-body.json # read by scripts/bench/post.lua
}

run_proxy() { # run_proxy BACKEND: one row per method in PROXY_METHODS
    local backend=$1
    start_latchkey "$LK_DATA_DIR/server-proxy.log"
    local base=http://127.0.0.1:$LK_PORT auth="Authorization: Bearer $LK_API_KEY"

    # A custom app whose base URL is the upstream, its credential injected as a bearer token,
    # and an account of it holding the credential the upstream checks.
    local app
    app=$(python3 -c '
import json, sys
print(json.dumps({
    "name_slug": "bench_upstream", "name": "Bench upstream", "auth_type": "keys",
    "description": "scripts/bench.sh proxy upstream", "categories": ["Developer Tools"],
    "custom_fields": [{"name": "api_key", "label": "API key", "type": "password"}],
    "request": {"base_url": sys.argv[1], "allowed_domains": ["127.0.0.1"],
                "headers": {"Authorization": "Bearer {{api_key}}"}},
}))' "http://127.0.0.1:$NGINX_UPSTREAM_PORT")
    fetch "$backend: creating the upstream app" "$WORK/app.json" -X POST "$base/v1/apps" \
        -H "$auth" -H 'content-type: application/json' -d "$app"
    local created id
    created=$(curl -fsS -X POST "$base/v1/accounts" -H "$auth" -H 'content-type: application/json' \
        -d "{\"app\":\"bench_upstream\",\"name\":\"bench\",\"cfmap\":{\"api_key\":\"$BENCH_UPSTREAM_KEY\"},\"skip_check\":true}") ||
        die "$backend: creating the upstream account failed"
    id=$(json_field data.id <<<"$created")

    # The target: the upstream path, URL-safe Base64 without padding.
    local target
    target=$(printf '%s' /data.json | base64 -w0 | tr '+/' '-_' | tr -d '=')
    local path="/v1/accounts/$id/proxy/$target" file=$WORK/www/upstream/data.json
    local bytes
    bytes=$(wc -c <"$file")
    log "bench: proxy: $backend: account $id, upstream body $bytes bytes"

    local method out wrk_args curl_args
    for method in $PROXY_METHODS; do
        wrk_args=() curl_args=()
        if [[ $method == POST ]]; then
            wrk_args=(-s "$BENCH_DIR/post.lua")
            curl_args=(-X POST -H 'content-type: application/json' --data-binary "@$BENCH_POST_BODY")
        fi
        # Both proxies must relay the upstream's exact bytes (the upstream answers 401 when the
        # credential is missing or wrong, so this also checks the injection).
        fetch "$backend: Latchkey's proxy ($method)" "$WORK/proxied" "${curl_args[@]}" -H "$auth" "$base$path"
        cmp -s "$file" "$WORK/proxied" || die "$backend: Latchkey's proxy ($method) changed the body"
        fetch "$backend: the nginx proxy ($method)" "$WORK/proxied" "${curl_args[@]}" -H "$auth" \
            "http://127.0.0.1:$NGINX_PROXY_PORT/data.json"
        cmp -s "$file" "$WORK/proxied" || die "$backend: the nginx proxy ($method) changed the body"

        out=$WORK/wrk-proxy-$method-$backend
        log "bench: proxy $method: $backend: wrk nginx proxy"
        run_wrk "http://127.0.0.1:$NGINX_PROXY_PORT/data.json" "$out-nginx.txt" "${wrk_args[@]}"
        log "bench: proxy $method: $backend: wrk latchkey"
        run_wrk "$base$path" "$out-latchkey.txt" "${wrk_args[@]}"
    done

    finish_server proxy "$backend"
    for method in $PROXY_METHODS; do
        out=$WORK/wrk-proxy-$method-$backend
        # shellcheck disable=SC2046 # parse_wrk prints 6 space-separated numbers
        row proxy "$method" "$backend" "$SERVER_STATUS" "$SERVER_NOTE" "$bytes" "$id" \
            $(parse_wrk "$out-latchkey.txt") $(parse_wrk "$out-nginx.txt") "$SERVER_WARNINGS"
    done
}

# --- one database per backend ------------------------------------------------------------

# Provision a fresh database (and data dir) for BACKEND, then run the selected scenarios on
# it, each with its own server process.
run_backend() { # run_backend BACKEND
    local backend=$1 scenario method
    LK_DATA_DIR=$WORK/$backend
    LK_DATABASE_URL=""
    mkdir -p "$LK_DATA_DIR"
    case $backend in
    sqlite) ;; # the default: <data dir>/latchkey.db, as a fresh install has it
    postgres)
        if ! pg_available; then
            log "bench: postgres: cannot connect to $BENCH_PG_URL; skipping"
            if wants read; then
                skipped_row read GET postgres "psql cannot connect to $BENCH_PG_URL"
            fi
            if wants proxy; then
                for method in $PROXY_METHODS; do
                    skipped_row proxy "$method" postgres "psql cannot connect to $BENCH_PG_URL"
                done
            fi
            return 0
        fi
        PG_DB=latchkey_bench_$$_$RANDOM
        pg_sql "CREATE DATABASE \"$PG_DB\""
        LK_DATABASE_URL=$BENCH_PG_URL/$PG_DB
        ;;
    *) die "unknown backend $backend (expected sqlite or postgres)" ;;
    esac
    log "bench: $backend: provisioning"

    # A fresh master key per backend, as an operator would set it.
    LK_MASTER_KEY=$(openssl rand -base64 32)
    local pw=$LK_DATA_DIR/password
    (umask 077 && echo "bench-password-$RANDOM$RANDOM" >"$pw")
    local init
    init=$(lk init --email bench@latchkey.test --password-file "$pw" --workspace Bench --json 2>"$LK_DATA_DIR/init.log") ||
        die "$backend: latchkey init failed: $(cat "$LK_DATA_DIR/init.log")"
    LK_API_KEY=$(json_field api_key <<<"$init")

    for scenario in read proxy; do
        if wants "$scenario"; then
            "run_$scenario" "$backend"
        fi
    done

    if [[ -n $PG_DB ]]; then
        pg_sql "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)"
        PG_DB=""
    fi
}

# --- run ---------------------------------------------------------------------------------

mkdir -p "$RESULTS_DIR"
if wants refresh; then
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
if wants pages; then
    log "bench: web pages with ${PAGES_ACCOUNTS:-10000} accounts"
    (cd "$ROOT" && cargo build --release -q -p latchkey-bench) || die "latchkey-bench build failed"
    pages_backends=${BACKENDS// /,}
    "${CARGO_TARGET_DIR:-$ROOT/target}/release/latchkey-bench" pages \
        --accounts "${PAGES_ACCOUNTS:-10000}" --backends "$pages_backends" \
        --pg-url "$BENCH_PG_URL" --latchkey-bin "$LATCHKEY_BIN" --out "$RESULTS_DIR/pages.json" ||
        die "the page benchmark failed"
    echo
fi
if wants listing; then
    log "bench: account listing with ${LISTING_ACCOUNTS:-1000000} accounts"
    (cd "$ROOT" && cargo build --release -q -p latchkey-bench) || die "latchkey-bench build failed"
    "${CARGO_TARGET_DIR:-$ROOT/target}/release/latchkey-bench" listing \
        --accounts "${LISTING_ACCOUNTS:-1000000}" --backends "${BACKENDS// /,}" \
        --pg-url "$BENCH_PG_URL" --latchkey-bin "$LATCHKEY_BIN" --out "$RESULTS_DIR/listing.json" ||
        die "the listing benchmark failed"
    echo
fi
wants read || wants proxy || exit 0

start_nginx
if wants proxy; then
    write_proxy_files
fi
for backend in $BACKENDS; do
    run_backend "$backend"
done

# --- report ------------------------------------------------------------------------------

python3 "$BENCH_DIR/report.py" \
    --rows "$ROWS" --raw "$WORK" --out-dir "$RESULTS_DIR" \
    --target read "${READ_TARGETS[@]}" --target proxy "${PROXY_TARGETS[@]}" \
    --duration "$DURATION" --warmup "$WARMUP" --threads "$THREADS" --connections "$CONNECTIONS" \
    --cores "$CORES" --commit "$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --wrk "$(wrk -v 2>&1 | head -1 | awk '{print $2}')" --nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
