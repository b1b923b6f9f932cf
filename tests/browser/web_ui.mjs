// Drives Latchkey's web UI in a real headless Chromium, as three people of one workspace:
//   the owner signs in, connects an OAuth account through the popup (the local oidc-provider
//   peer), connects a key-based account (a wrong key first), renames it, invites two members,
//   shares the key-based account with one of them, builds a workflow whose step uses the
//   owner's private OAuth account and tests it, then reconnects the OAuth account (same id)
//   and deletes the key-based one;
//   Bob (invited, shared with) signs in through his invitation link and sees the shared account;
//   Carol (invited, no access) sees the step read-only with the reason, and can test it.
// Every main page is screenshot (SCREENSHOT_DIR) and its HTML saved (HTML_DIR) for the Rust
// side to search for secrets; every Latchkey response is checked for its security headers;
// any console or page error of a Latchkey page fails the run. Prints
//   RESULT {"oauth":"apn_…","keys":"apn_…","workflow":"wf_…","bob":"…","carol":"…"}
// for crates/latchkey-server/tests/api/web_browser.rs to check through the API.
//
// Environment: LATCHKEY_URL, OWNER_EMAIL, OWNER_PASSWORD, PROVIDER_KEY, SCREENSHOT_DIR,
// HTML_DIR, CHROMIUM (default /usr/bin/chromium). Exit status 1 on failure, 2 on missing
// configuration.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
};
const BASE = env('LATCHKEY_URL').replace(/\/$/, '');
const OWNER_EMAIL = env('OWNER_EMAIL');
const OWNER_PASSWORD = env('OWNER_PASSWORD');
const PROVIDER_KEY = env('PROVIDER_KEY');
const SCREENSHOT_DIR = env('SCREENSHOT_DIR');
const HTML_DIR = env('HTML_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LATCHKEY = new URL(BASE).origin;
const TIMEOUT_MS = 30_000;
const MEMBER_PASSWORD = 'a long member password';

const watchdog = setTimeout(() => fail('the browser test took longer than 150 s'), 150_000);
watchdog.unref();

let browser;
async function fail(message) {
  console.error(`not ok - ${message}`);
  await browser?.close().catch(() => {});
  process.exit(1);
}
function check(condition, message) {
  if (!condition) throw new Error(message);
}
const ok = (step) => console.log(`ok - ${step}`);
const originOf = (url) => { try { return new URL(url).origin; } catch { return ''; } };
const pathOf = (url) => { try { return new URL(url).pathname; } catch { return ''; } };

// Screenshot and HTML of a main page.
async function keep(page, name) {
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  writeFileSync(join(HTML_DIR, `${name}.html`), await page.content());
}

// Console errors and uncaught exceptions of Latchkey's pages (the provider's are not ours).
// Chromium logs failed requests as console errors: its automatic /favicon.ico (Latchkey links
// its icon, but Chromium may still ask) and, through `expected`, a deliberate 4xx are fine.
const errors = [];
let expected = null;
// Security headers of every Latchkey document.
const headerProblems = [];
function watch(page) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location().url || page.url();
    if (/status of 404/.test(msg.text()) && where === `${LATCHKEY}/favicon.ico`) return;
    if (expected && expected(msg.text(), where)) return;
    if (originOf(page.url()) === LATCHKEY || originOf(where) === LATCHKEY) errors.push(`console: ${msg.text()} (${where})`);
  });
  page.on('pageerror', (error) => {
    if (originOf(page.url()) === LATCHKEY) errors.push(`pageerror: ${error.message} (${page.url()})`);
  });
  page.on('response', async (response) => {
    if (originOf(response.url()) !== LATCHKEY || response.request().resourceType() !== 'document') return;
    const h = await response.allHeaders();
    const path = pathOf(response.url());
    if (response.status() >= 300 && response.status() < 400) return;
    if (!h['content-security-policy']) headerProblems.push(`${path}: no Content-Security-Policy`);
    if (h['x-frame-options'] !== 'DENY') headerProblems.push(`${path}: X-Frame-Options ${h['x-frame-options']}`);
    if (path.startsWith('/oauth/') && h['referrer-policy'] !== 'no-referrer') {
      headerProblems.push(`${path}: Referrer-Policy ${h['referrer-policy']}`);
    }
  });
}

