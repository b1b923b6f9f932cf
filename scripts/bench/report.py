#!/usr/bin/env python3
"""Table, target lines and bench-results/<scenario>.json for scripts/bench.sh.

Reads the tab-separated rows bench.sh wrote (one per scenario, method and backend) and the raw
wrk reports. Writes one JSON file per scenario present (read.json, proxy.json).
Exit status: 1 if a scenario is broken (non-2xx responses, socket errors, server died),
0 otherwise -- a missed performance target is reported as FAIL but is not an error.
"""

import argparse
import datetime
import json
import math
import os
import sys

COLUMNS = ["scenario", "method", "backend", "status", "note", "body_bytes", "account_id"]
WRK = ["rps", "p50_ms", "p99_ms", "requests", "non_2xx", "socket_errors"]

# What each scenario measures and what its baseline is, for the JSON and the legend.
SCENARIOS = {
    "read": {
        "request": "GET /v1/accounts/{id}?include_credentials=1",
        "baseline_name": "nginx static file",
        "baseline": {"worker_processes": "auto", "access_log": "off",
                     "what": "the same JSON body as a static file, same path and headers"},
    },
    "proxy": {
        "request": "{method} /v1/accounts/{id}/proxy/{base64url('/data.json')} through a keys "
                   "app whose base URL is the upstream; POST sends a 1 KiB JSON body",
        "baseline_name": "nginx proxy_pass",
        "baseline": {"worker_processes": "auto", "access_log": "off",
                     "what": "nginx reverse-proxying (proxy_pass, HTTP/1.1, keepalive 64) to the "
                             "same upstream with a static Authorization header",
                     "upstream": "nginx serving a 1 KiB JSON file, 401 without the credential; "
                                 "the same nginx instance as the baseline proxy"},
        "note": "every proxied request writes an audit record (a database write) before it is "
                "sent",
    },
}


def num(s):
    try:
        v = float(s)
    except ValueError:
        return None
    return None if math.isnan(v) else v


