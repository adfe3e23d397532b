// Browser tests of the explanation screens (services/web/dist/explain.js) through the
// gateway, against the real ml-pipeline and xai-engine APIs and one worker of each
// (tools/web-test.sh starts them).
//
//   IBX_WEB_URL=http://127.0.0.1:8080 node --test tests/web/explain.test.mjs
//
// The journey: a user (made through the API) trains a random forest on iris (through the
// API), opens its results page, asks for a global explanation in the "Explain this model"
// panel, follows its progress to the end, sees a ranking whose first column is a petal
// measurement and the narrative, switches the reader level and reads another narrative,
// asks a local LIME explanation of row 0 and sees its contributions, reads the panel in
// French, finds both explanations in the list, then asks for partial dependence curves and
// permutation importance. Screenshots go to $IBX_TEST_OUTPUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BASE, TOKEN_KEY, reachable, launch, openPage, shot, visible, seeText, count, noHorizontalScroll, unlabelled,
} from './helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const IRIS = readFileSync(path.resolve(HERE, '../fixtures/iris.csv'), 'utf8');
const RUN = `${Date.now().toString(36)}${process.pid}`;
const XAI_TIMEOUT = 90000;

let browser;
let skipReason = null;

before(async () => {
  if (!(await reachable())) {
    if (process.env.IBX_WEB_URL) throw new Error(`the web UI does not answer at ${BASE}/`);
    skipReason = `nothing answers at ${BASE}/ (start the stack with make up, or set IBX_WEB_URL)`;
    return;
  }
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

async function api(method, p, token, body) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`${BASE}/api/v1${p}`, init);
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
  return data;
}

// A random forest trained on iris by a new onboarded user, through the API.
async function trainedForest() {
  const email = `web-xai-${RUN}@example.org`;
  const r = await api('POST', '/auth/register', null, { email, password: 'a long and calm passphrase', display_name: 'Xavier Explain' });
  const token = r.access_token;
  await api('PATCH', '/users/me', token, { education_level: 'master', age: 30, ai_familiarity: 2 });
  const form = new FormData();
  form.append('metadata', JSON.stringify({
    name: `iris_xai_${RUN}`, display_name: `Iris ${RUN}`, target_column: 'target', access: 'private', domain: ['biology'], task: ['classification'],
  }));
  form.append('files', new Blob([IRIS], { type: 'text/csv' }), 'iris.csv');
  const ds = await api('POST', '/datasets', token, form);
  const run = await api('POST', '/experiments', token, {
    dataset_id: ds.id, target_column: 'target', task_type: 'classification', algorithm: 'random_forest',
    hyperparameters: { n_estimators: 30 },
  });
  const until = Date.now() + 60000;
  for (;;) {
    const s = await api('GET', `/experiments/${run.id}`, token);
    if (s.status === 'completed') break;
    if (s.status === 'failed' || s.status === 'cancelled' || Date.now() > until) throw new Error(`training ended as ${s.status}: ${s.error || ''}`);
    await new Promise((res) => setTimeout(res, 300));
  }
  return { token, runId: run.id };
}

async function narrativeText(page) {
  return page.evaluate(() => {
    const n = document.getElementById('xai-narrative-text');
    return n ? n.textContent.trim() : '';
  });
}

