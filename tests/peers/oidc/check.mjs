// Self-test for the oidc-provider peer: `node check.mjs` (exit 0 = all passed).
// It starts server.mjs as a child process and drives every flow headlessly, the
// way the Rust tests must: no browser, redirects followed by hand with a cookie
// jar. It doubles as executable documentation of the peer's behaviour.

import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import { once } from 'node:events';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VERBOSE = process.argv.includes('-v') || process.env.CHECK_VERBOSE === '1';

// ---------------------------------------------------------------- results ---
const results = [];
function check(name, ok, detail) {
  results.push({ name, ok: !!ok, detail });
  const line = `${ok ? 'PASS' : 'FAIL'}  ${name}${(!ok || VERBOSE) && detail !== undefined ? `  -- ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`;
  console.log(line);
  return !!ok;
}
const note = (msg) => console.log(`      ${msg}`);

// ------------------------------------------------------------------- peer ---
async function startPeer(env = {}) {
  const child = spawn(process.execPath, [path.join(HERE, 'server.mjs')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const stdoutLines = [];
  const rl = createInterface({ input: child.stdout });
  const first = new Promise((resolve, reject) => {
    rl.on('line', (l) => { stdoutLines.push(l); if (stdoutLines.length === 1) resolve(l); });
    child.once('exit', (code) => reject(new Error(`peer exited early (${code}): ${stderr}`)));
    setTimeout(() => reject(new Error(`peer did not start in 15s: ${stderr}`)), 15000).unref();
  });
  const line = await first;
  const info = JSON.parse(line);
  return {
    ...info,
    child,
    line,
    stdoutLines,
    get stderr() { return stderr; },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code, signal] = await once(child, 'exit');
      return signal ?? code;
    },
  };
}

// -------------------------------------------------------------- cookie jar ---
// Minimal RFC 6265 jar: name+path keyed, path-prefix matching, Max-Age/Expires removal.
class Jar {
  constructor() { this.cookies = new Map(); }

  store(res, url) {
    const set = res.headers.getSetCookie();
    const names = [];
    for (const sc of set) {
      const [pair, ...attrs] = sc.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let cpath = new URL(url).pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (/^path$/i.test(k)) cpath = v;
        if (/^max-age$/i.test(k) && Number(v) <= 0) expired = true;
        if (/^expires$/i.test(k) && Date.parse(v) <= Date.now()) expired = true;
      }
      const key = `${name}|${cpath}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path: cpath });
      names.push(`${name}${expired ? '(deleted)' : ''}@${cpath}`);
    }
    return names;
  }

  header(url) {
    const p = new URL(url).pathname;
    const out = [];
    for (const c of this.cookies.values()) {
      if (p === c.path || p.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/') {
        out.push(`${c.name}=${c.value}`);
      }
    }
    return out.join('; ');
  }
}

// ---------------------------------------------------------------- helpers ---
const b64url = (buf) => Buffer.from(buf).toString('base64url');
function pkcePair() {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function form(url, params, { auth } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (auth) headers.authorization = auth;
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(params) });
  const text = await res.text();
  let body;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  return { status: res.status, body, headers: res.headers };
}

async function getJson(url, headers = {}) {
  const res = await fetch(url, { headers: { accept: 'application/json', ...headers } });
  const text = await res.text();
  let body;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  return { status: res.status, body, headers: res.headers };
}

const apiMe = (peer, token) => getJson(`${peer.issuer}/api/me`, token ? { authorization: `Bearer ${token}` } : {});

/**
 * Walk the authorization redirect chain by hand (redirect: 'manual') until the
 * Location points at the client's redirect_uri. Returns the callback params and
 * a trace of every hop (status, path, cookies set).
 */
async function authorize(peer, {
  clientId, redirectUri, scope = 'openid api:read', extra = {}, jar = new Jar(), pkce = pkcePair(),
}) {
  const state = b64url(crypto.randomBytes(12));
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    ...(pkce ? { code_challenge: pkce.challenge, code_challenge_method: 'S256' } : {}),
    ...extra,
  });
  let url = `${peer.issuer}/auth?${params}`;
  const hops = [];
  for (let i = 0; i < 12; i += 1) {
    const cookie = jar.header(url);
    const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    const setCookies = jar.store(res, url);
    const location = res.headers.get('location');
    const u = new URL(url);
    hops.push({ status: res.status, path: u.pathname, sentCookies: cookie ? cookie.split('; ').map((c) => c.split('=')[0]) : [], setCookies, location: location && new URL(location, url).pathname });
    await res.arrayBuffer();
    if (res.status < 300 || res.status >= 400 || !location) {
      throw new Error(`authorization chain stopped at ${url} with ${res.status}: ${JSON.stringify(hops)}`);
    }
    const next = new URL(location, url).href;
    if (next.startsWith(redirectUri)) {
      const cb = new URL(next);
      return { callback: Object.fromEntries(cb.searchParams), state, hops, jar, pkce, redirects: hops.length };
    }
    url = next;
  }
  throw new Error(`too many redirects: ${JSON.stringify(hops)}`);
}

