// Latchkey test peer: a real OAuth 2.0 authorization server (oidc-provider 9.x)
// plus a tiny protected resource (GET /api/me) and test counters.
//
// stdout carries exactly one line, the JSON {"issuer": ..., "port": ...}, printed
// once the server listens. Everything else (oidc-provider notices included) goes
// to stderr. See README.md.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// oidc-provider prints NOTICE lines with console.info (stdout). Route every
// console method to stderr *before* loading it, so stdout stays machine-readable.
for (const m of ['log', 'info', 'debug']) {
  console[m] = (...args) => console.error(...args);
}

const { default: Provider, errors } = await import('oidc-provider');

// ---------------------------------------------------------------- config ---
const env = (name, dflt) => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : v;
};
const intEnv = (name, dflt) => {
  const v = Number.parseInt(env(name, String(dflt)), 10);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive integer`);
  return v;
};

const CLIENT_ID = env('PEER_CLIENT_ID', 'latchkey-test');
const CLIENT_SECRET = env('PEER_CLIENT_SECRET', 'latchkey-test-secret');
const REDIRECT_URIS = env('PEER_REDIRECT_URIS', 'http://127.0.0.1:8080/oauth/callback')
  .split(',').map((s) => s.trim()).filter(Boolean);
const ACCESS_TTL = intEnv('PEER_ACCESS_TOKEN_TTL', 3600);
const REFRESH_TTL = intEnv('PEER_REFRESH_TOKEN_TTL', 86400);
const ALWAYS_ISSUE_REFRESH = env('PEER_ALWAYS_ISSUE_REFRESH', '1') !== '0';
const DENY = env('PEER_DENY', '0') === '1';
const STRICT_AUTH_METHOD = env('PEER_STRICT_AUTH_METHOD', '1') !== '0';

const TEST_USER = 'test-user';
const API_SCOPES = ['api:read', 'api:write'];

// ----------------------------------------------------------------- state ---
const stats = { token_requests: 0, refresh_requests: 0, invalid_grant: 0, by_grant_type: {} };
const resetStats = () => {
  stats.token_requests = 0;
  stats.refresh_requests = 0;
  stats.invalid_grant = 0;
  stats.by_grant_type = {};
};

// --------------------------------------------------------------- listen ---
// Bind first (port 0), then build the provider: the issuer must contain the port.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const ISSUER = `http://127.0.0.1:${port}`;
const API_RESOURCE = `${ISSUER}/api`;

// Fresh signing key per run (only used for ID tokens; access tokens are opaque).
const signingKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ format: 'jwk' });
signingKey.kid = crypto.randomBytes(8).toString('hex');
signingKey.use = 'sig';
signingKey.alg = 'RS256';

// ---------------------------------------------------------------- storage ---
// oidc-provider's built-in memory adapter is an LRU of 1000 entries: with thousands of grants
// (the refresh benchmark) it silently forgets tokens. This one keeps everything until it
// expires, with the indexes the provider needs (by uid, by user code, by grant).
const entries = new Map(); // `${model}:${id}` -> { payload, expiresAt }
const byUid = new Map(); // `${model}:${uid}` -> id
const byUserCode = new Map(); // `${model}:${userCode}` -> id
const byGrant = new Map(); // grantId -> Set of entry keys
class MemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    entries.set(key, { payload, expiresAt });
    if (payload.uid) byUid.set(this.key(payload.uid), id);
    if (payload.userCode) byUserCode.set(this.key(payload.userCode), id);
    if (payload.grantId) {
      if (!byGrant.has(payload.grantId)) byGrant.set(payload.grantId, new Set());
      byGrant.get(payload.grantId).add(key);
    }
  }

  async find(id) {
    const key = this.key(id);
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    const id = byUid.get(this.key(uid));
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = byUserCode.get(this.key(userCode));
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = entries.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    entries.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of byGrant.get(grantId) ?? []) entries.delete(key);
    byGrant.delete(grantId);
  }
}

const hasApiScope = (scopes) => API_SCOPES.some((s) => scopes.has(s));

const baseClient = {
  client_secret: CLIENT_SECRET,
  redirect_uris: REDIRECT_URIS,
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
};

