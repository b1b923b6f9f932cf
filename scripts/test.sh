#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (unit, property, storage
# conformance, HTTP integration, OAuth against a real authorization server, CLI end to end).
# Needs Node.js and Python 3 (for the OAuth peers, installed here from npm and PyPI), and
# Debian's chromium for the browser test (installed here with apt-get when missing).
#
# The PostgreSQL half of the suite runs when LATCHKEY_TEST_POSTGRES_URL points at a server
# where the user may create databases, e.g.
#   LATCHKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/test.sh
# Each test creates (and drops) its own database there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${LATCHKEY_TEST_POSTGRES_URL:-}" ]; then
  echo "==> PostgreSQL tests enabled (${LATCHKEY_TEST_POSTGRES_URL%%@*}@…)"
else
  echo "==> LATCHKEY_TEST_POSTGRES_URL not set: running the SQLite half only"
fi

echo "==> installing the OAuth test peer (oidc-provider, tests/peers/oidc)"
npm ci --prefix tests/peers/oidc --no-audit --no-fund --loglevel=error
echo "==> installing the quirky OAuth 2 peer (oauth2-mock-server, tests/peers/mock)"
npm ci --prefix tests/peers/mock --no-audit --no-fund --loglevel=error
echo "==> installing the official client SDK (@pipedream/sdk, tests/peers/sdk)"
npm ci --prefix tests/peers/sdk --no-audit --no-fund --loglevel=error
echo "==> installing the browser driver (playwright-core, tests/browser)"
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

# The browser test drives Debian's Chromium (playwright cannot download a browser here).
if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Debian's chromium for the browser test"
  as_root=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "/usr/bin/chromium is missing and installing it needs root: apt-get install chromium" >&2
      exit 1
    fi
    as_root=sudo
  fi
  install_chromium() {
    $as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends chromium >/dev/null
  }
  # A fresh container has no package lists: update them when the first try cannot find it.
  if ! install_chromium; then
    $as_root apt-get update -qq
    install_chromium
  fi
fi

echo "==> installing the OAuth 1.0a test peer (oauthlib, tests/peers/oauth1)"
if [ ! -x tests/peers/oauth1/.venv/bin/python ]; then
  python3 -m venv tests/peers/oauth1/.venv
fi
tests/peers/oauth1/.venv/bin/pip install --quiet --disable-pip-version-check -r tests/peers/oauth1/requirements.txt

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# cargo-nextest (on the machine, see README) runs each test in its own process with a
# per-test time limit (.config/nextest.toml); plain `cargo test` is the fallback.
if cargo nextest --version >/dev/null 2>&1; then
  profile=default
  if [ "${CI:-}" = "true" ]; then profile=ci; fi
  echo "==> cargo nextest run (profile ${profile})"
  cargo nextest run --workspace --locked --profile "$profile"
  echo "==> cargo test --doc"
  cargo test --workspace --locked --doc
else
  echo "==> cargo test (cargo-nextest not found: no per-test time limit)"
  cargo test --workspace --locked
fi

echo "==> all tests passed"
