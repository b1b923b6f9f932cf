// Drives a running Latchkey server with the official @pipedream/sdk and asserts on what the
// SDK hands back. Only what the SDK returns is checked (not raw HTTP), because the point is
// "an unmodified Pipedream client works against Latchkey".
//
// SDK 3.1.6 facts this file relies on (read from node_modules/@pipedream/sdk/dist):
// * Known response fields are camelCased by its serializer (external_id -> externalId,
//   name_slug -> nameSlug, page_info.end_cursor -> pageInfo.endCursor); unknown keys pass
//   through untouched, so credential fields stay snake_case (credentials.api_key).
// * ISO date strings become Date objects when they look like ISO 8601, otherwise stay strings.
// * proxy.* resolve to the upstream body: parsed JSON (no camelCasing) when the response is
//   application/json, otherwise the raw body.
// * accounts.list / apps.list resolve to a core.Page that follows pageInfo.endCursor until it
//   is null or "" — a server that never clears it makes the SDK loop forever, hence the guards.
// * Non-2xx responses throw PipedreamError { statusCode, body }.

import assert from "node:assert/strict";
import { PipedreamClient, PipedreamError } from "@pipedream/sdk";

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`not ok - configuration: environment variable ${name} is required`);
    process.exit(2);
  }
  return value;
}

const BASE_URL = env("LATCHKEY_BASE_URL");
const PROJECT_ID = env("LATCHKEY_PROJECT_ID");
const APP = env("LATCHKEY_APP");
const PROVIDER_URL = env("LATCHKEY_PROVIDER_URL").replace(/\/+$/, "");
const PROVIDER_KEY = env("LATCHKEY_PROVIDER_KEY");

const pd = new PipedreamClient({
  baseUrl: BASE_URL,
  clientId: env("LATCHKEY_CLIENT_ID"),
  clientSecret: env("LATCHKEY_CLIENT_SECRET"),
  projectId: PROJECT_ID,
  projectEnvironment: "development",
});

// A hung server or a pager that never ends must fail the run rather than stall the harness.
setTimeout(() => {
  console.error("not ok - watchdog: suite did not finish within 180 s");
  process.exit(1);
}, 180_000).unref();

let passed = 0;

async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    console.error(`not ok - ${name}`);
    console.error(describe(err));
    process.exit(1);
  }
  passed += 1;
  console.log(`ok - ${name}`);
}

function describe(err) {
  if (err instanceof PipedreamError) {
    return `  PipedreamError status=${err.statusCode} body=${JSON.stringify(err.body)} message=${err.message}`;
  }
  return `  ${err?.stack ?? err}`;
}

async function expectStatus(promise, status, what) {
  let result;
  try {
    result = await promise;
  } catch (err) {
    if (!(err instanceof PipedreamError)) throw err;
    const ok = typeof status === "function" ? status(err.statusCode) : err.statusCode === status;
    assert.ok(ok, `${what}: unexpected status ${err.statusCode} (body ${JSON.stringify(err.body)})`);
    return err;
  }
  assert.fail(`${what}: expected an error status, got success ${JSON.stringify(result)}`);
}

// Drains a core.Page; the cap turns an endless end_cursor into an assertion failure.
async function drain(page, maxPages = 20) {
  const items = [...page.data];
  let pages = 1;
  while (page.hasNextPage()) {
    assert.ok(pages < maxPages, `pager did not terminate after ${maxPages} pages`);
    await page.getNextPage();
    items.push(...page.data);
    pages += 1;
  }
  return { items, pages };
}

function asDate(value, what) {
  const d = value instanceof Date ? value : new Date(value);
  assert.ok(!Number.isNaN(d.getTime()), `${what} is not a date: ${value}`);
  return d;
}

async function newToken(externalUserId) {
  const res = await pd.tokens.create({ externalUserId });
  assert.match(res.token, /^ctok_[0-9a-f]{32}$/);
  return res.token;
}

async function connect(externalUserId, name, token) {
  const account = await pd.accounts.create({
    externalUserId,
    appSlug: APP,
    cfmapJson: JSON.stringify({ api_key: PROVIDER_KEY }),
    connectToken: token ?? (await newToken(externalUserId)),
    name,
  });
  assert.match(account.id, /^apn_[a-zA-Z0-9]+$/);
  assert.equal(account.name, name);
  assert.equal(account.externalId, externalUserId);
  assert.equal(account.healthy, true);
  assert.equal(account.app?.nameSlug, APP);
  assert.equal(account.credentials ?? null, null, "credentials must not be returned unless asked for");
  return account;
}

// The echo provider reports the query as the raw string it received.
function upstreamQuery(echo) {
  return Object.fromEntries(new URLSearchParams(echo.query ?? ""));
}

