# shellcheck shell=bash
# Helpers for scripts/bench.sh. Sourced, not run: relies on the caller's `set -euo pipefail`
# and on the globals WORK (temp dir), BENCH_DIR (this directory) and the *_PID variables.

log() { printf '%s\n' "$*" >&2; }
die() {
    log "bench: error: $*"
    exit 1
}

# --- tools -----------------------------------------------------------------------------

# Install the Debian packages that provide missing commands. `apt-get update` only when the
# first install fails: the package lists are usually fresh enough and updating is slow.
ensure_debs() { # ensure_debs CMD=PKG[|ALT] ...
    local pair cmd pkgs missing=()
    for pair in "$@"; do
        cmd=${pair%%=*}
        pkgs=${pair#*=}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkgs")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
    local sudo=()
    [[ $EUID -ne 0 ]] && sudo=(sudo)
    local p first=() alt=()
    for p in "${missing[@]}"; do
        first+=("${p%%|*}")                       # e.g. nginx-light
        alt+=("${p##*|}")                         # e.g. nginx, if -light is gone
    done
    log "bench: installing ${first[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y -q "${first[@]}" >"$WORK/apt.log" 2>&1 && return 0
    log "bench: install failed; running apt-get update and retrying"
    "${sudo[@]}" apt-get update -q >>"$WORK/apt.log" 2>&1 || true
    "${sudo[@]}" apt-get install -y -q "${first[@]}" >>"$WORK/apt.log" 2>&1 && return 0
    "${sudo[@]}" apt-get install -y -q "${alt[@]}" >>"$WORK/apt.log" 2>&1 && return 0
    tail -20 "$WORK/apt.log" >&2
    die "could not install ${first[*]}"
}

free_port() {
    # Bind to port 0 and let the kernel choose; the tiny race before the server binds is
    # harmless on a bench machine.
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- processes -------------------------------------------------------------------------

# Stop a child we started: TERM (graceful shutdown), then KILL after 10 s. Never by name.
stop_pid() { # stop_pid PID
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

wait_http() { # wait_http URL PID LOG: until URL answers 2xx, or PID dies, or 30 s pass
    local url=$1 pid=$2 logfile=$3 i
    for ((i = 0; i < 300; i++)); do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -30 "$logfile" >&2 || true
            die "process $pid exited before $url answered"
        fi
        sleep 0.1
    done
    tail -30 "$logfile" >&2 || true
    die "$url did not answer within 30 s"
}

# --- nginx -----------------------------------------------------------------------------

# The credential the proxy benchmark's upstream expects: the account's api_key field on the
# Latchkey side, a static header in the nginx proxy baseline.
BENCH_UPSTREAM_KEY=bench-key

write_nginx_conf() { # write_nginx_conf PREFIX ROOT PORT UPSTREAM_PORT PROXY_PORT > conf
    local prefix=$1 root=$2 port=$3 upstream_port=$4 proxy_port=$5 temp="" m v
    v=$(nginx -V 2>&1)
    temp+="    client_body_temp_path $prefix/tmp/client_body;"$'\n'
    # Only the modules this build has: nginx rejects a directive of a missing module.
    for m in proxy fastcgi uwsgi scgi; do
        [[ $v == *"--without-http_${m}_module"* ]] || temp+="    ${m}_temp_path $prefix/tmp/$m;"$'\n'
    done
    # `|` as the sed delimiter: paths contain `/`; temp dirs from mktemp never contain `|`.
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@ROOT@|$root|g" -e "s|@PORT@|$port|g" \
        -e "s|@UPSTREAM_PORT@|$upstream_port|g" -e "s|@PROXY_PORT@|$proxy_port|g" \
        -e "s|@UPSTREAM_KEY@|$BENCH_UPSTREAM_KEY|g" \
        "$BENCH_DIR/nginx.conf.tmpl" |
        python3 -c 'import sys; t=sys.argv[1]; sys.stdout.write(sys.stdin.read().replace("@TEMP_PATHS@\n", t))' "$temp"
}

# Sets NGINX_PID and the ports of its three servers (see nginx.conf.tmpl): NGINX_PORT serves
# $WORK/www (the read baseline), NGINX_UPSTREAM_PORT serves $WORK/www/upstream behind the
# credential check (the proxy upstream), NGINX_PROXY_PORT proxies to it (the proxy baseline).
start_nginx() {
    local prefix=$WORK/nginx
    mkdir -p "$prefix/tmp" "$WORK/www/upstream"
    # nginx workers drop to `nobody` when started as root: let them traverse the temp dir
    # (0711, not listable) and read the document root, but nothing else in it.
    chmod 0711 "$WORK"
    chmod 0755 "$WORK/www" "$WORK/www/upstream"
    NGINX_PORT=$(free_port)
    NGINX_UPSTREAM_PORT=$(free_port)
    NGINX_PROXY_PORT=$(free_port)
    write_nginx_conf "$prefix" "$WORK/www" "$NGINX_PORT" "$NGINX_UPSTREAM_PORT" "$NGINX_PROXY_PORT" \
        >"$prefix/nginx.conf"
    # -e: keep nginx away from the packaged /var/log/nginx/error.log before it reads the conf.
    nginx -t -q -e "$prefix/error.log" -p "$prefix" -c "$prefix/nginx.conf" ||
        die "nginx rejected $prefix/nginx.conf"
    echo ok >"$WORK/www/ready"
    nginx -e "$prefix/error.log" -p "$prefix" -c "$prefix/nginx.conf" &
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$NGINX_PORT/ready" "$NGINX_PID" "$prefix/error.log"
}

# --- Latchkey --------------------------------------------------------------------------

# Run the latchkey binary with the scenario's settings (LK_* globals set by the caller).
# Every run may proxy to the loopback upstream (egress refuses private ranges unless listed)
# without the per-workspace proxy rate limit (1000 per 5 minutes would throttle wrk); neither
# setting touches the credential read.
# `lk --exec ...` replaces the current (sub)shell with the server: see start_latchkey.
lk() {
    local exec=()
    if [[ ${1:-} == --exec ]]; then
        exec=(exec)
        shift
    fi
    "${exec[@]}" env LATCHKEY_DATA_DIR="$LK_DATA_DIR" \
        LATCHKEY_MASTER_KEY="$LK_MASTER_KEY" \
        ${LK_DATABASE_URL:+"LATCHKEY_DATABASE_URL=$LK_DATABASE_URL"} \
        LATCHKEY_EGRESS_ALLOW=127.0.0.0/8 \
        LATCHKEY_PROXY_RATE_LIMIT=0 \
        LATCHKEY_LOG=warn \
        "$LATCHKEY_BIN" "$@"
}

start_latchkey() { # start_latchkey [LOGFILE]: sets LK_PID, LK_PORT, LK_LOG (default $LK_DATA_DIR/server.log)
    LK_LOG=${1:-$LK_DATA_DIR/server.log}
    LK_PORT=$(free_port)
    # --exec matters: `lk ... &` forks a subshell to run the function, so $! is that subshell;
    # without exec, TERM would kill the subshell and orphan the server. With exec the subshell
    # becomes env, which execs latchkey, so $! is the server itself.
    lk --exec serve --listen "127.0.0.1:$LK_PORT" >"$LK_LOG" 2>&1 &
    LK_PID=$!
    wait_http "http://127.0.0.1:$LK_PORT/readyz" "$LK_PID" "$LK_LOG"
}

json_field() { # json_field PATH < json: PATH like data.id
    python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}

# --- PostgreSQL ------------------------------------------------------------------------

pg_available() {
    command -v psql >/dev/null 2>&1 &&
        PGCONNECT_TIMEOUT=3 psql "$BENCH_PG_URL/postgres" -Atqc 'select 1' >/dev/null 2>&1
}

pg_sql() { psql "$BENCH_PG_URL/postgres" -v ON_ERROR_STOP=1 -Atqc "$1" >/dev/null; }

# --- wrk -------------------------------------------------------------------------------

# Extra arguments go to wrk as they are (e.g. -s post.lua).
run_wrk() { # run_wrk URL OUTFILE [WRK_ARG...]: warm-up run (discarded), then the measured run
    local url=$1 out=$2
    shift 2
    local args=(-t"$THREADS" -c"$CONNECTIONS" --latency -H "Authorization: Bearer $LK_API_KEY" "$@")
    # Warm-up: fills caches, connection pools, page cache; its numbers are thrown away.
    wrk "${args[@]}" -d"$WARMUP" "$url" >"$out.warmup" 2>&1 || die "wrk warm-up failed: $(cat "$out.warmup")"
    wrk "${args[@]}" -d"$DURATION" "$url" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
}

# Print "rps p50_ms p99_ms requests non2xx socket_errors" from a wrk --latency report.
# wrk prints latencies as e.g. 812.00us, 3.45ms, 1.02s, 1.50m; all are converted to ms.
# wrk's "Non-2xx or 3xx responses" line counts status >= 400 and is absent when zero.
parse_wrk() { # parse_wrk FILE
    awk '
        function ms(v,   n, u) {
            n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n / 1000
            if (u == "ms") return n
            if (u == "s")  return n * 1000
            if (u == "m")  return n * 60000
            if (u == "h")  return n * 3600000
            return "nan"
        }
        $1 == "50%"                   { p50 = ms($2) }
        $1 == "99%"                   { p99 = ms($2) }
        /^Requests\/sec:/             { rps = $2 }
        / requests in /               { req = $1 }
        /Non-2xx or 3xx responses:/   { bad = $NF }
        /Socket errors:/ {            # "Socket errors: connect 0, read 0, write 0, timeout 0"
            for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { x = $i; sub(/,/, "", x); se += x }
        }
        END {
            if (rps == "" || p50 == "" || p99 == "") { print "nan nan nan 0 0 0"; exit }
            printf "%s %s %s %d %d %d\n", rps, p50, p99, req, bad, se
        }' "$1"
}
