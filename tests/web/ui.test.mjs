// End-to-end tests of the IBIS-X browser UI (services/web/dist) through the gateway.
//
//   IBX_WEB_URL=http://127.0.0.1:8080 node --test tests/web/ui.test.mjs
//
// The first test is a real journey against the running stack (sign up, profile, catalogue,
// French, sign out, sign in, an expired session). The others replace some API answers with
// page.route() to reach the states a fresh stack never shows: a catalogue with datasets and
// several pages, a service that is down, an error page that is not JSON.
// Screenshots go to $IBX_TEST_OUTPUT (default: test-output/web at the repository root).
// Without IBX_WEB_URL the tests try http://127.0.0.1:8080 and are skipped when nothing answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BASE = (process.env.IBX_WEB_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const OUT = process.env.IBX_TEST_OUTPUT || path.resolve(HERE, '../../test-output/web');
const CHROMIUM = process.env.IBX_CHROMIUM || '/usr/bin/chromium';
const TOKEN_KEY = 'ibx.access_token';

let browser;
let skipReason = null;

async function reachable() {
  try {
    const res = await fetch(`${BASE}/`, { signal: AbortSignal.timeout(3000) });
    return res.ok;
  } catch {
    return false;
  }
}

before(async () => {
  if (!(await reachable())) {
    if (process.env.IBX_WEB_URL) throw new Error(`the web UI does not answer at ${BASE}/`);
    skipReason = `nothing answers at ${BASE}/ (start the stack with make up, or set IBX_WEB_URL)`;
    return;
  }
  mkdirSync(OUT, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

// A fresh browser context in English, with a watch on script errors and CSP violations.
async function openPage({ width = 1280, height = 800, locale = 'en-US' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) {
      problems.push(`CSP: ${m.text()}`);
    }
  });
  return { context, page, problems };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
}

async function visible(page, selector) {
  await page.locator(selector).waitFor({ state: 'visible' });
}

// Waits until selector's text contains text (and so is visible to a reader).
async function seeText(page, selector, text) {
  await page.waitForFunction(([s, x]) => {
    const node = document.querySelector(s);
    return Boolean(node && !node.closest('[hidden]') && node.textContent.includes(x));
  }, [selector, text]);
}

async function textOf(page, selector) {
  return (await page.locator(selector).textContent()).trim();
}

async function noHorizontalScroll(page) {
  const [scroll, client] = await page.evaluate(() => [
    document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client, `the page scrolls sideways (${scroll} > ${client})`);
}

test('journey: sign up, profile, catalogue, French, sign out, sign in, expired session', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { context, page, problems } = await openPage();
  const email = `web-ui-${Date.now()}-${process.pid}@example.org`;
  const password = 'a calm long passphrase';
  const registerCalls = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/api/v1/auth/register')) registerCalls.push(r);
  });

  try {
    await page.goto(`${BASE}/`);
    await visible(page, '#view-auth');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await seeText(page, '#auth-title', 'Sign in');
    for (const id of ['auth-email', 'auth-password']) {
      assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `${id} has a label`);
    }
    await shot(page, '01-sign-in');

    // Sign-up with a weak password: the browser says why and sends nothing.
    await page.click('#mode-signup');
    await seeText(page, '#auth-title', 'Create your account');
    await visible(page, '#auth-display-name');
    await page.fill('#auth-email', email);
    await page.fill('#auth-password', 'short');
    await page.press('#auth-password', 'Enter');
    await seeText(page, '#auth-password-error', 'at least 8 characters');
    assert.equal(await page.getAttribute('#auth-password', 'aria-invalid'), 'true');
    assert.equal(await page.getAttribute('#auth-error', 'aria-live'), 'assertive');
    assert.equal(registerCalls.length, 0, 'a weak password is not sent to the server');
    await shot(page, '02-weak-password');

    // A good password: the account is created; the profile questions come first, then home.
    await page.fill('#auth-password', password);
    await page.fill('#auth-display-name', 'Ada Web');
    await page.press('#auth-password', 'Enter');
    await visible(page, '#onboarding-form');
    await page.selectOption('#ob-education', 'bachelor');
    await page.fill('#ob-age', '29');
    await page.check('#ob-fam-2');
    await page.click('#onboarding-submit');
    await visible(page, '#view-home');
    assert.equal(registerCalls.length, 1);
    assert.equal(registerCalls[0].headers()['content-type'], 'application/json');
    await seeText(page, '#user-name', 'Ada Web');
    await seeText(page, '#user-role', 'User');
    await seeText(page, '#profile-email', email);
    await seeText(page, '#profile-audience', 'Novice');
    assert.match(await textOf(page, '#profile-created'), /\d{4}/);
    const token = await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY);
    assert.ok(token && token.length > 20, 'the access token is kept in sessionStorage');
    assert.equal(await page.evaluate((k) => localStorage.getItem(k), TOKEN_KEY), null,
      'the access token is not in localStorage');

    // The catalogue settles on the empty state or a table of datasets, never a blank.
    await page.waitForSelector('#catalogue-body .state-empty, #catalogue-body table.datasets, #catalogue-body .state-error');
    assert.equal(await page.locator('#catalogue-body .state-error').count(), 0, 'the catalogue loads');
    if (await page.locator('#catalogue-body .state-empty').count()) {
      await seeText(page, '#catalogue-body', 'Datasets will appear here once they are added');
    } else {
      assert.ok(await page.locator('table.datasets tbody tr').count() > 0);
      await seeText(page, '#page-info', 'Page 1 of');
    }
    await shot(page, '03-home-en');

    // French: every string switches, the choice survives a reload, and so does the session.
    await page.click('[data-lang-choice="fr"]');
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await seeText(page, '#home-title', 'Bienvenue, Ada Web');
    await seeText(page, '#catalogue-title', 'Catalogue de jeux de données');
    await seeText(page, '#signout', 'Se déconnecter');
    await seeText(page, '#profile-role', 'Utilisateur');
    assert.equal(await page.getAttribute('[data-lang-choice="fr"]', 'aria-pressed'), 'true');
    assert.equal(await page.evaluate(() => localStorage.getItem('ibx.lang')), 'fr');
    await page.reload();
    await visible(page, '#view-home');
    await seeText(page, '#profile-title', 'Votre profil');
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await shot(page, '04-home-fr');

    // A phone: same content, nothing wider than the screen.
    await page.setViewportSize({ width: 375, height: 740 });
    await visible(page, '#signout');
    await noHorizontalScroll(page);
    await shot(page, '05-home-fr-phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.click('[data-lang-choice="en"]');
    await seeText(page, '#catalogue-title', 'Dataset catalogue');

    // Sign out: the token goes, the sign-in screen says so.
    await page.click('#signout');
    await visible(page, '#view-auth');
    await seeText(page, '#auth-status', 'You have signed out');
    assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY), null);

    // The server's own errors, in words next to the form.
    await page.click('#mode-signup');
    await page.fill('#auth-email', email);
    await page.fill('#auth-password', password);
    await page.press('#auth-password', 'Enter');
    await seeText(page, '#auth-error', 'already exists');
    await page.click('#mode-signin');
    await page.fill('#auth-email', email);
    await page.fill('#auth-password', 'not the right password');
    await page.press('#auth-password', 'Enter');
    await seeText(page, '#auth-error', 'The email or password is incorrect');
    await shot(page, '06-wrong-password');

    // Sign in again.
    await page.fill('#auth-password', password);
    await page.press('#auth-password', 'Enter');
    await visible(page, '#view-home');
    await seeText(page, '#profile-email', email);
    await visible(page, '#user-box');

    // A token the server refuses: back to sign-in with the session-ended message.
    await page.evaluate((k) => sessionStorage.setItem(k, 'not.a.valid-token'), TOKEN_KEY);
    await page.reload();
    await visible(page, '#view-auth');
    await seeText(page, '#auth-status', 'Your session has ended, please sign in again');
    assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY), null);
    await shot(page, '07-session-ended');

    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-journey').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

