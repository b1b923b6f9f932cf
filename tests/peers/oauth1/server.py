#!/usr/bin/env python3
"""OAuth 1.0a (RFC 5849) provider for Latchkey's tests.

The protocol work (parameter collection, signature checks, and the
request-token, authorize, access-token and protected-resource endpoints) is
done by oauthlib. This file adds an in-memory RequestValidator and an HTTP
front end built only on the standard library.

When the server is listening, stdout gets exactly one line:
    {"base":"http://127.0.0.1:PORT","port":PORT}
Everything else goes to stderr. SIGTERM and SIGINT shut it down with exit code 0.
See README.md for the endpoints and the environment variables.
"""

import hmac
import json
import logging
import os
import signal
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlsplit, parse_qsl

from oauthlib.common import add_params_to_uri, generate_token
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)
from oauthlib.oauth1.rfc5849 import errors as oauth1_errors

USER_ID = "test-user"

# RFC 3986 "unreserved" characters. oauthlib's default allows only [A-Za-z0-9],
# which would reject the default consumer key "latchkey-consumer".
UNRESERVED = set(string.ascii_letters + string.digits + "-._~")
# Nonces are opaque strings. Many client libraries produce base64 or UUID
# nonces, so any visible ASCII character is accepted.
NONCE_CHARS = set(chr(c) for c in range(0x21, 0x7F))


def env(name, default):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


CONSUMER_KEY = env("PEER_CONSUMER_KEY", "latchkey-consumer")
CONSUMER_SECRET = env("PEER_CONSUMER_SECRET", "latchkey-consumer-secret")
CALLBACK_URIS = [
    u.strip()
    for u in env("PEER_CALLBACK_URIS", "http://127.0.0.1:8080/oauth/callback").split(",")
    if u.strip()
]
DENY = env("PEER_DENY", "0") == "1"
SIGNATURE_METHODS = tuple(
    m.strip() for m in env("PEER_SIGNATURE_METHODS", "HMAC-SHA1").split(",") if m.strip()
)
TIMESTAMP_LIFETIME = int(env("PEER_TIMESTAMP_LIFETIME", "600"))

log = logging.getLogger("oauth1-peer")


def new_token():
    # 30 characters from [A-Za-z0-9] (oauthlib's generator).
    return generate_token(30)


class Store:
    """All server state, kept in memory and guarded by one lock."""

    def __init__(self):
        self.lock = threading.RLock()
        # request token -> {client_key, secret, callback, verifier, user}
        self.request_tokens = {}
        # access token -> {client_key, secret, user}
        self.access_tokens = {}
        # (client_key, timestamp, nonce, token) -> time it was seen
        self.nonces = {}
        self.stats = {
            "request_tokens": 0,
            "access_tokens": 0,
            "api_calls_ok": 0,
            "api_calls_rejected": 0,
        }

    def bump(self, counter):
        with self.lock:
            self.stats[counter] += 1

    def snapshot(self):
        with self.lock:
            return dict(self.stats)

    def reset_stats(self):
        with self.lock:
            for k in self.stats:
                self.stats[k] = 0


STORE = Store()
DUMMY_CLIENT = "dummy-client-" + generate_token(20)
DUMMY_REQUEST_TOKEN = "dummy-request-" + generate_token(16)
DUMMY_ACCESS_TOKEN = "dummy-access-" + generate_token(17)
DUMMY_SECRET = generate_token(30)


