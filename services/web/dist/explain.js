// explain: the explanation screens. The "Explain this model" panel of a completed
// experiment (global or local, method, live progress), an explanation's results (narrative
// for each audience, ranking, beeswarm, local contributions, PDP curves, details), the
// explanation page (#/explanations/{id}) and the list of the user's explanations.
import { request } from './api.js';
import { followRun } from './mlapi.js';
import { el, field, select, errorText, errorBlock, loadingBlock, stateBlock, fmtNum, focusSoon } from './ui.js';
import { t, getLang, formatDate } from './i18n.js';
import { bars, chartLibrary, keepChart, destroyCharts } from './charts.js';
import { xaiReasons } from './i18n-xai.js';

const V1 = '/api/v1';
const enc = encodeURIComponent;
const ACTIVE = new Set(['pending', 'running']);
const LEVELS = ['novice', 'intermediate', 'expert'];
const PALETTE = ['#1f4e79', '#c0504d', '#4f8a3c', '#8064a2', '#d9822b', '#2c9ca6'];

export const xai = {
  create: (body) => request(`${V1}/explanations`, { method: 'POST', body }),
  get: (id) => request(`${V1}/explanations/${enc(id)}`),
  results: (id) => request(`${V1}/explanations/${enc(id)}/results`),
  narrative: (id, level, lang) => request(`${V1}/explanations/${enc(id)}/narrative`, { query: { audience_level: level, language: lang } }),
  list: (query) => request(`${V1}/explanations`, { query }),
};

const METHOD_NAMES = { tree_shap: 'TreeSHAP', linear_shap: 'Linear SHAP', kernel_shap: 'KernelSHAP', lime: 'LIME' };

// A method's name for people (the service's id when unknown).
export function methodName(m) {
  if (m === 'permutation' || m === 'pdp') return t(`xai.method.${m}`);
  return METHOD_NAMES[m] || String(m || '');
}

// The service's reason for its method, in French when the UI is.
function reasonText(r) {
  if (!r) return '';
  return getLang() === 'fr' && xaiReasons[r] ? xaiReasons[r] : r;
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function stageText(s) {
  if (s.status === 'completed') return t('xai.stage.done');
  if (s.status === 'failed' || s.status === 'cancelled') return t(`xai.status.${s.status}`);
  return t(`xai.stage.${s.stage || 'queued'}`);
}

// ------------------------------------------------------------------ result views

function section(id, title, intro, ...children) {
  return el('section', { class: 'card res-section xai-section', id, 'aria-labelledby': `${id}-title` },
    el('h3', { id: `${id}-title`, text: title }),
    intro ? el('p', { class: 'muted small', text: intro }) : null,
    ...children);
}

function rankingView(res) {
  const rank = Array.isArray(res.ranking) ? res.ranking : [];
  if (!rank.length) return null;
  const shap = String(res.method || '').includes('shap');
  const labels = rank.map((r) => r.feature);
  const values = rank.map((r) => num(r.importance) || 0);
  const title = shap ? t('xai.ranking.shap') : t('xai.ranking.importance');
  const hasSd = rank.some((r) => num(r.sd) !== null);
  const table = el('table', { class: 'mini-table xai-ranking-table' },
    el('caption', { class: 'visually-hidden', text: title }),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: t('xai.feature') }),
      el('th', { scope: 'col', class: 'num', text: title }), hasSd ? el('th', { scope: 'col', class: 'num', text: t('xai.sd') }) : null)),
    el('tbody', {}, rank.map((r) => el('tr', {}, el('th', { scope: 'row', text: r.feature }),
      el('td', { class: 'num', text: fmtNum(num(r.importance), 4) }),
      hasSd ? el('td', { class: 'num', text: num(r.sd) === null ? '—' : `± ${fmtNum(r.sd, 4)}` }) : null))));
  return section('xai-ranking', t('xai.ranking'), shap ? t('xai.ranking.intro.shap') : t('xai.ranking.intro'),
    el('div', { class: 'xai-ranking-chart', 'data-first': labels[0] }, bars(title, labels, values, { horizontal: true })),
    el('details', {}, el('summary', { text: t('xai.table') }), table));
}

