// train: the training wizard. 1 dataset (the catalogue, or preselected from a dataset page)
// → 2 target column and task type (POST /advice/task-type, with its reasons) → 3 data
// quality (GET /datasets/{id}/quality) and cleaning choices → 4 split → 5 algorithms (POST
// /advice/algorithm, ranked with reasons; several can be picked to compare them) → 6
// hyperparameters (forms generated from GET /algorithms, checked here for type and range,
// the server's 422 shown next to the field) → 7 training (POST /experiments, then each run's
// live progress from its event stream, with cancel) and the results.
import { ml } from './mlapi.js';
import { sel } from './selapi.js';
import { ApiError } from './api.js';
import {
  el, field, select, checkbox, errorText, errorBlock, loadingBlock, stateBlock, fmtNum, label, focusSoon, uid,
} from './ui.js';
import { destroyCharts } from './charts.js';
import { resultsSections, reasonWords } from './results.js';
import {
  runCard, cancelRun, algName, resultsOf, comparisonView, modelDownloader, ACTIVE,
} from './experiments.js';
import { followRun } from './mlapi.js';
import { t, has, getLang } from './i18n.js';
import { serverWords } from './i18n-ml.js';

const STEPS = 7;
const NUM_IMPUTE = ['mean', 'median', 'most_frequent', 'constant', 'knn'];
const CAT_IMPUTE = ['most_frequent', 'constant'];
const SCALING = ['standard', 'minmax', 'robust', 'none'];
// The quality report's strategy names → the preprocessing's.
const STRATEGY_TO_NUM = {
  mean_imputation: 'mean', median_imputation: 'median', mode_imputation: 'most_frequent', knn_imputation: 'knn', iterative_imputation: 'knn',
};
const MAX_RUNS = 5; // the service runs at most 5 of a user's experiments at once

// Server problems we can say in French too ({a} {b} filled from the match).
const PROBLEMS = [
  [/^must be at least (\S+) and at most (\S+)$/, 'problem.range'],
  [/^must be greater than (\S+) and at most (\S+)$/, 'problem.range_gt'],
  [/^must be an integer$/, 'problem.int'],
  [/^must be a number$/, 'problem.number'],
  [/^must be true or false$/, 'problem.bool'],
  [/^must not be null$/, 'problem.not_null'],
  [/^must be one of: (.+)$/, 'problem.one_of'],
  [/^needs bootstrap$/, 'problem.needs_bootstrap'],
  [/^'(.+)' is not available for (\S+)$/, 'problem.not_for_task'],
  [/^does not apply to (\S+)$/, 'problem.not_apply'],
  [/^max_leaf_nodes and max_depth cannot both be unlimited$/, 'problem.unlimited'],
  [/^is not a column of the dataset$/, 'problem.no_column'],
  [/^cannot be a target/, 'problem.bad_target'],
  [/^no such dataset, or you cannot see it$/, 'problem.no_dataset'],
  [/^is not a known hyperparameter/, 'problem.unknown_hp'],
];

// Messages are kept as functions and said at draw time, so a language switch translates
// those already on screen.
function say(m) {
  return typeof m === 'function' ? m() : (m || '');
}

export function problemText(problem) {
  const p = String(problem || '').trim();
  for (const [re, key] of PROBLEMS) {
    const m = p.match(re);
    if (m) {
      const word = (x) => (x && has(`task.${x}`) ? t(`task.${x}`).toLowerCase() : x ?? '');
      return t(key, { a: word(m[1]), b: word(m[2]) });
    }
  }
  const cap = p ? p[0].toUpperCase() + p.slice(1) : p;
  return /[.!?]$/.test(cap) ? cap : `${cap}.`;
}

export function hpLabel(name) {
  if (has(`hp.${name}`)) return t(`hp.${name}`);
  const s = String(name).replace(/_/g, ' ');
  return s[0].toUpperCase() + s.slice(1);
}

// The service's descriptions are in English; our words in other languages when we have them.
function serverWord(...keys) {
  const words = serverWords[getLang()] || {};
  const k = keys.find((x) => x in words);
  return k ? words[k] : null;
}

function hpDescription(alg, h) {
  return serverWord(`hpdesc.${alg}.${h.name}`, `hpdesc.${h.name}`) || h.description || '';
}

function algDescription(a) {
  return serverWord(`algdesc.${a.name}`) || a.description || '';
}

function freshWizard(datasetId) {
  return {
    step: 1, datasetId: datasetId || '', dataset: null, datasetError: null,
    catalogue: null, catalogueError: null, q: '',
    quality: null, // {status, data, error}
    target: '', task: '', taskAdvice: null, // {status, data, error}
    prep: {
      missing_threshold: 80, numeric_imputation: 'mean', categorical_imputation: 'most_frequent', fill_value: '',
      scaling: 'standard', knn_neighbors: '5', max_categories: '100', exclude_id_like: true, exclude_columns: [],
    },
    prepFromQuality: false,
    split: { test_size: 20, random_state: '42', cv: false, cv_folds: '5' },
    algorithms: null, algorithmsError: null, algAdvice: null, // {status, data, error}
    chosen: [], hp: {}, hpErrors: {}, fields: {}, error: null, busy: false, runs: [],
  };
}

function columnsOf(d) {
  const f = d && Array.isArray(d.files) ? d.files[0] : null;
  return f && Array.isArray(f.columns) ? f.columns : [];
}

function hpsFor(alg, task) {
  return (alg && Array.isArray(alg.hyperparameters) ? alg.hyperparameters : [])
    .filter((h) => !Array.isArray(h.tasks) || !task || h.tasks.includes(task));
}

function defaultText(h) {
  if (h.default === null || h.default === undefined) return t('hp.auto');
  if (typeof h.default === 'boolean') return t(h.default ? 'flag.yes' : 'flag.no');
  return String(h.default);
}

// The form's value of h ('' = the default) and its check: {value} to send (undefined: leave
// it out) or {problem}.
export function readHp(h, raw) {
  if (h.type === 'bool') {
    if (raw === '' || raw === undefined || raw === null) return {};
    const b = raw === true || raw === 'true';
    return h.nullable || b !== h.default ? { value: b } : {};
  }
  if (h.type === 'enum') return raw ? { value: raw } : {};
  const s = String(raw ?? '').trim().replace(',', '.');
  if (s === '') return {};
  const v = Number(s);
  if (!Number.isFinite(v)) return { problem: () => t(h.type === 'int' ? 'problem.int' : 'problem.number') };
  if (h.type === 'int' && !Number.isInteger(v)) return { problem: () => t('problem.int') };
  const low = typeof h.min === 'number' && (h.min_exclusive ? !(v > h.min) : !(v >= h.min));
  const high = typeof h.max === 'number' && !(v <= h.max);
  if (low || high) {
    return { problem: () => t(h.min_exclusive ? 'problem.range_gt' : 'problem.range', { a: fmtNum(h.min), b: fmtNum(h.max) }) };
  }
  return { value: v };
}

