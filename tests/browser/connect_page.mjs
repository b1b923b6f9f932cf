// Drives Latchkey's hosted connect page (/_static/connect.html) in a real headless Chromium, the
// way a product embeds it: the product's page (OPENER_URL, served by the Rust test on an origin
// listed in the connect tokens' allowed_origins) opens the connect page in a popup and listens
// for its postMessage. Runs the key-based flow (a wrong key first, then the right one) and the
// OAuth flow (a second popup through the provider), fails on any console or page error of a
// Latchkey or product page, saves screenshots, and prints
//   RESULT {"keys":"apn_…","oauth":"apn_…"}
// for the Rust side (crates/latchkey-server/tests/api/browser.rs) to check through the API.
//
// Environment: OPENER_URL, CONNECT_URL_KEYS, CONNECT_URL_OAUTH, PROVIDER_KEY, SCREENSHOT_DIR,
// CHROMIUM (default /usr/bin/chromium). Exit status 1 on failure, 2 on missing configuration.
import { mkdirSync } from 'node:fs';
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
const OPENER_URL = env('OPENER_URL');
const CONNECT_URL_KEYS = env('CONNECT_URL_KEYS');
const CONNECT_URL_OAUTH = env('CONNECT_URL_OAUTH');
const PROVIDER_KEY = env('PROVIDER_KEY');
const SCREENSHOT_DIR = env('SCREENSHOT_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LATCHKEY = new URL(CONNECT_URL_KEYS).origin;
const PRODUCT = new URL(OPENER_URL).origin;
const TIMEOUT_MS = 20_000;

// A hung browser must not hang the Rust test: give up (and kill Chromium) after a minute.
const watchdog = setTimeout(() => fail('the browser test took longer than 60 s'), 60_000);
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
const shot = (page, name) => page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });

// Console errors and uncaught exceptions of our pages (Latchkey's and the product's; the
// provider's pages are not ours to judge). Chromium logs every failed request as a console
// error, so two are tolerated: its own automatic /favicon.ico (Latchkey serves none), and,
// through `expected`, the 400 of the request one step deliberately makes fail.
const errors = [];
let expected = null;
function watch(page) {
  const ours = () => [LATCHKEY, PRODUCT].includes(originOf(page.url()));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location().url || page.url();
    if (/status of 404/.test(msg.text()) && where === `${LATCHKEY}/favicon.ico`) return;
    if (expected && expected(msg.text(), where)) return;
    if (ours() || [LATCHKEY, PRODUCT].includes(originOf(where))) errors.push(`console: ${msg.text()} (${where})`);
  });
  page.on('pageerror', (error) => {
    if (ours()) errors.push(`pageerror: ${error.message} (${page.url()})`);
  });
}
function originOf(url) {
  try { return new URL(url).origin; } catch { return ''; }
}

// The product page with the connect URL; returns it and the connect popup it opens on a click.
async function openConnect(context, connectUrl) {
  const opener = await context.newPage();
  await opener.goto(`${OPENER_URL}?connect=${encodeURIComponent(connectUrl)}`);
  const [popup] = await Promise.all([opener.waitForEvent('popup'), opener.click('#open')]);
  await popup.waitForLoadState();
  return { opener, popup };
}
const messages = (opener) => opener.evaluate(() => window.__messages);

// Waits for the opener's one success message from Latchkey's origin; returns the account id.
async function successId(opener, flow) {
  await opener.waitForFunction(() => window.__messages.length > 0, null, { timeout: TIMEOUT_MS });
  const got = await messages(opener);
  check(got.length === 1, `${flow}: exactly one message, got ${JSON.stringify(got)}`);
  const [{ origin, data }] = got;
  check(origin === LATCHKEY, `${flow}: the message comes from ${LATCHKEY}, not ${origin}`);
  check(data?.type === 'success', `${flow}: a success message, got ${JSON.stringify(data)}`);
  check(/^apn_[0-9A-Za-z]+$/.test(data.authProvisionId ?? ''), `${flow}: an account id, got ${JSON.stringify(data)}`);
  return data.authProvisionId;
}