// ------------------------------------------------------------------- main ---
const CLIENT = 'latchkey-test';
const SECRET = 'latchkey-test-secret';
const REDIRECT = 'http://127.0.0.1:8080/oauth/callback';
const peers = [];

async function mainPeer() {
  const peer = await startPeer({});
  peers.push(peer);
  const I = peer.issuer;
  check('stdout line is exactly {"issuer","port"}', peer.line === JSON.stringify({ issuer: `http://127.0.0.1:${peer.port}`, port: peer.port }), peer.line);

  // --- discovery
  const disco = await getJson(`${I}/.well-known/openid-configuration`);
  const d = disco.body;
  check('discovery 200', disco.status === 200, disco.status);
  check('discovery issuer matches', d.issuer === I, d.issuer);
  check('discovery endpoints', d.authorization_endpoint === `${I}/auth` && d.token_endpoint === `${I}/token`
    && d.revocation_endpoint === `${I}/token/revocation` && d.introspection_endpoint === `${I}/token/introspection`, d);
  check('discovery advertises RFC 9207 iss', d.authorization_response_iss_parameter_supported === true);
  check('discovery S256 only', JSON.stringify(d.code_challenge_methods_supported) === '["S256"]', d.code_challenge_methods_supported);
  check('discovery scopes', ['openid', 'offline_access', 'api:read', 'api:write'].every((s) => d.scopes_supported.includes(s)), d.scopes_supported);
  check('discovery grant types', ['authorization_code', 'refresh_token', 'client_credentials'].every((g) => d.grant_types_supported.includes(g)), d.grant_types_supported);
  const asMeta = await getJson(`${I}/.well-known/oauth-authorization-server`);
  check('RFC 8414 metadata also served', asMeta.status === 200 && asMeta.body.issuer === I, asMeta.status);

  // --- authorization code + PKCE
  const a = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT, scope: 'openid api:read api:write' });
  note(`authorization chain (${a.redirects} redirects): ${a.hops.map((h) => `${h.status} ${h.path} -> ${h.location} set[${h.setCookies.join(',')}]`).join('  |  ')}`);
  check('authorize: 5 redirects (login + consent)', a.redirects === 5, a.redirects);
  check('authorize: code returned', typeof a.callback.code === 'string' && a.callback.code.length > 10, a.callback);
  check('authorize: state echoed', a.callback.state === a.state, a.callback);
  check('authorize: iss (RFC 9207) returned and equals issuer', a.callback.iss === I, a.callback);

  // --- token exchange (client_secret_basic)
  const ex = await form(`${I}/token`, {
    grant_type: 'authorization_code', code: a.callback.code, redirect_uri: REDIRECT, code_verifier: a.pkce.verifier,
  }, { auth: basic(CLIENT, SECRET) });
  check('token exchange 200', ex.status === 200, ex);
  note(`token response keys: ${Object.keys(ex.body ?? {}).join(', ')}; scope="${ex.body?.scope}" expires_in=${ex.body?.expires_in}`);
  check('token exchange: bearer + expires_in 3600', ex.body.token_type === 'Bearer' && ex.body.expires_in === 3600, ex.body);
  check('token exchange: refresh_token issued without offline_access (ALWAYS_ISSUE_REFRESH=1)', typeof ex.body.refresh_token === 'string', ex.body);
  check('token exchange: access token is opaque (not a JWT)', ex.body.access_token.split('.').length === 1, ex.body.access_token);
  check('token exchange: id_token present (openid requested)', typeof ex.body.id_token === 'string');
  check('token exchange: scope lists the API scopes', ex.body.scope?.split(' ').includes('api:read'), ex.body.scope);
  const cacheControl = ex.headers.get('cache-control');
  check('token response Cache-Control: no-store', /no-store/.test(cacheControl ?? ''), cacheControl);

  // --- resource server
  let me = await apiMe(peer, ex.body.access_token);
  check('GET /api/me with access token -> 200', me.status === 200 && me.body.sub === 'test-user' && me.body.scope.includes('api:read'), me);
  me = await apiMe(peer, undefined);
  check('GET /api/me without token -> 401 invalid_token', me.status === 401 && me.body.error === 'invalid_token', me);
  me = await apiMe(peer, 'not-a-token');
  check('GET /api/me with garbage token -> 401 invalid_token', me.status === 401 && me.body.error === 'invalid_token', me);

  // --- refresh + rotation + reuse detection
  const RT1 = ex.body.refresh_token;
  const r1 = await form(`${I}/token`, { grant_type: 'refresh_token', refresh_token: RT1 }, { auth: basic(CLIENT, SECRET) });
  check('refresh 200', r1.status === 200, r1);
  const RT2 = r1.body.refresh_token;
  check('refresh rotates (new refresh_token)', typeof RT2 === 'string' && RT2 !== RT1, r1.body);
  check('refresh: new access token works at /api/me', (await apiMe(peer, r1.body.access_token)).status === 200);
  check('refresh: scope kept', r1.body.scope === ex.body.scope, r1.body.scope);
  const reuse = await form(`${I}/token`, { grant_type: 'refresh_token', refresh_token: RT1 }, { auth: basic(CLIENT, SECRET) });
  check('reusing rotated-out refresh token -> 400 invalid_grant', reuse.status === 400 && reuse.body.error === 'invalid_grant', reuse);
  note(`reuse error body: ${JSON.stringify(reuse.body)}`);
  const after = await form(`${I}/token`, { grant_type: 'refresh_token', refresh_token: RT2 }, { auth: basic(CLIENT, SECRET) });
  check('after reuse, the NEW refresh token is dead too (grant revoked) -> 400 invalid_grant', after.status === 400 && after.body.error === 'invalid_grant', after);
  note(`new-token-after-reuse error body: ${JSON.stringify(after.body)}`);
  me = await apiMe(peer, r1.body.access_token);
  check('after reuse, the latest access token is revoked too -> 401', me.status === 401, me);

  // --- replayed authorization code
  {
    const b = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT, scope: 'api:read' });
    const p = { grant_type: 'authorization_code', code: b.callback.code, redirect_uri: REDIRECT, code_verifier: b.pkce.verifier };
    const t1 = await form(`${I}/token`, p, { auth: basic(CLIENT, SECRET) });
    check('scope without openid: 200, no id_token', t1.status === 200 && !t1.body.id_token && t1.body.scope === 'api:read', t1.body);
    const t2 = await form(`${I}/token`, p, { auth: basic(CLIENT, SECRET) });
    check('replayed authorization code -> 400 invalid_grant', t2.status === 400 && t2.body.error === 'invalid_grant', t2);
    check('replayed code revokes what it issued (access token -> 401)', (await apiMe(peer, t1.body.access_token)).status === 401);
    const rr = await form(`${I}/token`, { grant_type: 'refresh_token', refresh_token: t1.body.refresh_token }, { auth: basic(CLIENT, SECRET) });
    check('replayed code revokes what it issued (refresh token -> invalid_grant)', rr.status === 400 && rr.body.error === 'invalid_grant', rr);
  }

  // --- PKCE enforcement
  {
    const noPkce = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT, pkce: null });
    check('authorize without code_challenge -> redirect with error=invalid_request', noPkce.callback.error === 'invalid_request' && noPkce.redirects === 1, noPkce.callback);
    const plain = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT, pkce: null, extra: { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' } });
    check('code_challenge_method=plain -> error=invalid_request', plain.callback.error === 'invalid_request', plain.callback);
    const c = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT });
    const bad = await form(`${I}/token`, { grant_type: 'authorization_code', code: c.callback.code, redirect_uri: REDIRECT, code_verifier: pkcePair().verifier }, { auth: basic(CLIENT, SECRET) });
    check('wrong code_verifier -> 400 invalid_grant', bad.status === 400 && bad.body.error === 'invalid_grant', bad);
    const badRedirect = await fetch(`${I}/auth?${new URLSearchParams({ response_type: 'code', client_id: CLIENT, redirect_uri: 'http://127.0.0.1:1/evil', scope: 'api:read', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' })}`, { redirect: 'manual', headers: { accept: 'application/json' } });
    const badRedirectBody = await badRedirect.json().catch(() => null);
    check('unregistered redirect_uri -> 400 at the AS, no redirect', badRedirect.status === 400 && !badRedirect.headers.get('location') && badRedirectBody?.error === 'invalid_redirect_uri', { status: badRedirect.status, body: badRedirectBody });
  }

  // --- second authorization in the same browser session
  {
    const jar = new Jar();
    await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT, scope: 'api:read', jar });
    const again = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT, scope: 'api:read', jar });
    check('same cookie jar, same scopes: 1 redirect straight to redirect_uri', again.redirects === 1 && !!again.callback.code, again.hops);
    const more = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT, scope: 'api:read api:write', jar });
    check('same cookie jar, extra scope: 3 redirects (consent only)', more.redirects === 3 && !!more.callback.code, more.hops);
  }

  // --- revocation + introspection
  {
    const c = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT });
    const t = await form(`${I}/token`, { grant_type: 'authorization_code', code: c.callback.code, redirect_uri: REDIRECT, code_verifier: c.pkce.verifier }, { auth: basic(CLIENT, SECRET) });
    let intro = await form(`${I}/token/introspection`, { token: t.body.access_token }, { auth: basic(CLIENT, SECRET) });
    check('introspection before revocation: active true', intro.status === 200 && intro.body.active === true && intro.body.sub === 'test-user', intro.body);
    note(`introspection (active) keys: ${Object.keys(intro.body).join(', ')}`);
    const rev = await form(`${I}/token/revocation`, { token: t.body.access_token, token_type_hint: 'access_token' }, { auth: basic(CLIENT, SECRET) });
    check('revocation of access token -> 200 empty body', rev.status === 200 && (rev.body === null || rev.body === ''), rev);
    intro = await form(`${I}/token/introspection`, { token: t.body.access_token }, { auth: basic(CLIENT, SECRET) });
    check('introspection after revocation: active false', intro.status === 200 && intro.body.active === false, intro.body);
    check('/api/me after revocation -> 401', (await apiMe(peer, t.body.access_token)).status === 401);
    intro = await form(`${I}/token/introspection`, { token: t.body.refresh_token }, { auth: basic(CLIENT, SECRET) });
    check("revoking the access token also kills the grant's refresh token (introspection active false)", intro.body.active === false, intro.body);
    const rr = await form(`${I}/token`, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token }, { auth: basic(CLIENT, SECRET) });
    check('refresh after access-token revocation -> 400 invalid_grant', rr.status === 400 && rr.body.error === 'invalid_grant', rr);
    const rev2 = await form(`${I}/token/revocation`, { token: 'unknown-token' }, { auth: basic(CLIENT, SECRET) });
    check('revoking an unknown token -> 200 (RFC 7009)', rev2.status === 200, rev2);

    const c2 = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT });
    const t2 = await form(`${I}/token`, { grant_type: 'authorization_code', code: c2.callback.code, redirect_uri: REDIRECT, code_verifier: c2.pkce.verifier }, { auth: basic(CLIENT, SECRET) });
    const rev3 = await form(`${I}/token/revocation`, { token: t2.body.refresh_token, token_type_hint: 'refresh_token' }, { auth: basic(CLIENT, SECRET) });
    check('revocation of refresh token -> 200', rev3.status === 200, rev3);
    check('revoking the refresh token also kills its access token', (await apiMe(peer, t2.body.access_token)).status === 401);
  }

  // --- client authentication
  {
    const bad = await form(`${I}/token`, { grant_type: 'client_credentials', scope: 'api:read' }, { auth: basic(CLIENT, 'wrong') });
    check('wrong client secret -> 401 invalid_client', bad.status === 401 && bad.body.error === 'invalid_client', bad);
    const wrongMethod = await form(`${I}/token`, { grant_type: 'client_credentials', scope: 'api:read', client_id: CLIENT, client_secret: SECRET });
    check('client_secret_post for the basic client -> 401 invalid_client (PEER_STRICT_AUTH_METHOD=1)', wrongMethod.status === 401 && wrongMethod.body.error === 'invalid_client', wrongMethod);
    const wrongMethod2 = await form(`${I}/token`, { grant_type: 'client_credentials', scope: 'api:read' }, { auth: basic(`${CLIENT}-post`, SECRET) });
    check('client_secret_basic for the -post client -> 401 invalid_client (PEER_STRICT_AUTH_METHOD=1)', wrongMethod2.status === 401 && wrongMethod2.body.error === 'invalid_client', wrongMethod2);
    const intro = await form(`${I}/token/introspection`, { token: 'x', client_id: CLIENT, client_secret: SECRET });
    check('strict method also on introspection', intro.status === 401 && intro.body.error === 'invalid_client', intro);
  }

  // --- client_credentials
  {
    const cc = await form(`${I}/token`, { grant_type: 'client_credentials', scope: 'api:read' }, { auth: basic(CLIENT, SECRET) });
    check('client_credentials (basic) -> 200, no refresh_token', cc.status === 200 && cc.body.access_token && !cc.body.refresh_token && cc.body.scope === 'api:read', cc.body);
    me = await apiMe(peer, cc.body.access_token);
    check('client_credentials token at /api/me -> 200 (sub null)', me.status === 200 && me.body.sub === null && me.body.client_id === CLIENT, me.body);
    const ccw = await form(`${I}/token`, { grant_type: 'client_credentials', scope: 'api:write' }, { auth: basic(CLIENT, SECRET) });
    me = await apiMe(peer, ccw.body.access_token);
    check('token without api:read at /api/me -> 403 insufficient_scope', me.status === 403 && me.body.error === 'insufficient_scope', me);
    const cco = await form(`${I}/token`, { grant_type: 'client_credentials', scope: 'openid' }, { auth: basic(CLIENT, SECRET) });
    note(`client_credentials with scope=openid -> ${cco.status} ${JSON.stringify(cco.body)}`);
  }

  // --- client_secret_post client
  {
    const POST = `${CLIENT}-post`;
    const c = await authorize(peer, { clientId: POST, redirectUri: REDIRECT });
    const t = await form(`${I}/token`, { grant_type: 'authorization_code', code: c.callback.code, redirect_uri: REDIRECT, code_verifier: c.pkce.verifier, client_id: POST, client_secret: SECRET });
    check('client_secret_post client: code exchange 200', t.status === 200 && !!t.body.refresh_token, t);
    const r = await form(`${I}/token`, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: POST, client_secret: SECRET });
    check('client_secret_post client: refresh 200', r.status === 200, r);
    const intro = await form(`${I}/token/introspection`, { token: r.body.access_token, client_id: POST, client_secret: SECRET });
    check('client_secret_post client: introspection active true', intro.status === 200 && intro.body.active === true, intro);
    const rev = await form(`${I}/token/revocation`, { token: r.body.access_token, client_id: POST, client_secret: SECRET });
    check('client_secret_post client: revocation 200', rev.status === 200, rev);
    const cross = await form(`${I}/token`, { grant_type: 'refresh_token', refresh_token: r.body.refresh_token }, { auth: basic(CLIENT, SECRET) });
    check("other client's refresh token -> 400 invalid_grant", cross.status === 400 && cross.body.error === 'invalid_grant', cross);
  }

  // --- counters
  {
    const s = await getJson(`${I}/test/stats`);
    note(`stats: ${JSON.stringify(s.body)}`);
    check('/test/stats counts token endpoint POSTs', s.status === 200 && s.body.token_requests > 10 && s.body.refresh_requests >= 6 && s.body.invalid_grant >= 7, s.body);
    const reset = await fetch(`${I}/test/reset`, { method: 'POST' });
    const z = await getJson(`${I}/test/stats`);
    check('/test/reset zeroes the counters', reset.status === 200 && z.body.token_requests === 0 && z.body.refresh_requests === 0 && z.body.invalid_grant === 0, z.body);
    await form(`${I}/token`, { grant_type: 'refresh_token', refresh_token: 'nope' }, { auth: basic(CLIENT, SECRET) });
    const one = await getJson(`${I}/test/stats`);
    check('one bad refresh -> {1,1,1}', one.body.token_requests === 1 && one.body.refresh_requests === 1 && one.body.invalid_grant === 1, one.body);
  }

  const code = await peer.stop();
  check('SIGTERM -> clean exit 0', code === 0, code);
  check('stdout had exactly one line', peer.stdoutLines.length === 1, peer.stdoutLines);
}

