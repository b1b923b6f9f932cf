#!/usr/bin/env python3
"""Self-test for server.py and a reference for its behaviour.

Starts server.py as a subprocess (once normally, once with PEER_DENY=1) and
runs the OAuth 1.0a three-legged flow against it, signing with
oauthlib.oauth1.Client (HMAC-SHA1). Exit code 0 only if every check passes.
"""

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.oauth1 import (
    SIGNATURE_TYPE_BODY,
    SIGNATURE_TYPE_QUERY,
    Client,
)

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "latchkey-consumer"
SECRET = "latchkey-consumer-secret"
CALLBACK = "http://127.0.0.1:8080/oauth/callback"
OTHER_CALLBACK = "http://localhost:9999/cb?x=1"

passed = 0
failed = 0
# The servers' stderr goes here; its path is printed if a check fails.
SERVER_LOG = tempfile.NamedTemporaryFile(prefix="oauth1-peer-", suffix=".log", delete=False)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % name)
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail))


def start(extra_env=None):
    env = dict(os.environ)
    env.update({
        "PEER_CONSUMER_KEY": KEY,
        "PEER_CONSUMER_SECRET": SECRET,
        "PEER_CALLBACK_URIS": CALLBACK + "," + OTHER_CALLBACK,
    })
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "server.py")],
        stdout=subprocess.PIPE, stderr=SERVER_LOG,
        env=env,
    )
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    if not ready:
        proc.kill()
        raise SystemExit("server did not print its ready line in 15 s")
    line = proc.stdout.readline().decode()
    info = json.loads(line)
    assert set(info) == {"base", "port"}, line
    assert info["base"] == "http://127.0.0.1:%d" % info["port"], line
    return proc, info


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "timeout"
    extra = proc.stdout.read()
    return rc, extra


class Peer:
    def __init__(self, info):
        self.base = info["base"]
        self.port = info["port"]

    def raw(self, method, url, body=None, headers=None):
        """Send exactly what is given; never follow redirects."""
        parts = urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read().decode()
        finally:
            conn.close()

    def signed(self, client, method, path, body=None, headers=None):
        uri, h, b = client.sign(self.base + path, http_method=method, body=body, headers=headers)
        return self.raw(method, uri, b, h)


def form(body):
    return dict(parse_qsl(body, keep_blank_values=True))


def three_legged(peer, callback=CALLBACK):
    c = Client(KEY, client_secret=SECRET, callback_uri=callback)
    s, h, b = peer.signed(c, "POST", "/oauth/request_token")
    if s != 200:
        raise AssertionError("request_token: %s %s" % (s, b))
    rt = form(b)
    s, h, b = peer.raw("GET", peer.base + "/oauth/authorize?" + urlencode({"oauth_token": rt["oauth_token"]}))
    return rt, s, h, b