const configuration = {
  adapter: MemoryAdapter,
  clients: [
    { ...baseClient, client_id: CLIENT_ID, token_endpoint_auth_method: 'client_secret_basic' },
    { ...baseClient, client_id: `${CLIENT_ID}-post`, token_endpoint_auth_method: 'client_secret_post' },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  clockTolerance: 0,
  scopes: ['openid', 'offline_access'], // OIDC scopes; api:* belong to the resource server below
  responseTypes: ['code'],
  pkce: { required: () => true }, // only S256 exists in oidc-provider 9
  rotateRefreshToken: true,
  issueRefreshToken: ALWAYS_ISSUE_REFRESH
    ? async (ctx, client) => client.grantTypeAllowed('refresh_token')
    : async (ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  // With always-issue there is no offline_access, so don't tie tokens to the login session.
  expiresWithSession: ALWAYS_ISSUE_REFRESH
    ? async () => false
    : async (ctx, code) => !code.scopes.has('offline_access'),
  findAccount: async (ctx, id) => (id === TEST_USER
    ? { accountId: id, async claims() { return { sub: id }; } }
    : undefined),
  interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    introspection: { enabled: true },
    clientCredentials: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: false },
    resourceIndicators: {
      enabled: true,
      // Every request (authorize, token, client_credentials) targets our API unless
      // the client sent an explicit resource parameter.
      defaultResource: async (ctx, client, oneOf) => oneOf ?? API_RESOURCE,
      // Use the API as audience when api:* scopes were granted (even with openid).
      useGrantedResource: async (ctx, model) => hasApiScope(model.scopes),
      getResourceServerInfo: async (ctx, indicator) => {
        if (indicator !== API_RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: API_SCOPES.join(' '),
          audience: API_RESOURCE,
          accessTokenFormat: 'opaque',
          accessTokenTTL: ACCESS_TTL,
        };
      },
    },
  },
  ttl: {
    AccessToken: ACCESS_TTL,
    ClientCredentials: ACCESS_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: REFRESH_TTL,
    Interaction: 3600,
    Session: Math.max(REFRESH_TTL, 14 * 24 * 3600),
    Grant: Math.max(REFRESH_TTL, 14 * 24 * 3600),
  },
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(ISSUER, configuration);
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error:', err));

// ------------------------------------------------------------ middleware ---
const json = (ctx, status, body, headers = {}) => {
  ctx.status = status;
  ctx.type = 'json';
  ctx.set('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
  ctx.body = body;
};

// Token endpoint counters: observe every POST /token after the provider handled it.
provider.use(async (ctx, next) => {
  if (!(ctx.method === 'POST' && ctx.path === '/token')) return next();
  try {
    await next();
  } finally {
    const gt = ctx.oidc?.params?.grant_type ?? ctx.state.peerBody?.get('grant_type') ?? 'unknown';
    stats.token_requests += 1;
    stats.by_grant_type[gt] = (stats.by_grant_type[gt] ?? 0) + 1;
    if (gt === 'refresh_token') stats.refresh_requests += 1;
    if (ctx.body && typeof ctx.body === 'object' && ctx.body.error === 'invalid_grant') {
      stats.invalid_grant += 1;
    }
  }
});

// Strict client authentication method. oidc-provider itself treats
// client_secret_basic and client_secret_post as interchangeable (a client registered
// with either accepts both). With PEER_STRICT_AUTH_METHOD=1 (default) the peer
// answers 401 invalid_client when ${CLIENT_ID} sends client_secret in the body or
// ${CLIENT_ID}-post sends an Authorization: Basic header, so tests can prove the
// configured method is the one actually used. The body is read here and handed
// to oidc-provider pre-parsed (it supports req.body; it logs a one-time warning).
const CLIENT_AUTH_PATHS = new Set(['/token', '/token/introspection', '/token/revocation', '/request']);
provider.use(async (ctx, next) => {
  if (!(ctx.method === 'POST' && CLIENT_AUTH_PATHS.has(ctx.path) && ctx.is('application/x-www-form-urlencoded'))) {
    return next();
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > 56 * 1024) {
      json(ctx, 413, { error: 'invalid_request', error_description: 'request entity too large' });
      return undefined;
    }
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  ctx.req.body = raw;
  const body = new URLSearchParams(raw);
  ctx.state.peerBody = body;
  if (STRICT_AUTH_METHOD) {
    const authz = ctx.get('authorization');
    let clientId = body.get('client_id');
    const usesBasic = /^basic /i.test(authz);
    if (usesBasic) {
      try {
        const decoded = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
        clientId = decodeURIComponent(decoded.slice(0, decoded.indexOf(':')).replace(/\+/g, ' '));
      } catch { /* let oidc-provider reject the malformed header */ }
    }
    const usesPost = !usesBasic && body.has('client_secret');
    if ((clientId === CLIENT_ID && usesPost) || (clientId === `${CLIENT_ID}-post` && usesBasic)) {
      console.error(`oidc peer: rejecting ${clientId} on ${ctx.path}: wrong client auth method (${usesBasic ? 'client_secret_basic' : 'client_secret_post'})`);
      json(ctx, 401, {
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
      return undefined;
    }
  }
  return next();
});

// Discovery: also advertise the resource server's scopes.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path.startsWith('/.well-known/') && ctx.body && Array.isArray(ctx.body.scopes_supported)) {
    ctx.body.scopes_supported = [...new Set([...ctx.body.scopes_supported, ...API_SCOPES])];
  }
});

// Our own routes: interaction, protected resource, test counters.
provider.use(async (ctx, next) => {
  const { method, path } = ctx;

  if (method === 'GET' && /^\/interaction\/[^/]+$/.test(path)) {
    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      json(ctx, 400, { error: 'invalid_request', error_description: `interaction: ${err.message}` });
      return;
    }
    const { prompt, params, session, grantId } = details;
    let result;
    if (prompt.name === 'login') {
      result = { login: { accountId: TEST_USER } };
    } else if (prompt.name === 'consent' && DENY) {
      result = { error: 'access_denied', error_description: 'denied by test' };
    } else if (prompt.name === 'consent') {
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      result = { consent: { grantId: await grant.save() } };
    } else {
      result = { error: 'access_denied', error_description: `unsupported prompt ${prompt.name}` };
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: false,
    });
    ctx.redirect(returnTo);
    ctx.status = 303;
    return;
  }

  if (method === 'GET' && path === '/api/me') {
    const m = /^Bearer ([^\s]+)$/i.exec(ctx.get('authorization'));
    const challenge = (e) => ({ 'WWW-Authenticate': `Bearer realm="${API_RESOURCE}", error="${e}"` });
    if (!m) {
      json(ctx, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': `Bearer realm="${API_RESOURCE}"` });
      return;
    }
    const value = m[1];
    const token = (await provider.AccessToken.find(value))
      ?? (await provider.ClientCredentials.find(value));
    if (!token || token.isExpired) {
      json(ctx, 401, { error: 'invalid_token' }, challenge('invalid_token'));
      return;
    }
    const scopes = new Set((token.scope ?? '').split(' ').filter(Boolean));
    if (!scopes.has('api:read')) {
      json(ctx, 403, { error: 'insufficient_scope' }, {
        'WWW-Authenticate': `Bearer realm="${API_RESOURCE}", error="insufficient_scope", scope="api:read"`,
      });
      return;
    }
    json(ctx, 200, {
      sub: token.accountId ?? null,
      scope: token.scope ?? '',
      client_id: token.clientId,
      token_kind: token.kind,
    });
    return;
  }

  if (method === 'GET' && path === '/test/stats') {
    json(ctx, 200, stats);
    return;
  }
  // Grants minted without a browser (benchmarks): n refresh tokens for CLIENT_ID, each in its
  // own grant for api:read, exactly as a consent would have created them.
  if (method === 'POST' && path === '/test/mint') {
    const n = Number.parseInt(ctx.query.n ?? '1', 10);
    if (!Number.isFinite(n) || n < 1 || n > 100000) {
      json(ctx, 400, { error: 'invalid_request', error_description: 'n must be 1..100000' });
      return;
    }
    const client = await provider.Client.find(CLIENT_ID);
    const refreshTokens = [];
    for (let i = 0; i < n; i += 1) {
      const grant = new provider.Grant({ accountId: TEST_USER, clientId: CLIENT_ID });
      grant.addResourceScope(API_RESOURCE, 'api:read');
      const grantId = await grant.save();
      const token = new provider.RefreshToken({
        accountId: TEST_USER,
        client,
        grantId,
        gty: 'authorization_code',
        scope: 'api:read',
        resource: API_RESOURCE,
        expiresWithSession: false,
        iiat: Math.floor(Date.now() / 1000),
        rotations: 0,
      });
      refreshTokens.push(await token.save());
    }
    json(ctx, 200, { refresh_tokens: refreshTokens });
    return;
  }
  if (method === 'POST' && path === '/test/reset') {
    resetStats();
    json(ctx, 200, stats);
    return;
  }

  await next();
});

server.on('request', provider.callback());

// -------------------------------------------------------------- lifecycle ---
let stopping = false;
const stop = (signal) => {
  if (stopping) return;
  stopping = true;
  console.error(`oidc peer: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

console.error(`oidc peer: issuer ${ISSUER}, client ${CLIENT_ID} (+ ${CLIENT_ID}-post), `
  + `redirect_uris ${REDIRECT_URIS.join(' ')}, access ttl ${ACCESS_TTL}s, refresh ttl ${REFRESH_TTL}s, `
  + `always_issue_refresh ${ALWAYS_ISSUE_REFRESH}, deny ${DENY}, strict_auth_method ${STRICT_AUTH_METHOD}`);
process.stdout.write(`${JSON.stringify({ issuer: ISSUER, port })}\n`);