def read_rows(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != len(COLUMNS) + 2 * len(WRK) + 1:
                sys.exit(f"report: malformed row: {fields!r}")
            row = dict(zip(COLUMNS, fields[: len(COLUMNS)]))
            rest = fields[len(COLUMNS):]
            row["latchkey"] = dict(zip(WRK, map(num, rest[: len(WRK)])))
            row["nginx"] = dict(zip(WRK, map(num, rest[len(WRK): 2 * len(WRK)])))
            for side in ("latchkey", "nginx"):
                for k in ("requests", "non_2xx", "socket_errors"):
                    if row[side][k] is not None:
                        row[side][k] = int(row[side][k])
            row["server_log_warnings"] = int(rest[-1])
            row["body_bytes"] = int(row["body_bytes"])
            rows.append(row)
    return rows


def label(row):
    return row["scenario"] if row["scenario"] == "read" else f"{row['scenario']} {row['method']}"


def diff(a, b):
    return a - b if a is not None and b is not None else None


def judge(row, rps_target, p99_target):
    """Fill in ratios, added latency, errors and per-target verdicts for one row."""
    if row["status"] == "skipped":
        row.update(rps_ratio=None, p99_ratio=None, added_p50_ms=None, added_p99_ms=None,
                   targets=None, verdict="SKIP")
        return
    errors = [row["note"]] if row["note"] else []
    for side in ("latchkey", "nginx"):
        m = row[side]
        if m["rps"] is None or m["p99_ms"] is None:
            errors.append(f"{side}: could not parse wrk's report")
        if m["non_2xx"]:
            errors.append(f"{side}: {int(m['non_2xx'])} non-2xx responses")
        if m["socket_errors"]:
            errors.append(f"{side}: {int(m['socket_errors'])} socket errors")
    lk, ng = row["latchkey"], row["nginx"]
    rps_ratio = lk["rps"] / ng["rps"] if lk["rps"] is not None and ng["rps"] else None
    p99_ratio = lk["p99_ms"] / ng["p99_ms"] if lk["p99_ms"] is not None and ng["p99_ms"] else None
    row["rps_ratio"] = rps_ratio
    row["p99_ratio"] = p99_ratio
    # The latency Latchkey adds over the baseline (negative: Latchkey is faster).
    row["added_p50_ms"] = diff(lk["p50_ms"], ng["p50_ms"])
    row["added_p99_ms"] = diff(lk["p99_ms"], ng["p99_ms"])
    row["errors"] = errors
    row["targets"] = {
        "rps_ratio": {"min": rps_target, "pass": rps_ratio is not None and rps_ratio >= rps_target},
        "p99_ratio": {"max": p99_target, "pass": p99_ratio is not None and p99_ratio <= p99_target},
    }
    if errors:
        row["status"] = "error"
        row["verdict"] = "ERROR"
    elif all(t["pass"] for t in row["targets"].values()):
        row["verdict"] = "PASS"
    else:
        row["verdict"] = "FAIL"


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_table(rows):
    head = ["scenario", "backend", "rps", "p50 ms", "p99 ms", "base rps", "base p50", "base p99",
            "rps ratio", "p99 ratio", "+p50 ms", "+p99 ms", "target"]
    body = []
    for r in rows:
        lk, ng = r["latchkey"], r["nginx"]
        body.append([label(r), r["backend"],
                     fmt(lk["rps"], ".0f"), fmt(lk["p50_ms"], ".2f"), fmt(lk["p99_ms"], ".2f"),
                     fmt(ng["rps"], ".0f"), fmt(ng["p50_ms"], ".2f"), fmt(ng["p99_ms"], ".2f"),
                     fmt(r["rps_ratio"], ".2f"), fmt(r["p99_ratio"], ".2f"),
                     fmt(r["added_p50_ms"], "+.2f"), fmt(r["added_p99_ms"], "+.2f"),
                     r["verdict"]])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    line = lambda cells: " | ".join(  # noqa: E731
        str(c).ljust(w) if i < 2 or i == len(cells) - 1 else str(c).rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(head).rstrip())
    print("-+-".join("-" * w for w in widths))
    for b in body:
        print(line(b).rstrip())
    present = sorted({r["scenario"] for r in rows}, key=list(SCENARIOS).index)
    print("base = " + "; ".join(f"{s}: {SCENARIOS[s]['baseline_name']}" for s in present)
          + " (same run); +p50/+p99 = latency Latchkey adds over the baseline")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", required=True)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--target", nargs=3, action="append", required=True,
                    metavar=("SCENARIO", "RPS_RATIO_MIN", "P99_RATIO_MAX"))
    for k in ("duration", "warmup", "commit", "wrk", "nginx"):
        ap.add_argument(f"--{k}", required=True)
    for k in ("threads", "connections", "cores"):
        ap.add_argument(f"--{k}", type=int, required=True)
    a = ap.parse_args()
    targets = {s: (float(rps), float(p99)) for s, rps, p99 in a.target}

    rows = read_rows(a.rows)
    for r in rows:
        if r["scenario"] not in SCENARIOS or r["scenario"] not in targets:
            sys.exit(f"report: no targets for scenario {r['scenario']!r}")
        judge(r, *targets[r["scenario"]])
        for side in ("latchkey", "nginx"):
            raw = os.path.join(a.raw, f"wrk-{r['scenario']}-{r['method']}-{r['backend']}-{side}.txt")
            if os.path.exists(raw):
                with open(raw, encoding="utf-8", errors="replace") as f:
                    r[side]["wrk_report"] = f.read()

    print_table(rows)
    print()
    for r in rows:
        b = f"{label(r)} {r['backend']}"
        if r["verdict"] == "SKIP":
            print(f"SKIP  {b}: {r['note']}")
            continue
        for e in r.get("errors", []):
            print(f"ERROR {b}: {e}")
        t = r["targets"]
        base = SCENARIOS[r["scenario"]]["baseline_name"]
        print(f"{'PASS' if t['rps_ratio']['pass'] else 'FAIL'}  {b}: rps ratio "
              f"{fmt(r['rps_ratio'], '.2f')} >= {t['rps_ratio']['min']:.2f} (Latchkey req/s vs "
              f"{base}, {a.connections} connections)")
        print(f"{'PASS' if t['p99_ratio']['pass'] else 'FAIL'}  {b}: p99 ratio "
              f"{fmt(r['p99_ratio'], '.2f')} <= {t['p99_ratio']['max']:.2f} (Latchkey p99 vs "
              f"{base} p99)")
        if r["server_log_warnings"]:
            print(f"NOTE  {b}: the server logged {r['server_log_warnings']} warn/error lines "
                  f"(see bench-results/{r['scenario']}-{r['backend']}-server.log)")
    if a.connections != 64:
        print(f"NOTE  the targets are defined at 64 connections; this run used {a.connections}")

    print()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    for scenario, meta in SCENARIOS.items():
        mine = [r for r in rows if r["scenario"] == scenario]
        if not mine:
            continue
        rps_target, p99_target = targets[scenario]
        doc = {
            "benchmark": scenario,
            "request": meta["request"],
            "date": date,
            "commit": a.commit,
            "machine": {"cores": a.cores, "note": "wrk, the server and PostgreSQL share the cores"},
            "load": {"tool": f"wrk {a.wrk}", "threads": a.threads, "connections": a.connections,
                     "duration": a.duration, "warmup": a.warmup},
            "baseline": {"server": a.nginx, **meta["baseline"]},
            "targets": {"rps_ratio_min": rps_target, "p99_ratio_max": p99_target,
                        "connections": 64},
            **({"note": meta["note"]} if "note" in meta else {}),
            "scenarios": mine,
        }
        out = os.path.join(a.out_dir, f"{scenario}.json")
        os.makedirs(a.out_dir, exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"wrote {out}")
    return 1 if any(r["verdict"] == "ERROR" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