async function keyBased(context) {
  const { opener, popup } = await openConnect(context, CONNECT_URL_KEYS);
  const form = popup.locator('form#connect-keys');
  await form.waitFor({ timeout: TIMEOUT_MS });
  check(await popup.locator('h1').innerText() === 'Connect Demo API', 'keys: the heading names the app');
  check(await form.getByLabel('API key').getAttribute('type') === 'password', 'keys: the key is a password field');
  await shot(popup, 'keys-form');
  ok('keys: the form renders with one password field');

  // A wrong key: the check fails, the form says why and stays usable; nobody is told success.
  expected = (text, where) => /status of 400/.test(text) && where === `${LATCHKEY}/v1/connect/accounts`;
  await form.locator('input[name="api_key"]').fill('wrong-key');
  await form.getByRole('button', { name: 'Connect' }).click();
  const alert = form.getByRole('alert');
  await popup.waitForFunction(() => document.querySelector('#connect-keys [role="alert"]')?.textContent !== '', null, { timeout: TIMEOUT_MS });
  const text = await alert.innerText();
  check(/^The credentials did not work: Demo API answered 401/.test(text), `keys: the error says the credentials did not work, got ${JSON.stringify(text)}`);
  check(await form.getByRole('button', { name: 'Connect' }).isEnabled(), 'keys: the button is enabled again');
  check(!popup.isClosed(), 'keys: the popup stays open');
  check((await messages(opener)).length === 0, 'keys: no message to the opener after a wrong key');
  expected = null;
  await shot(popup, 'keys-error');
  // The page follows the system's colour scheme; look at the dark one once.
  await popup.emulateMedia({ colorScheme: 'dark' });
  await shot(popup, 'keys-error-dark');
  await popup.emulateMedia({ colorScheme: 'light' });
  ok('keys: a wrong key shows the error in the form');

  // The right key: the opener hears success from Latchkey's origin.
  await form.locator('input[name="api_key"]').fill(PROVIDER_KEY);
  await form.getByRole('button', { name: 'Connect' }).click();
  const id = await successId(opener, 'keys');
  await popup.getByRole('status').filter({ hasText: 'Your account is connected' }).waitFor({ timeout: TIMEOUT_MS });
  await shot(popup, 'keys-success');
  ok(`keys: the opener received success for ${id}`);
  await popup.close();
  await opener.close();
  return id;
}

async function oauth(context) {
  const { opener, popup } = await openConnect(context, CONNECT_URL_OAUTH);
  const button = popup.locator('button#connect-oauth');
  await button.waitFor({ timeout: TIMEOUT_MS });
  check(await button.innerText() === 'Connect Peer', 'oauth: the button names the app');
  await shot(popup, 'oauth-step');
  ok('oauth: the connect page offers the OAuth button');

  // The button opens the `latchkey_oauth` popup, which goes through the provider (it logs in and
  // consents by itself) back to /oauth/callback, reports to the connect page and closes itself.
  const [provider] = await Promise.all([popup.waitForEvent('popup'), button.click()]);
  const visited = [];
  provider.on('framenavigated', (frame) => { if (frame === provider.mainFrame()) visited.push(frame.url()); });
  await provider.waitForEvent('close', { timeout: TIMEOUT_MS });
  check(visited.some((u) => u.startsWith(`${LATCHKEY}/oauth/callback?`)), `oauth: the popup reached the callback, saw ${visited.map(originOf).join(' ')}`);
  const id = await successId(opener, 'oauth');
  await popup.getByRole('status').filter({ hasText: 'Your account is connected' }).waitFor({ timeout: TIMEOUT_MS });
  await shot(popup, 'oauth-success');
  ok(`oauth: the OAuth popup closed itself and the opener received success for ${id}`);
  await popup.close();
  await opener.close();
  return id;
}

try {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // Playwright gives each launch a fresh, temporary --user-data-dir and adds --headless.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // A popup-sized viewport: that is how people see the connect page.
  const context = await browser.newContext({ viewport: { width: 480, height: 640 } });
  context.setDefaultTimeout(TIMEOUT_MS);
  context.on('page', watch);
  const keys = await keyBased(context);
  const oauthId = await oauth(context);
  check(keys !== oauthId, 'two different accounts');
  if (errors.length) await fail(`console or page errors:\n  ${errors.join('\n  ')}`);
  ok('no console or page errors');
  console.log(`RESULT ${JSON.stringify({ keys, oauth: oauthId })}`);
  await browser.close();
} catch (error) {
  await fail(`${error.message}${errors.length ? `\nerrors so far:\n  ${errors.join('\n  ')}` : ''}`);
}