async function signIn(page, email, password) {
  await page.goto(`${BASE}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL(`${BASE}/accounts`), page.getByRole('button', { name: 'Sign in' }).click()]);
}

// Runs the OAuth popup opened by submitting `form` (Connect or Reconnect) on `page`: Latchkey's
// confirmation page, then the provider (it logs in and consents by itself), then the callback,
// which reports to `page` and closes itself. Returns the account id `page` then shows.
async function oauthPopup(page, button) {
  const [popup] = await Promise.all([page.waitForEvent('popup'), button.click()]);
  await popup.waitForURL(/\/oauth\/authorize\//);
  await keep(popup, 'oauth-confirm');
  await popup.getByRole('button', { name: /^Continue to / }).click();
  await popup.waitForEvent('close', { timeout: TIMEOUT_MS });
  await page.waitForURL(/\/accounts\/apn_[0-9A-Za-z]+\?connected=/);
  return (await page.locator('#account-id').innerText()).trim();
}

async function owner(context) {
  const page = await context.newPage();
  await page.goto(`${BASE}/login`);
  check(await page.getByLabel('Email').getAttribute('type') === 'email', 'login: the email input has type email');
  check(await page.getByLabel('Password').getAttribute('type') === 'password', 'login: the password input has type password');
  await keep(page, 'login');
  await signIn(page, OWNER_EMAIL, OWNER_PASSWORD);
  await keep(page, 'accounts-empty');
  ok('owner: signed in and landed on the accounts page');

  // OAuth through the popup.
  await page.getByRole('link', { name: 'Connect an app' }).first().click();
  await page.waitForURL(`${BASE}/connect`);
  await keep(page, 'connect-picker');
  await page.getByLabel('Search apps').fill('pee');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: /Peer/ }).click();
  await page.waitForURL(`${BASE}/connect/peer`);
  await keep(page, 'connect-oauth');
  const oauthId = await oauthPopup(page, page.getByRole('button', { name: 'Connect Peer' }));
  check(/^apn_/.test(oauthId), `oauth: an account id, got ${oauthId}`);
  await page.getByRole('status').filter({ hasText: 'Connected.' }).waitFor();
  check(/api:read/.test(await page.locator('dd.scopes').innerText()), 'oauth: the granted scopes are shown');
  await keep(page, 'account-oauth');
  ok(`owner: connected ${oauthId} through the OAuth popup`);

  // A key-based account: a wrong key is refused in the form, the right one connects.
  await page.goto(`${BASE}/connect/demo_api`);
  await keep(page, 'connect-keys');
  await page.getByLabel('Nickname').fill('Deploy key');
  await page.getByLabel('API key').fill('wrong-key');
  expected = (text, where) => /status of 400/.test(text) && where === `${BASE}/connect/demo_api`;
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  check(/^The credentials did not work/.test(await alert.innerText()), `keys: the refusal says why, got ${await alert.innerText()}`);
  expected = null;
  await keep(page, 'connect-keys-error');
  await page.getByLabel('API key').fill(PROVIDER_KEY);
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await page.waitForURL(/\/accounts\/apn_[0-9A-Za-z]+\?connected=ok/);
  const keysId = (await page.locator('#account-id').innerText()).trim();
  ok(`owner: a wrong key was refused, then ${keysId} connected`);

  // Rename.
  await page.getByLabel('Nickname').fill('Deploy key (prod)');
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.getByRole('status').filter({ hasText: 'Renamed.' }).waitFor();
  check(await page.locator('h1').innerText() === 'Deploy key (prod)', 'rename: the heading shows the new name');
  ok('owner: renamed the key-based account');

  // Invite Bob and Carol; keep their one-time links.
  const links = {};
  for (const name of ['bob', 'carol']) {
    await page.goto(`${BASE}/members`);
    await page.getByLabel('Email').fill(`${name}@acme.test`);
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.locator('#invite-link').waitFor();
    links[name] = (await page.locator('#invite-link').innerText()).trim();
    check(links[name].startsWith(`${BASE}/invite?token=`), `invite: a link for ${name}, got ${links[name]}`);
  }
  await keep(page, 'members');
  ok('owner: invited bob and carol');

  // Share the key-based account with Bob only.
  await page.goto(`${BASE}/accounts/${keysId}`);
  await page.getByLabel('Chosen members:').check();
  await page.getByLabel('bob@acme.test').check();
  await page.getByRole('button', { name: 'Save access' }).click();
  await page.getByRole('status').filter({ hasText: 'Access saved.' }).waitFor();
  check(/bob@acme\.test/.test(await page.locator('dl.facts').innerText()), 'share: the account says it is shared with bob');
  await keep(page, 'account-keys');
  ok('owner: shared the key-based account with bob');

  // A workflow whose step uses the owner's private OAuth account; test it.
  await page.goto(`${BASE}/workflows`);
  await page.getByLabel('Name').fill('Sync contacts');
  await Promise.all([page.waitForURL(/\/workflows\/wf_/), page.getByRole('button', { name: 'Create' }).click()]);
  const workflowId = pathOf(page.url()).split('/').pop();
  await page.locator('#new-name').fill('fetch_me');
  const options = await page.locator('#new-account option').allInnerTexts();
  check(options.some((o) => /Peer/.test(o)) && options.some((o) => /Deploy key/.test(o)), `workflow: both accounts offered, got ${options}`);
  await page.locator('#new-account').selectOption(oauthId);
  await page.getByRole('button', { name: 'Add step' }).click();
  await page.getByRole('status').filter({ hasText: 'Step added.' }).waitFor();
  await page.getByRole('button', { name: 'Test step' }).click();
  await page.getByRole('status').filter({ hasText: 'Step tested.' }).waitFor();
  check(await page.locator('.run .outcome').innerText() === 'success', 'workflow: the owner\'s test succeeds');
  await keep(page, 'workflow-owner');
  await page.goto(`${BASE}/workflows`);
  await keep(page, 'workflows');
  ok(`owner: built ${workflowId} with a step on the OAuth account and tested it`);

  // The accounts list with both accounts, its row menu and the other admin pages.
  await page.goto(`${BASE}/accounts`);
  const rows = page.locator('tbody tr');
  check(await rows.count() === 2, `accounts: two rows, got ${await rows.count()}`);
  check(/Sync contacts/.test(await page.locator(`tr[data-account-id="${oauthId}"]`).innerText()), 'accounts: the workflow using the OAuth account is listed');
  await page.locator(`tr[data-account-id="${keysId}"] summary`).click();
  const menu = await page.locator(`tr[data-account-id="${keysId}"] details ul`).innerText();
  for (const item of ['Manage access', 'Reconnect', 'Rename', 'Copy account ID', 'Delete']) {
    check(menu.includes(item), `accounts: the row menu offers ${item}, got ${menu}`);
  }
  await keep(page, 'accounts');
  await page.getByLabel('Search by app, nickname or owner').fill('deploy');
  await page.getByRole('button', { name: 'Search' }).click();
  check(await rows.count() === 1, 'accounts: the search finds the key-based account only');
  for (const [path, name] of [['/api', 'api'], ['/oauth-clients', 'oauth-clients'], ['/app-requests', 'app-requests'], ['/audit', 'audit'], ['/connect/request', 'request-app']]) {
    const response = await page.goto(`${BASE}${path}`);
    check(response.status() === 200, `${path}: 200, got ${response.status()}`);
    await keep(page, name);
  }
  await page.goto(`${BASE}/api`);
  await page.getByRole('button', { name: 'Create a new API key' }).click();
  check(/^lk_key_/.test(await page.locator('#revealed-secret').innerText()), 'api: a new key is shown once');
  await page.goto(`${BASE}/api`);
  check(await page.locator('#revealed-secret').count() === 0, 'api: and not again');
  ok('owner: the accounts list, its menu, search and the admin pages work');
  await page.close();
  return { oauthId, keysId, workflowId, links };
}

// A member joins through the invitation link and lands signed in on the accounts page.
async function joinWith(context, link, name) {
  const page = await context.newPage();
  await page.goto(link);
  await keep(page, `invite-${name}`);
  await page.getByLabel(/^Password/).fill(MEMBER_PASSWORD);
  await Promise.all([page.waitForURL(`${BASE}/accounts`), page.getByRole('button', { name: 'Join' }).click()]);
  return page;
}

async function bob(context, ids, link) {
  const page = await joinWith(context, link, 'bob');
  const rows = page.locator('tbody tr');
  check(await rows.count() === 1, `bob: one account, got ${await rows.count()}`);
  check(await page.locator(`tr[data-account-id="${ids.keysId}"]`).count() === 1, 'bob: the shared account is listed');
  await page.locator('summary').first().click();
  const menu = await page.locator('details ul').first().innerText();
  check(!/Delete|Manage access|Rename/.test(menu), `bob: no owner actions offered, got ${menu}`);
  await keep(page, 'accounts-bob');
  // Signing out ends the session; the link does not work twice.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${BASE}/login`);
  await page.goto(link);
  await page.getByLabel(/^Password/).fill(MEMBER_PASSWORD);
  expected = (text) => /status of 404/.test(text);
  await page.getByRole('button', { name: 'Join' }).click();
  await page.getByRole('alert').filter({ hasText: 'already used or has expired' }).waitFor();
  expected = null;
  await signIn(page, 'bob@acme.test', MEMBER_PASSWORD);
  ok('bob: joined, sees only the account shared with him, and signs in with his password');
  await page.close();
}