function beeswarmView(res) {
  const b = res.beeswarm;
  const Chart = chartLibrary();
  if (!b || !Array.isArray(b.features) || !Array.isArray(b.shap) || !b.shap.length || !Chart) return null;
  const nf = b.features.length;
  const datasets = [];
  const ranges = b.features.map((_, f) => {
    const vs = b.values.map((row) => num(row[f])).filter((v) => v !== null);
    return vs.length ? [Math.min(...vs), Math.max(...vs)] : null;
  });
  const low = [];
  const high = [];
  b.shap.forEach((row, i) => {
    row.forEach((v, f) => {
      const x = num(v);
      if (x === null) return;
      const raw = num(b.values[i] && b.values[i][f]);
      const rg = ranges[f];
      const share = raw !== null && rg && rg[1] > rg[0] ? (raw - rg[0]) / (rg[1] - rg[0]) : 0.5;
      // a small deterministic jitter spreads the points of one feature
      const y = nf - 1 - f + (((i * 37) % 17) / 17 - 0.5) * 0.6;
      (share >= 0.5 ? high : low).push({ x, y });
    });
  });
  datasets.push({ label: t('xai.beeswarm.low'), data: low, pointRadius: 2.5, backgroundColor: '#2c7bb6', borderColor: '#2c7bb6' });
  datasets.push({ label: t('xai.beeswarm.high'), data: high, pointRadius: 2.5, backgroundColor: '#d7191c', borderColor: '#d7191c' });
  const summary = t('xai.beeswarm.summary', { rows: b.shap.length, features: nf });
  const canvas = el('canvas', { role: 'img', 'aria-label': summary });
  const box = el('div', { class: 'chart-box chart-curve xai-beeswarm-box' }, canvas);
  keepChart(new Chart(canvas, {
    type: 'scatter',
    data: { datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: true, position: 'bottom' } },
      scales: {
        x: { type: 'linear', title: { display: true, text: t('xai.shap_value') } },
        y: { type: 'linear', min: -0.7, max: nf - 0.3, ticks: { stepSize: 1, callback: (v) => (Number.isInteger(v) ? b.features[nf - 1 - v] : '') } },
      },
    },
  }));
  return section('xai-beeswarm', t('xai.beeswarm'), t('xai.beeswarm.intro'),
    el('figure', { class: 'chart' }, box, el('figcaption', { class: 'small', text: summary })));
}

function predictionText(pred) {
  if (!pred) return '';
  if (pred.label !== undefined) return String(pred.label);
  if (num(pred.value) !== null) return fmtNum(pred.value, 4);
  return '';
}

function localView(res) {
  const loc = res.local;
  if (!loc || !Array.isArray(loc.contributions)) return null;
  const cs = loc.contributions;
  const Chart = chartLibrary();
  let chart = null;
  const base = num(loc.base_value) || 0;
  if (Chart && cs.length) {
    // a waterfall: from the base value, each contribution moves the output to the next bar
    const labels = [t('xai.base_value')];
    const data = [[0, base]];
    const colours = ['#8a94a3'];
    let at = base;
    for (const c of cs) {
      const v = num(c.contribution) || 0;
      labels.push(`${c.feature} = ${c.value === null || c.value === undefined ? '—' : c.value}`);
      data.push([at, at + v]);
      colours.push(v >= 0 ? '#d7191c' : '#2c7bb6');
      at += v;
    }
    labels.push(t('xai.output_value'));
    data.push([0, num(loc.output_value) ?? at]);
    colours.push('#1f4e79');
    const summary = t('xai.local.summary', { output: loc.output || '', count: cs.length });
    const canvas = el('canvas', { role: 'img', 'aria-label': summary });
    const box = el('div', { class: `chart-box chart-hbar rows-${Math.min(labels.length, 12)}` }, canvas);
    keepChart(new Chart(canvas, {
      type: 'bar',
      data: { labels, datasets: [{ label: t('xai.contribution'), data, backgroundColor: colours }] },
      options: {
        indexAxis: 'y', responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false } },
        scales: { x: { title: { display: true, text: `${t('xai.output_value')} (${loc.output || ''})` } }, y: { ticks: { autoSkip: false } } },
      },
    }));
    chart = el('figure', { class: 'chart' }, box, el('figcaption', { class: 'visually-hidden', text: summary }));
  }
  const hasRule = cs.some((c) => c.condition);
  const table = el('table', { class: 'mini-table xai-contrib-table', id: 'xai-contrib-table' },
    el('caption', { text: t('xai.local.table') }),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: t('xai.feature') }), el('th', { scope: 'col', text: t('xai.value') }),
      hasRule ? el('th', { scope: 'col', text: t('xai.rule') }) : null,
      el('th', { scope: 'col', class: 'num', text: t('xai.contribution') }))),
    el('tbody', {}, cs.map((c) => el('tr', { class: 'xai-contrib' }, el('th', { scope: 'row', text: c.feature }),
      el('td', { text: c.value === null || c.value === undefined ? '—' : String(c.value) }),
      hasRule ? el('td', { text: c.condition || '' }) : null,
      el('td', { class: 'num', text: `${(num(c.contribution) || 0) >= 0 ? '+' : ''}${fmtNum(num(c.contribution), 4)}${num(c.weight_sd) !== null ? ` (± ${fmtNum(c.weight_sd, 3)})` : ''}` })))));
  const facts = el('p', { class: 'xai-local-facts' },
    loc.row !== null && loc.row !== undefined ? `${t('xai.row', { row: loc.row })} · ` : '',
    t('xai.prediction', { value: predictionText(loc.prediction) }),
    ` · ${t('xai.base_value')}: ${fmtNum(base, 4)} · ${t('xai.output_value')} (${loc.output || ''}): ${fmtNum(num(loc.output_value), 4)}`);
  return section('xai-local', t('xai.local'), t('xai.local.intro'), facts, chart, el('div', { class: 'table-wrap' }, table));
}

