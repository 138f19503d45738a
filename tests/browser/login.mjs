// Drives a real headless Chromium through dinhdanh's sign-in: login page, consent page,
// redirect to the client; then a second client in the same browser context (single
// sign-on: consent without a login page); then the account area: the consents page,
// signing out from it, and signing in again from the page itself. Prints ONE JSON object on stdout with what it
// saw; exits non-zero with a message on stderr on anything unexpected.
//
// Inputs (flag, else environment variable):
//   --authorize URL      DINHDANH_AUTHORIZE      first client's /authorize URL
//   --sso-authorize URL  DINHDANH_SSO_AUTHORIZE  second client's /authorize URL
//   --username NAME      DINHDANH_USERNAME
//   --password SECRET    DINHDANH_PASSWORD
//   --screenshots DIR    DINHDANH_SCREENSHOTS    where login.png and consent.png go
//   --redirect-origin O  DINHDANH_REDIRECT_ORIGIN (default https://rp.example.vn)
//   DINHDANH_CHROMIUM    Chromium binary (default /usr/bin/chromium)
//   DINHDANH_PLAYWRIGHT  the playwright-core package folder
//                        (default $HOME/.cache/dinhdanh-browser/node_modules/playwright-core)

import { existsSync, statSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const TOTAL_MS = 30_000;
const STEP_MS = 10_000;
const started = Date.now();

function fail(message) {
  process.stderr.write(`login.mjs: ${message}\n`);
  process.exit(1);
}

// The whole run is bounded; Playwright kills the browser when the process exits.
setTimeout(() => fail(`gave up after ${TOTAL_MS / 1000} s`), TOTAL_MS);

function input(flag, env, fallback) {
  const i = process.argv.indexOf(`--${flag}`);
  const v = i >= 0 ? process.argv[i + 1] : process.env[env];
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback;
    fail(`missing --${flag} (or ${env})`);
  }
  return v;
}

const authorize = input('authorize', 'DINHDANH_AUTHORIZE');
const ssoAuthorize = input('sso-authorize', 'DINHDANH_SSO_AUTHORIZE');
const username = input('username', 'DINHDANH_USERNAME');
const password = input('password', 'DINHDANH_PASSWORD');
const shots = input('screenshots', 'DINHDANH_SCREENSHOTS');
const rpOrigin = input('redirect-origin', 'DINHDANH_REDIRECT_ORIGIN', 'https://rp.example.vn');
const executablePath = process.env.DINHDANH_CHROMIUM || '/usr/bin/chromium';
const pwDir =
  process.env.DINHDANH_PLAYWRIGHT ||
  join(process.env.HOME || '', '.cache/dinhdanh-browser/node_modules/playwright-core');
const opOrigin = new URL(authorize).origin;

if (!existsSync(executablePath)) fail(`no Chromium at ${executablePath} (run: bash .ci/test)`);
if (!existsSync(join(pwDir, 'index.mjs'))) fail(`no playwright-core at ${pwDir} (run: bash .ci/test)`);
mkdirSync(shots, { recursive: true });

const { chromium } = await import(pathToFileURL(join(pwDir, 'index.mjs')).href);

const out = {
  chromium: null,
  first: null,
  sso: null,
  account: null,
  a11y: null,
  screenshots: {},
  blocked_requests: [],
  console_errors: [],
  elapsed_ms: 0,
};

const browser = await chromium.launch({
  executablePath,
  headless: true,
  timeout: STEP_MS,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // The client does not exist: its host resolves nowhere, without asking any DNS server.
    `--host-resolver-rules=MAP ${new URL(rpOrigin).hostname} ~NOTFOUND`,
  ],
});
out.chromium = browser.version();
const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
context.setDefaultTimeout(STEP_MS);
context.setDefaultNavigationTimeout(STEP_MS);

// Only the OP is reachable. A direct request to the client (not a redirect, which
// Playwright cannot route) gets a tiny page; anything else is blocked and reported.
await context.route('**/*', (route) => {
  const url = route.request().url();
  const origin = new URL(url).origin;
  if (origin === opOrigin) return route.continue();
  if (origin === rpOrigin) {
    return route.fulfill({
      status: 200,
      contentType: 'text/html; charset=utf-8',
      body: '<!doctype html><html lang="en"><title>client</title><p>back at the client</p></html>',
    });
  }
  out.blocked_requests.push(url);
  return route.abort();
});

function watch(page) {
  page.on('console', (m) => {
    if (m.type() === 'error') out.console_errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => out.console_errors.push(`${page.url()}: ${e.message}`));
}

async function kind(page) {
  if (page.url().startsWith(`${rpOrigin}/`)) return 'client';
  if (await page.locator('input[name="password"]').count()) return 'login';
  if (await page.locator('button[name="decision"][value="allow"]').count()) return 'consent';
  return 'unexpected';
}

async function unexpected(page, what) {
  const path = join(shots, 'unexpected.png');
  await page.screenshot({ path, fullPage: true }).catch(() => {});
  const text = (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 400);
  fail(`${what} at ${page.url()} (title "${await page.title()}"): ${text} [screenshot ${path}]`);
}

// Clicks and waits for the navigation it causes to load. Playwright cannot route a
// redirected request, so a 303 to the client is not answered: it is captured here (the
// navigation then fails, as the client's host resolves nowhere) and returned.
async function clickAndFollow(page, selector) {
  let toClient = null;
  const onRequest = (r) => {
    if (!toClient && r.isNavigationRequest() && r.url().startsWith(`${rpOrigin}/`)) toClient = r;
  };
  page.on('request', onRequest);
  try {
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }).catch((e) => {
        if (!toClient) throw e;
      }),
      page.locator(selector).click(),
    ]);
  } finally {
    page.off('request', onRequest);
  }
  return toClient;
}