async function carol(context, ids, link) {
  const page = await joinWith(context, link, 'carol');
  check(await page.locator('tbody tr').count() === 0, 'carol: sees no account');
  await page.goto(`${BASE}/workflows/${ids.workflowId}`);
  const step = page.locator('section.step');
  await step.locator('.read-only-reason').waitFor();
  check(/account you may not use/.test(await step.locator('.read-only-reason').innerText()), 'carol: the step says why it is read-only');
  check(await step.getByRole('button', { name: 'Save step' }).count() === 0, 'carol: no way to edit the step');
  check(await step.locator('textarea').count() === 0, 'carol: the props are shown read-only');
  const bound = await step.locator('p.binding').innerText();
  check(/may not see/.test(bound) && !bound.includes('Peer'), `carol: the bound account is not revealed, got ${bound}`);
  check(await step.getByRole('link', { name: 'connect an account of this app' }).count() === 1, 'carol: the page says how to edit the step');
  await step.getByRole('button', { name: 'Test step' }).click();
  await page.getByRole('status').filter({ hasText: 'Step tested.' }).waitFor();
  check(await page.locator('.run .outcome').innerText() === 'success', 'carol: her test of the read-only step succeeds');
  await keep(page, 'workflow-read-only');
  // The admin pages are not hers.
  expected = (text) => /status of 403/.test(text);
  const audit = await page.goto(`${BASE}/audit`);
  check(audit.status() === 403, `carol: /audit answers 403, got ${audit.status()}`);
  expected = null;
  ok('carol: sees the step read-only with the reason and tests it');
  await page.close();
}