function pdpView(res) {
  const list = Array.isArray(res.pdp) ? res.pdp : [];
  const Chart = chartLibrary();
  if (!list.length || !Chart) return null;
  const figs = list.slice(0, 6).map((cv) => {
    const avg = cv.average && typeof cv.average === 'object' ? cv.average : {};
    const datasets = Object.keys(avg).map((name, i) => ({
      label: name, showLine: true, pointRadius: 0, borderWidth: 2, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
      data: (cv.grid || []).map((x, k) => ({ x: num(x), y: num(avg[name][k]) })).filter((p) => p.x !== null && p.y !== null),
    }));
    const summary = t('xai.pdp.summary', { feature: cv.feature });
    const canvas = el('canvas', { role: 'img', 'aria-label': summary });
    keepChart(new Chart(canvas, {
      type: 'scatter', data: { datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: datasets.length > 1, position: 'bottom' } },
        scales: { x: { type: 'linear', title: { display: true, text: cv.feature } }, y: { title: { display: true, text: t('xai.pdp.average') } } },
      },
    }));
    return el('figure', { class: 'chart xai-pdp' }, el('div', { class: 'chart-box chart-curve' }, canvas), el('figcaption', { class: 'small', text: summary }));
  });
  return section('xai-pdp', t('xai.pdp'), t('xai.pdp.intro'), el('div', { class: 'xai-pdp-grid' }, figs));
}

function detailsView(res, expl) {
  const rows = [];
  const add = (k, v) => { if (v !== undefined && v !== null && v !== '') rows.push(el('tr', {}, el('th', { scope: 'row', text: k }), el('td', { text: String(v) }))); };
  add(t('xai.method'), res.method ? `${methodName(res.method)} (${res.method})` : null);
  add(t('xai.method_reason'), reasonText(res.method_reason || (expl && expl.method_reason)));
  add(t('xai.exact'), res.exact === undefined ? null : t(res.exact ? 'xai.yes' : 'xai.no'));
  const residual = res.additivity ? num(res.additivity.max_abs_residual) : res.local ? num(res.local.residual) : null;
  if (residual !== null) add(t('xai.residual'), residual.toExponential(2));
  if (res.parameters && typeof res.parameters === 'object') {
    for (const [k, v] of Object.entries(res.parameters)) add(k, typeof v === 'object' ? JSON.stringify(v) : v);
  }
  add(t('xai.seed'), res.seed);
  if (res.data) add(t('xai.rows_explained'), res.data.rows_explained);
  if (res.local && res.local.lime) add(t('xai.lime_score'), fmtNum(num(res.local.lime.score), 3));
  add(t('xai.model_sha'), res.model_sha256);
  return el('details', { class: 'card xai-details', id: 'xai-details' }, el('summary', { text: t('xai.details') }),
    el('table', { class: 'mini-table' }, el('tbody', {}, rows)));
}