class Validator(RequestValidator):
    """In-memory RequestValidator with a single consumer and a single user."""

    # ---- format and policy rules -------------------------------------------

    @property
    def enforce_ssl(self):
        # The peer serves plain http on 127.0.0.1.
        return False

    @property
    def allowed_signature_methods(self):
        return SIGNATURE_METHODS

    @property
    def safe_characters(self):
        return UNRESERVED

    @property
    def client_key_length(self):
        return 1, 128

    @property
    def request_token_length(self):
        return 1, 128

    @property
    def access_token_length(self):
        return 1, 128

    @property
    def verifier_length(self):
        return 1, 128

    @property
    def nonce_length(self):
        return 1, 128

    @property
    def timestamp_lifetime(self):
        return TIMESTAMP_LIFETIME

    def check_nonce(self, nonce):
        lower, upper = self.nonce_length
        return set(nonce) <= NONCE_CHARS and lower <= len(nonce) <= upper

    def check_realms(self, realms):
        # Any realm is accepted and ignored.
        return True

    # ---- dummies (used so failures take the same code path) ----------------

    @property
    def dummy_client(self):
        return DUMMY_CLIENT

    @property
    def dummy_request_token(self):
        return DUMMY_REQUEST_TOKEN

    @property
    def dummy_access_token(self):
        return DUMMY_ACCESS_TOKEN

    # ---- secrets ------------------------------------------------------------

    def get_client_secret(self, client_key, request):
        if client_key == CONSUMER_KEY:
            return CONSUMER_SECRET
        return DUMMY_SECRET

    def get_request_token_secret(self, client_key, token, request):
        with STORE.lock:
            rec = STORE.request_tokens.get(token)
            if rec and rec["client_key"] == client_key:
                return rec["secret"]
        return DUMMY_SECRET

    def get_access_token_secret(self, client_key, token, request):
        with STORE.lock:
            rec = STORE.access_tokens.get(token)
            if rec and rec["client_key"] == client_key:
                return rec["secret"]
        return DUMMY_SECRET

    def get_rsa_key(self, client_key, request):
        return None

    # ---- realms -------------------------------------------------------------

    def get_default_realms(self, client_key, request):
        return []

    def get_realms(self, token, request):
        return []

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def verify_realms(self, token, realms, request):
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    # ---- client, tokens, callback, verifier --------------------------------

    def validate_client_key(self, client_key, request):
        return client_key == CONSUMER_KEY

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        key = (client_key, timestamp, nonce, request_token or access_token or "")
        now = time.time()
        with STORE.lock:
            # Forget nonces whose timestamps are too old to pass anyway.
            if len(STORE.nonces) > 1000:
                cutoff = now - 2 * TIMESTAMP_LIFETIME
                for k in [k for k, seen in STORE.nonces.items() if seen < cutoff]:
                    del STORE.nonces[k]
            if key in STORE.nonces:
                log.info("rejected replayed nonce %r (timestamp %s)", nonce, timestamp)
                return False
            STORE.nonces[key] = now
            return True

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        # Exact string match against PEER_CALLBACK_URIS ("oob" only if listed).
        return redirect_uri in CALLBACK_URIS

    def save_request_token(self, token, request):
        with STORE.lock:
            STORE.request_tokens[token["oauth_token"]] = {
                "client_key": request.client_key,
                "secret": token["oauth_token_secret"],
                "callback": request.redirect_uri,
                "verifier": None,
                "user": None,
            }

    def verify_request_token(self, token, request):
        # Used by the authorize step: the token must exist and be unexchanged.
        with STORE.lock:
            return token in STORE.request_tokens

    def get_redirect_uri(self, token, request):
        with STORE.lock:
            return STORE.request_tokens[token]["callback"]

    def save_verifier(self, token, verifier, request):
        # Each authorize call issues a new verifier and replaces the old one.
        with STORE.lock:
            rec = STORE.request_tokens[token]
            rec["verifier"] = verifier["oauth_verifier"]
            rec["user"] = USER_ID

    def validate_request_token(self, client_key, token, request):
        with STORE.lock:
            rec = STORE.request_tokens.get(token)
            return bool(rec) and rec["client_key"] == client_key

    def validate_verifier(self, client_key, token, verifier, request):
        with STORE.lock:
            rec = STORE.request_tokens.get(token)
            if not rec or rec["client_key"] != client_key or rec["verifier"] is None:
                return False
            if not _consteq(rec["verifier"], verifier):
                return False
            request.user = rec["user"]
            return True

    def invalidate_request_token(self, client_key, request_token, request):
        with STORE.lock:
            STORE.request_tokens.pop(request_token, None)

    def save_access_token(self, token, request):
        with STORE.lock:
            STORE.access_tokens[token["oauth_token"]] = {
                "client_key": request.client_key,
                "secret": token["oauth_token_secret"],
                "user": getattr(request, "user", None) or USER_ID,
            }

    def validate_access_token(self, client_key, token, request):
        with STORE.lock:
            rec = STORE.access_tokens.get(token)
            if rec and rec["client_key"] == client_key:
                request.user = rec["user"]
                return True
            return False


def _consteq(a, b):
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class PeerAccessTokenEndpoint(AccessTokenEndpoint):
    """oauthlib's endpoint, but the body is exactly
    oauth_token=…&oauth_token_secret=…&user_id=… (oauthlib would also add an
    empty oauth_authorized_realms)."""

    def create_access_token(self, request, credentials):
        token = {
            "oauth_token": new_token(),
            "oauth_token_secret": new_token(),
        }
        token.update(credentials)
        self.request_validator.save_access_token(token, request)
        return urlencode(list(token.items()))