function assertInjected(echo) {
  assert.equal(echo.headers.authorization, `Bearer ${PROVIDER_KEY}`);
  const leaked = Object.keys(echo.headers).filter((h) => h.startsWith("x-pd-"));
  assert.deepEqual(leaked, [], "x-pd-* headers must not reach the upstream");
}

const JSON_BODY = { channel: "C1", text: "hi" };
const user1 = [];
let token;
let user2;

await step("a. token fetch happens implicitly on the first call", async () => {
  const page = await pd.accounts.list({ app: APP, limit: 1 });
  assert.deepEqual(page.data, [], `the suite needs a project without ${APP} accounts`);
  const raw = await pd.rawAccessToken;
  assert.equal(typeof raw, "string");
  assert.ok(raw.length > 0);
  assert.equal(await pd.rawAccessToken, raw, "the SDK should reuse its cached token");
});

await step("b. tokens.create returns a ctok with expiry and connect link", async () => {
  const before = Date.now();
  const res = await pd.tokens.create({
    externalUserId: "user-1",
    allowedOrigins: ["https://example.com"],
    successRedirectUri: "https://ok.example",
    errorRedirectUri: "https://err.example",
    webhookUri: "https://hook.example/x",
    expiresIn: 600,
  });
  assert.match(res.token, /^ctok_[0-9a-f]{32}$/);
  const expiresAt = asDate(res.expiresAt, "expiresAt").getTime();
  // 600 s TTL, with slack for clock rounding and request latency.
  assert.ok(expiresAt >= before + 590_000, `expiresAt ${res.expiresAt} is too early`);
  assert.ok(expiresAt <= Date.now() + 610_000, `expiresAt ${res.expiresAt} is too late`);
  assert.equal(typeof res.connectLinkUrl, "string");
  assert.ok(res.connectLinkUrl.includes(res.token), `connectLinkUrl ${res.connectLinkUrl} lacks the token`);
  token = res.token;
});

await step("c. tokens.validate accepts the fresh token for the app", async () => {
  const res = await pd.tokens.validate(token, { appId: APP });
  assert.equal(res.success, true);
  assert.equal(res.app?.nameSlug, APP);
  assert.equal(res.projectId, PROJECT_ID);
});

await step("d. accounts.create connects a key-based account with the token", async () => {
  user1.push(await connect("user-1", "n1", token));
});

await step("d. a spent connect token is rejected with 409", async () => {
  await expectStatus(
    pd.accounts.create({
      externalUserId: "user-1",
      appSlug: APP,
      cfmapJson: JSON.stringify({ api_key: PROVIDER_KEY }),
      connectToken: token,
      name: "again",
    }),
    409,
    "reusing a spent token",
  );
});

await step("d. two more accounts for user-1, one for 'user 2/x'", async () => {
  user1.push(await connect("user-1", "n2"));
  user1.push(await connect("user-1", "n3"));
  user2 = await connect("user 2/x", "n4");
  assert.equal(new Set([...user1, user2].map((a) => a.id)).size, 4, "account ids must be distinct");
});

await step("e. accounts.list pages through user-1 with limit 2", async () => {
  const page = await pd.accounts.list({ externalUserId: "user-1", limit: 2 });
  assert.equal(page.data.length, 2, "first page honours limit");
  const { items, pages } = await drain(page);
  assert.equal(pages, 2);
  assert.deepEqual(items.map((a) => a.id).sort(), user1.map((a) => a.id).sort());
  assert.ok(items.every((a) => a.externalId === "user-1"));
});

await step("e. for-await over the Page terminates with the same accounts", async () => {
  const seen = [];
  for await (const account of await pd.accounts.list({ externalUserId: "user-1", limit: 2 })) {
    seen.push(account.id);
    assert.ok(seen.length <= 10, "async iteration did not terminate");
  }
  assert.deepEqual(seen.sort(), user1.map((a) => a.id).sort());
});

await step("e. accounts.list by app includes credentials", async () => {
  const page = await pd.accounts.list({ app: APP, limit: 10, includeCredentials: true });
  const { items } = await drain(page);
  assert.equal(items.length, 4);
  for (const account of items) {
    assert.equal(account.credentials?.api_key, PROVIDER_KEY, `credentials of ${account.id}`);
  }
});

await step("f. accounts.retrieve with credentials", async () => {
  const account = await pd.accounts.retrieve(user1[0].id, { includeCredentials: true });
  assert.equal(account.id, user1[0].id);
  assert.equal(account.credentials?.api_key, PROVIDER_KEY);
  assert.equal(account.app?.nameSlug, APP);
  asDate(account.createdAt, "createdAt");
});