/**
 * The view of one explanation by id, following its progress and drawing its results when
 * it completes. Returns {node, draw, leave}; draw() redraws (the language changed).
 */
export function explanationView(id, ctx, initial, { standalone = false } = {}) {
  const node = el('div', { class: 'xai-view', 'data-explanation': id });
  const st = { expl: initial || null, results: null, error: null, level: null, narr: {}, narrError: null };
  let stop = null;
  let gone = false;

  // Fetches the narrative for the chosen level in the UI's language (once each).
  const asked = new Set();
  async function narrative() {
    const lang = getLang();
    const key = `${st.level}/${lang}`;
    if (st.narr[key] || asked.has(key)) return;
    asked.add(key);
    try {
      const n = await xai.narrative(id, st.level, lang);
      st.narr[key] = n.text;
    } catch (err) {
      asked.delete(key);
      if (ctx.unauthorized(err)) return;
      st.narrError = err;
    }
    if (!gone) draw();
  }

  async function loadResults() {
    try {
      st.results = await xai.results(id);
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.error = err;
    }
    if (gone) return;
    if (!st.level) st.level = (st.expl && st.expl.audience_level) || 'novice';
    draw();
    narrative();
  }

  function follow() {
    stop = followRun(id, {
      onState: (s) => {
        Object.assign(st.expl, { status: s.status, progress: s.progress, stage: s.stage, error: s.error });
        if (!gone) draw();
      },
      onEnd: (s) => {
        stop = null;
        if (gone) return;
        if (s.status === 'completed') loadResults();
        else draw();
      },
      onProblem: (err, retrying) => {
        if (ctx.unauthorized(err)) return;
        if (!retrying) {
          st.error = err;
          draw();
        }
      },
    }, 'explanations');
  }

  async function load() {
    if (!st.expl) {
      try {
        st.expl = await xai.get(id);
      } catch (err) {
        if (ctx.unauthorized(err)) return;
        st.error = err;
        draw();
        return;
      }
    }
    if (gone) return;
    draw();
    if (ACTIVE.has(st.expl.status)) follow();
    else if (st.expl.status === 'completed') loadResults();
  }

  function progressBlock(e) {
    const p = e.status === 'completed' ? 100 : Math.max(0, Math.min(100, Math.round(Number(e.progress) || 0)));
    return el('div', { class: 'card xai-progress', id: 'xai-progress', 'data-status': e.status },
      el('div', { class: 'run-bar' },
        el('progress', { class: 'run-progress', max: '100', value: String(p), 'aria-label': t('xai.progress'), 'aria-valuetext': `${stageText(e)}, ${p} %` }),
        el('span', { class: 'run-pct', text: `${p} %` })),
      el('p', { class: 'run-stage', role: 'status', 'aria-live': 'polite', text: stageText(e) }),
      e.status === 'failed' ? el('p', { class: 'notice notice-error', role: 'alert', id: 'xai-failed', text: e.error || t('xai.failed') }) : null);
  }

  function narrativeBlock() {
    const text = st.narr[`${st.level}/${getLang()}`];
    const switcher = el('div', { class: 'xai-levels', role: 'group', 'aria-label': t('xai.audience') },
      LEVELS.map((lv) => el('button', {
        type: 'button', class: `btn btn-small ${lv === st.level ? 'btn-primary' : 'btn-secondary'}`, id: `xai-level-${lv}`,
        'aria-pressed': lv === st.level ? 'true' : 'false', text: t(`xai.level.${lv}`),
        onclick: () => { st.level = lv; st.narrError = null; draw(); narrative(); },
      })));
    return el('section', { class: 'card xai-section', id: 'xai-narrative', 'aria-labelledby': 'xai-narrative-title' },
      el('h3', { id: 'xai-narrative-title', text: t('xai.narrative') }),
      el('p', { class: 'muted small', text: t('xai.narrative.intro') }),
      switcher,
      st.narrError ? el('p', { class: 'notice notice-error', role: 'alert', text: errorText(st.narrError) }) : null,
      text ? el('div', { class: 'xai-narrative-text', id: 'xai-narrative-text', 'data-level': st.level, lang: getLang() },
        text.split(/\n\s*\n/).map((para) => el('p', { text: para })))
        : loadingBlock(t('app.loading')));
  }

  function draw() {
    destroyCharts(node);
    if (st.error) {
      node.replaceChildren(errorBlock(st.error, t('xai.error'), () => { st.error = null; load(); }));
      return;
    }
    if (!st.expl) {
      node.replaceChildren(loadingBlock(t('app.loading')));
      return;
    }
    const e = st.expl;
    const head = el('p', { class: 'xai-method', id: 'xai-method' },
      t('xai.method_used', { method: methodName(e.method_used) }),
      e.method_reason ? el('span', { class: 'muted small', id: 'xai-method-reason', text: ` — ${reasonText(e.method_reason)}` }) : null,
      standalone && e.experiment_id ? el('span', {}, ' · ', el('a', { href: `#/experiments/${e.experiment_id}`, id: 'xai-experiment-link', text: t('xai.list.open_experiment') })) : null,
      standalone && e.explanation_type ? ` · ${t(`xai.type.${e.explanation_type}`)}` : null,
      standalone && e.created_at ? ` · ${formatDate(e.created_at)}` : null);
    if (e.status !== 'completed' || !st.results) {
      node.replaceChildren(...[head, progressBlock(e), e.status === 'completed' ? loadingBlock(t('exp.results_loading')) : null].filter(Boolean));
      return;
    }
    const r = st.results;
    if (!st.narrError && !st.narr[`${st.level}/${getLang()}`]) setTimeout(narrative, 0);
    node.replaceChildren(...[head, progressBlock(e), narrativeBlock(),
      localView(r), rankingView(r), beeswarmView(r), pdpView(r), detailsView(r, e)].filter(Boolean));
  }

  load();
  return { node, draw, leave: () => { gone = true; if (stop) stop(); } };
}