// ------------------------------------------------------------------ states through page.route()

const USER = {
  id: 'u-1', email: 'grace@example.org', display_name: 'Grace', role: 'admin', is_active: true,
  locale: 'en', education_level: 'phd', age: 41, ai_familiarity: 4, audience_level: 'expert',
  created_at: '2026-01-15T10:00:00Z',
};

function dataset(i) {
  return {
    id: `ds-${i}`, name: `dataset_${i}`, display_name: `Dataset number ${i}`, year: 2000 + i,
    objective: 'Predict whether a loan will be repaid from the applicant’s history.',
    access: 'public', instances_number: 1000 * i + 234, features_number: 10 + i,
    domain: ['finance', 'society'], task: ['classification'], num_citations: i,
  };
}

function json(route, status, body, headers = {}) {
  return route.fulfill({
    status, contentType: 'application/json', headers, body: JSON.stringify(body),
  });
}

// A signed-in page whose /users/me answers USER; datasets(route, url) answers the catalogue
// (and the home screen's recent experiments are an empty list).
async function signedInWithMocks(t, datasets, viewport) {
  const opened = await openPage(viewport);
  await opened.context.addInitScript((k) => {
    if (!sessionStorage.getItem(k)) sessionStorage.setItem(k, 'mock-token');
  }, TOKEN_KEY);
  await opened.context.route('**/api/v1/users/me', (route) => json(route, 200, USER));
  await opened.context.route('**/api/v1/datasets**', (route) => datasets(route, new URL(route.request().url())));
  await opened.context.route('**/api/v1/experiments**', (route) => json(route, 200, {
    experiments: [], total_count: 0, page: 1, page_size: 5, total_pages: 0,
  }));
  return opened;
}

