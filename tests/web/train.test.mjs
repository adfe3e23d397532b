// Browser tests of the training screens (services/web/dist: train.js, experiments.js,
// results.js) through the gateway, against the real ml-pipeline API and one training worker
// (tools/web-test.sh starts them).
//
//   IBX_WEB_URL=http://127.0.0.1:8080 node --test tests/web/train.test.mjs
//
// The journey: a new user signs up and onboards, uploads iris (tests/fixtures/iris.csv, through
// the API), opens it and runs the wizard with a decision tree: advice, cleaning, split, ranked
// algorithms, a range refused in the form, training with live progress to 100 %, the results
// (accuracy, a 3-class confusion matrix, curves, importance, the tree viewer), the model
// download, two more algorithms launched at once and compared, the experiments list and the
// home screen. Then a long random forest is cancelled, and a combination the service refuses
// (out-of-bag score without bootstrap) is shown next to its field, in English and French.
// Last, a service that is down gives words and a Retry. Screenshots go to $IBX_TEST_OUTPUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BASE, TOKEN_KEY, reachable, launch, openPage, shot, visible, seeText, count,
  noHorizontalScroll, json, unlabelled,
} from './helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const IRIS = readFileSync(path.resolve(HERE, '../fixtures/iris.csv'), 'utf8');
const RUN = `${Date.now().toString(36)}${process.pid}`;
const TRAIN_TIMEOUT = 60000;

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

// ------------------------------------------------------------------ API helpers (setup only)

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

async function uploadCsv(token, name, displayName, target, csv) {
  const form = new FormData();
  form.append('metadata', JSON.stringify({
    name, display_name: displayName, target_column: target, access: 'private', domain: ['biology'], task: ['classification'],
  }));
  form.append('files', new Blob([csv], { type: 'text/csv' }), `${name}.csv`);
  return api('POST', '/datasets', token, form);
}

// A user made through the API, already onboarded, whose page starts signed in.
async function signedInUser(label) {
  const email = `web-train-${label}-${RUN}@example.org`;
  const r = await api('POST', '/auth/register', null, { email, password: 'a long and calm passphrase', display_name: `Tess ${label}` });
  await api('PATCH', '/users/me', r.access_token, { education_level: 'master', age: 30, ai_familiarity: 4 });
  return r.access_token;
}

async function pageFor(token, viewport) {
  const opened = await openPage(browser, viewport);
  await opened.context.addInitScript(([k, v]) => {
    if (!sessionStorage.getItem(k)) sessionStorage.setItem(k, v);
  }, [TOKEN_KEY, token]);
  return opened;
}

// 20,000 rows of 10 features and a yes/no label (as tests/integration/test_pipeline.c):
// enough for a 2,000-tree forest to train for a while.
function bigCsv(rows) {
  let x = 88172645463325252n;
  const mask = (1n << 64n) - 1n;
  const lines = ['f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,label'];
  for (let i = 0; i < rows; i++) {
    const v = [];
    let sum = 0;
    for (let j = 0; j < 10; j++) {
      x ^= (x << 13n) & mask; x ^= x >> 7n; x ^= (x << 17n) & mask;
      const f = Number(x % 100000n) / 1000;
      v.push(f.toFixed(3));
      sum += (j % 3 === 0 ? 1 : -0.5) * f;
    }
    lines.push(`${v.join(',')},${sum + Number(x % 40n) > 20 ? 'yes' : 'no'}`);
  }
  return `${lines.join('\n')}\n`;
}

async function runStatus(page) {
  return page.getAttribute('.run-card', 'data-status');
}

// ------------------------------------------------------------------ the journey