// ------------------------------------------------------------------ the panel

/**
 * "Explain this model": the form of a completed experiment's results page and, once asked,
 * the explanation's view. Returns {node, draw, leave}.
 */
export function explainPanel(run, ctx) {
  const node = el('section', { class: 'card xai-panel', id: 'xai-panel', 'aria-labelledby': 'xai-panel-title' });
  const form = { type: 'global', method: 'auto', row: '0' };
  let view = null;
  let error = null;
  let busy = false;

  async function submit(ev) {
    ev.preventDefault();
    if (busy) return;
    error = null;
    const body = { experiment_id: run.id, explanation_type: form.type, method: form.method, language: getLang() };
    if (form.type === 'local') body.instance_index = Number.parseInt(form.row, 10) || 0;
    busy = true;
    draw();
    try {
      const e = await xai.create(body);
      if (view) view.leave();
      view = explanationView(e.id, ctx, e);
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      error = err;
    }
    busy = false;
    draw();
  }

  function draw() {
    const typeSel = select([['global', t('xai.type.global')], ['local', t('xai.type.local')], ['feature_importance', t('xai.type.feature_importance')]],
      form.type, { id: 'xai-type', onchange: (e) => { form.type = e.target.value; draw(); } });
    const methodSel = select([['auto', t('xai.method.auto')], ['shap', 'SHAP'], ['lime', 'LIME'], ['permutation', t('xai.method.permutation')], ['pdp', t('xai.method.pdp')]],
      form.method, { id: 'xai-method-select', onchange: (e) => { form.method = e.target.value; } });
    const rowInput = el('input', { type: 'number', id: 'xai-row', min: '0', step: '1', value: form.row, oninput: (e) => { form.row = e.target.value; } });
    const fields = el('form', { class: 'xai-form', id: 'xai-form', onsubmit: submit, novalidate: true },
      el('div', { class: 'form-grid' },
        field(t('xai.type'), typeSel, t('xai.type.hint')),
        field(t('xai.method_field'), methodSel, t('xai.method.hint')),
        form.type === 'local' ? field(t('xai.row_field'), rowInput, t('xai.row.hint')) : null),
      el('p', { class: 'muted small', text: t('xai.language_note') }),
      error ? el('p', { class: 'notice notice-error', role: 'alert', id: 'xai-error', text: errorText(error) }) : null,
      el('div', { class: 'form-actions' },
        el('button', { type: 'submit', class: 'btn btn-primary', id: 'xai-submit', 'aria-disabled': busy ? 'true' : null, text: busy ? t('xai.asking') : t('xai.submit') }),
        el('a', { href: '#/explanations', class: 'btn btn-secondary', text: t('xai.all') })));
    if (view) view.draw();
    node.replaceChildren(...[
      el('h2', { id: 'xai-panel-title', text: t('xai.panel') }),
      el('p', { class: 'muted', text: t('xai.panel.intro') }),
      fields,
      view ? view.node : null].filter(Boolean));
  }

  draw();
  return { node, draw, leave: () => { if (view) view.leave(); } };
}