test('explanations: global TreeSHAP with narrative levels, local LIME of row 0, French, the list, PDP, permutation', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { token, runId } = await trainedForest();
  const { context, page, problems } = await openPage(browser);
  try {
    await context.addInitScript(([k, v]) => {
      if (!sessionStorage.getItem(k)) sessionStorage.setItem(k, v);
    }, [TOKEN_KEY, token]);
    await page.goto(`${BASE}/#/experiments/${runId}`);
    await visible(page, '#xai-panel');
    await seeText(page, '#xai-panel-title', 'Explain this model');
    assert.equal(await page.inputValue('#xai-type'), 'global');
    assert.equal(await page.inputValue('#xai-method-select'), 'auto');
    await shot(page, 'explain-01-panel');

    // A global explanation: the service chooses TreeSHAP and says why; progress to the end.
    await page.click('#xai-submit');
    await visible(page, '#xai-progress');
    await seeText(page, '#xai-method', 'TreeSHAP');
    await seeText(page, '#xai-method-reason', 'decision trees');
    await page.waitForSelector('#xai-progress[data-status="completed"]', { timeout: XAI_TIMEOUT });
    await seeText(page, '#xai-progress', '100 %');
    await visible(page, '#xai-ranking canvas');
    const first = await page.getAttribute('.xai-ranking-chart', 'data-first');
    assert.match(first, /petal/, `the leading column is a petal measurement (${first})`);
    assert.ok(await count(page, '.xai-ranking-table tbody tr') >= 4, 'every column is ranked');
    await visible(page, '#xai-beeswarm canvas');
    await page.waitForFunction(() => (document.getElementById('xai-narrative-text') || {}).textContent?.length > 100);
    const level = await page.getAttribute('#xai-narrative-text', 'data-level');
    const before1 = await narrativeText(page);
    assert.ok(before1.length > 100, 'a narrative is shown');
    assert.equal(await page.getAttribute(`#xai-level-${level}`, 'aria-pressed'), 'true');
    await seeText(page, '#xai-details', 'tree_shap');
    assert.equal(await page.evaluate(() => [...document.querySelectorAll('#xai-panel, #xai-panel *')]
      .some((n) => [...n.childNodes].some((c) => c.nodeType === 3 && c.textContent === 'null'))), false, 'no "null" is printed');
    await shot(page, 'explain-02-global');

    // Another reader level: another narrative.
    const other = level === 'expert' ? 'novice' : 'expert';
    await page.click(`#xai-level-${other}`);
    await page.waitForSelector(`#xai-narrative-text[data-level="${other}"]`);
    const after1 = await narrativeText(page);
    assert.ok(after1.length > 100);
    assert.notEqual(after1, before1, 'the other level reads differently');
    assert.equal(await page.getAttribute(`#xai-level-${other}`, 'aria-pressed'), 'true');

    // A local LIME explanation of row 0.
    await page.selectOption('#xai-type', 'local');
    await visible(page, '#xai-row');
    await page.fill('#xai-row', '0');
    await page.selectOption('#xai-method-select', 'lime');
    await page.click('#xai-submit');
    await seeText(page, '#xai-method', 'LIME');
    await page.waitForSelector('#xai-progress[data-status="completed"]', { timeout: XAI_TIMEOUT });
    await visible(page, '#xai-contrib-table');
    assert.ok(await count(page, '#xai-contrib-table tbody tr') >= 4, 'a contribution per column');
    await seeText(page, '#xai-local', 'Row 0');
    await seeText(page, '#xai-contrib-table', 'petal');
    await visible(page, '#xai-local canvas');
    await shot(page, 'explain-03-local');
    assert.deepEqual(await unlabelled(page, '#xai-panel'), [], 'every control of the panel has a label');
    await page.setViewportSize({ width: 390, height: 844 });
    await noHorizontalScroll(page);
    await page.setViewportSize({ width: 1280, height: 900 });

    // In French.
    await page.click('[data-lang-choice="fr"]');
    await seeText(page, '#xai-panel-title', 'Expliquer ce modèle');
    await seeText(page, '#xai-local-title', 'Pourquoi cette prédiction');
    await seeText(page, '#xai-submit', 'Expliquer');
    await seeText(page, '#xai-method-reason', 'LIME a été demandé');
    await page.waitForFunction(() => (document.getElementById('xai-narrative-text') || {}).lang === 'fr');
    await shot(page, 'explain-04-french');
    await page.click('[data-lang-choice="en"]');
    await seeText(page, '#xai-panel-title', 'Explain this model');

    // The list, from the nav.
    await page.click('[data-nav="explanations"]');
    await page.waitForURL(/#\/explanations$/);
    await visible(page, '#xai-list');
    assert.equal(await count(page, '#xai-list tbody tr'), 2);
    await page.click('#xai-list tbody tr:first-child a');
    await page.waitForURL(/#\/explanations\/[\w-]+$/);
    await visible(page, '#xai-contrib-table');
    assert.equal(await page.getAttribute('#xai-experiment-link', 'href'), `#/experiments/${runId}`);
    await shot(page, 'explain-05-list-item');

    // Partial dependence curves, then permutation importance with its spread.
    await page.goto(`${BASE}/#/experiments/${runId}`);
    await visible(page, '#xai-panel');
    await page.selectOption('#xai-method-select', 'pdp');
    await page.click('#xai-submit');
    await seeText(page, '#xai-method', 'Partial dependence');
    await page.waitForSelector('#xai-progress[data-status="completed"]', { timeout: XAI_TIMEOUT });
    await visible(page, '#xai-pdp canvas');
    assert.equal(await count(page, '#xai-pdp figure'), 3, 'the curves of the three most important columns');
    await shot(page, 'explain-06-pdp');
    await page.selectOption('#xai-type', 'feature_importance');
    await page.selectOption('#xai-method-select', 'permutation');
    await page.click('#xai-submit');
    await seeText(page, '#xai-method', 'Permutation importance');
    await page.waitForSelector('#xai-progress[data-status="completed"]', { timeout: XAI_TIMEOUT });
    await visible(page, '#xai-ranking canvas');
    await seeText(page, '.xai-ranking-table', '±');
    await shot(page, 'explain-07-permutation');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