VALIDATOR = Validator()
REQUEST_TOKEN_EP = RequestTokenEndpoint(VALIDATOR, token_generator=new_token)
AUTHORIZATION_EP = AuthorizationEndpoint(VALIDATOR, token_generator=new_token)
ACCESS_TOKEN_EP = PeerAccessTokenEndpoint(VALIDATOR, token_generator=new_token)
RESOURCE_EP = ResourceEndpoint(VALIDATOR)
# Serialises the access-token exchange so one verifier cannot win twice.
EXCHANGE_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "latchkey-oauth1-peer"

    # ---- plumbing -----------------------------------------------------------

    def log_message(self, fmt, *args):
        sys.stderr.write("oauth1-peer: %s %s\n" % (self.address_string(), fmt % args))

    def _send(self, status, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self._send(status, json.dumps(obj, separators=(",", ":")), h)

    def _form(self, status, body, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        self._send(status, body or "", h)

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        return raw.decode("utf-8")

    def _uri(self):
        # The signature base string URI is rebuilt from the Host header the
        # client sent, so both 127.0.0.1:PORT and localhost:PORT work.
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        return "http://%s%s" % (host, self.path)

    def _headers(self):
        return {k: v for k, v in self.headers.items()}

    # ---- routing ------------------------------------------------------------

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_HEAD(self):
        self._route("HEAD")

    def _route(self, method):
        try:
            body = self._read_body()
        except (ValueError, UnicodeDecodeError):
            self._json(400, {"error": "invalid_request"})
            return
        path = urlsplit(self.path).path
        routes = {
            "/oauth/request_token": ("POST", self._request_token),
            "/oauth/authorize": ("GET", self._authorize),
            "/oauth/access_token": ("POST", self._access_token),
            "/api/me": ("GET", self._api_me),
            "/test/stats": ("GET", self._stats),
            "/test/reset": ("POST", self._reset),
        }
        route = routes.get(path)
        if route is None:
            self._json(404, {"error": "not_found"})
            return
        allowed, fn = route
        # /api/me also accepts POST so body-signed (form) requests can be tested.
        ok_methods = {allowed, "HEAD"} if allowed == "GET" else {allowed}
        if path == "/api/me":
            ok_methods.add("POST")
        if method not in ok_methods:
            self._json(405, {"error": "method_not_allowed"}, {"Allow": ", ".join(sorted(ok_methods))})
            return
        try:
            fn(method, body)
        except Exception:  # keep serving; report on stderr
            log.exception("handler failed")
            self._json(500, {"error": "server_error"})

    # ---- endpoints ----------------------------------------------------------

    def _request_token(self, method, body):
        try:
            headers, resp, status = REQUEST_TOKEN_EP.create_request_token_response(
                self._uri(), http_method=method, body=body, headers=self._headers())
        except ValueError as e:  # e.g. a non-OAuth Authorization header
            headers, resp, status = {}, urlencode({"error": "invalid_request", "error_description": str(e)}), 400
        if status == 200:
            STORE.bump("request_tokens")
        self._form(status, resp, headers)

    def _authorize(self, method, body):
        uri = self._uri()
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        token = query.get("oauth_token")
        if not token or not VALIDATOR.verify_request_token(token, None):
            self._form(400, urlencode({"error": "invalid_request",
                                       "error_description": "unknown or used oauth_token"}))
            return
        if DENY:
            with STORE.lock:
                rec = STORE.request_tokens.pop(token, None)
            if rec is None:
                self._form(400, urlencode({"error": "invalid_request",
                                           "error_description": "unknown or used oauth_token"}))
                return
            callback = rec["callback"]
            if callback == "oob":
                self._form(200, urlencode({"denied": token}))
            else:
                self._send(302, "", {"Location": add_params_to_uri(callback, [("denied", token)])})
            return
        try:
            headers, resp, status = AUTHORIZATION_EP.create_authorization_response(
                uri, http_method=method, body=body, headers=self._headers(), realms=[])
        except oauth1_errors.OAuth1Error as e:
            self._form(e.status_code, e.urlencoded)
            return
        except (ValueError, KeyError) as e:
            self._form(400, urlencode({"error": "invalid_request", "error_description": str(e)}))
            return
        if status == 302:
            self._send(302, "", headers)
        else:  # oob: the verifier is in the body
            self._form(status, resp, headers)

    def _access_token(self, method, body):
        try:
            with EXCHANGE_LOCK:
                headers, resp, status = ACCESS_TOKEN_EP.create_access_token_response(
                    self._uri(), http_method=method, body=body, headers=self._headers(),
                    credentials={"user_id": USER_ID})
        except ValueError as e:
            headers, resp, status = {}, urlencode({"error": "invalid_request", "error_description": str(e)}), 400
        if status == 200:
            STORE.bump("access_tokens")
        self._form(status, resp, headers)

    def _api_me(self, method, body):
        try:
            valid, request = RESOURCE_EP.validate_protected_resource_request(
                self._uri(), http_method=method, body=body, headers=self._headers())
        except ValueError:
            valid, request = False, None
        if valid:
            STORE.bump("api_calls_ok")
            self._json(200, {"user": request.user})
        else:
            STORE.bump("api_calls_rejected")
            if request is not None:
                log.info("api/me rejected: %s", dict(request.validator_log))
            self._json(401, {"error": "invalid_signature"},
                       {"WWW-Authenticate": 'OAuth realm="latchkey-oauth1-peer"'})

    def _stats(self, method, body):
        self._json(200, STORE.snapshot())

    def _reset(self, method, body):
        STORE.reset_stats()
        self._json(200, STORE.snapshot())


def main():
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if env("PEER_DEBUG", "0") == "1" else logging.INFO,
        format="oauth1-peer: %(name)s %(levelname)s %(message)s",
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    log.info("listening on 127.0.0.1:%d consumer=%s callbacks=%s deny=%s methods=%s",
             port, CONSUMER_KEY, CALLBACK_URIS, DENY, ",".join(SIGNATURE_METHODS))
    sys.stdout.write(json.dumps({"base": "http://127.0.0.1:%d" % port, "port": port},
                                separators=(",", ":")) + "\n")
    sys.stdout.flush()

    while not stop.wait(0.5):
        pass
    log.info("shutting down")
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