async function ownerAgain(context, ids) {
  const page = await context.newPage();
  await signIn(page, OWNER_EMAIL, OWNER_PASSWORD);
  // Reconnect the OAuth account in place.
  await page.goto(`${BASE}/accounts/${ids.oauthId}`);
  const again = await oauthPopup(page, page.getByRole('button', { name: 'Reconnect' }));
  check(again === ids.oauthId, `reconnect: the same account id, got ${again}`);
  ok('owner: reconnected the OAuth account in place');
  // Delete the key-based one.
  await page.goto(`${BASE}/accounts/${ids.keysId}`);
  await keep(page, 'account-before-delete');
  await page.getByLabel('Delete Deploy key (prod)').check();
  await Promise.all([page.waitForURL(`${BASE}/accounts`), page.getByRole('button', { name: 'Delete account' }).click()]);
  check(await page.locator(`tr[data-account-id="${ids.keysId}"]`).count() === 0, 'delete: the account is gone from the list');
  ok('owner: deleted the key-based account');
  // A phone-sized look at the accounts page.
  await page.setViewportSize({ width: 390, height: 844 });
  await keep(page, 'accounts-phone');
  await page.emulateMedia({ colorScheme: 'dark' });
  await keep(page, 'accounts-dark');
  await page.close();
}

try {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  mkdirSync(HTML_DIR, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // One context (cookie jar) per person.
  const contextFor = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(TIMEOUT_MS);
    context.on('page', watch);
    return context;
  };
  const ids = await owner(await contextFor());
  await bob(await contextFor(), ids, ids.links.bob);
  await carol(await contextFor(), ids, ids.links.carol);
  await ownerAgain(await contextFor(), ids);
  if (headerProblems.length) await fail(`security headers:\n  ${headerProblems.join('\n  ')}`);
  ok('every Latchkey page sent CSP and X-Frame-Options: DENY; OAuth pages no-referrer');
  if (errors.length) await fail(`console or page errors:\n  ${errors.join('\n  ')}`);
  ok('no console or page errors');
  console.log(`RESULT ${JSON.stringify({ oauth: ids.oauthId, keys: ids.keysId, workflow: ids.workflowId })}`);
  await browser.close();
} catch (error) {
  await fail(`${error.message}${errors.length ? `\nerrors so far:\n  ${errors.join('\n  ')}` : ''}`);
}
