// The Socket.IO Admin UI at /admin/ (npm @socket.io/admin-ui, embedded by
// bin/mpmd) in Chromium, against mpmd's /admin namespace: the page loads
// nothing from outside, a wrong password is refused, the right one logs in;
// the dashboard shows the eight namespaces; a real socket.io-client's
// sockets show up with their handshake, connect and disconnect live, and
// one is disconnected from the UI (the client sees it); in readonly mode
// the UI offers no action.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startMpmd, tempHome, launchBrowser, io, MPMD, waitFor, withMpmdLog } from './harness.mjs';

const PASSWORD = 'correct horse battery';
let browser;
const started = [];

before(async () => { browser = await launchBrowser(); });
after(async () => {
  await browser?.close();
  for (const m of started) await m.stop();
  for (const m of started) m.home.cleanup();
});

async function mpmdWithAdmin(extra = []) {
  const hash = execFileSync(MPMD, ['admin-hash', '--cost', '4'], { input: PASSWORD + '\n' }).toString().trim();
  assert.match(hash, /^\$2a\$04\$/);
  const m = await startMpmd({ home: tempHome(), args: ['--admin-user', 'admin', '--admin-password-hash', hash, ...extra] });
  started.push(m);
  return m;
}

/** A socket.io-client (not a producer: a consumer, as the dashboard is). */
async function client(mpmd, ns, headers = {}) {
  const s = io(`${mpmd.url}${ns}`, { forceNew: true, reconnection: false, transports: ['websocket'], extraHeaders: headers });
  await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); });
  return s;
}

async function openAdmin(mpmd) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.requests = [];
  page.errors = [];
  page.on('request', (r) => page.requests.push(r.url()));
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${mpmd.url}/admin`);
  await page.getByRole('button', { name: 'Connect' }).waitFor();
  return page;
}

async function login(page, password) {
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Connect' }).click();
}

const connected = (page) => page.locator('.v-chip__content', { hasText: /^connected$/ }).first().waitFor({ timeout: 10000 });

/** Opens the Sockets view on namespace ns. */
async function socketsOf(page, mpmd, ns) {
  await page.goto(`${mpmd.url}/admin/#/sockets`);
  await connected(page);
  await page.locator('main .v-select').first().click();
  await page.locator('.menuable__content__active .v-list-item', { hasText: new RegExp(`^${ns}$`) }).click();
}

const row = (page, id) => page.locator('tbody tr', { hasText: id });

test('log in, namespaces, sockets with their handshake, live connect and disconnect, disconnect from the UI', (t) => withMpmdLog(() => started[0], async () => {
  const mpmd = await mpmdWithAdmin();
  const hook = await client(mpmd, '/hook', { 'x-mpm-test': 'admin-ui' });
  const page = await openAdmin(mpmd);

  // Same origin by default, nothing from outside (fonts and icons are bundled).
  assert.equal(await page.getByLabel('Server URL').inputValue(), mpmd.url);
  assert.deepEqual(page.requests.filter((u) => !u.startsWith(mpmd.url)), [], 'requests to other origins');
  const iconFont = await page.evaluate(async () => { await document.fonts.ready; return document.fonts.check('24px "Material Design Icons"'); });
  assert.ok(iconFont, 'the Material Design Icons font is loaded');

  // A wrong password is refused, and the form stays.
  await login(page, 'wrong password');
  await page.getByText('Invalid credentials').waitFor({ timeout: 10000 });
  assert.ok(await page.getByRole('button', { name: 'Connect' }).isVisible());

  await login(page, PASSWORD);
  await connected(page);
  // The session id is kept: a reload logs in without the form. The UI
  // stores it when mpmd's "session" event arrives, which can come after the
  // page shows it is connected.
  await waitFor(async () => /^[0-9a-f]{32}$/.test(await page.evaluate(() => localStorage.getItem('session_id')) ?? ''), { what: 'the session id in local storage' });

  // The dashboard's namespaces card: the eight, with /hook's one socket.
  for (const ns of ['/system', '/session', '/claude', '/agent', '/hook', '/todo', '/memory', '/log']) {
    await page.locator('td code', { hasText: new RegExp(`^${ns}$`) }).waitFor({ timeout: 10000 });
  }
  await waitFor(async () => (await page.locator('tr', { has: page.locator('code', { hasText: /^\/hook$/ }) }).innerText()).includes('1'), { what: '/hook has 1 socket' });

  // The /hook socket with its handshake.
  await socketsOf(page, mpmd, '/hook');
  await row(page, hook.id).waitFor({ timeout: 10000 });
  await row(page, hook.id).locator('td').first().click();
  await page.getByText('Initial HTTP request').waitFor();
  const details = await page.locator('main').innerText();
  assert.match(details, /x-mpm-test\s+admin-ui/, 'handshake headers');
  assert.match(details, /transport\s+websocket/, 'handshake query');
  assert.match(details, /Namespace\s+\/hook/);

  // A socket connects and disconnects live.
  await page.reload();
  await connected(page);
  const claude = await client(mpmd, '/claude');
  await socketsOf(page, mpmd, '/claude');
  const claudeID = claude.id;
  await row(page, claudeID).waitFor({ timeout: 10000 });
  claude.close();
  await row(page, claudeID).waitFor({ state: 'detached', timeout: 10000 });

  // Disconnect the /hook socket from the UI: the client hears it.
  const gone = new Promise((resolve) => hook.once('disconnect', resolve));
  await socketsOf(page, mpmd, '/hook');
  const hookID = hook.id;
  await row(page, hookID).locator('button').click();
  assert.equal(await Promise.race([gone, new Promise((r) => setTimeout(() => r('timeout'), 10000))]), 'io server disconnect');
  // The UI heard of it too (the click also opened the socket's details).
  await page.locator('tr', { hasText: /^Status/ }).filter({ hasText: /disconnected/i }).first().waitFor({ timeout: 10000 });
  assert.deepEqual(page.errors, []);
  await page.context().close();
}));

test('readonly mode: no actions in the UI, and none run', (t) => withMpmdLog(() => started.at(-1), async () => {
  const mpmd = await mpmdWithAdmin(['--admin-readonly']);
  const log = await client(mpmd, '/log');
  const page = await openAdmin(mpmd);
  await login(page, PASSWORD);
  await connected(page);
  await socketsOf(page, mpmd, '/log');
  await row(page, log.id).waitFor({ timeout: 10000 });
  assert.equal(await row(page, log.id).locator('button').count(), 0, 'a disconnect button in readonly mode');
  await row(page, log.id).locator('td').first().click();
  await page.getByText('Initial HTTP request').waitFor();
  await page.getByText('1-3 of 3').waitFor(); // its rooms: its own id, all, live
  const main = page.locator('main');
  assert.equal(await main.locator('.mdi-tag-off-outline').count(), 0, 'leave buttons in readonly mode');
  assert.equal(await main.locator('.mdi-logout').count(), 0, 'a disconnect button in readonly mode');
  // Admin UI 0.5.1 shows its join form whatever the server offers; the
  // server ignores it.
  await page.getByLabel('Join a room').fill('from-the-ui');
  await page.getByLabel('Join a room').press('Enter');
  await main.locator('form button').click();
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await page.getByText('from-the-ui', { exact: true }).count(), 0, 'readonly mode joined a room');
  await page.getByText('1-3 of 3').waitFor();
  // (That the server ignores actions in readonly mode is test/e2e's TestAdminReadonly.)
  assert.ok(log.connected);
  await page.context().close();
  log.close();
}));
