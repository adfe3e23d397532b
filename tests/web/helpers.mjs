// helpers: the browser, pages and assertions shared by the dataset/project browser tests.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BASE = (process.env.IBX_WEB_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const OUT = process.env.IBX_TEST_OUTPUT || path.resolve(HERE, '../../test-output/web');
const CHROMIUM = process.env.IBX_CHROMIUM || '/usr/bin/chromium';
export const TOKEN_KEY = 'ibx.access_token';

export async function reachable() {
  try {
    const res = await fetch(`${BASE}/`, { signal: AbortSignal.timeout(3000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function launch() {
  mkdirSync(OUT, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A fresh context with a watch on script errors and CSP violations.
export async function openPage(browser, { width = 1280, height = 900, locale = 'en-US' } = {}) {
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

export async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
}

export async function visible(page, selector) {
  await page.locator(selector).first().waitFor({ state: 'visible' });
}

// Waits until selector's text contains text, outside anything hidden.
export async function seeText(page, selector, text) {
  try {
    await page.waitForFunction(([s, x]) => [...document.querySelectorAll(s)]
      .some((n) => !n.closest('[hidden]') && n.textContent.includes(x)), [selector, text]);
  } catch (e) {
    const actual = await page.evaluate((s) => [...document.querySelectorAll(s)].map((n) => n.textContent.trim().slice(0, 300)), selector);
    throw new Error(`"${text}" never appeared in ${selector}; it shows: ${JSON.stringify(actual)}`);
  }
}

export async function count(page, selector) {
  return page.locator(selector).count();
}

export async function noHorizontalScroll(page) {
  // Charts follow a new viewport on their next resize callback: give the layout a moment.
  await page.waitForFunction(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth,
    null, { timeout: 3000 }).catch(() => {});
  const [scroll, client] = await page.evaluate(() => [
    document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  if (scroll > client) {
    const wide = await page.evaluate((w) => [...document.querySelectorAll('body *')]
      .filter((n) => n.getBoundingClientRect().right > w + 0.5 && !n.closest('.table-wrap'))
      .slice(-3).map((n) => `${n.tagName.toLowerCase()}.${n.className}#${n.id}`), client);
    assert.fail(`the page scrolls sideways (${scroll} > ${client}): ${wide.join(', ')}`);
  }
}

export function json(route, status, body, headers = {}) {
  return route.fulfill({ status, contentType: 'application/json', headers, body: JSON.stringify(body) });
}

// The ids (or names) of form controls on the page without a label with words.
export async function unlabelled(page, root = 'body') {
  return page.evaluate((r) => [...document.querySelectorAll(`${r} input, ${r} select, ${r} textarea`)]
    .filter((n) => !(n.labels && [...n.labels].some((l) => l.textContent.trim())) && !n.getAttribute('aria-label'))
    .map((n) => n.id || n.name), root);
}
