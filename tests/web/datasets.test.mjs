// Browser tests of the dataset and project screens (services/web/dist: onboarding.js,
// datasets.js, upload.js, projects.js) through the gateway.
//
//   IBX_WEB_URL=http://127.0.0.1:8080 node --test tests/web/datasets.test.mjs
//
// The first test is a new user's journey against the running stack with the demo catalogue
// loaded (tools/demo/load.sh): sign up, onboarding, filter, iris's preview, statistics and
// quality, an upload through the wizard, a project with weights and its heatmap. The others
// answer some API calls with page.route() to reach states a fresh stack never shows (the API
// down, upload errors, known statistics and scores), so what the page shows can be asserted
// exactly. Screenshots go to $IBX_TEST_OUTPUT (default: test-output/web).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, TOKEN_KEY, reachable, launch, openPage, shot, visible, seeText, count,
  noHorizontalScroll, json, unlabelled,
} from './helpers.mjs';

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

const RUN = `${Date.now().toString(36)}${process.pid}`;

// ------------------------------------------------------------------ the real journey

test('journey: sign up, onboarding, filter, iris (preview, stats, quality), upload, project heatmap', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { context, page, problems } = await openPage(browser);
  try {
    await page.goto(`${BASE}/`);
    await visible(page, '#view-auth');
    await page.click('#mode-signup');
    await page.fill('#auth-email', `web-ds-${RUN}@example.org`);
    await page.fill('#auth-password', 'a long and calm passphrase');
    await page.fill('#auth-display-name', 'Dana Sets');
    await page.press('#auth-password', 'Enter');

    // Onboarding before the app: nothing filled in is refused in words, per field.
    await visible(page, '#onboarding-form');
    assert.equal(await count(page, '#app-nav:not([hidden])'), 0, 'no navigation before onboarding');
    await page.fill('#ob-age', '9');
    await page.click('#onboarding-submit');
    await seeText(page, '#ob-education_level-error', 'Choose your education level');
    await seeText(page, '#ob-age-error', 'from 13 to 120');
    await seeText(page, '#ob-ai_familiarity-error', 'from 1 to 5');
    assert.equal(await page.getAttribute('#ob-age', 'aria-invalid'), 'true');
    await shot(page, 'ds-01-onboarding-errors');
    await page.selectOption('#ob-education', 'master');
    await page.fill('#ob-age', '34');
    await page.check('#ob-fam-3');
    await page.click('#onboarding-submit');
    await visible(page, '#view-home');
    await seeText(page, '#profile-audience', 'Intermediate');

    // The catalogue: the demo datasets, then only healthcare.
    await page.click('[data-nav="datasets"]');
    await visible(page, '#catalogue-cards');
    assert.equal(await page.getAttribute('[data-nav="datasets"]', 'aria-current'), 'page');
    const all = await count(page, '#catalogue-cards > li');
    assert.ok(all >= 6, `the demo catalogue is loaded (tools/demo/load.sh); ${all} datasets shown`);
    await seeText(page, '#catalogue-cards', 'Ethical score');
    await page.check('input[name="domain"][value="healthcare"]');
    await page.click('#filters-apply');
    await page.waitForFunction(() => document.querySelectorAll('#catalogue-cards > li').length === 2);
    await seeText(page, '#catalogue-cards', 'Breast Cancer Wisconsin');
    await seeText(page, '#catalogue-cards', 'Diabetes');
    await seeText(page, '#cat-status', '2 datasets');
    await seeText(page, '.active-filters', 'healthcare');
    await shot(page, 'ds-02-catalogue-healthcare');

    // An impossible filter says what to do.
    await page.fill('#catalogue-filters input[name="year_min"]', '2100');
    await page.click('#filters-apply');
    await seeText(page, '.catalogue-results', 'Remove a filter or press Reset');
    await page.click('#filters-reset');
    await page.waitForFunction((n) => document.querySelectorAll('#catalogue-cards > li').length === n, all);

    // Iris: search, open, then its preview, statistics with histograms and quality score.
    await page.fill('#cat-q', 'iris');
    await page.press('#cat-q', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#catalogue-cards > li').length === 1);
    await page.click('#catalogue-cards > li[data-name="iris"] h3 a');
    await seeText(page, '#page-title', 'Iris');
    await seeText(page, '#ethics-list', 'Unknown');
    assert.ok(await count(page, '#ethics-list .flag-yes') >= 1);
    assert.ok(await count(page, '#ethics-list .flag-unknown') >= 1, 'unknown flags are shown as unknown');
    await visible(page, '#preview-table');
    assert.equal(await count(page, '#preview-table tbody tr'), 10);
    await seeText(page, '#preview-table thead', 'species');
    await seeText(page, '#preview-info', '10 of 150 rows');
    await page.waitForSelector('#stat-grid figure.histogram canvas');
    assert.ok(await count(page, '#stat-grid figure.histogram') >= 4, 'a histogram per numeric column');
    await seeText(page, '#stat-grid', 'sepal_length');
    await visible(page, '#quality-score');
    const score = Number(await page.textContent('#quality-score .quality-number'));
    assert.ok(score >= 0 && score <= 100, `quality score ${score}`);
    await seeText(page, '#ds-similar', 'Similar datasets');
    await seeText(page, '#completion-score', '% complete');
    await page.selectOption('#preview-rows', '25');
    await page.waitForFunction(() => document.querySelectorAll('#preview-table tbody tr').length === 25);
    await shot(page, 'ds-03-iris');

    // Upload a small CSV through the wizard and land on its page.
    await page.click('[data-nav="upload"]');
    await visible(page, '#drop-zone');
    const csv = 'city,temperature,rainfall,season\nLyon,21.5,3.2,summer\nBrest,14.0,,autumn\nNice,25.1,0.4,summer\nLille,9.8,7.7,winter\n';
    await page.setInputFiles('#upload-input', { name: 'weather.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await seeText(page, '#upload-files', 'weather.csv');
    await page.click('#upload-analyse');
    await visible(page, '#upload-analysis');
    await seeText(page, '#upload-analysis', '4 rows');
    await seeText(page, '#upload-analysis', 'temperature');
    await seeText(page, '#upload-analysis', 'decimal number');
    await shot(page, 'ds-04-upload-analysis');
    await page.click('#upload-to-meta');
    await visible(page, '#meta-form');
    const display = `Weather ${RUN}`;
    await page.fill('#meta-display_name', display);
    assert.equal(await page.inputValue('#meta-name'), `weather_${RUN}`);
    await page.fill('#meta-objective', 'Predict the season from the weather.');
    await page.selectOption('#meta-target_column', 'season');
    await page.check('#eth-transparency-true');
    await page.check('#eth-informed_consent-false');
    await shot(page, 'ds-05-upload-meta');
    await page.click('#meta-next');
    await visible(page, '#upload-confirm');
    await seeText(page, '#upload-confirm', '2 of 10 ethical criteria answered');
    await page.click('#upload-send');
    await page.waitForURL(/#\/datasets\/[0-9a-f-]{36}$/);
    await seeText(page, '#page-title', display);
    await seeText(page, '#ds-files', 'weather.csv');
    await page.waitForSelector('#preview-table tbody tr');
    assert.equal(await count(page, '#preview-table tbody tr'), 4);
    assert.equal(await count(page, '#ethics-list .flag-no'), 1);
    await shot(page, 'ds-06-uploaded');

    // The owner edits the datasheet, then deletes the dataset.
    await page.click('#ds-edit');
    await visible(page, '#ds-edit-form');
    await page.fill('#edit-objective', 'Guess the season from one day of weather.');
    await page.selectOption('#ds-edit-form select[name="user_control"]', 'true');
    await page.click('#ds-edit-form button[type="submit"]');
    await seeText(page, '.page-head', 'Guess the season from one day of weather.');
    await seeText(page, '#ethics-list [data-flag="user_control"]', 'Yes');
    assert.equal(await count(page, '#ds-edit-form'), 0);
    const uploaded = page.url();
    await page.click('#ds-delete');
    await seeText(page, '.confirm', `Delete “${display}”`);
    await page.click('#ds-delete-yes');
    await visible(page, '#catalogue-cards');
    await page.goto(uploaded);
    await seeText(page, '#page-title', 'This dataset does not exist');

    // A project: weights, live ranking, then its heatmap.
    await page.click('[data-nav="projects"]');
    await seeText(page, '#view-page', 'No project yet');
    await page.click('#project-new');
    await page.waitForSelector('#ranked-preview li');
    await page.fill('#project-name', 'Health shortlist');
    await page.locator('#project-form details summary').first().click();
    await page.check('#project-form input[name="domain"][value="healthcare"]');
    await page.waitForFunction(() => document.querySelectorAll('#ranked-preview li').length === 2);
    await page.fill('#w-technical_score', '0');
    await page.fill('#w-year', '1');
    await page.fill('#w-anonymization', '0.5');
    await seeText(page, '#w-year-value', '1');
    await page.waitForFunction(() => !document.querySelector('#live-preview .is-loading'));
    await shot(page, 'ds-07-project-form');
    await page.click('#project-save');
    await visible(page, '#project-heatmap table.heatmap');
    await seeText(page, '#page-title', 'Health shortlist');
    const heads = await page.locator('#project-heatmap thead th').allTextContents();
    assert.deepEqual(heads.map((h) => h.replace(/ \(.*\)$/, '')),
      ['Dataset', 'Ethical score', 'Popularity', 'Anonymization', 'Recency', 'Overall score']);
    assert.equal(await count(page, '#project-heatmap tbody tr'), 2);
    const bands = await page.locator('#project-heatmap td.hm-cell').evaluateAll((cells) => cells.map((c) => [Number(c.textContent), c.dataset.band]));
    assert.equal(bands.length, 10);
    for (const [v, b] of bands) {
      const want = v < 30 ? 'red' : v < 60 ? 'orange' : v < 85 ? 'green' : 'blue';
      assert.equal(b, want, `a cell of ${v} is in the ${want} band`);
    }
    await shot(page, 'ds-08-project-heatmap');

    // Back to the list: the project is there; the phone layout does not scroll sideways.
    await page.click('[data-nav="projects"]');
    await seeText(page, '#project-list', 'Health shortlist');
    await page.setViewportSize({ width: 375, height: 800 });
    await noHorizontalScroll(page);
    await page.click('[data-nav="datasets"]');
    await visible(page, '#catalogue-cards');
    await noHorizontalScroll(page);
    await shot(page, 'ds-09-catalogue-phone');
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-ds-journey').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

// ------------------------------------------------------------------ mocked API

const USER = {
  id: 'u-9', email: 'lin@example.org', display_name: 'Lin', role: 'user', is_active: true,
  locale: 'en', education_level: 'master', age: 30, ai_familiarity: 3, audience_level: 'intermediate',
  created_at: '2026-02-01T10:00:00Z',
};
const DS_ID = '11111111-2222-4333-8444-555555555555';
const FILE_ID = '66666666-7777-4888-8999-000000000000';

const DATASET = {
  id: DS_ID, name: 'loans', display_name: 'Loan repayments', year: 2021,
  objective: 'Predict whether a loan will be repaid.', access: 'public', availability: 'online',
  instances_number: 1200, features_number: 3, domain: ['finance'], task: ['classification'],
  license: 'CC BY 4.0', informed_consent: true, transparency: false, user_control: null,
  equity_non_discrimination: null, security_measures_in_place: true, data_quality_documented: null,
  anonymization_applied: true, record_keeping_policy_exists: null, purpose_limitation_respected: null,
  accountability_defined: null, ethical_score: 0.3, technical_score: 0.725, popularity_score: 0.5,
  can_edit: false,
  files: [{
    id: FILE_ID, original_filename: 'loans.csv', format: 'csv', row_count: 1200, column_count: 3,
    columns: [
      { name: 'amount', data_type_interpreted: 'numerical_float', is_nullable: false, is_pii: false, example_values: ['1200.5', '300'] },
      { name: 'email', data_type_interpreted: 'text', is_nullable: true, is_pii: true, example_values: ['a@b.org'] },
      { name: 'repaid', data_type_interpreted: 'categorical', is_nullable: false, is_pii: false, example_values: ['yes', 'no'] },
    ],
  }],
};
const PREVIEW = {
  dataset_id: DS_ID, file_id: FILE_ID, filename: 'loans.csv', total_rows: 1200, sample: 'head',
  columns: [{ name: 'amount', type: 'numerical_float' }, { name: 'email', type: 'text' }, { name: 'repaid', type: 'categorical' }],
  rows: [[1200.5, 'a@b.org', 'yes'], [300, null, 'no']], row_numbers: [0, 1], columns_truncated: false,
};
const STATS = {
  dataset_id: DS_ID, files: [{
    id: FILE_ID, filename: 'loans.csv', row_count: 1200, column_count: 3,
    correlations: { columns: ['amount', 'term'], matrix: [[1, -0.82], [-0.82, 1]] },
    columns: [
      { name: 'amount', type: 'numerical_float', count: 1200, missing: 0, distinct: 950, min: 100, max: 5000, mean: 1523.25, std: 801.5,
        quantiles: { p25: 900, p50: 1400, p75: 2100 }, histogram: { edges: [100, 1325, 2550, 3775, 5000], counts: [400, 500, 250, 50] } },
      { name: 'email', type: 'text', is_pii: true, count: 1100, missing: 100, distinct: 1100 },
      { name: 'repaid', type: 'categorical', count: 1200, missing: 0, distinct: 2, top_values: [{ value: 'yes', count: 900 }, { value: 'no', count: 300 }] },
    ],
  }],
};
const QUALITY = {
  dataset_id: DS_ID, data_quality_score: 72,
  missing_data_analysis: {
    columns_with_missing: {
      email: { missing_count: 100, missing_percentage: 8.33, severity: 'medium', recommended_strategy: { primary_strategy: 'mode_imputation', explanation: 'A text column with few gaps.' } },
    },
    severity_assessment: { level: 'low', main_issues: ['email has 8.33 % missing values'] },
  },
  outliers_analysis: {
    iqr_method: { amount: { outliers_count: 12, outliers_percentage: 1, lower_bound: -900, upper_bound: 3900 } },
    zscore_method: { amount: { outliers_count: 5, outliers_percentage: 0.42 } },
  },
  preprocessing_recommendations: { priority_actions: [{ action: 'handle_missing_values', priority: 'medium', description: 'Fill the missing e-mails.' }] },
};

// A signed-in page whose API answers come from handlers[path] (path after /api/v1).
async function mocked(handlers, viewport) {
  const opened = await openPage(browser, viewport);
  await opened.context.addInitScript((k) => {
    if (!sessionStorage.getItem(k)) sessionStorage.setItem(k, 'mock-token');
  }, TOKEN_KEY);
  await opened.context.route('**/api/v1/**', (route) => {
    const url = new URL(route.request().url());
    const p = url.pathname.replace('/api/v1', '');
    const key = `${route.request().method()} ${p}`;
    if (key === 'GET /users/me') return json(route, 200, USER);
    for (const [pattern, fn] of Object.entries(handlers)) {
      if (new RegExp(`^${pattern}$`).test(key)) return fn(route, url);
    }
    return json(route, 404, { error: 'not_found', message: `no mock for ${key}`, details: {} });
  });
  return opened;
}

test('dataset page: checklist, PII, preview, histograms, correlations, quality, French, phone (mocked API)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const seen = [];
  const { context, page, problems } = await mocked({
    [`GET /datasets/${DS_ID}`]: (r) => json(r, 200, DATASET),
    [`GET /datasets/${DS_ID}/preview`]: (r, url) => {
      seen.push(url.search);
      return json(r, 200, PREVIEW);
    },
    [`GET /datasets/${DS_ID}/stats`]: (r) => json(r, 200, STATS),
    [`GET /datasets/${DS_ID}/quality`]: (r) => json(r, 200, QUALITY),
    [`GET /datasets/${DS_ID}/similar`]: (r) => json(r, 200, { similar_datasets: [{ id: 'x', name: 'credit', display_name: 'Credit risk', similarity_explanation: 'shared domains: finance' }] }),
    [`GET /datasets/${DS_ID}/completion`]: (r) => json(r, 200, { overall_completion: 64.5, missing_fields: [{ field: 'user_control', description: 'whether people can control their data' }] }),
    [`GET /datasets/${DS_ID}/croissant`]: (r) => json(r, 200, { '@type': 'sc:Dataset', name: 'loans' }),
  });
  try {
    await page.goto(`${BASE}/#/datasets/${DS_ID}`);
    await seeText(page, '#page-title', 'Loan repayments');
    // Scores are the API's, printed as they come.
    await seeText(page, '#ds-overview [data-score="ethical"]', '30 %');
    await seeText(page, '#ds-overview [data-score="technical"]', '73 %');
    // True, false and unknown are three different things.
    assert.equal(await count(page, '#ethics-list .flag-yes'), 3);
    assert.equal(await count(page, '#ethics-list .flag-no'), 1);
    assert.equal(await count(page, '#ethics-list .flag-unknown'), 6);
    await seeText(page, '#ethics-list [data-flag="transparency"]', 'No');
    await seeText(page, '#ethics-list [data-flag="user_control"]', 'Unknown');
    // Files and columns with types and the PII flag.
    await seeText(page, '#ds-files', 'loans.csv');
    await seeText(page, '#ds-files', 'personal data');
    await seeText(page, '#ds-files', 'decimal number');
    // Preview rows, nulls shown as empty.
    assert.equal(await count(page, '#preview-table tbody tr'), 2);
    await seeText(page, '#preview-table', '(empty)');
    assert.match(seen[0], /rows=10/);
    assert.match(seen[0], /sample=head/);
    await page.selectOption('#preview-sample', 'random');
    await page.waitForFunction(() => document.querySelector('#preview-sample').value === 'random'
      && document.querySelectorAll('#preview-table tbody tr').length === 2);
    assert.match(seen[seen.length - 1], /sample=random/);
    assert.match(seen[seen.length - 1], /seed=\d+/);
    // Statistics: a histogram (Chart.js canvas) for numbers, top values for categories.
    await page.waitForSelector('[data-column="amount"] figure.histogram canvas');
    assert.equal(await page.getAttribute('[data-column="amount"] figure.histogram', 'data-bins'), '4');
    await seeText(page, '[data-column="amount"]', '1,523.25');
    await page.waitForSelector('[data-column="repaid"] figure.bars canvas');
    const drawn = await page.evaluate(() => {
      const c = document.querySelector('[data-column="amount"] canvas');
      return Boolean(window.Chart && window.Chart.getChart(c));
    });
    assert.ok(drawn, 'Chart.js drew the histogram');
    await seeText(page, '.corr-block', '-0.82');
    assert.equal(await count(page, '.corr-block td.corr-strong.corr-neg'), 2);
    // Quality report.
    await seeText(page, '#quality-score', '72');
    await seeText(page, '#quality-missing', 'email');
    await seeText(page, '#quality-missing', 'fill with the most frequent value');
    await seeText(page, '#quality-outliers', '12 (1 %)');
    await seeText(page, '#ds-completion', '65 % complete');
    await seeText(page, '#similar-list', 'Credit risk');
    assert.equal(await count(page, '#ds-edit'), 0, 'no edit for a dataset that is not mine');
    await shot(page, 'ds-20-dataset-page');

    // The Croissant download goes through fetch with the token.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#ds-croissant')]);
    assert.equal(download.suggestedFilename(), 'loans.croissant.json');

    await page.click('[data-lang-choice="fr"]');
    await seeText(page, '#ds-ethics', 'Liste de contrôle éthique');
    await seeText(page, '#ethics-list [data-flag="user_control"]', 'Inconnu');
    await seeText(page, '#quality-missing', 'remplacer par la valeur la plus fréquente');
    await seeText(page, '[data-column="amount"]', '1\u202f523,25');
    await page.setViewportSize({ width: 375, height: 800 });
    await noHorizontalScroll(page);
    await shot(page, 'ds-21-dataset-page-fr-phone');
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-ds-page').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

test('upload wizard: errors from the API in words, name taken, progress, then the new page (mocked API)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  let previewMode = 'unsupported';
  let createMode = 'taken';
  let sentMeta = null;
  let releaseCreate = null;
  const { context, page, problems } = await mocked({
    'GET /datasets/domains': (r) => json(r, 200, { domains: ['finance'] }),
    'GET /datasets/tasks': (r) => json(r, 200, { tasks: ['classification'] }),
    'POST /datasets/preview': (r) => {
      if (previewMode === 'unsupported') {
        return json(r, 415, { error: 'unsupported_media_type', message: 'supported formats: CSV, TSV, JSON, JSON Lines', details: {} });
      }
      if (previewMode === 'ragged') {
        return json(r, 422, { error: 'invalid_file', message: 'line 3 has 3 fields, the header has 2', details: { line: 3 } });
      }
      return json(r, 200, {
        files: [{
          filename: 'loans.csv', format: 'csv', row_count: 2, column_count: 2,
          // as libs/ml's profile gives them: missing on the column, the rest under stats
          columns: [{ name: 'amount', type: 'numerical_float', missing: 1, pii: false, examples: ['1.5'], stats: { count: 2, nulls: 1, distinct: 2 } },
            { name: 'repaid', type: 'categorical', missing: 0, pii: false, examples: ['yes'], stats: { count: 3, nulls: 0, distinct: 3 } }],
          preview: { columns: ['amount', 'repaid'], rows: [[1.5, 'yes'], [2, 'no']] },
        }],
        suggestions: { display_name: 'Loans', domains: ['finance'], tasks: ['classification'], target_column: 'repaid' },
      });
    },
    'POST /datasets': (r) => {
      const body = r.request().postData() || '';
      const m = body.match(/name="metadata"\r\n\r\n([^\r]*)\r\n/);
      sentMeta = m ? JSON.parse(m[1]) : null;
      if (createMode === 'taken') return json(r, 409, { error: 'name_taken', message: 'a dataset named loans exists', details: {} });
      // The service takes a moment to profile and store: the progress bar stays meanwhile.
      return new Promise((done) => { releaseCreate = done; }).then(() => json(r, 201, { ...DATASET, id: DS_ID, can_edit: true }));
    },
    [`GET /datasets/${DS_ID}`]: (r) => json(r, 200, { ...DATASET, can_edit: true, display_name: 'Loans' }),
    [`GET /datasets/${DS_ID}/.*`]: (r) => json(r, 200, {}),
  });
  try {
    await page.goto(`${BASE}/#/datasets/upload`);
    await visible(page, '#drop-zone');
    await seeText(page, '.wizard-steps [aria-current="step"]', 'Choose the files');
    await page.click('#upload-analyse');
    await seeText(page, '#wizard-error', 'Choose at least one file first');

    await page.setInputFiles('#upload-input', { name: 'sheet.xlsx', mimeType: 'application/octet-stream', buffer: Buffer.from('PK\x03\x04') });
    await page.click('#upload-analyse');
    await seeText(page, '#wizard-error', 'This file format is not supported');
    await seeText(page, '#wizard-error', 'CSV, TSV, JSON, JSON Lines');
    await page.click('#upload-files button');
    previewMode = 'ragged';
    await page.setInputFiles('#upload-input', { name: 'loans.csv', mimeType: 'text/csv', buffer: Buffer.from('amount,repaid\n1.5,yes\n2,no,extra\n') });
    await page.click('#upload-analyse');
    await seeText(page, '#wizard-error', 'line 3 has 3 fields');
    await shot(page, 'ds-30-upload-invalid-file');

    previewMode = 'ok';
    await page.click('#upload-analyse');
    await visible(page, '#upload-analysis');
    await seeText(page, '#upload-analysis', 'Display name: Loans');
    await seeText(page, '#upload-analysis', 'Target column: repaid');
    const amountRow = await page.locator('.analysis-columns tbody tr:first-child td').allTextContents();
    assert.deepEqual(amountRow.slice(0, 3), ['decimal number', '1', '2']);
    await page.click('#upload-to-meta');
    assert.equal(await page.inputValue('#meta-display_name'), 'Loans');
    assert.equal(await page.inputValue('#meta-name'), 'loans');
    assert.equal(await page.inputValue('#meta-target_column'), 'repaid');
    assert.ok(await page.isChecked('#meta-form input[name="domain"][value="finance"]'));
    // Every field has a label; the form is usable with the keyboard alone.
    assert.deepEqual(await unlabelled(page, '#meta-form'), []);
    await page.fill('#meta-name', 'Bad Name!');
    await page.click('#meta-next');
    await seeText(page, '#meta-name-error', 'lowercase');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'meta-name');
    await page.fill('#meta-name', 'loans');
    await page.check('#eth-anonymization_applied-true');
    await page.focus('#meta-next');
    await page.keyboard.press('Enter');
    await visible(page, '#upload-confirm');
    await page.click('#upload-send');
    await seeText(page, '#wizard-error', 'already used by another dataset');
    // Back on the datasheet, on the short name, to change it.
    await seeText(page, '#meta-name-error', 'already used by another dataset');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'meta-name');
    assert.equal(sentMeta.name, 'loans');
    assert.equal(sentMeta.anonymization_applied, true);
    assert.equal(sentMeta.informed_consent, null, 'unknown is sent as null');
    assert.deepEqual(sentMeta.task, ['classification']);
    await shot(page, 'ds-31-upload-name-taken');

    createMode = 'ok';
    await page.fill('#meta-name', 'loans_2021');
    await page.click('#meta-next');
    await page.click('#upload-send');
    await visible(page, '#upload-progress progress');
    await seeText(page, '#upload-progress', 'Sen');
    await seeText(page, '#upload-send', 'Uploading…');
    assert.equal(await page.getAttribute('#upload-send', 'aria-disabled'), 'true');
    await visible(page, '#upload-cancel');
    await shot(page, 'ds-32-upload-progress');
    while (!releaseCreate) await page.waitForTimeout(50);
    releaseCreate();
    await page.waitForURL(new RegExp(`#/datasets/${DS_ID}$`));
    await seeText(page, '#page-title', 'Loans');
    await visible(page, '#ds-edit');
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-ds-upload').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

test('projects: sliders drive the live ranking, heatmap colour bands (mocked API)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const scoreCalls = [];
  let created = null;
  const PID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
  const ranked = (n) => ({
    id: `d${n}`, name: `d${n}`, display_name: `Dataset ${n}`, score: [0.9, 0.7, 0.45, 0.2][n],
    ethical_score: 0.5, technical_score: 0.5,
    criterion_scores: {
      ethical_score: [0.9, 0.7, 0.45, 0.2][n], popularity_score: [0.85, 0.84, 0.6, 0.59][n],
      year: [0.86, 0.6, 0.3, 0.29][n],
    },
  });
  const { context, page, problems } = await mocked({
    'GET /datasets/domains': (r) => json(r, 200, { domains: ['finance'] }),
    'GET /datasets/tasks': (r) => json(r, 200, { tasks: [] }),
    'POST /datasets/score': (r) => {
      scoreCalls.push(JSON.parse(r.request().postData()));
      return json(r, 200, { datasets: [0, 1, 2, 3].map(ranked), total_count: 4 });
    },
    'GET /projects': (r) => json(r, 200, { projects: created ? [created] : [], total_count: created ? 1 : 0 }),
    'POST /projects': (r) => {
      created = { id: PID, ...JSON.parse(r.request().postData()), updated_at: '2026-03-01T00:00:00Z' };
      return json(r, 201, created);
    },
    [`GET /projects/${PID}/recommendations`]: (r) => json(r, 200, { project: created, datasets: [0, 1, 2, 3].map(ranked) }),
  });
  try {
    await page.goto(`${BASE}/#/projects`);
    await seeText(page, '#view-page', 'Create a project to rank the datasets');
    await page.click('#project-new');
    await page.waitForSelector('#ranked-preview li');
    assert.deepEqual(await unlabelled(page, '#view-page'), [], 'every control of the project form has a label');
    assert.deepEqual(scoreCalls[0].weights, [
      { criterion_name: 'ethical_score', weight: 0.4 }, { criterion_name: 'technical_score', weight: 0.4 },
      { criterion_name: 'popularity_score', weight: 0.2 }]);
    // Moving sliders re-ranks with the new weights (technical 0 leaves it out).
    await page.fill('#w-technical_score', '0');
    await page.fill('#w-year', '0.75');
    await seeText(page, '#w-year-value', '0.75');
    const want = JSON.stringify([
      { criterion_name: 'ethical_score', weight: 0.4 }, { criterion_name: 'popularity_score', weight: 0.2 },
      { criterion_name: 'year', weight: 0.75 }]);
    for (let i = 0; i < 50 && JSON.stringify(scoreCalls[scoreCalls.length - 1].weights) !== want; i++) {
      await page.waitForTimeout(100); // the ranking follows the sliders after a short pause
    }
    assert.deepEqual(scoreCalls[scoreCalls.length - 1].weights, [
      { criterion_name: 'ethical_score', weight: 0.4 }, { criterion_name: 'popularity_score', weight: 0.2 },
      { criterion_name: 'year', weight: 0.75 }]);
    await seeText(page, '#ranked-preview', 'Dataset 0');
    await seeText(page, '#ranked-preview', '90 %');
    // No name: said in words, nothing sent.
    await page.click('#project-save');
    await seeText(page, '#project-error', 'Please correct the highlighted fields');
    assert.equal(created, null);
    await page.fill('#project-name', 'Finance picks');
    await page.click('#project-save');
    await visible(page, '#project-heatmap table');
    assert.equal(created.name, 'Finance picks');
    // Columns: the active criteria with their weights, then the overall score; each cell in
    // its band (0–30 red, 30–60 orange, 60–85 green, 85–100 blue), edges included.
    const heads = await page.locator('#project-heatmap thead th').allTextContents();
    assert.deepEqual(heads, ['Dataset', 'Ethical score (0.4)', 'Popularity (0.2)', 'Recency (0.75)', 'Overall score']);
    const cells = await page.locator('#project-heatmap tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((x) => `${x.textContent}:${x.dataset.band}`)));
    assert.deepEqual(cells, [
      ['90:blue', '85:blue', '86:blue', '90:blue'],
      ['70:green', '84:green', '60:green', '70:green'],
      ['45:orange', '60:green', '30:orange', '45:orange'],
      ['20:red', '59:orange', '29:red', '20:red'],
    ]);
    await seeText(page, '#project-heatmap tbody tr:first-child th', 'Dataset 0');
    await seeText(page, '.hm-legend', '85–100');
    await shot(page, 'ds-40-project-heatmap');
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-ds-project').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});

test('API down: the dataset screens say so in words with a Retry that works (mocked API)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  let down = true;
  const list = { datasets: [{ ...DATASET, files: undefined }], total_count: 1, page: 1, page_size: 12, total_pages: 1 };
  const { context, page, problems } = await mocked({
    'GET /datasets': (r) => (down ? r.abort('connectionrefused') : json(r, 200, list)),
    'GET /datasets/domains': (r) => (down ? r.fulfill({ status: 503, contentType: 'text/html', body: '<h1>down</h1>' }) : json(r, 200, { domains: ['finance'] })),
    'GET /datasets/tasks': (r) => json(r, 200, { tasks: ['classification'] }),
    [`GET /datasets/${DS_ID}`]: (r) => (down ? r.fulfill({ status: 502, contentType: 'text/html', body: 'Bad Gateway' }) : json(r, 200, { ...DATASET, files: [] })),
    [`GET /datasets/${DS_ID}/.*`]: (r) => json(r, 200, {}),
    'GET /projects': (r) => (down ? r.abort('connectionrefused') : json(r, 200, { projects: [] })),
  });
  try {
    await page.goto(`${BASE}/#/datasets`);
    await seeText(page, '.catalogue-results', 'IBIS-X is not reachable right now');
    await seeText(page, '#catalogue-filters', 'could not be loaded');
    await shot(page, 'ds-50-catalogue-down');
    down = false;
    await page.click('.catalogue-results .retry');
    await seeText(page, '#catalogue-cards', 'Loan repayments');
    assert.deepEqual(await unlabelled(page, '#view-page'), [], 'every filter has a label');
    // Keyboard only: search, then Enter applies the filters.
    await page.focus('#cat-q');
    await page.keyboard.type('loan');
    await page.keyboard.press('Enter');
    await seeText(page, '.active-filters', '“loan”');

    down = true;
    await page.goto(`${BASE}/#/datasets/${DS_ID}`);
    await seeText(page, '#view-page', 'IBIS-X is not reachable right now');
    down = false;
    await page.click('#view-page .retry');
    await seeText(page, '#page-title', 'Loan repayments');
    await seeText(page, '#ds-files', 'No file is stored for this dataset');

    down = true;
    await page.goto(`${BASE}/#/projects`);
    await seeText(page, '#view-page', 'IBIS-X is not reachable right now');
    await page.click('[data-lang-choice="fr"]');
    await seeText(page, '#view-page', 'IBIS-X est injoignable pour le moment');
    await seeText(page, '#view-page .retry', 'Réessayer');
    await shot(page, 'ds-51-projects-down-fr');
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failure-ds-down').catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});