// ------------------------------------------------------------------ pages

export function explanationPage(root, ctx, id) {
  const view = explanationView(id, ctx, null, { standalone: true });
  function draw() {
    view.draw();
    root.replaceChildren(el('section', { class: 'page page-explanation', 'aria-labelledby': 'page-title' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/explanations', text: t('nav.explanations') })),
      el('h1', { id: 'page-title', tabindex: '-1', text: t('xai.page.title') }),
      view.node));
  }
  draw();
  focusSoon(document.getElementById('page-title'));
  return { draw, leave: view.leave };
}

export function explanationsPage(root, ctx) {
  const st = { list: null, error: null, status: '', page: 1 };
  let gone = false;

  async function load() {
    st.error = null;
    st.list = null;
    draw();
    try {
      const q = { page: st.page };
      if (st.status) q.status = st.status;
      st.list = await xai.list(q);
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.error = err;
    }
    if (!gone) draw();
  }

  function table(list) {
    if (!list.explanations.length) {
      return stateBlock('empty', t('xai.list.empty'), t('xai.list.empty.body'), el('a', { class: 'btn btn-primary', href: '#/experiments', text: t('nav.experiments') }));
    }
    return el('div', { class: 'table-wrap' }, el('table', { class: 'data-table', id: 'xai-list' },
      el('thead', {}, el('tr', {}, [t('xai.list.when'), t('xai.type'), t('xai.method'), t('xai.list.status'), t('xai.list.experiment')]
        .map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, list.explanations.map((e) => el('tr', { 'data-explanation': e.id },
        el('td', {}, el('a', { href: `#/explanations/${e.id}`, text: formatDate(e.created_at) })),
        el('td', { text: t(`xai.type.${e.explanation_type}`) }),
        el('td', { text: methodName(e.method_used) }),
        el('td', { text: t(`xai.status.${e.status}`) }),
        el('td', {}, el('a', { href: `#/experiments/${e.experiment_id}`, text: t('xai.list.open_experiment') })))))));
  }

  function draw() {
    const filter = select([['', t('xai.list.all')], ...['pending', 'running', 'completed', 'failed', 'cancelled'].map((s) => [s, t(`xai.status.${s}`)])],
      st.status, { id: 'xai-list-status', onchange: (e) => { st.status = e.target.value; st.page = 1; load(); } });
    let body;
    if (st.error) body = errorBlock(st.error, t('xai.error'), load);
    else if (!st.list) body = loadingBlock(t('app.loading'));
    else body = table(st.list);
    const pages = st.list ? st.list.total_pages || 1 : 1;
    root.replaceChildren(el('section', { class: 'page page-explanations', 'aria-labelledby': 'page-title' },
      el('h1', { id: 'page-title', tabindex: '-1', text: t('nav.explanations') }),
      el('p', { class: 'muted', text: t('xai.list.intro') }),
      field(t('xai.list.status'), filter),
      body,
      pages > 1 ? el('div', { class: 'form-actions' },
        el('button', { type: 'button', class: 'btn btn-secondary', disabled: st.page <= 1, text: t('xai.list.prev'), onclick: () => { st.page -= 1; load(); } }),
        el('span', { text: `${st.page} / ${pages}` }),
        el('button', { type: 'button', class: 'btn btn-secondary', disabled: st.page >= pages, text: t('xai.list.next'), onclick: () => { st.page += 1; load(); } })) : null));
  }

  load().then(() => focusSoon(document.getElementById('page-title')));
  return { draw, leave: () => { gone = true; } };
}