def main_flow(peer):
    # ---- request token ------------------------------------------------------
    c = Client(KEY, client_secret=SECRET, callback_uri=CALLBACK)
    s, h, b = peer.signed(c, "POST", "/oauth/request_token")
    check("request_token 200", s == 200, (s, b))
    check("request_token content-type form",
          h.get("Content-Type", "").startswith("application/x-www-form-urlencoded"), h)
    rt = form(b)
    check("request_token body keys",
          list(rt) == ["oauth_token", "oauth_token_secret", "oauth_callback_confirmed"], b)
    check("oauth_callback_confirmed=true", rt.get("oauth_callback_confirmed") == "true", b)

    # Negative request-token cases.
    bad_cb = Client(KEY, client_secret=SECRET, callback_uri=CALLBACK + "/x")
    s, _, b = peer.signed(bad_cb, "POST", "/oauth/request_token")
    check("request_token unregistered callback -> 401", s == 401, (s, b))
    no_cb = Client(KEY, client_secret=SECRET)
    s, _, b = peer.signed(no_cb, "POST", "/oauth/request_token")
    check("request_token without oauth_callback -> 400", s == 400 and "callback" in b.lower(), (s, b))
    bad_secret = Client(KEY, client_secret="wrong", callback_uri=CALLBACK)
    s, _, b = peer.signed(bad_secret, "POST", "/oauth/request_token")
    check("request_token wrong consumer secret -> 401", s == 401, (s, b))
    bad_key = Client("someone-else", client_secret=SECRET, callback_uri=CALLBACK)
    s, _, b = peer.signed(bad_key, "POST", "/oauth/request_token")
    check("request_token unknown consumer key -> 401", s == 401, (s, b))
    other = Client(KEY, client_secret=SECRET, callback_uri=OTHER_CALLBACK)
    s, _, b = peer.signed(other, "POST", "/oauth/request_token")
    check("request_token second registered callback (with query) -> 200", s == 200, (s, b))
    s, h, _ = peer.raw("GET", peer.base + "/oauth/authorize?oauth_token=" + form(b).get("oauth_token", ""))
    loc = h.get("Location", "")
    check("authorize keeps the callback's own query",
          s == 302 and loc.startswith("http://localhost:9999/cb?x=1&oauth_token="), (s, loc))
    body_signed = Client(KEY, client_secret=SECRET, callback_uri=CALLBACK,
                         signature_type=SIGNATURE_TYPE_BODY)
    s, _, b = peer.signed(body_signed, "POST", "/oauth/request_token", body="",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    check("request_token signed in form body -> 200", s == 200, (s, b))

    # ---- authorize ----------------------------------------------------------
    s, h, b = peer.raw("GET", peer.base + "/oauth/authorize?oauth_token=" + rt["oauth_token"])
    check("authorize 302", s == 302, (s, b))
    loc = h.get("Location", "")
    check("authorize redirects to the registered callback", loc.startswith(CALLBACK + "?"), loc)
    cb = form(urlsplit(loc).query)
    check("authorize returns the same oauth_token", cb.get("oauth_token") == rt["oauth_token"], loc)
    check("authorize returns oauth_verifier", bool(cb.get("oauth_verifier")), loc)
    verifier = cb.get("oauth_verifier", "")
    s, _, b = peer.raw("GET", peer.base + "/oauth/authorize?oauth_token=nope")
    check("authorize unknown token -> 400", s == 400, (s, b))

    # ---- access token -------------------------------------------------------
    wrong_v = Client(KEY, client_secret=SECRET, resource_owner_key=rt["oauth_token"],
                     resource_owner_secret=rt["oauth_token_secret"], verifier="x" + verifier)
    s, _, b = peer.signed(wrong_v, "POST", "/oauth/access_token")
    check("access_token wrong verifier -> 401", s == 401, (s, b))
    wrong_ts = Client(KEY, client_secret=SECRET, resource_owner_key=rt["oauth_token"],
                      resource_owner_secret="wrong", verifier=verifier)
    s, _, b = peer.signed(wrong_ts, "POST", "/oauth/access_token")
    check("access_token wrong token secret -> 401", s == 401, (s, b))

    ac = Client(KEY, client_secret=SECRET, resource_owner_key=rt["oauth_token"],
                resource_owner_secret=rt["oauth_token_secret"], verifier=verifier)
    s, h, b = peer.signed(ac, "POST", "/oauth/access_token")
    check("access_token 200 (failed attempts do not burn the token)", s == 200, (s, b))
    at = form(b)
    check("access_token body keys",
          list(at) == ["oauth_token", "oauth_token_secret", "user_id"], b)
    check("access_token user_id=test-user", at.get("user_id") == "test-user", b)

    again = Client(KEY, client_secret=SECRET, resource_owner_key=rt["oauth_token"],
                   resource_owner_secret=rt["oauth_token_secret"], verifier=verifier)
    s, _, b = peer.signed(again, "POST", "/oauth/access_token")
    check("access_token reusing token+verifier -> 401", s == 401, (s, b))
    s, _, b = peer.raw("GET", peer.base + "/oauth/authorize?oauth_token=" + rt["oauth_token"])
    check("authorize after exchange -> 400", s == 400, (s, b))

    # ---- protected resource -------------------------------------------------
    def api_client(**kw):
        args = dict(client_secret=SECRET, resource_owner_key=at["oauth_token"],
                    resource_owner_secret=at["oauth_token_secret"])
        args.update(kw)
        return Client(KEY, **args)

    s, h, b = peer.signed(api_client(), "GET", "/api/me")
    check("GET /api/me 200", s == 200 and b == '{"user":"test-user"}', (s, b))
    check("GET /api/me content-type json", h.get("Content-Type") == "application/json", h)
    s, _, b = peer.signed(api_client(), "GET", "/api/me?x=1")
    check("GET /api/me?x=1 200 (query in base string)", s == 200, (s, b))
    s, _, b = peer.signed(api_client(), "GET", "/api/me?b=2&a=1&a=0&sp=a%20b&u=%C3%A9")
    check("GET /api/me with repeated/encoded query params 200", s == 200, (s, b))
    s, _, b = peer.signed(api_client(realm="Photos"), "GET", "/api/me")
    check("GET /api/me with realm in header 200", s == 200, (s, b))
    s, _, b = peer.signed(api_client(signature_type=SIGNATURE_TYPE_QUERY), "GET", "/api/me?x=1")
    check("GET /api/me signed in query 200", s == 200, (s, b))
    s, _, b = peer.signed(api_client(signature_type=SIGNATURE_TYPE_BODY), "POST", "/api/me",
                          body="y=2", headers={"Content-Type": "application/x-www-form-urlencoded"})
    check("POST /api/me signed in form body 200", s == 200, (s, b))
    s, _, b = peer.signed(api_client(), "POST", "/api/me",
                          body="y=2", headers={"Content-Type": "application/x-www-form-urlencoded"})
    check("POST /api/me header-signed with form body 200", s == 200, (s, b))

    # Host header localhost:PORT: the base string URI follows the Host header.
    c = api_client()
    uri, h, bd = c.sign("http://localhost:%d/api/me" % peer.port, http_method="GET")
    h["Host"] = "localhost:%d" % peer.port
    s, _, b = peer.raw("GET", uri, bd, h)
    check("GET /api/me signed for localhost:PORT 200", s == 200, (s, b))

    # Tampered signature: flip one character of oauth_signature.
    c = api_client()
    uri, h, bd = c.sign(peer.base + "/api/me", http_method="GET")
    auth = h["Authorization"]
    i = auth.index('oauth_signature="') + len('oauth_signature="')
    tampered = auth[:i] + ("A" if auth[i] != "A" else "B") + auth[i + 1:]
    s, _, b = peer.raw("GET", uri, None, {"Authorization": tampered})
    check("GET /api/me tampered signature -> 401",
          s == 401 and b == '{"error":"invalid_signature"}', (s, b))

    # Signed without the query, sent with one.
    uri, h, bd = api_client().sign(peer.base + "/api/me", http_method="GET")
    s, _, b = peer.raw("GET", uri + "?x=1", None, h)
    check("GET /api/me?x=1 signed without query -> 401", s == 401, (s, b))
    # Signed as GET, sent as POST.
    uri, h, bd = api_client().sign(peer.base + "/api/me", http_method="GET")
    s, _, b = peer.raw("POST", uri, None, h)
    check("signed as GET, sent as POST -> 401", s == 401, (s, b))

    # Replay: the exact same signed request twice (same nonce and timestamp).
    uri, h, bd = api_client().sign(peer.base + "/api/me", http_method="GET")
    s1, _, _ = peer.raw("GET", uri, None, h)
    s2, _, b = peer.raw("GET", uri, None, h)
    check("replayed nonce -> 401", s1 == 200 and s2 == 401, (s1, s2, b))

    old = api_client(timestamp=str(int(time.time()) - 3600))
    s, _, b = peer.signed(old, "GET", "/api/me")
    check("timestamp 1 h old -> 401", s == 401, (s, b))
    s, _, b = peer.signed(api_client(resource_owner_secret="wrong"), "GET", "/api/me")
    check("wrong access token secret -> 401", s == 401, (s, b))
    s, _, b = peer.signed(api_client(client_secret="wrong"), "GET", "/api/me")
    check("wrong consumer secret -> 401", s == 401, (s, b))
    s, _, b = peer.signed(api_client(resource_owner_key="unknown-token"), "GET", "/api/me")
    check("unknown access token -> 401", s == 401, (s, b))
    s, _, b = peer.signed(api_client(resource_owner_key=None, resource_owner_secret=None), "GET", "/api/me")
    check("consumer-only (two-legged) signature -> 401", s == 401, (s, b))
    s, _, b = peer.raw("GET", peer.base + "/api/me")
    check("no Authorization -> 401", s == 401 and b == '{"error":"invalid_signature"}', (s, b))
    s, _, b = peer.raw("GET", peer.base + "/api/me", None, {"Authorization": "Bearer abc"})
    check("Bearer Authorization -> 401", s == 401, (s, b))

    # A request token is not an access token.
    rt2, s, h, _ = three_legged(peer)
    v2 = form(urlsplit(h.get("Location", "")).query).get("oauth_verifier")
    s, _, b = peer.signed(api_client(resource_owner_key=rt2["oauth_token"],
                                     resource_owner_secret=rt2["oauth_token_secret"]), "GET", "/api/me")
    check("request token used at /api/me -> 401", s == 401, (s, b))
    # A second authorize visit replaces the verifier.
    s, h, _ = peer.raw("GET", peer.base + "/oauth/authorize?oauth_token=" + rt2["oauth_token"])
    v3 = form(urlsplit(h.get("Location", "")).query).get("oauth_verifier")
    stale = Client(KEY, client_secret=SECRET, resource_owner_key=rt2["oauth_token"],
                   resource_owner_secret=rt2["oauth_token_secret"], verifier=v2)
    s, _, b = peer.signed(stale, "POST", "/oauth/access_token")
    check("superseded verifier -> 401", s == 401 and v2 != v3, (s, b))
    fresh = Client(KEY, client_secret=SECRET, resource_owner_key=rt2["oauth_token"],
                   resource_owner_secret=rt2["oauth_token_secret"], verifier=v3)
    s, _, b = peer.signed(fresh, "POST", "/oauth/access_token")
    check("latest verifier -> 200", s == 200, (s, b))

    # ---- misc ----------------------------------------------------------------
    s, _, b = peer.raw("GET", peer.base + "/oauth/request_token")
    check("GET /oauth/request_token -> 405", s == 405, (s, b))
    s, _, b = peer.raw("GET", peer.base + "/nope")
    check("unknown path -> 404", s == 404, (s, b))

    s, _, b = peer.raw("GET", peer.base + "/test/stats")
    stats = json.loads(b)
    check("stats keys", set(stats) == {"request_tokens", "access_tokens", "api_calls_ok", "api_calls_rejected"}, b)
    check("stats request_tokens == 4", stats.get("request_tokens") == 4, b)
    check("stats access_tokens == 2", stats.get("access_tokens") == 2, b)
    check("stats api_calls_ok == 9", stats.get("api_calls_ok") == 9, b)
    check("stats api_calls_rejected == 12", stats.get("api_calls_rejected") == 12, b)
    s, _, b = peer.raw("POST", peer.base + "/test/reset")
    check("POST /test/reset zeroes counters", s == 200 and set(json.loads(b).values()) == {0}, b)


def deny_flow(peer):
    rt, s, h, b = three_legged(peer)
    loc = h.get("Location", "")
    q = form(urlsplit(loc).query)
    check("PEER_DENY authorize 302", s == 302, (s, b))
    check("PEER_DENY redirects to callback with denied=<token>",
          loc.startswith(CALLBACK + "?") and q == {"denied": rt["oauth_token"]}, loc)
    ac = Client(KEY, client_secret=SECRET, resource_owner_key=rt["oauth_token"],
                resource_owner_secret=rt["oauth_token_secret"], verifier="whatever")
    s, _, b = peer.signed(ac, "POST", "/oauth/access_token")
    check("PEER_DENY token cannot be exchanged -> 401", s == 401, (s, b))
    s, _, b = peer.raw("GET", peer.base + "/test/stats")
    stats = json.loads(b)
    check("PEER_DENY stats", stats == {"request_tokens": 1, "access_tokens": 0,
                                       "api_calls_ok": 0, "api_calls_rejected": 0}, b)


def run(extra_env, fn, label):
    proc, info = start(extra_env)
    try:
        fn(Peer(info))
    except Exception as e:  # a crash in the flow is a failure, not a traceback exit
        check("%s flow ran to completion" % label, False, repr(e))
    finally:
        rc, extra = stop(proc)
        check("%s: SIGTERM -> exit 0" % label, rc == 0, rc)
        check("%s: exactly one stdout line" % label, extra == b"", extra)


def main():
    run({}, main_flow, "main")
    run({"PEER_DENY": "1"}, deny_flow, "deny")
    SERVER_LOG.close()
    if failed:
        print("server stderr: %s" % SERVER_LOG.name)
    else:
        os.unlink(SERVER_LOG.name)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