async function atClient(seen, request) {
  const u = new URL(request.url());
  const from = request.redirectedFrom();
  const fromResponse = from ? await from.response() : null;
  return {
    pages: [...seen, 'client'],
    final_url: request.url(),
    redirected_from: from ? from.url() : null,
    redirect_status: fromResponse ? fromResponse.status() : null,
    code: u.searchParams.get('code'),
    state: u.searchParams.get('state'),
    iss: u.searchParams.get('iss'),
    error: u.searchParams.get('error'),
  };
}

async function shoot(page, name) {
  const path = join(shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  out.screenshots[name] = { path, bytes: statSync(path).size };
}

// What a person can rely on in the login page: labels, keyboard, language, no inline script.
async function checkLogin(page) {
  const facts = await page.evaluate(() => {
    const label = (name) => {
      const el = document.querySelector(`input[name="${name}"]`);
      if (!el || !el.id) return false;
      const l = document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
      return !!l && l.textContent.trim().length > 0;
    };
    return {
      lang: document.documentElement.getAttribute('lang') || '',
      username_labelled: label('username'),
      password_labelled: label('password'),
      username_autofocused: document.activeElement?.getAttribute('name') === 'username',
      inline_scripts: [...document.scripts].filter((s) => !s.src).length,
      title: document.title,
    };
  });
  await page.locator('input[name="username"]').focus();
  await page.keyboard.press('Tab');
  facts.tab_reaches_password = await page.evaluate(
    () => document.activeElement?.getAttribute('name') === 'password',
  );
  return facts;
}

// Follows one authorization to the client, acting on each page as a person would.
async function authorizeOnce(page, url, label) {
  const seen = [];
  const resp = await page.goto(url, { waitUntil: 'load' });
  if (!resp) fail(`${label}: no response for ${url}`);
  for (let step = 0; step < 4; step++) {
    const k = await kind(page);
    seen.push(k);
    let toClient = null;
    if (k === 'login') {
      if (seen.filter((s) => s === 'login').length > 1) {
        const err = await page.locator('#login-error').innerText().catch(() => '');
        await unexpected(page, `${label}: login page shown again (${err || 'no error text'})`);
      }
      if (!out.a11y) {
        await shoot(page, 'login');
        out.a11y = await checkLogin(page);
      }
      await page.locator('input[name="username"]').fill(username);
      await page.locator('input[name="password"]').fill(password);
      toClient = await clickAndFollow(page, 'button[name="action"][value="login"]');
    } else if (k === 'consent') {
      if (!out.screenshots.consent) await shoot(page, 'consent');
      toClient = await clickAndFollow(page, 'button[name="decision"][value="allow"]');
    } else {
      await unexpected(page, `${label}: neither login, consent nor the client`);
    }
    if (toClient) return atClient(seen, toClient);
  }
  return fail(`${label}: no redirect to the client after ${seen.join(' → ')}`);
}

// Clicks and waits for the page it leads to.
async function clickTo(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.locator(selector).click()]);
}

// The account area as a signed-in person finds it: receipts, "sign out" (confirmed),
// then the page again, which now leads through the login page and back.
async function accountArea(page) {
  const signedIn = await page.goto(`${opOrigin}/account/consents`, { waitUntil: 'load' });
  const receiptsBefore = await page.locator('section.receipt').count();
  await clickTo(page, 'a[href^="/end_session"]');
  if (!(await page.locator('button[name="logout"][value="yes"]').count())) {
    await unexpected(page, 'no sign-out confirmation');
  }
  await clickTo(page, 'button[name="logout"][value="yes"]');
  // Signed out, the page leads straight to the login page.
  await page.goto(`${opOrigin}/account/consents`, { waitUntil: 'load' });
  const signedOutAt = new URL(page.url()).pathname;
  if ((await kind(page)) !== 'login') await unexpected(page, 'the account page showed no login page');
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await clickTo(page, 'button[name="action"][value="login"]');
  if (!out.screenshots.account) await shoot(page, 'account');
  return {
    status_signed_in: signedIn.status(),
    receipts_before: receiptsBefore,
    signed_out_at: signedOutAt,
    back_at: new URL(page.url()).pathname,
    receipts_after: await page.locator('section.receipt').count(),
  };
}

try {
  const page = await context.newPage();
  watch(page);
  out.first = await authorizeOnce(page, authorize, 'first sign-in');
  // A new tab in the same browser context: the session cookie should carry over.
  const tab = await context.newPage();
  watch(tab);
  out.sso = await authorizeOnce(tab, ssoAuthorize, 'single sign-on');
  // The account area in a third tab (the others ended at the unreachable client).
  const mine = await context.newPage();
  watch(mine);
  out.account = await accountArea(mine);
} catch (e) {
  fail(e && e.stack ? e.stack : String(e));
}
await browser.close();
out.elapsed_ms = Date.now() - started;
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