test('catalogue: datasets, paging, sorting, phone cards (mocked API)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const seen = [];
  const { context, page, problems } = await signedInWithMocks(t, (route, url) => {
    seen.push(url.searchParams);
    const p = Number(url.searchParams.get('page'));
    const items = p === 1 ? [1, 2, 3].map(dataset) : [dataset(4)];
    return json(route, 200, {
      datasets: items, total_count: 4, page: p, page_size: 3, total_pages: 2,
    });
  });
  try {
    await page.goto(`${BASE}/`);
    await visible(page, '#view-home');
    await seeText(page, '#user-role', 'Administrator');
    await seeText(page, '#profile-audience', 'Expert');
    await page.waitForSelector('table.datasets tbody tr');
    assert.equal(await page.locator('table.datasets tbody tr').count(), 3);
    await seeText(page, 'table.datasets', 'Dataset number 2');
    await seeText(page, 'table.datasets', '2,234');
    await seeText(page, 'table.datasets', 'classification');
    await seeText(page, '#page-info', 'Page 1 of 2');
    await seeText(page, '#catalogue-status', '4 datasets');
    assert.equal(await page.getAttribute('#page-prev', 'aria-disabled'), 'true');
    assert.equal(seen[0].get('page_size'), '12');
    assert.equal(seen[0].get('sort_by'), 'name');
    await shot(page, '10-catalogue');

    await page.click('#page-next');
    await seeText(page, '#page-info', 'Page 2 of 2');
    assert.equal(await page.locator('table.datasets tbody tr').count(), 1);
    assert.equal(await page.getAttribute('#page-next', 'aria-disabled'), 'true');
    await page.click('#page-prev');
    await seeText(page, '#page-info', 'Page 1 of 2');

    await page.selectOption('#sort-by', 'year');
    await page.selectOption('#sort-order', 'desc');
    await page.waitForFunction(() => !document.querySelector('#catalogue-body').classList.contains('is-loading'));
    const last = seen[seen.length - 1];
    assert.equal(last.get('sort_by'), 'year');
    assert.equal(last.get('sort_order'), 'desc');
    assert.equal(last.get('page'), '1');

    await page.click('[data-lang-choice="fr"]');
    await seeText(page, 'table.datasets thead', 'Variables');
    await seeText(page, '#page-info', 'Page 1 sur 2');
    await seeText(page, '#user-role', 'Administrateur');

    await page.setViewportSize({ width: 375, height: 740 });
    await noHorizontalScroll(page);
    await shot(page, '11-catalogue-phone-fr');
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-catalogue').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

test('errors: unreachable service, non-JSON bodies, Retry, 401 mid-session (mocked API)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  let mode = 'down';
  const { context, page, problems } = await signedInWithMocks(t, (route) => {
    if (mode === 'down') {
      return route.fulfill({
        status: 503, contentType: 'text/html', headers: { 'Retry-After': '5' },
        body: '<html><body>Service Unavailable</body></html>',
      });
    }
    if (mode === 'broken') return route.fulfill({ status: 500, contentType: 'text/plain', body: 'oops' });
    if (mode === 'expired') {
      return json(route, 401, { error: 'unauthorized', message: 'token expired', details: {}, request_id: 'r' });
    }
    return json(route, 200, { datasets: [], total_count: 0, page: 1, page_size: 12, total_pages: 0 });
  });
  try {
    // 503 with an HTML body: the words and a Retry button, not a crash.
    await page.goto(`${BASE}/`);
    await visible(page, '#view-home');
    await seeText(page, '#catalogue-body', 'IBIS-X is not reachable right now');
    await seeText(page, '#catalogue-body', 'about 5 seconds');
    await shot(page, '20-catalogue-unreachable');
    mode = 'broken';
    await page.click('#catalogue-retry');
    await seeText(page, '#catalogue-body', 'The datasets could not be loaded');
    await seeText(page, '#catalogue-body', '(500)');
    mode = 'ok';
    await page.click('#catalogue-retry');
    await seeText(page, '#catalogue-body', 'Datasets will appear here once they are added');

    // A 401 from any call ends the session.
    mode = 'expired';
    await page.selectOption('#sort-by', 'year');
    await visible(page, '#view-auth');
    await seeText(page, '#auth-status', 'Your session has ended, please sign in again');

    // The API unreachable at start-up: a whole-page message with Retry.
    await context.unroute('**/api/v1/users/me');
    let meDown = true;
    await context.route('**/api/v1/users/me', (route) => (meDown ? route.abort('connectionrefused') : json(route, 200, USER)));
    await page.evaluate((k) => sessionStorage.setItem(k, 'mock-token'), TOKEN_KEY);
    await page.reload();
    await visible(page, '#view-fatal');
    await seeText(page, '#fatal-title', 'IBIS-X is not reachable right now');
    await shot(page, '21-start-unreachable');
    meDown = false;
    mode = 'ok';
    await page.click('#fatal-retry');
    await visible(page, '#view-home');

    // Sign-in answered by a proxy's HTML page: words in the form, not a crash.
    await page.click('#signout');
    await context.route('**/api/v1/auth/login', (route) => route.fulfill({
      status: 502, contentType: 'text/html', body: '<h1>Bad Gateway</h1>',
    }));
    await page.fill('#auth-email', 'grace@example.org');
    await page.fill('#auth-password', 'whatever long');
    await page.press('#auth-password', 'Enter');
    await seeText(page, '#auth-error', 'IBIS-X is not reachable right now');
    await context.unroute('**/api/v1/auth/login');
    await context.route('**/api/v1/auth/login', (route) => json(route, 422, {
      error: 'validation_failed', message: 'password must be at least 8 characters',
      details: { fields: [{ field: 'password', problem: 'must be at least 8 characters' }] },
      request_id: 'x',
    }));
    await page.press('#auth-password', 'Enter');
    await seeText(page, '#auth-password-error', 'at least 8 characters');
    await page.click('[data-lang-choice="fr"]');
    await seeText(page, '#auth-password-error', 'au moins 8 caractères');
    await shot(page, '22-server-field-error-fr');
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-errors').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

// ------------------------------------------------------------------ static checks

test('dist: nothing the gateway CSP would block, nothing from outside', () => {
  const dist = path.resolve(HERE, '../../services/web/dist');
  const files = readdirSync(dist).filter((f) => /\.(html|js|css|svg)$/.test(f));
  assert.ok(files.includes('index.html') && files.includes('app.js') && files.includes('style.css'));
  for (const f of files) {
    const text = readFileSync(path.join(dist, f), 'utf8');
    assert.doesNotMatch(text, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, `${f} loads nothing from another origin`);
    if (f.endsWith('.html')) {
      assert.doesNotMatch(text, /\sstyle\s*=/i, `${f}: no style attributes`);
      assert.doesNotMatch(text, /<style/i, `${f}: no <style> blocks`);
      assert.doesNotMatch(text, /\son[a-z]+\s*=/i, `${f}: no inline event handlers`);
      for (const m of text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
        assert.match(m[1], /\ssrc=/, `${f}: scripts come from files`);
        assert.equal(m[2].trim(), '', `${f}: no inline script`);
      }
    }
    if (f.endsWith('.js')) {
      assert.doesNotMatch(text, /\.innerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function/,
        `${f}: no HTML strings or eval`);
      assert.doesNotMatch(text, /localStorage\.setItem\([^)]*TOKEN/, `${f}: the token never goes to localStorage`);
    }
  }
});

test('i18n: English and French have the same keys and cover the page', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { context, page, problems } = await openPage();
  try {
    await page.goto(`${BASE}/`);
    await visible(page, '#view-auth');
    const report = await page.evaluate(async () => {
      const { dictionaries } = await import('/i18n.js');
      const en = Object.keys(dictionaries.en);
      const fr = Object.keys(dictionaries.fr);
      const used = [...document.querySelectorAll('[data-i18n],[data-i18n-aria-label]')]
        .map((n) => n.dataset.i18n || n.dataset.i18nAriaLabel);
      return {
        onlyEn: en.filter((k) => !fr.includes(k)),
        onlyFr: fr.filter((k) => !en.includes(k)),
        missing: used.filter((k) => !en.includes(k) || !fr.includes(k)),
        emptyFr: fr.filter((k) => !dictionaries.fr[k]),
      };
    });
    assert.deepEqual(report, { onlyEn: [], onlyFr: [], missing: [], emptyFr: [] });
    // Every control has a label, in both languages.
    for (const lang of ['fr', 'en']) {
      await page.click(`[data-lang-choice="${lang}"]`);
      const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select')]
        .filter((n) => !n.labels || !n.labels.length || !n.labels[0].textContent.trim())
        .map((n) => n.id));
      assert.deepEqual(unlabelled, [], `unlabelled controls in ${lang}`);
    }
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