async function strictPeer() {
  const CID = 'custom-client';
  const R1 = 'http://127.0.0.1:9/cb';
  const R2 = 'http://localhost:9/second';
  const peer = await startPeer({
    PEER_ALWAYS_ISSUE_REFRESH: '0',
    PEER_CLIENT_ID: CID,
    PEER_CLIENT_SECRET: 's3cr3t:with/odd+chars',
    PEER_REDIRECT_URIS: `${R1},${R2}`,
    PEER_ACCESS_TOKEN_TTL: '1',
    PEER_REFRESH_TOKEN_TTL: '120',
    PEER_STRICT_AUTH_METHOD: '0',
  });
  peers.push(peer);
  const I = peer.issuer;
  const auth = basic(CID, 's3cr3t:with/odd+chars');

  const a = await authorize(peer, { clientId: CID, redirectUri: R2, scope: 'openid offline_access api:read' });
  check('[strict] second redirect URI from PEER_REDIRECT_URIS accepted', !!a.callback.code, a.callback);
  let t = await form(`${I}/token`, { grant_type: 'authorization_code', code: a.callback.code, redirect_uri: R2, code_verifier: a.pkce.verifier }, { auth });
  check('[strict] offline_access without prompt=consent: no refresh_token, offline_access dropped', t.status === 200 && !t.body.refresh_token && !t.body.scope.includes('offline_access'), t.body);
  check('[strict] PEER_ACCESS_TOKEN_TTL honoured (expires_in 1)', t.body.expires_in === 1, t.body.expires_in);

  const b = await authorize(peer, { clientId: CID, redirectUri: R1, scope: 'openid offline_access api:read', extra: { prompt: 'consent' } });
  t = await form(`${I}/token`, { grant_type: 'authorization_code', code: b.callback.code, redirect_uri: R1, code_verifier: b.pkce.verifier }, { auth });
  check('[strict] offline_access + prompt=consent: refresh_token issued', t.status === 200 && !!t.body.refresh_token, t.body);
  note(`[strict] scope with prompt=consent: "${t.body.scope}"`);

  const c = await authorize(peer, { clientId: CID, redirectUri: R1, scope: 'api:read' });
  t = await form(`${I}/token`, { grant_type: 'authorization_code', code: c.callback.code, redirect_uri: R1, code_verifier: c.pkce.verifier }, { auth });
  check('[strict] no offline_access: no refresh_token', t.status === 200 && !t.body.refresh_token, t.body);

  const cc = await form(`${I}/token`, { grant_type: 'client_credentials', scope: 'api:read' }, { auth });
  check('[strict] client secret with reserved chars works when form-urlencoded in Basic', cc.status === 200, cc);
  const lenient = await form(`${I}/token`, { grant_type: 'client_credentials', scope: 'api:read', client_id: CID, client_secret: 's3cr3t:with/odd+chars' });
  check('[strict] PEER_STRICT_AUTH_METHOD=0: basic client may also use client_secret_post (oidc-provider default)', lenient.status === 200, lenient);
  check('[strict] fresh token works', (await apiMe(peer, cc.body.access_token)).status === 200);
  await new Promise((r) => { setTimeout(r, 2100); });
  const me = await apiMe(peer, cc.body.access_token);
  check('[strict] expired access token at /api/me -> 401 invalid_token', me.status === 401 && me.body.error === 'invalid_token', me);
  const intro = await form(`${I}/token/introspection`, { token: cc.body.access_token }, { auth });
  check('[strict] expired access token introspects active false', intro.body.active === false, intro.body);

  const code = await peer.stop();
  check('[strict] SIGTERM -> clean exit 0', code === 0, code);
}