test('training journey: sign up, iris, wizard with a decision tree, progress, results, tree, download, comparison', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { context, page, problems } = await openPage(browser);
  try {
    await page.goto(`${BASE}/`);
    await visible(page, '#view-auth');
    await page.click('#mode-signup');
    await page.fill('#auth-email', `web-train-${RUN}@example.org`);
    await page.fill('#auth-password', 'a long and calm passphrase');
    await page.fill('#auth-display-name', 'Tara Trainer');
    await page.press('#auth-password', 'Enter');
    await visible(page, '#onboarding-form');
    await page.selectOption('#ob-education', 'bachelor');
    await page.fill('#ob-age', '27');
    await page.check('#ob-fam-2');
    await page.click('#onboarding-submit');
    await visible(page, '#view-home');

    // The home screen says there is no experiment yet and how to start.
    await seeText(page, '#home-experiments', 'No experiment yet');
    await visible(page, '#home-train');

    // Iris from the fixture, uploaded with this user's session.
    const token = await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY);
    const iris = await uploadCsv(token, `iris_${RUN}`, `Iris ${RUN}`, 'target', IRIS);

    // From the dataset page, "Train a model" opens the wizard on it.
    await page.goto(`${BASE}/#/datasets/${iris.id}`);
    await seeText(page, '#page-title', `Iris ${RUN}`);
    await page.click('#ds-train');
    await page.waitForURL(new RegExp(`#/train/${iris.id}$`));
    assert.equal(await page.getAttribute('[data-nav="train"]', 'aria-current'), 'page');

    // 2: the declared target and the advice with its reasons.
    await visible(page, '#train-target');
    assert.equal(await page.inputValue('#train-target'), 'target');
    await seeText(page, '#task-advice', 'Suggested: Classification');
    assert.ok(await count(page, '#task-advice .reasons li') >= 1, 'the advice gives its reasons');
    assert.ok(await page.isChecked('#train-task-classification'));
    assert.deepEqual(await unlabelled(page, '.wizard-body'), []);
    await shot(page, 'train-01-target');
    await page.click('#train-next');

    // 3: the quality report and the cleaning choices.
    await visible(page, '#train-quality');
    await seeText(page, '#train-quality', 'Quality score');
    await seeText(page, '#train-quality', 'No value is missing');
    await page.selectOption('#prep-numeric', 'median');
    await page.selectOption('#prep-scaling', 'standard');
    await page.fill('#prep-max-categories', '5000');
    await page.click('#train-next');
    await seeText(page, '#wizard-error', 'Please correct the highlighted fields');
    assert.equal(await page.getAttribute('#prep-max-categories', 'aria-invalid'), 'true');
    await seeText(page, '.field.has-error', 'Must be between 1 and 1,000');
    await page.fill('#prep-max-categories', '100');
    assert.deepEqual(await unlabelled(page, '.wizard-body'), []);
    await shot(page, 'train-02-cleaning');
    await page.click('#train-next');

    // 4: the split, changed with the keyboard.
    await visible(page, '#split-test');
    await page.focus('#split-test');
    await page.keyboard.press('ArrowRight');
    await seeText(page, '#split-test-value', '25 % test');
    await page.keyboard.press('ArrowLeft');
    await seeText(page, '#split-test-value', '20 % test');
    assert.equal(await page.inputValue('#split-random-state'), '42');
    await page.click('#train-next');

    // 5: the ranked advice with reasons; only the decision tree.
    await visible(page, '#alg-ranking');
    assert.ok(await count(page, '#alg-ranking > li') >= 4, 'every suitable learner is ranked');
    assert.ok(await count(page, '#alg-ranking .reasons li') >= 1, 'each with its reasons');
    for (const box of await page.locator('#alg-ranking input:checked').all()) await box.uncheck();
    await page.check('#alg-decision_tree');
    await seeText(page, '#alg-chosen', '1 chosen: Decision tree');
    await shot(page, 'train-03-algorithms');
    await page.click('#train-next');

    // 6: the form from /algorithms, with defaults; an out-of-range depth is refused here.
    await visible(page, '#hp-decision_tree');
    await seeText(page, '#hp-decision_tree', 'Default: 2');
    assert.ok(await count(page, '#hp-decision_tree select') >= 2, 'enums are selects');
    await page.fill('#hp-decision_tree-max_depth', '0');
    await page.click('#train-start');
    await seeText(page, '[data-hp="max_depth"] .field-error', 'Must be between 1 and 1,000');
    assert.equal(await page.getAttribute('#hp-decision_tree-max_depth', 'aria-invalid'), 'true');
    assert.equal((await api('GET', '/experiments', token)).total_count, 0, 'nothing was sent');
    await page.fill('#hp-decision_tree-max_depth', '4');
    assert.deepEqual(await unlabelled(page, '.wizard-body'), []);
    await shot(page, 'train-04-hyperparameters');
    await page.click('#train-start');

    // 7: live progress up to 100 %, then the results below.
    await visible(page, '.run-card');
    await page.waitForFunction(() => document.querySelector('.run-card').dataset.status === 'completed', null, { timeout: TRAIN_TIMEOUT });
    assert.equal(await page.getAttribute('.run-card progress', 'value'), '100');
    await seeText(page, '.run-card .run-pct', '100 %');
    await seeText(page, '.run-card .run-stage', 'Done');
    await seeText(page, '.run-card [role="status"]', 'Decision tree: Done');
    await visible(page, '#train-results #metric-cards');
    const acc = Number(await page.getAttribute('#metric-cards [data-metric="accuracy"]', 'data-value'));
    assert.ok(acc >= 0.8 && acc <= 1, `iris accuracy ${acc}`);
    await seeText(page, '#metric-cards [data-metric="accuracy"]', 'Accuracy');
    assert.equal(await page.getAttribute('#confusion-matrix', 'data-classes'), '3');
    assert.equal(await count(page, '#confusion-matrix tbody tr'), 3);
    assert.equal(await count(page, '#confusion-matrix tbody td.cm-cell'), 9);
    const diagonal = await page.locator('#confusion-matrix td.cm-diag .cm-count').allTextContents();
    const total = await page.locator('#confusion-matrix td .cm-count').allTextContents();
    const sum = (xs) => xs.reduce((a, b) => a + Number(b), 0);
    assert.equal(sum(total), 30, 'the 20 % test rows of iris');
    assert.ok(sum(diagonal) / sum(total) >= 0.8);
    await page.waitForSelector('#roc-chart canvas');
    await page.waitForSelector('#pr-chart canvas');
    await page.waitForSelector('#importance-chart canvas');

    // The tree viewer: nodes open and close with the keyboard.
    await visible(page, '#tree-viewer');
    const nodes = await count(page, '#tree-viewer .tnode');
    assert.ok(nodes >= 5, `the depth-4 tree has ${nodes} nodes`);
    assert.ok(await count(page, '#tree-viewer .tleaf') >= 3, 'leaves for the three classes');
    await seeText(page, '#tree-viewer .tquestion', '≤');
    assert.ok(!(await page.textContent('#tree-viewer')).includes('null'), 'no stray values in the viewer');
    await seeText(page, '#timings', 'ms');
    await page.click('#tree-collapse');
    assert.equal(await page.locator('#tree-viewer details[open]').count(), 0);
    await page.focus('#tree-viewer details > summary');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#tree-viewer details[open]').count(), 1);
    await page.click('#tree-expand');
    assert.equal(await page.locator('#tree-viewer details:not([open])').count(), 0);
    await shot(page, 'train-05-results');

    // The model file, downloaded with the bearer token.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-model')]);
    assert.match(download.suggestedFilename(), /^model-[0-9a-f-]{36}\.ibxmodel$/);
    const file = await download.path();
    assert.ok(statSync(file).size > 0, 'the model file is not empty');
    await seeText(page, '#download-status', 'Model saved');

    // Two more algorithms at once, then side by side.
    await page.click('#train-again');
    await visible(page, '#alg-ranking');
    for (const box of await page.locator('#alg-ranking input:checked').all()) await box.uncheck();
    await page.check('#alg-logistic_regression');
    await page.check('#alg-gaussian_nb');
    await page.click('#train-next');
    await visible(page, '#hp-logistic_regression');
    await visible(page, '#hp-gaussian_nb');
    await seeText(page, '#train-start', 'Train the 2 models');
    await page.click('#train-start');
    await page.waitForFunction(() => {
      const cards = [...document.querySelectorAll('.run-card')];
      return cards.length === 2 && cards.every((c) => c.dataset.status === 'completed');
    }, null, { timeout: TRAIN_TIMEOUT });
    await visible(page, '#train-compare #compare-table');
    const heads = await page.locator('#compare-table thead th a').allTextContents();
    assert.deepEqual(heads.sort(), ['Gaussian naive Bayes', 'Logistic regression']);
    // The best accuracy is highlighted (both cells on a tie), and is the larger value.
    const accs = await page.locator('#compare-table tr[data-metric="accuracy"] td').evaluateAll((tds) => tds.map((d) => [Number(d.dataset.value), d.classList.contains('cmp-best')]));
    const top = Math.max(...accs.map(([v]) => v));
    assert.deepEqual(accs.map(([, b]) => b), accs.map(([v]) => v === top));
    await shot(page, 'train-06-compare');

    // The list: three completed runs with their accuracy; pick two to compare.
    await page.click('[data-nav="experiments"]');
    await visible(page, '#experiments-table');
    await page.waitForFunction(() => document.querySelectorAll('#experiments-table tbody tr[data-status="completed"]').length === 3);
    await page.waitForFunction(() => document.querySelectorAll('#experiments-table .exp-score[data-metric="accuracy"]').length === 3);
    await seeText(page, '#experiments-table', `Iris ${RUN}`);
    assert.equal(await page.getAttribute('#exps-compare', 'aria-disabled'), 'true');
    const picks = page.locator('#experiments-table .exp-pick');
    await picks.nth(0).check();
    await picks.nth(2).check();
    await seeText(page, '#exps-compare', 'Compare the chosen (2)');
    await page.click('#exps-compare');
    await visible(page, '#compare-table');
    assert.equal(await count(page, '#compare-table thead th a'), 2);
    await page.waitForSelector('#compare-chart canvas');
    await shot(page, 'train-07-compare-page');

    // A run's own page, in French.
    await page.click('[data-nav="experiments"]');
    await visible(page, '#experiments-table');
    await page.locator('#experiments-table tbody tr[data-status="completed"]').last().locator('th a').click();
    await visible(page, '#metric-cards');
    await seeText(page, '#page-title', 'Decision tree');
    await page.click('[data-lang-choice="fr"]');
    await seeText(page, '#res-confusion', 'Matrice de confusion');
    await seeText(page, '#page-title', 'Arbre de décision');
    await seeText(page, '#res-tree', 'Oui');
    await seeText(page, '#metric-cards', 'Exactitude');
    await shot(page, 'train-08-results-fr');
    await page.click('[data-lang-choice="en"]');

    // The home screen lists the recent runs with their status.
    await page.click('[data-nav="home"]');
    await page.waitForFunction(() => document.querySelectorAll('#recent-experiments li[data-status="completed"]').length === 3);
    await seeText(page, '#recent-experiments', 'Completed');
    await seeText(page, '#recent-experiments', 'Accuracy');
    await shot(page, 'train-09-home');

    // Phone width: the results and the wizard do not scroll sideways.
    await page.setViewportSize({ width: 375, height: 800 });
    await noHorizontalScroll(page);
    await page.click('#recent-experiments li[data-status="completed"]:last-child a');
    await visible(page, '#tree-viewer');
    await noHorizontalScroll(page);
    await shot(page, 'train-10-results-phone');
    await page.goto(`${BASE}/#/train/${iris.id}`);
    await visible(page, '#train-target');
    await noHorizontalScroll(page);
    await shot(page, 'train-11-wizard-phone');
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-train-journey').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

// ------------------------------------------------------------------ cancel and the server's 422

test('a refused combination shows next to its field (EN, FR); a long random forest is cancelled', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const token = await signedInUser('cancel');
  const big = await uploadCsv(token, `generated_${RUN}`, `Generated ${RUN}`, 'label', bigCsv(20000));
  const { context, page, problems } = await pageFor(token);
  try {
    await page.goto(`${BASE}/#/train/${big.id}`);
    await visible(page, '#train-target');
    assert.equal(await page.inputValue('#train-target'), 'label');
    await seeText(page, '#task-advice', 'Classification');
    await seeText(page, '#task-advice', 'each value is a class');
    // The service's reasons in French too.
    await page.click('[data-lang-choice="fr"]');
    await seeText(page, '#task-advice', 'Suggéré : Classification');
    await seeText(page, '#task-advice', 'chaque valeur est une classe');
    await page.click('[data-lang-choice="en"]');
    for (let i = 0; i < 3; i++) await page.click('#train-next');
    await visible(page, '#alg-ranking');
    for (const box of await page.locator('#alg-ranking input:checked').all()) await box.uncheck();
    await page.check('#alg-random_forest');
    await page.click('#train-next');
    await visible(page, '#hp-random_forest');

    // Out-of-bag scoring needs bootstrap samples: only the service knows, and says so at the field.
    await page.fill('#hp-random_forest-n_estimators', '2000');
    await page.uncheck('#hp-random_forest-bootstrap');
    await page.check('#hp-random_forest-oob_score');
    await page.click('#train-start');
    await seeText(page, '[data-hp="oob_score"] .field-error', 'Needs bootstrap samples');
    assert.equal(await page.getAttribute('#hp-random_forest-oob_score', 'aria-invalid'), 'true');
    const described = await page.getAttribute('#hp-random_forest-oob_score', 'aria-describedby');
    assert.ok(described.includes('hp-random_forest-oob_score-error'), 'the error is read with the field');
    await seeText(page, '#wizard-error', 'The service refused a setting of Random forest');
    assert.equal((await api('GET', '/experiments', token)).total_count, 0, 'the service created nothing');
    await page.click('[data-lang-choice="fr"]');
    await seeText(page, '[data-hp="oob_score"] .field-error', 'Demande les échantillons bootstrap');
    await seeText(page, '#wizard-error', 'Le service a refusé un réglage de Forêt aléatoire');
    await shot(page, 'train-12-server-422-fr');
    await page.click('[data-lang-choice="en"]');

    // Fixed, it trains; cancelled while it trains, it says so.
    await page.check('#hp-random_forest-bootstrap');
    await page.uncheck('#hp-random_forest-oob_score');
    await page.click('#train-start');
    await visible(page, '.run-card');
    await page.waitForFunction(() => {
      const c = document.querySelector('.run-card');
      return c && c.dataset.status === 'running' && /Training/.test(c.querySelector('.run-stage').textContent);
    }, null, { timeout: TRAIN_TIMEOUT });
    await shot(page, 'train-13-training');
    const id = await page.getAttribute('.run-card', 'data-run');
    await page.click(`#cancel-${id}`);
    await page.waitForFunction(() => document.querySelector('.run-card').dataset.status === 'cancelled', null, { timeout: 15000 });
    await seeText(page, '.run-card .run-stage', 'Cancelled');
    await seeText(page, '.run-card .badge', 'Cancelled');
    assert.ok(await page.locator(`#cancel-${id}`).isHidden());
    assert.equal((await api('GET', `/experiments/${id}`, token)).status, 'cancelled');
    assert.equal(await runStatus(page), 'cancelled');
    await shot(page, 'train-14-cancelled');

    // Its page says it was cancelled; the list shows it.
    await page.click('[data-nav="experiments"]');
    await seeText(page, '#experiments-table', 'Cancelled');
    await page.click(`#experiments-table tr[data-run="${id}"] th a`);
    await seeText(page, '#exp-cancelled', 'cancelled before it ended');
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-train-cancel').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

// ------------------------------------------------------------------ the service is down

test('experiments: a service that is down gives words and a Retry, then the list', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const token = await signedInUser('down');
  const { context, page, problems } = await pageFor(token);
  try {
    let down = true;
    await context.route('**/api/v1/experiments**', (route) => (down
      ? json(route, 503, { error: 'upstream_unavailable', message: 'ml-pipeline is not answering', details: {} })
      : route.continue()));
    await page.goto(`${BASE}/#/experiments`);
    await seeText(page, '.page-experiments .state-error', 'IBIS-X is not reachable right now');
    await visible(page, '.page-experiments .retry');
    await shot(page, 'train-15-down');
    down = false;
    await page.click('.page-experiments .retry');
    await seeText(page, '.page-experiments', 'No experiment yet');
    await visible(page, '.page-experiments .state a[href="#/train"]');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