await step("g. accounts.listByExternalUser encodes 'user 2/x' in the path", async () => {
  const accounts = await pd.accounts.listByExternalUser("user 2/x", { app: APP });
  assert.ok(Array.isArray(accounts), `expected a bare array, got ${JSON.stringify(accounts)}`);
  assert.equal(accounts.length, 1);
  assert.equal(accounts[0].id, user2.id);
  assert.equal(accounts[0].externalId, "user 2/x");
});

const proxyTarget = () => ({ externalUserId: "user-1", accountId: user1[0].id });

await step("h. proxy.get injects auth, forwards headers and merges params", async () => {
  const echo = await pd.proxy.get({
    url: `${PROVIDER_URL}/echo?x=1`,
    ...proxyTarget(),
    params: { limit: "10" },
    headers: { "X-Custom": "v", Accept: "application/json" },
  });
  assert.equal(echo.method, "GET");
  assert.equal(echo.path, "/echo");
  assertInjected(echo);
  assert.equal(echo.headers["x-custom"], "v");
  // The SDK appends params with a second "?" (".../echo?x=1?limit=10").
  const query = upstreamQuery(echo);
  assert.equal(query.x, "1", `upstream query was ${JSON.stringify(echo.query)}`);
  assert.equal(query.limit, "10", `upstream query was ${JSON.stringify(echo.query)}`);
});

for (const method of ["post", "put", "patch"]) {
  await step(`h. proxy.${method} relays the JSON body`, async () => {
    const echo = await pd.proxy[method]({ url: `${PROVIDER_URL}/echo`, ...proxyTarget(), body: JSON_BODY });
    assert.equal(echo.method, method.toUpperCase());
    assertInjected(echo);
    assert.deepEqual(echo.body, JSON_BODY);
  });
}

await step("h. proxy.delete", async () => {
  const echo = await pd.proxy.delete({ url: `${PROVIDER_URL}/echo`, ...proxyTarget() });
  assert.equal(echo.method, "DELETE");
  assertInjected(echo);
});

await step("h. proxy resolves a relative path against the app base URL", async () => {
  const echo = await pd.proxy.get({ url: "/echo?rel=1", ...proxyTarget() });
  assert.equal(echo.method, "GET");
  assert.equal(echo.path, "/echo");
  assert.deepEqual(upstreamQuery(echo), { rel: "1" });
  assertInjected(echo);
});

await step("h. proxy refuses another user's account", async () => {
  await expectStatus(
    pd.proxy.get({ url: "/echo", externalUserId: "user-1", accountId: user2.id }),
    (s) => s >= 400 && s < 500,
    "proxying user 2/x's account as user-1",
  );
});

await step("i. accounts.delete, then retrieve is 404", async () => {
  const victim = user1.pop();
  await pd.accounts.delete(victim.id);
  await expectStatus(pd.accounts.retrieve(victim.id), 404, "retrieving a deleted account");
});

await step("j. users.deleteExternalUser removes that user's accounts", async () => {
  await connect("user-3", "n5");
  await pd.users.deleteExternalUser("user 2/x");
  assert.deepEqual(await pd.accounts.listByExternalUser("user 2/x"), []);
  await expectStatus(pd.accounts.retrieve(user2.id), 404, "retrieving an account of a deleted user");
});

await step("j. accounts.deleteByApp empties the project", async () => {
  await pd.accounts.deleteByApp(APP);
  const { items } = await drain(await pd.accounts.list());
  assert.deepEqual(items, []);
});

await step("k. apps.list finds the app", async () => {
  const page = await pd.apps.list({ q: APP, limit: 5, sortKey: "name", sortDirection: "asc" });
  assert.ok(page.data.length <= 5, "apps.list honours limit");
  const slugs = (await drain(page)).items.map((app) => app.nameSlug);
  assert.ok(slugs.includes(APP), `apps.list did not return ${APP}: ${JSON.stringify(slugs)}`);
});

await step("k. apps.retrieve returns the {data: App} envelope", async () => {
  const res = await pd.apps.retrieve(APP);
  assert.equal(res.data?.nameSlug, APP);
  assert.equal(typeof res.data.name, "string");
});

await step("k. appCategories.list returns a bare array of categories", async () => {
  const categories = await pd.appCategories.list();
  assert.ok(Array.isArray(categories), `expected an array, got ${JSON.stringify(categories)}`);
  assert.ok(categories.length > 0);
  for (const category of categories) {
    assert.match(category.id, /^appcat_/);
    assert.equal(typeof category.name, "string");
  }
});

console.log(`SDK-SUITE-PASSED ${passed}`);