async function denyPeer() {
  const peer = await startPeer({ PEER_DENY: '1' });
  peers.push(peer);
  const a = await authorize(peer, { clientId: CLIENT, redirectUri: REDIRECT });
  note(`[deny] chain (${a.redirects} redirects), callback: ${JSON.stringify(a.callback)}`);
  check('[deny] redirect carries error=access_denied', a.callback.error === 'access_denied' && !a.callback.code, a.callback);
  check('[deny] state and iss on the error redirect', a.callback.state === a.state && a.callback.iss === peer.issuer, a.callback);
  const code = await peer.stop();
  check('[deny] SIGTERM -> clean exit 0', code === 0, code);
}

let crashed;
try {
  await mainPeer();
  await strictPeer();
  await denyPeer();
} catch (err) {
  crashed = err;
  check('check.mjs ran to completion', false, err.stack);
} finally {
  for (const p of peers) {
    if (p.child.exitCode === null) p.child.kill('SIGTERM');
  }
}

const failed = results.filter((r) => !r.ok);
if (failed.length || crashed) {
  for (const p of peers) {
    console.log(`\n--- peer ${p.issuer} stderr ---\n${p.stderr}`);
  }
}
console.log(`\n${results.length - failed.length}/${results.length} checks passed${failed.length ? `; FAILED: ${failed.map((f) => f.name).join('; ')}` : ''}`);
process.exit(failed.length || crashed ? 1 : 0);