export function trainPage(root, ctx, presetId) {
  const w = freshWizard(presetId);
  const stops = new Map(); // run id → stop()
  const cards = new Map(); // run id → card of the latest draw
  let gone = false;

  // ---------------------------------------------------------------- loading

  async function loadCatalogue() {
    w.catalogueError = null;
    try {
      const r = await sel.list({ page: 1, page_size: 100, sort_by: 'name', sort_order: 'asc', q: w.q || undefined });
      w.catalogue = Array.isArray(r.datasets) ? r.datasets : [];
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      w.catalogueError = err;
    }
    if (!gone && w.step === 1) draw();
  }

  async function loadAlgorithms() {
    if (w.algorithms) return;
    try {
      const r = await ml.algorithms();
      w.algorithms = Array.isArray(r.algorithms) ? r.algorithms : [];
      w.algorithmsError = null;
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      w.algorithmsError = err;
    }
    if (!gone && w.step >= 5) draw();
  }

  async function chooseDataset(id) {
    if (w.dataset && w.dataset.id === id) return true;
    w.datasetId = id;
    w.dataset = null;
    w.datasetError = null;
    w.quality = null;
    w.taskAdvice = null;
    w.algAdvice = null;
    w.target = '';
    w.chosen = [];
    w.prepFromQuality = false;
    w.recNumeric = '';
    w.prep.exclude_columns = [];
    draw();
    try {
      w.dataset = await sel.get(id);
    } catch (err) {
      if (ctx.unauthorized(err)) return false;
      w.datasetError = err;
      draw();
      return false;
    }
    const cols = columnsOf(w.dataset).map((c) => c.name);
    w.target = cols.includes(w.dataset.target_column) ? w.dataset.target_column : (cols[cols.length - 1] || '');
    loadQuality();
    if (w.target) adviseTask();
    if (!gone) draw();
    return true;
  }

  async function loadQuality() {
    const id = w.datasetId;
    w.quality = { status: 'loading' };
    try {
      const q = await sel.quality(id);
      if (id !== w.datasetId) return;
      w.quality = { status: 'ready', data: q };
      applyQuality(q);
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      if (id !== w.datasetId) return;
      w.quality = { status: 'error', error: err };
    }
    if (!gone && w.step === 3) draw();
  }

  // The cleaning choices start from the quality report's recommendations.
  function applyQuality(q) {
    if (w.prepFromQuality) return;
    w.prepFromQuality = true;
    const miss = (q.missing_data_analysis && q.missing_data_analysis.columns_with_missing) || {};
    const votes = {};
    for (const m of Object.values(miss)) {
      const s = m && m.recommended_strategy && STRATEGY_TO_NUM[m.recommended_strategy.primary_strategy];
      if (s && !m.is_categorical) votes[s] = (votes[s] || 0) + 1;
    }
    const best = Object.entries(votes).sort((a, b) => b[1] - a[1])[0];
    if (best) {
      w.prep.numeric_imputation = best[0];
      w.recNumeric = best[0];
    }
    const rec = q.preprocessing_recommendations && q.preprocessing_recommendations.scaling_recommendation;
    if (SCALING.includes(rec)) w.prep.scaling = rec;
  }

  async function adviseTask() {
    const target = w.target;
    w.taskAdvice = { status: 'loading' };
    if (w.step === 2) draw();
    try {
      const a = await ml.adviseTask(w.datasetId, target);
      if (target !== w.target) return;
      w.taskAdvice = { status: 'ready', data: a };
      w.task = a.task_type || a.task || w.task;
      delete w.fields.target_column;
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      if (target !== w.target) return;
      w.taskAdvice = { status: 'error', error: err };
    }
    if (!gone && w.step === 2) draw();
  }

  async function adviseAlgorithms() {
    const key = `${w.datasetId}|${w.target}|${w.task}`;
    if (w.algAdvice && w.algAdvice.key === key && w.algAdvice.status !== 'error') return;
    w.algAdvice = { status: 'loading', key };
    try {
      const a = await ml.adviseAlgorithm(w.datasetId, w.target, w.task);
      if (!w.algAdvice || w.algAdvice.key !== key) return;
      w.algAdvice = { status: 'ready', data: a, key };
      const ranking = Array.isArray(a.ranking) ? a.ranking : [];
      if (!w.chosen.length && ranking.length) w.chosen = [ranking[0].algorithm];
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      if (!w.algAdvice || w.algAdvice.key !== key) return;
      w.algAdvice = { status: 'error', error: err, key };
    }
    if (!gone && w.step === 5) draw();
  }

  // ---------------------------------------------------------------- navigation

  function go(step) {
    w.step = step;
    w.error = null;
    if (step === 1 && !w.catalogue) loadCatalogue();
    if (step >= 5) loadAlgorithms();
    if (step === 5) adviseAlgorithms();
    draw();
    focusSoon(document.getElementById('wizard-title'));
  }

  function next() {
    const problem = checkStep(w.step);
    if (problem) {
      w.error = problem;
      draw();
      const bad = root.querySelector('[aria-invalid="true"]') || document.getElementById('wizard-error');
      if (bad) bad.focus();
      return;
    }
    go(w.step + 1);
  }

  function checkStep(step) {
    if (step === 1 && !w.dataset) return () => t('train.check.dataset');
    if (step === 2) {
      if (!w.target) return () => t('train.check.target');
      if (!w.task) return () => t('train.check.task');
    }
    if (step === 3) {
      const p = {};
      const k = Number(w.prep.knn_neighbors);
      if (w.prep.numeric_imputation === 'knn' && !(Number.isInteger(k) && k >= 1 && k <= 100)) p['preprocessing.knn_neighbors'] = () => t('problem.range', { a: 1, b: 100 });
      const mc = Number(w.prep.max_categories);
      if (!(Number.isInteger(mc) && mc >= 1 && mc <= 1000)) p['preprocessing.max_categories'] = () => t('problem.range', { a: 1, b: fmtNum(1000) });
      if ((w.prep.numeric_imputation === 'constant' || w.prep.categorical_imputation === 'constant') && w.prep.fill_value.trim() === '') {
        p['preprocessing.fill_value'] = () => t('train.check.fill');
      }
      const numericConst = w.prep.numeric_imputation === 'constant' && w.prep.categorical_imputation !== 'constant';
      if (numericConst && w.prep.fill_value.trim() !== '' && !Number.isFinite(Number(w.prep.fill_value.replace(',', '.')))) {
        p['preprocessing.fill_value'] = () => t('problem.number');
      }
      setStepFields('preprocessing.', p);
      if (Object.keys(p).length) return () => t('auth.fix_fields');
    }
    if (step === 4) {
      const p = {};
      const rs = Number(w.split.random_state);
      if (!(String(w.split.random_state).trim() !== '' && Number.isInteger(rs) && rs >= 0 && rs <= 2147483647)) p.random_state = () => t('problem.range', { a: 0, b: fmtNum(2147483647) });
      const k = Number(w.split.cv_folds);
      if (w.split.cv && !(Number.isInteger(k) && k >= 2 && k <= 20)) p.cv_folds = () => t('problem.range', { a: 2, b: 20 });
      setStepFields('', p, ['test_size', 'random_state', 'cv_folds']);
      if (Object.keys(p).length) return () => t('auth.fix_fields');
    }
    if (step === 5) {
      if (!w.chosen.length) return () => t('train.check.algorithm');
      if (w.chosen.length > MAX_RUNS) return () => t('train.check.too_many', { n: MAX_RUNS });
    }
    if (step === 6) {
      let bad = false;
      for (const name of w.chosen) {
        const errs = {};
        for (const h of hpsFor(algorithm(name), w.task)) {
          const r = readHp(h, (w.hp[name] || {})[h.name]);
          if (r.problem) errs[h.name] = r.problem;
        }
        w.hpErrors[name] = errs;
        if (Object.keys(errs).length) bad = true;
      }
      if (bad) return () => t('auth.fix_fields');
    }
    return null;
  }

  function setStepFields(prefix, problems, names) {
    for (const k of Object.keys(w.fields)) {
      if ((prefix && k.startsWith(prefix)) || (names && names.includes(k))) delete w.fields[k];
    }
    Object.assign(w.fields, problems);
  }

  function algorithm(name) {
    return (w.algorithms || []).find((a) => a.name === name) || null;
  }

  // ---------------------------------------------------------------- submit

  function preprocessingBody() {
    const p = w.prep;
    const out = {
      missing_threshold: Math.round(Number(p.missing_threshold)) / 100,
      numeric_imputation: p.numeric_imputation,
      categorical_imputation: p.categorical_imputation,
      scaling: p.scaling,
      max_categories: Number(p.max_categories),
      exclude_id_like: Boolean(p.exclude_id_like),
    };
    if (p.numeric_imputation === 'knn') out.knn_neighbors = Number(p.knn_neighbors);
    const fill = p.fill_value.trim();
    if (p.numeric_imputation === 'constant' && fill !== '') {
      const n = Number(fill.replace(',', '.'));
      if (Number.isFinite(n)) out.numeric_fill_value = n;
    }
    if (p.categorical_imputation === 'constant' && fill !== '') out.categorical_fill_value = fill;
    const cols = p.exclude_columns.filter((c) => c !== w.target);
    if (cols.length) out.exclude_columns = cols;
    return out;
  }

  function bodyFor(name) {
    const hp = {};
    for (const h of hpsFor(algorithm(name), w.task)) {
      const r = readHp(h, (w.hp[name] || {})[h.name]);
      if (r.value !== undefined) hp[h.name] = r.value;
    }
    const body = {
      dataset_id: w.datasetId, target_column: w.target, task_type: w.task, algorithm: name,
      hyperparameters: hp, preprocessing: preprocessingBody(),
      test_size: Math.round(Number(w.split.test_size)) / 100, random_state: Number(w.split.random_state),
    };
    if (w.split.cv) body.cv_folds = Number(w.split.cv_folds);
    return body;
  }

  // Server problems go next to their field: hyperparameters.X on step 6 (per algorithm),
  // preprocessing.X on step 3, the split on 4, the target on 2.
  function placeProblems(name, err) {
    let first = 7;
    for (const f of err.fields) {
      if (f.field.startsWith('hyperparameters.')) {
        const hp = f.field.slice('hyperparameters.'.length);
        w.hpErrors[name] = { ...(w.hpErrors[name] || {}), [hp]: () => problemText(f.problem) };
        first = Math.min(first, 6);
      } else if (f.field === 'hyperparameters' || f.field === 'algorithm') {
        w.hpErrors[name] = { ...(w.hpErrors[name] || {}), _all: () => problemText(f.problem) };
        first = Math.min(first, 6);
      } else {
        w.fields[f.field] = () => problemText(f.problem);
        const step = f.field.startsWith('preprocessing') ? 3
          : ['test_size', 'random_state', 'cv_folds'].includes(f.field) ? 4
            : ['target_column', 'task_type'].includes(f.field) ? 2 : 1;
        first = Math.min(first, step);
      }
    }
    return first;
  }

  async function train() {
    if (w.busy) return;
    const problem = checkStep(6);
    if (problem) {
      w.error = problem;
      draw();
      const bad = root.querySelector('[aria-invalid="true"]');
      if (bad) bad.focus();
      return;
    }
    w.busy = true;
    w.error = null;
    w.fields = {};
    draw();
    let back = 7;
    const refused = [];
    for (const name of w.chosen) {
      if (w.runs.some((r) => r.algorithm === name)) continue;
      w.hpErrors[name] = {};
      try {
        // eslint-disable-next-line no-await-in-loop
        const run = await ml.create(bodyFor(name));
        w.runs.push(run);
      } catch (err) {
        if (ctx.unauthorized(err)) return;
        refused.push([name, err]);
        if (err instanceof ApiError && err.status === 422 && err.fields.length) back = Math.min(back, placeProblems(name, err));
        else back = Math.min(back, 6);
      }
    }
    w.busy = false;
    if (gone) return;
    for (const run of w.runs) follow(run);
    if (!refused.length) {
      go(7);
      return;
    }
    const [name, err] = refused[0];
    const placed = err instanceof ApiError && err.status === 422 && err.fields.length;
    const started = w.runs.length;
    w.error = () => `${placed ? t('train.refused', { alg: algName(name) }) : `${algName(name)}: ${errorText(err)}`}${started ? ` ${t('train.some_started', { n: started })}` : ''}`;
    w.step = back;
    draw();
    const bad = root.querySelector('[aria-invalid="true"]') || document.getElementById('wizard-error');
    if (bad) bad.focus();
  }

  function follow(run) {
    if (stops.has(run.id) || !ACTIVE.has(run.status)) return;
    stops.set(run.id, followRun(run.id, {
      onState: (s) => {
        Object.assign(run, { status: s.status, progress: s.progress, stage: s.stage, error: s.error });
        const c = cards.get(run.id);
        if (c) c.update(s);
      },
      onEnd: (s) => {
        stops.delete(run.id);
        Object.assign(run, { status: s.status, progress: s.progress, stage: s.stage, error: s.error });
        if (gone) return;
        if (run.status === 'completed') {
          resultsOf(run.id).then((r) => { run.results = r; }).catch((err) => { run.resultsError = err; })
            .finally(() => { if (!gone && w.step === 7) draw(); });
        } else if (w.step === 7) draw();
      },
      onProblem: (err, retrying) => {
        if (ctx.unauthorized(err)) return;
        if (!retrying) {
          run.streamError = err;
          if (w.step === 7) draw();
        }
      },
    }));
  }

  // Every draw puts the focus back on the control that had it (same id), so choosing with
  // the arrow keys in a radio group or a select keeps the keyboard where it was.
  function draw() {
    const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : '';
    drawPage();
    const again = focused && document.getElementById(focused);
    if (again && again !== document.activeElement) again.focus();
  }

  // ---------------------------------------------------------------- steps

  function fieldError(key, input) {
    const msg = say(w.fields[key]);
    if (!msg) return null;
    const id = `${input.id}-error`;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby') || ''} ${id}`.trim());
    return el('p', { class: 'field-error', id, text: msg });
  }

  function withError(key, input, fieldNode) {
    const e = fieldError(key, input);
    if (e) {
      fieldNode.classList.add('has-error');
      fieldNode.append(e);
    }
    return fieldNode;
  }

  function stepDataset() {
    const search = el('input', {
      type: 'search', id: 'train-ds-q', value: w.q, placeholder: t('train.ds.search.placeholder'),
      onkeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); w.q = e.target.value.trim(); w.catalogue = null; draw(); loadCatalogue(); } },
    });
    let list;
    if (w.catalogueError) list = errorBlock(w.catalogueError, t('catalogue.error.title'), loadCatalogue);
    else if (!w.catalogue) list = loadingBlock(t('catalogue.loading'));
    else if (!w.catalogue.length) {
      list = w.q ? stateBlock('empty', t('train.ds.none_match'), t('train.ds.none_match.body'))
        : stateBlock('empty', t('train.ds.empty'), t('train.ds.empty.body'), el('a', { class: 'btn btn-primary', href: '#/datasets/upload', text: t('nav.upload') }));
    } else {
      list = el('fieldset', { class: 'ds-pick' }, el('legend', { text: t('train.ds.legend') }),
        el('ul', { class: 'pick-list', id: 'train-datasets' }, w.catalogue.map((d) => {
          const id = `train-ds-${d.id}`;
          return el('li', { 'data-name': d.name },
            el('input', {
              type: 'radio', name: 'train-dataset', id, value: d.id, checked: w.datasetId === d.id,
              onchange: () => chooseDataset(d.id),
            }),
            el('label', { for: id }, el('strong', { text: d.display_name || d.name }),
              el('span', { class: 'muted small', text: ` ${t('train.ds.facts', { rows: fmtNum(d.instances_number), cols: fmtNum(d.features_number) })}` }),
              d.target_column ? el('span', { class: 'muted small', text: ` · ${t('train.ds.target', { target: d.target_column })}` }) : null));
        })));
    }
    const chosen = w.datasetError ? errorBlock(w.datasetError, t('ds.error'), () => chooseDataset(w.datasetId))
      : w.datasetId && !w.dataset ? loadingBlock(t('app.loading'))
        : w.dataset ? el('p', { class: 'notice notice-info', id: 'train-ds-chosen', text: t('train.ds.chosen', { name: w.dataset.display_name || w.dataset.name }) }) : null;
    return el('div', {},
      el('div', { class: 'field' }, el('label', { for: 'train-ds-q', text: t('filters.q') }), search,
        el('p', { class: 'field-hint', text: t('train.ds.search.hint') })),
      list, chosen);
  }

  function adviceBlock() {
    const a = w.taskAdvice;
    if (!a) return null;
    if (a.status === 'loading') return loadingBlock(t('train.task.advising'));
    if (a.status === 'error') {
      const fields = a.error instanceof ApiError ? a.error.fields : [];
      const text = fields.length ? fields.map((f) => problemText(f.problem)).join(' ') : errorText(a.error);
      return el('div', { class: 'notice notice-error', role: 'alert', id: 'task-advice-error' },
        el('p', { text: `${t('train.task.advice_failed')} ${text}` }),
        el('button', { type: 'button', class: 'btn btn-secondary btn-small', text: t('action.retry'), onclick: adviseTask }));
    }
    const d = a.data || {};
    const reasons = Array.isArray(d.reasons) ? d.reasons : [];
    const task = d.task_type || d.task;
    const col = d.column || {};
    return el('div', { class: 'advice', id: 'task-advice', role: 'status' },
      el('p', {}, el('strong', { text: t('train.task.suggested', { task: t(`task.${task}`) }) })),
      col.distinct !== undefined ? el('p', { class: 'small muted', text: t('train.task.column', { type: label('type', col.type), distinct: fmtNum(col.distinct), missing: fmtNum(col.missing) }) }) : null,
      reasons.length ? el('ul', { class: 'reasons' }, reasons.map((r) => el('li', { text: reasonWords(r) }))) : null);
  }

  function stepTarget() {
    const cols = columnsOf(w.dataset);
    if (!cols.length) {
      return stateBlock('empty', t('train.target.no_file'), t('train.target.no_file.body'),
        el('a', { class: 'btn btn-secondary', href: `#/datasets/${w.datasetId}`, text: t('train.target.open_ds') }));
    }
    const targetSel = select([['', t('train.target.choose')], ...cols.map((c) => [c.name, `${c.name} (${label('type', c.data_type_interpreted || c.type)})`])], w.target, {
      id: 'train-target',
      onchange: (e) => { w.target = e.target.value; w.task = ''; w.chosen = []; w.algAdvice = null; delete w.fields.target_column; if (w.target) adviseTask(); else draw(); },
    });
    const targetField = withError('target_column', targetSel, field(t('train.target'), targetSel, t('train.target.hint')));
    const suggested = w.taskAdvice && w.taskAdvice.status === 'ready' ? (w.taskAdvice.data.task_type || w.taskAdvice.data.task) : '';
    const taskRadios = el('fieldset', { class: 'task-choice', id: 'train-task' }, el('legend', { text: t('train.task') }),
      ['classification', 'regression'].map((k) => {
        const id = `train-task-${k}`;
        return el('div', { class: 'radio' },
          el('input', { type: 'radio', name: 'train-task', id, value: k, checked: w.task === k, onchange: () => { w.task = k; w.chosen = []; w.algAdvice = null; } }),
          el('label', { for: id }, el('strong', { text: t(`task.${k}`) }), k === suggested ? el('span', { class: 'badge', text: t('train.suggested') }) : null,
            el('span', { class: 'muted small block', text: t(`task.${k}.hint`) })));
      }));
    if (w.fields.task_type) taskRadios.append(el('p', { class: 'field-error', text: say(w.fields.task_type) }));
    return el('div', {}, targetField, adviceBlock(), w.target ? taskRadios : null);
  }

  function qualitySummary() {
    const q = w.quality;
    if (!q || q.status === 'loading') return loadingBlock(t('train.quality.loading'));
    if (q.status === 'error') {
      if (q.error instanceof ApiError && q.error.status === 404) return el('p', { class: 'muted', text: t('ds.quality.none') });
      return errorBlock(q.error, t('ds.quality.error'), loadQuality);
    }
    const d = q.data || {};
    const miss = Object.entries((d.missing_data_analysis && d.missing_data_analysis.columns_with_missing) || {});
    const iqr = Object.entries((d.outliers_analysis && d.outliers_analysis.iqr_method) || {}).filter(([, o]) => o && o.outliers_count > 0);
    const score = d.data_quality_score;
    return el('div', { class: 'quality-summary', id: 'train-quality' },
      el('p', {}, el('strong', { text: t('train.quality.score', { score: typeof score === 'number' ? fmtNum(score, 0) : t('value.unknown') }) })),
      miss.length ? el('div', {}, el('h4', { class: 'sub-title', text: t('train.quality.missing') }),
        el('ul', { class: 'missing-list', id: 'train-missing' }, miss.map(([name, m]) => {
          const rs = m.recommended_strategy || {};
          return el('li', {},
            el('strong', { text: name }),
            el('span', { class: 'small', text: ` · ${t('train.quality.missing_n', { n: fmtNum(m.missing_count), pct: fmtNum(m.missing_percentage, 2) })}` }),
            rs.primary_strategy ? el('span', { class: 'small', text: ` · ${t('train.quality.advice', { how: label('strategy', rs.primary_strategy) })}` }) : null,
            rs.explanation ? el('p', { class: 'muted small', text: rs.explanation }) : null);
        })))
        : el('p', { class: 'muted', text: t('train.quality.no_missing') }),
      iqr.length ? el('p', { class: 'small', text: t('train.quality.outliers', { list: iqr.map(([n, o]) => `${n} (${fmtNum(o.outliers_count)})`).join(', ') }) }) : null);
  }

  function stepCleaning() {
    const p = w.prep;
    const rec = w.quality && w.quality.status === 'ready' ? w.quality.data.preprocessing_recommendations || {} : {};
    const recMark = (v, r) => (v === r ? ` — ${t('train.recommended')}` : '');
    const numSel = select(NUM_IMPUTE.map((v) => [v, `${t(`impute.${v}`)}${recMark(v, w.recNumeric)}`]), p.numeric_imputation, {
      id: 'prep-numeric', onchange: (e) => { p.numeric_imputation = e.target.value; draw(); },
    });
    const catSel = select(CAT_IMPUTE.map((v) => [v, t(`impute.${v}`)]), p.categorical_imputation, {
      id: 'prep-categorical', onchange: (e) => { p.categorical_imputation = e.target.value; draw(); },
    });
    const needFill = p.numeric_imputation === 'constant' || p.categorical_imputation === 'constant';
    const fill = el('input', { type: 'text', id: 'prep-fill', value: p.fill_value, oninput: (e) => { p.fill_value = e.target.value; } });
    const knn = el('input', { type: 'number', id: 'prep-knn', min: '1', max: '100', step: '1', value: p.knn_neighbors, oninput: (e) => { p.knn_neighbors = e.target.value; } });
    const out = el('output', { for: 'prep-threshold', id: 'prep-threshold-value', text: `${p.missing_threshold} %` });
    const threshold = el('input', {
      type: 'range', id: 'prep-threshold', min: '0', max: '100', step: '5', value: String(p.missing_threshold), 'aria-valuetext': `${p.missing_threshold} %`,
      oninput: (e) => { p.missing_threshold = Number(e.target.value); out.textContent = `${p.missing_threshold} %`; e.target.setAttribute('aria-valuetext', `${p.missing_threshold} %`); },
    });
    const scaling = select(SCALING.map((v) => [v, `${t(`scaling.${v}`)}${recMark(v, rec.scaling_recommendation)}`]), p.scaling, {
      id: 'prep-scaling', onchange: (e) => { p.scaling = e.target.value; },
    });
    const maxCat = el('input', { type: 'number', id: 'prep-max-categories', min: '1', max: '1000', step: '1', value: p.max_categories, oninput: (e) => { p.max_categories = e.target.value; } });
    const idLike = el('input', { checked: p.exclude_id_like, onchange: (e) => { p.exclude_id_like = e.target.checked; } });
    const cols = columnsOf(w.dataset).filter((c) => c.name !== w.target);
    const exclude = el('fieldset', { class: 'check-group exclude-cols', id: 'prep-exclude' }, el('legend', { text: t('train.prep.exclude') }),
      el('p', { class: 'field-hint', text: t('train.prep.exclude.hint') }),
      cols.map((c) => checkbox(`${c.name}${c.is_pii || c.pii ? ` (${t('ds.pii')})` : ''}`, el('input', {
        name: 'exclude', value: c.name, id: uid('ex'), checked: p.exclude_columns.includes(c.name),
        onchange: (e) => {
          p.exclude_columns = e.target.checked ? [...new Set([...p.exclude_columns, c.name])] : p.exclude_columns.filter((x) => x !== c.name);
        },
      }))));
    return el('div', {},
      el('section', { class: 'sub-card', 'aria-labelledby': 'q-title' }, el('h3', { id: 'q-title', text: t('train.quality') }), qualitySummary()),
      el('fieldset', {}, el('legend', { text: t('train.prep.missing') }),
        el('div', { class: 'two-cols' },
          withError('preprocessing.numeric_imputation', numSel, field(t('train.prep.numeric'), numSel, t('train.prep.numeric.hint'))),
          withError('preprocessing.categorical_imputation', catSel, field(t('train.prep.categorical'), catSel, t('train.prep.categorical.hint')))),
        p.numeric_imputation === 'knn' ? withError('preprocessing.knn_neighbors', knn, field(t('train.prep.knn'), knn, t('train.prep.knn.hint'))) : null,
        needFill ? withError('preprocessing.fill_value', fill, field(t('train.prep.fill'), fill, t('train.prep.fill.hint'))) : null,
        withError('preprocessing.missing_threshold', threshold, el('div', { class: 'field slider-field' },
          el('label', { for: 'prep-threshold', text: t('train.prep.threshold') }), el('div', { class: 'slider-row' }, threshold, out),
          el('p', { class: 'field-hint', text: t('train.prep.threshold.hint') })))),
      el('fieldset', {}, el('legend', { text: t('train.prep.features') }),
        el('div', { class: 'two-cols' },
          withError('preprocessing.scaling', scaling, field(t('train.prep.scaling'), scaling, t('train.prep.scaling.hint'))),
          withError('preprocessing.max_categories', maxCat, field(t('train.prep.max_categories'), maxCat, t('train.prep.max_categories.hint')))),
        checkbox(t('train.prep.id_like'), idLike),
        exclude));
  }

  function stepSplit() {
    const s = w.split;
    const out = el('output', { for: 'split-test', id: 'split-test-value', text: t('train.split.value', { test: s.test_size, train: 100 - s.test_size }) });
    const test = el('input', {
      type: 'range', id: 'split-test', min: '5', max: '90', step: '5', value: String(s.test_size), 'aria-valuetext': `${s.test_size} %`,
      oninput: (e) => { s.test_size = Number(e.target.value); out.textContent = t('train.split.value', { test: s.test_size, train: 100 - s.test_size }); e.target.setAttribute('aria-valuetext', `${s.test_size} %`); },
    });
    const rs = el('input', { type: 'number', id: 'split-random-state', min: '0', max: '2147483647', step: '1', value: s.random_state, oninput: (e) => { s.random_state = e.target.value; } });
    const folds = el('input', { type: 'number', id: 'split-folds', min: '2', max: '20', step: '1', value: s.cv_folds, oninput: (e) => { s.cv_folds = e.target.value; } });
    const foldsField = withError('cv_folds', folds, field(t('train.split.folds'), folds, t('train.split.folds.hint')));
    foldsField.hidden = !s.cv;
    const cv = el('input', { checked: s.cv, id: 'split-cv', 'aria-controls': 'split-folds', onchange: (e) => { s.cv = e.target.checked; foldsField.hidden = !s.cv; } });
    return el('div', {},
      withError('test_size', test, el('div', { class: 'field slider-field' },
        el('label', { for: 'split-test', text: t('train.split.test') }), el('div', { class: 'slider-row' }, test, out),
        el('p', { class: 'field-hint', text: t('train.split.test.hint') }))),
      withError('random_state', rs, field(t('train.split.random_state'), rs, t('train.split.random_state.hint'))),
      checkbox(t('train.split.cv'), cv),
      foldsField);
  }

  // Changed in place (no redraw), so focus and the checkbox under the pointer stay.
  function toggleAlgorithm(name, on) {
    w.chosen = on ? [...new Set([...w.chosen, name])] : w.chosen.filter((x) => x !== name);
    const item = root.querySelector(`.alg-item[data-algorithm="${name}"]`);
    if (item) item.classList.toggle('chosen', on);
    const line = document.getElementById('alg-chosen');
    if (line) line.textContent = chosenText();
  }

  function chosenText() {
    return w.chosen.length ? t('train.alg.chosen', { n: w.chosen.length, list: w.chosen.map(algName).join(', ') }) : t('train.alg.none');
  }

  function stepAlgorithm() {
    const a = w.algAdvice;
    if (w.algorithmsError) return errorBlock(w.algorithmsError, t('train.alg.error'), () => { w.algorithmsError = null; loadAlgorithms(); });
    if (!w.algorithms || !a || a.status === 'loading') return loadingBlock(t('train.alg.advising'));
    const ranking = a.status === 'ready' && Array.isArray(a.data.ranking) ? a.data.ranking : [];
    const known = new Set(ranking.map((r) => r.algorithm));
    const others = w.algorithms.filter((x) => !known.has(x.name) && (w.task === 'regression' ? x.regression : x.classification));
    const item = (name, rank) => {
      const info = algorithm(name) || { name };
      const id = `alg-${name}`;
      return el('li', { class: `alg-item${w.chosen.includes(name) ? ' chosen' : ''}`, 'data-algorithm': name },
        el('input', { type: 'checkbox', id, value: name, checked: w.chosen.includes(name), onchange: (e) => toggleAlgorithm(name, e.target.checked) }),
        el('label', { for: id },
          el('span', { class: 'alg-name' }, rank ? el('span', { class: 'alg-rank', text: `${rank.rank}.` }) : null, ` ${algName(name)}`),
          rank && typeof rank.score === 'number' ? el('span', { class: 'alg-score' }, el('meter', { min: '0', max: '100', value: String(rank.score), 'aria-hidden': 'true' }), ` ${t('train.alg.score', { score: fmtNum(rank.score, 0) })}`) : null,
          el('span', { class: 'muted small block', text: algDescription(info) })),
        rank && Array.isArray(rank.reasons) && rank.reasons.length ? el('ul', { class: 'reasons small' }, rank.reasons.map((r) => el('li', { text: reasonWords(r) }))) : null);
    };
    const ds = a.status === 'ready' && a.data.dataset ? a.data.dataset : null;
    return el('div', {},
      a.status === 'error' ? el('div', { class: 'notice notice-error', role: 'alert' },
        el('p', { text: `${t('train.alg.advice_failed')} ${errorText(a.error)}` }),
        el('button', { type: 'button', class: 'btn btn-secondary btn-small', text: t('action.retry'), onclick: () => { w.algAdvice = null; adviseAlgorithms(); draw(); } })) : null,
      ds ? el('p', { class: 'muted small', id: 'alg-dataset-facts', text: t('train.alg.dataset', { rows: fmtNum(ds.rows), features: fmtNum(ds.features), missing: fmtNum((ds.missing_fraction || 0) * 100, 1) }) }) : null,
      el('p', { class: 'muted', text: t('train.alg.intro') }),
      ranking.length ? el('fieldset', {}, el('legend', { text: t('train.alg.ranked') }), el('ol', { class: 'alg-list', id: 'alg-ranking' }, ranking.map((r) => item(r.algorithm, r)))) : null,
      others.length ? el('fieldset', {}, el('legend', { text: ranking.length ? t('train.alg.others') : t('train.alg.all') }), el('ul', { class: 'alg-list', id: 'alg-others' }, others.map((x) => item(x.name, null)))) : null,
      el('p', { class: 'small', id: 'alg-chosen', role: 'status', text: chosenText() }));
  }

  function suggestedFor(name) {
    const r = w.algAdvice && w.algAdvice.status === 'ready' && Array.isArray(w.algAdvice.data.ranking)
      ? w.algAdvice.data.ranking.find((x) => x.algorithm === name) : null;
    return (r && r.suggested_hyperparameters) || {};
  }

  // The form's starting values: the advice's suggestions, else empty (the default).
  function hpValues(name) {
    if (!w.hp[name]) {
      const sug = suggestedFor(name);
      const v = {};
      for (const h of hpsFor(algorithm(name), w.task)) {
        const s = sug[h.name];
        if (s === undefined || s === null) v[h.name] = h.type === 'bool' && !h.nullable ? Boolean(h.default) : '';
        else v[h.name] = h.type === 'bool' ? (h.nullable ? String(s) : Boolean(s)) : String(s);
      }
      w.hp[name] = v;
    }
    return w.hp[name];
  }

  function hpInput(name, h, values, errs) {
    const id = `hp-${name}-${h.name}`;
    const v = values[h.name];
    const set = (x) => { values[h.name] = x; if (errs[h.name]) { delete errs[h.name]; } };
    let input;
    if (h.type === 'bool' && !h.nullable) {
      input = el('input', { type: 'checkbox', id, name: h.name, checked: v === true, onchange: (e) => set(e.target.checked) });
    } else if (h.type === 'bool' || h.type === 'enum') {
      const opts = h.type === 'bool' ? [['true', t('flag.yes')], ['false', t('flag.no')]] : (h.values || []).map((x) => [x, has(`hpval.${x}`) ? t('hpval.pair', { v: x, words: t(`hpval.${x}`) }) : x]);
      input = select([['', t('hp.default_choice', { value: defaultText(h) })], ...opts], v === undefined ? '' : String(v), { id, name: h.name, onchange: (e) => set(e.target.value) });
    } else {
      input = el('input', {
        type: 'text', inputmode: h.type === 'int' ? 'numeric' : 'decimal', id, name: h.name, value: v ?? '', placeholder: defaultText(h),
        autocomplete: 'off', spellcheck: 'false', oninput: (e) => set(e.target.value),
        onchange: (e) => {
          const r = readHp(h, e.target.value);
          const box = e.target.closest('.field');
          const old = box && box.querySelector('.field-error');
          if (old) old.remove();
          if (r.problem) {
            errs[h.name] = r.problem;
            e.target.setAttribute('aria-invalid', 'true');
            box.classList.add('has-error');
            box.append(el('p', { class: 'field-error', id: `${id}-error`, text: say(r.problem) }));
          } else {
            e.target.setAttribute('aria-invalid', 'false');
            box.classList.remove('has-error');
          }
        },
      });
    }
    const range = (h.type === 'int' || h.type === 'float') && typeof h.min === 'number'
      ? t(h.min_exclusive ? 'hp.range_gt' : 'hp.range', { min: fmtNum(h.min), max: fmtNum(h.max) }) : '';
    const hint = [hpDescription(name, h), range, t('hp.default', { value: defaultText(h) })].filter(Boolean).join(' ');
    const hintId = `${id}-hint`;
    const errId = `${id}-error`;
    const err = errs[h.name];
    input.setAttribute('aria-describedby', err ? `${hintId} ${errId}` : hintId);
    input.setAttribute('aria-invalid', String(Boolean(err)));
    const box = h.type === 'bool' && !h.nullable
      ? el('div', { class: 'field check-field', 'data-hp': h.name }, el('div', { class: 'check' }, input, el('label', { for: id, text: hpLabel(h.name) })))
      : el('div', { class: 'field', 'data-hp': h.name }, el('label', { for: id, text: hpLabel(h.name) }), input);
    box.append(el('p', { class: 'field-hint', id: hintId, text: hint }));
    if (err) {
      box.classList.add('has-error');
      box.append(el('p', { class: 'field-error', id: errId, text: say(err) }));
    }
    return box;
  }

  function stepHyperparameters() {
    if (!w.algorithms) return loadingBlock(t('app.loading'));
    return el('div', {},
      w.chosen.map((name) => {
        const info = algorithm(name);
        const values = hpValues(name);
        const errs = w.hpErrors[name] || (w.hpErrors[name] = {});
        const hps = hpsFor(info, w.task);
        const started = w.runs.find((r) => r.algorithm === name);
        return el('fieldset', { class: 'hp-set', id: `hp-${name}`, 'data-algorithm': name },
          el('legend', { text: algName(name) }),
          started ? el('p', { class: 'notice notice-info', text: t('train.hp.started') }) : null,
          errs._all ? el('p', { class: 'field-error', role: 'alert', text: say(errs._all) }) : null,
          hps.length ? el('div', { class: 'hp-grid' }, hps.map((h) => hpInput(name, h, values, errs))) : el('p', { class: 'muted', text: t('train.hp.none') }),
          hps.length ? el('button', {
            type: 'button', class: 'btn btn-quiet btn-small', text: t('train.hp.reset'),
            onclick: () => { delete w.hp[name]; w.hpErrors[name] = {}; draw(); },
          }) : null);
      }),
      summary());
  }

  function summary() {
    const d = w.dataset || {};
    const rows = [
      [t('train.sum.dataset'), d.display_name || d.name || ''],
      [t('train.sum.target'), `${w.target} · ${w.task ? t(`task.${w.task}`) : ''}`],
      [t('train.sum.cleaning'), `${t(`impute.${w.prep.numeric_imputation}`)} · ${t(`scaling.${w.prep.scaling}`)} · ${t('train.sum.threshold', { pct: w.prep.missing_threshold })}`],
      [t('train.sum.split'), `${t('train.split.value', { test: w.split.test_size, train: 100 - w.split.test_size })}${w.split.cv ? ` · ${t('train.sum.cv', { k: w.split.cv_folds })}` : ''}`],
      [t('train.sum.algorithms'), w.chosen.map(algName).join(', ')],
    ];
    return el('section', { class: 'sub-card', 'aria-labelledby': 'sum-title' },
      el('h3', { id: 'sum-title', text: t('train.sum') }),
      el('dl', { class: 'meta-list', id: 'train-summary' }, rows.map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', { text: v })))));
  }

  function stepTraining() {
    cards.clear();
    const runs = w.runs;
    const single = runs.length === 1;
    const nodes = runs.map((run) => {
      const c = runCard(run, { onCancel: (s) => cancelRun(s.id), resultsHref: `#/experiments/${run.id}` });
      cards.set(run.id, c);
      if (run.streamError) c.node.append(el('p', { class: 'notice notice-error', role: 'alert', text: errorText(run.streamError) }));
      return c.node;
    });
    const done = runs.filter((r) => r.status === 'completed' && r.results);
    const allEnded = runs.every((r) => !ACTIVE.has(r.status));
    let results = null;
    if (single && done.length === 1) {
      const run = done[0];
      if (!run.model) run.model = modelDownloader(run.id, ctx);
      results = el('div', { class: 'train-results', id: 'train-results' },
        el('div', { class: 'page-head' }, el('h2', { class: 'results-title', text: t('train.results') }), run.model.button()),
        run.model.status(),
        resultsSections(run.results));
    } else if (single && runs[0].status === 'completed' && !runs[0].results && !runs[0].resultsError) {
      results = loadingBlock(t('exp.results_loading'));
    } else if (single && runs[0].resultsError) {
      results = errorBlock(runs[0].resultsError, t('exp.results_error'), () => {
        const r = runs[0];
        r.resultsError = null;
        resultsOf(r.id).then((x) => { r.results = x; }).catch((err) => { r.resultsError = err; }).finally(() => { if (!gone) draw(); });
      });
    } else if (done.length >= 2) {
      results = el('section', { class: 'train-results', id: 'train-compare', 'aria-labelledby': 'train-compare-title' },
        el('h2', { id: 'train-compare-title', text: t('train.compare') }),
        comparisonView(done.map((r) => ({ run: r, results: r.results }))),
        el('a', { class: 'btn btn-secondary', href: `#/experiments/compare?ids=${done.map((r) => r.id).join(',')}`, id: 'train-compare-link', text: t('train.compare.open') }));
    }
    return el('div', {},
      el('p', { class: 'muted', text: t(allEnded ? 'train.run.ended' : 'run.leave_note') }),
      el('div', { class: 'run-grid', id: 'train-runs' }, nodes),
      el('div', { class: 'form-actions' },
        el('button', { type: 'button', class: 'btn btn-secondary', id: 'train-again', text: t('train.again'), onclick: () => { w.runs = []; w.hpErrors = {}; go(5); } }),
        el('a', { class: 'btn btn-quiet', href: '#/experiments', text: t('nav.experiments') })),
      results);
  }

  // ---------------------------------------------------------------- frame

  function steps() {
    return el('ol', { class: 'wizard-steps', 'aria-label': t('train.steps') },
      Array.from({ length: STEPS }, (_, i) => i + 1).map((n) => el('li', {
        class: n === w.step ? 'current' : n < w.step ? 'done' : '',
        'aria-current': n === w.step ? 'step' : undefined,
      }, el('span', { class: 'step-num', text: String(n) }), t(`train.step.${n}`))));
  }

  function actions() {
    if (w.step === 7) return null;
    const back = w.step > 1 ? el('button', { type: 'button', class: 'btn btn-secondary', id: 'train-back', text: t('action.back'), onclick: () => go(w.step - 1) }) : null;
    const fwd = w.step === 6
      ? el('button', {
        type: 'button', class: 'btn btn-primary', id: 'train-start', 'aria-disabled': String(w.busy),
        text: t(w.busy ? 'train.starting' : (w.chosen.length > 1 ? 'train.start.many' : 'train.start'), { n: w.chosen.length }), onclick: train,
      })
      : el('button', { type: 'button', class: 'btn btn-primary', id: 'train-next', text: t('train.next'), onclick: next });
    return el('div', { class: 'form-actions wizard-actions' }, back, fwd);
  }

  function drawPage() {
    destroyCharts(root);
    let body;
    if (w.step > 1 && w.step < 7 && !w.dataset) {
      body = w.datasetError ? errorBlock(w.datasetError, t('ds.error'), () => chooseDataset(w.datasetId).then(() => { if (!gone) draw(); }))
        : loadingBlock(t('app.loading'));
    } else {
      body = w.step === 1 ? stepDataset() : w.step === 2 ? stepTarget() : w.step === 3 ? stepCleaning()
        : w.step === 4 ? stepSplit() : w.step === 5 ? stepAlgorithm() : w.step === 6 ? stepHyperparameters() : stepTraining();
    }
    const d = w.dataset;
    root.replaceChildren(el('section', { class: 'page page-train', 'aria-labelledby': 'page-title' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/experiments', text: t('nav.experiments') })),
      el('h1', { id: 'page-title', text: t('train.title') }),
      el('p', { class: 'muted', text: d ? t('train.intro.ds', { name: d.display_name || d.name }) : t('train.intro') }),
      steps(),
      el('div', { class: 'card wizard-body' },
        el('h2', { id: 'wizard-title', tabindex: '-1', text: t(`train.step.${w.step}`) }),
        el('p', { class: 'muted small step-intro', text: t(`train.step.${w.step}.intro`) }),
        w.error ? el('div', { class: 'notice notice-error', id: 'wizard-error', role: 'alert', tabindex: '-1', text: say(w.error) }) : null,
        body,
        actions())));
  }

  // ---------------------------------------------------------------- start

  if (presetId) {
    w.step = 2;
    chooseDataset(presetId).then((ok) => {
      if (!ok && !gone) {
        w.step = 1;
        loadCatalogue();
      }
      if (!gone) draw();
    });
  } else {
    loadCatalogue();
  }
  loadAlgorithms();
  draw();
  focusSoon(document.getElementById('page-title'));
  return {
    draw,
    leave: () => {
      gone = true;
      for (const stop of stops.values()) stop();
      stops.clear();
    },
  };
}
