// results: a trained model's results as the service computed them (GET
// /experiments/{id}/results, libs/ml mlrun): metric cards, the confusion matrix as a table
// of shaded cells, ROC and precision-recall curves and feature importance (Chart.js), an
// interactive tree viewer for tree learners (collapsible <details> nodes), cross-validation,
// the preprocessing report and the split. Nothing is computed here; numbers are only printed.
import { el, fmtNum, label, stateBlock } from './ui.js';
import { bars, keepChart, chartLibrary } from './charts.js';
import { t, has, getLang } from './i18n.js';
import { serverReasons } from './i18n-ml.js';

export const CLS_METRICS = ['accuracy', 'f1_macro', 'precision_macro', 'recall_macro', 'roc_auc', 'pr_auc', 'log_loss'];
export const CLS_WEIGHTED = ['precision_weighted', 'recall_weighted', 'f1_weighted'];
export const REG_METRICS = ['r2', 'mae', 'rmse', 'mse'];
const LOWER_BETTER = new Set(['mae', 'mse', 'rmse', 'log_loss']);
const PALETTE = ['#1f4e79', '#c2571a', '#2e7d4f', '#8e3b8c', '#b58a00', '#2a8a9c', '#a33b3b', '#5a5f6b'];

/** A reason the service gave (in English) in the current language when we know its words. */
export function reasonWords(text) {
  const s = String(text ?? '');
  for (const [re, words] of serverReasons[getLang()] || []) {
    if (re.test(s)) return s.replace(re, words);
  }
  return s;
}

export function lowerIsBetter(metric) {
  return LOWER_BETTER.has(metric);
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function metricName(m) {
  return has(`metric.${m}`) ? t(`metric.${m}`) : m;
}

export function metricValue(v) {
  return num(v) === null ? t('value.unknown') : fmtNum(v, 3);
}

// The headline number of a run's results: accuracy (classification) or R² (regression).
export function headline(res) {
  const m = (res && res.metrics) || {};
  if (num(m.accuracy) !== null) return { metric: 'accuracy', value: m.accuracy };
  if (num(m.r2) !== null) return { metric: 'r2', value: m.r2 };
  return null;
}

export function isRegression(res) {
  return (res && (res.task === 'regression' || res.task_type === 'regression')) || false;
}

function section(id, title, intro, ...children) {
  return el('section', { class: 'card res-section', id, 'aria-labelledby': `${id}-title` },
    el('h2', { id: `${id}-title`, text: title }),
    intro ? el('p', { class: 'muted small', text: intro }) : null,
    ...children);
}

// ------------------------------------------------------------------ metric cards

export function metricCards(res) {
  const m = res.metrics || {};
  const list = isRegression(res) ? REG_METRICS : CLS_METRICS;
  const cards = list.filter((k) => k in m).map((k) => el('div', {
    class: 'metric-card', 'data-metric': k, 'data-value': num(m[k]) === null ? '' : String(m[k]),
  },
  el('span', { class: 'metric-name', text: metricName(k) }),
  el('span', { class: 'metric-value', text: metricValue(m[k]) }),
  el('span', { class: 'metric-hint muted small', text: t(`metric.${k}.hint`) })));
  const weighted = isRegression(res) ? [] : CLS_WEIGHTED.filter((k) => k in m);
  return section('res-metrics', t('results.metrics'), t(isRegression(res) ? 'results.metrics.intro.reg' : 'results.metrics.intro.cls'),
    cards.length ? el('div', { class: 'metric-grid', id: 'metric-cards' }, cards) : stateBlock('empty', t('results.none'), ''),
    weighted.length ? el('p', { class: 'small', id: 'metric-weighted' },
      `${t('results.weighted')}: `, weighted.map((k) => `${metricName(k)} ${metricValue(m[k])}`).join(' · ')) : null,
    cvBlock(res.cv));
}

function cvBlock(cv) {
  if (!cv || !Array.isArray(cv.scores) || !cv.scores.length) return null;
  return el('div', { class: 'cv-block', id: 'res-cv' },
    el('h3', { text: t('results.cv', { k: cv.folds || cv.scores.length }) }),
    el('p', { text: t('results.cv.summary', { metric: metricName(cv.metric || ''), mean: metricValue(cv.mean), std: metricValue(cv.std) }) }),
    el('ol', { class: 'cv-scores' }, cv.scores.map((s, i) => el('li', { text: `${t('results.cv.fold', { n: i + 1 })}: ${metricValue(s)}` }))));
}

// ------------------------------------------------------------------ confusion matrix

export function confusionMatrix(cm) {
  const labels = cm && Array.isArray(cm.labels) ? cm.labels.map(String) : [];
  const matrix = cm && Array.isArray(cm.matrix) ? cm.matrix : [];
  if (!labels.length || matrix.length !== labels.length) return null;
  const head = el('tr', {}, el('th', { scope: 'col', class: 'cm-corner' }, el('span', { text: t('results.cm.true') }), ' \\ ', el('span', { text: t('results.cm.predicted') })),
    labels.map((l) => el('th', { scope: 'col', class: 'cm-col', text: l })));
  const rows = matrix.map((row, i) => {
    const cells = Array.isArray(row) ? row : [];
    const total = cells.reduce((a, b) => a + (num(b) || 0), 0);
    return el('tr', {}, el('th', { scope: 'row', class: 'cm-row', text: labels[i] }),
      cells.map((v, j) => {
        const share = total > 0 ? (num(v) || 0) / total : 0;
        const level = Math.min(4, Math.round(share * 4));
        return el('td', {
          class: `cm-cell cm-l${level}${i === j ? ' cm-diag' : ''}`,
          title: t('results.cm.cell', { n: fmtNum(v), truth: labels[i], pred: labels[j], pct: fmtNum(share * 100, 1) }),
        }, el('span', { class: 'cm-count', text: fmtNum(v) }), el('span', { class: 'cm-share', text: `${fmtNum(share * 100, 0)} %` }));
      }));
  });
  return el('div', { class: 'table-wrap' }, el('table', { class: 'confusion', id: 'confusion-matrix', 'data-classes': String(labels.length) },
    el('caption', { class: 'visually-hidden', text: t('results.cm.caption') }),
    el('thead', {}, head), el('tbody', {}, rows)));
}

function perClassTable(list) {
  if (!Array.isArray(list) || !list.length) return null;
  return el('div', { class: 'table-wrap' }, el('table', { class: 'data-table', id: 'per-class' },
    el('caption', { class: 'visually-hidden', text: t('results.per_class') }),
    el('thead', {}, el('tr', {}, ['class', 'precision', 'recall', 'f1', 'support'].map((h) => el('th', { scope: 'col', class: h === 'class' ? '' : 'num', text: t(`results.pc.${h}`) })))),
    el('tbody', {}, list.map((c) => el('tr', {},
      el('th', { scope: 'row', text: String(c.class) }),
      el('td', { class: 'num', text: metricValue(c.precision) }),
      el('td', { class: 'num', text: metricValue(c.recall) }),
      el('td', { class: 'num', text: metricValue(c.f1) }),
      el('td', { class: 'num', text: fmtNum(c.support) }))))));
}

// ------------------------------------------------------------------ curves

function pairs(xs, ys) {
  const out = [];
  if (!Array.isArray(xs) || !Array.isArray(ys)) return out;
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    if (num(xs[i]) !== null && num(ys[i]) !== null) out.push({ x: xs[i], y: ys[i] });
  }
  return out;
}

// A line chart of curves [{label, points: [{x, y}]}] on the unit square.
function curveChart(id, summary, series, xTitle, yTitle, diagonal) {
  const Chart = chartLibrary();
  const caption = el('figcaption', { class: 'small', text: summary });
  if (!Chart) return el('figure', { class: 'chart curve', id }, caption);
  const canvas = el('canvas', { role: 'img', 'aria-label': summary });
  const box = el('div', { class: 'chart-box chart-curve' }, canvas);
  const datasets = series.map((s, i) => ({
    label: s.label, data: s.points, showLine: true, pointRadius: 0, borderWidth: 2, tension: 0,
    borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
  }));
  if (diagonal) {
    datasets.push({
      label: t('results.curve.chance'), data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, pointRadius: 0,
      borderWidth: 1, borderDash: [4, 4], borderColor: '#8a94a3', backgroundColor: '#8a94a3',
    });
  }
  keepChart(new Chart(canvas, {
    type: 'scatter',
    data: { datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: true, position: 'bottom', labels: { boxWidth: 12 } }, tooltip: { enabled: true } },
      scales: {
        x: { type: 'linear', min: 0, max: 1, title: { display: true, text: xTitle } },
        y: { type: 'linear', min: 0, max: 1.02, title: { display: true, text: yTitle } },
      },
    },
  }));
  return el('figure', { class: 'chart curve', id }, box, caption);
}

function rocSeries(roc) {
  if (!roc) return { series: [], words: [] };
  if (Array.isArray(roc.per_class)) {
    const series = roc.per_class.map((c) => ({ label: `${c.class} (AUC ${metricValue(c.auc)})`, points: pairs(c.fpr, c.tpr) }));
    return { series, words: [t('results.roc.macro', { auc: metricValue(roc.macro_auc) }), ...series.map((s) => s.label)] };
  }
  return { series: [{ label: `AUC ${metricValue(roc.auc)}`, points: pairs(roc.fpr, roc.tpr) }], words: [t('results.roc.auc', { auc: metricValue(roc.auc) })] };
}

function prSeries(pr) {
  if (!pr) return { series: [], words: [] };
  if (Array.isArray(pr.per_class)) {
    const series = pr.per_class.map((c) => ({ label: `${c.class} (AP ${metricValue(c.average_precision ?? c.auc)})`, points: pairs(c.recall, c.precision) }));
    return { series, words: [t('results.pr.macro', { ap: metricValue(pr.macro_average_precision) }), ...series.map((s) => s.label)] };
  }
  return { series: [{ label: `AP ${metricValue(pr.average_precision)}`, points: pairs(pr.recall, pr.precision) }], words: [t('results.pr.ap', { ap: metricValue(pr.average_precision) })] };
}

function curves(res) {
  const roc = rocSeries(res.roc_curve);
  const pr = prSeries(res.pr_curve);
  const rocOk = roc.series.some((s) => s.points.length > 1);
  const prOk = pr.series.some((s) => s.points.length > 1);
  if (!rocOk && !prOk) return null;
  return section('res-curves', t('results.curves'), t('results.curves.intro'),
    el('div', { class: 'curve-grid' },
      rocOk ? el('div', {}, el('h3', { text: t('results.roc') }),
        curveChart('roc-chart', roc.words.join(' · '), roc.series, t('results.roc.x'), t('results.roc.y'), true)) : null,
      prOk ? el('div', {}, el('h3', { text: t('results.pr') }),
        curveChart('pr-chart', pr.words.join(' · '), pr.series, t('results.pr.x'), t('results.pr.y'), false)) : null));
}

// ------------------------------------------------------------------ feature importance

function importance(fi) {
  const list = fi && Array.isArray(fi.features) ? fi.features.filter((f) => f && num(f.importance) !== null) : [];
  if (!list.length) return null;
  const top = list.slice(0, 15);
  const short = (s) => (s.length > 28 ? `${s.slice(0, 27)}…` : s);
  return section('res-importance', t('results.importance'),
    t(`results.importance.${fi.method}`) !== `results.importance.${fi.method}` ? t(`results.importance.${fi.method}`) : t('results.importance.intro'),
    el('div', { id: 'importance-chart' }, bars(t('results.importance'), top.map((f) => short(String(f.feature))), top.map((f) => f.importance), { horizontal: true })),
    el('details', {}, el('summary', { text: t('results.importance.table', { n: list.length }) }),
      el('div', { class: 'table-wrap' }, el('table', { class: 'data-table', id: 'importance-table' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: t('results.feature') }), el('th', { scope: 'col', class: 'num', text: t('results.importance.value') }))),
        el('tbody', {}, list.map((f) => el('tr', {}, el('th', { scope: 'row', text: String(f.feature) }), el('td', { class: 'num', text: fmtNum(f.importance, 4) }))))))));
}

// ------------------------------------------------------------------ tree viewer

function isSplit(n) {
  return n && typeof n.left === 'number' && n.left >= 0 && typeof n.right === 'number' && n.right >= 0;
}

function leafWords(n, classes, task) {
  const v = n.value;
  if (task === 'classification' && Array.isArray(v) && v.length > 1) {
    const total = v.reduce((a, b) => a + (num(b) || 0), 0);
    let best = 0;
    v.forEach((x, i) => { if ((num(x) || 0) > (num(v[best]) || 0)) best = i; });
    const share = total > 0 ? (num(v[best]) || 0) / total : 0;
    const name = classes[best] !== undefined ? String(classes[best]) : `${best}`;
    return t('tree.predict.class', { label: name, pct: fmtNum(share * 100, 0) });
  }
  const x = Array.isArray(v) ? v[0] : v;
  if (task === 'score') return t('tree.predict.score', { value: fmtNum(num(x) ?? NaN) });
  return t('tree.predict.value', { value: fmtNum(num(x) ?? NaN) });
}

function nodeFacts(n) {
  const facts = [];
  if (num(n.samples) !== null) facts.push(t('tree.samples', { n: fmtNum(n.samples) }));
  if (num(n.cover) !== null) facts.push(t('tree.cover', { n: fmtNum(n.cover) }));
  if (num(n.impurity) !== null) facts.push(t('tree.impurity', { v: fmtNum(n.impurity, 3) }));
  if (num(n.gain) !== null) facts.push(t('tree.gain', { v: fmtNum(n.gain, 3) }));
  return facts.join(' · ');
}

// Output feature name → how the preprocessing made it, so a split's threshold can be said
// in the column's own unit (thresholds apply to scaled values) and a one-hot split as a
// category question.
function featureMap(res) {
  const map = new Map();
  const feats = res.preprocessing && Array.isArray(res.preprocessing.features) ? res.preprocessing.features : [];
  for (const f of feats) {
    for (const out of Array.isArray(f.outputs) ? f.outputs : []) {
      const cat = f.kind === 'categorical' && out.startsWith(`${f.column}=`) ? out.slice(f.column.length + 1) : null;
      map.set(out, { kind: f.kind, column: f.column, category: cat, center: num(f.center), scale: num(f.scale) });
    }
  }
  return map;
}

// The question a split asks, and which child answers yes.
function splitWords(n, features) {
  const name = n.feature_name || t('tree.feature', { i: n.feature });
  const f = features.get(name);
  if (f && f.category !== null) {
    return { text: t('tree.question.category', { feature: f.column, category: f.category }), left: 'no', right: 'yes' };
  }
  let thr = n.threshold;
  if (f && f.kind !== 'categorical' && f.scale !== null && f.center !== null && num(thr) !== null) thr = thr * f.scale + f.center;
  return { text: t('tree.question', { feature: name, threshold: fmtNum(thr, 4) }), left: 'yes', right: 'no' };
}

function treeNodes(nodes, classes, task, features) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const draw = (id, depth, branch, seen) => {
    const n = byId.get(id);
    if (!n || seen.has(id)) return null;
    seen.add(id);
    const tag = branch ? el('span', { class: `tbranch tbranch-${branch}`, text: t(`tree.branch.${branch}`) }) : null;
    if (!isSplit(n)) {
      return el('li', { class: 'tnode tleaf', role: 'treeitem', 'data-node': String(n.id) },
        el('div', { class: 'tleaf-box' }, tag, el('strong', { text: leafWords(n, classes, task) }),
          el('span', { class: 'muted small', text: ` ${nodeFacts(n)}` }),
          n.truncated ? el('span', { class: 'badge', text: t('tree.truncated') }) : null));
    }
    const q = splitWords(n, features);
    return el('li', { class: 'tnode tsplit', role: 'treeitem', 'data-node': String(n.id) },
      el('details', { open: depth < 3 },
        el('summary', {}, tag,
          el('span', { class: 'tquestion', text: q.text }),
          el('span', { class: 'muted small', text: ` ${nodeFacts(n)}` })),
        el('ul', { class: 'tchildren', role: 'group' },
          draw(n.left, depth + 1, q.left, seen), draw(n.right, depth + 1, q.right, seen))));
  };
  const rootId = nodes.length ? nodes[0].id : 0;
  return el('ul', { class: 'tree', role: 'tree', 'aria-label': t('tree.title') }, draw(rootId, 0, null, new Set()));
}

/**
 * The tree viewer: one tree (decision_tree) or a pick of the ensemble's first trees
 * (random_forest, gradient_boosting), nodes collapsible with the keyboard.
 */
export function treeViewer(tree, res) {
  if (!tree || typeof tree !== 'object') return null;
  const classes = Array.isArray(res.classes) ? res.classes
    : (res.confusion_matrix && Array.isArray(res.confusion_matrix.labels) ? res.confusion_matrix.labels : []);
  const task = isRegression(res) ? 'regression' : (tree.task || 'classification');
  const list = Array.isArray(tree.trees) ? tree.trees : [tree];
  const valid = list.filter((x) => x && Array.isArray(x.nodes) && x.nodes.length);
  if (!valid.length) return null;
  const ensemble = Array.isArray(tree.trees);
  // Gradient-boosted leaves hold scores added up over the trees, not class shares.
  const boosted = ensemble && tree.n_outputs !== undefined;
  const leafTask = boosted ? 'score' : task;
  const features = featureMap(res);
  const holder = el('div', { class: 'tree-holder' });
  const show = (i) => {
    const one = valid[i];
    const note = one.truncated ? el('p', { class: 'muted small', text: t('tree.truncated.note') }) : null;
    holder.replaceChildren(...[note, treeNodes(one.nodes, classes, leafTask, features)].filter(Boolean));
  };
  show(0);
  const setAll = (open) => {
    for (const d of holder.querySelectorAll('details')) d.open = open;
  };
  const picker = valid.length > 1 ? el('div', { class: 'field-inline' },
    el('label', { for: 'tree-pick', text: t('tree.pick') }),
    el('select', { id: 'tree-pick', onchange: (e) => show(Number(e.target.value)) },
      valid.map((x, i) => el('option', { value: String(i), text: t('tree.pick.item', { n: i + 1, output: x.output !== undefined ? ` (${t('tree.output', { o: x.output })})` : '' }) })))) : null;
  const shown = { shown: valid.length, total: tree.n_trees ?? valid.length };
  const intro = `${boosted ? t('tree.intro.boosting', shown) : ensemble ? t('tree.intro.ensemble', shown) : t('tree.intro')} ${t('tree.units')}`;
  return section('res-tree', t('tree.title'), intro,
    el('div', { class: 'tree-tools' }, picker,
      el('button', { type: 'button', class: 'btn btn-secondary btn-small', id: 'tree-expand', text: t('tree.expand'), onclick: () => setAll(true) }),
      el('button', { type: 'button', class: 'btn btn-secondary btn-small', id: 'tree-collapse', text: t('tree.collapse'), onclick: () => setAll(false) })),
    el('div', { id: 'tree-viewer', class: 'tree-viewer' }, holder));
}

// ------------------------------------------------------------------ preprocessing, split

function prepReport(p, split) {
  if (!p && !split) return null;
  const dropped = p && Array.isArray(p.dropped_columns) ? p.dropped_columns.filter((d) => d.reason !== 'target') : [];
  const facts = [];
  if (split) {
    facts.push([t('results.split.train'), fmtNum(split.train_rows)], [t('results.split.test'), fmtNum(split.test_rows)]);
    if (split.stratified !== undefined && !(p && p.task === 'regression')) facts.push([t('results.split.stratified'), t(split.stratified ? 'flag.yes' : 'flag.no')]);
  }
  if (p) {
    if (num(p.n_features_in) !== null) facts.push([t('results.prep.in'), fmtNum(p.n_features_in)]);
    if (num(p.n_features_out) !== null) facts.push([t('results.prep.out'), fmtNum(p.n_features_out)]);
    if (num(p.imputed_values) !== null) facts.push([t('results.prep.imputed'), fmtNum(p.imputed_values)]);
    if (num(p.rows_dropped_missing_target) !== null) facts.push([t('results.prep.no_target'), fmtNum(p.rows_dropped_missing_target)]);
  }
  return section('res-prep', t('results.prep'), t('results.prep.intro'),
    el('dl', { class: 'meta-list' }, facts.map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', { text: v })))),
    dropped.length ? el('div', {}, el('h3', { text: t('results.prep.dropped') }),
      el('ul', { id: 'dropped-columns' }, dropped.map((d) => el('li', {}, el('strong', { text: d.column }), ` — ${label('dropreason', d.reason)}`,
        d.detail ? el('span', { class: 'muted small', text: ` (${d.detail})` }) : null)))) : el('p', { class: 'muted small', text: t('results.prep.none_dropped') }));
}

function settings(res) {
  const hp = res.hyperparameters && typeof res.hyperparameters === 'object' ? Object.entries(res.hyperparameters) : [];
  const timings = res.timings_ms || res.timings || {};
  const tim = Object.entries(timings).filter(([, v]) => num(v) !== null);
  if (!hp.length && !tim.length) return null;
  return section('res-settings', t('results.settings'), '',
    hp.length ? el('div', {}, el('h3', { text: t('results.hyperparameters') }),
      el('dl', { class: 'meta-list', id: 'resolved-hp' }, hp.map(([k, v]) => el('div', {}, el('dt', { text: has(`hp.${k}`) ? t(`hp.${k}`) : k }),
        el('dd', { text: v === null ? t('hp.auto') : typeof v === 'boolean' ? t(v ? 'flag.yes' : 'flag.no') : String(v) }))))) : null,
    tim.length ? el('div', {}, el('h3', { text: t('results.timings') }),
      el('dl', { class: 'meta-list', id: 'timings' }, tim.map(([k, v]) => el('div', {}, el('dt', { text: label('timing', k) }),
        el('dd', { text: t('results.ms', { ms: fmtNum(v, v < 10 ? 1 : 0) }) }))))) : null);
}

/** Every results section for a completed run's results. */
export function resultsSections(res) {
  const reg = isRegression(res);
  const cm = reg ? null : confusionMatrix(res.confusion_matrix);
  const pc = reg ? null : perClassTable(res.per_class);
  return [
    metricCards(res),
    cm || pc ? section('res-confusion', t('results.cm'), t('results.cm.intro'), cm, pc ? el('h3', { text: t('results.per_class') }) : null, pc) : null,
    reg ? null : curves(res),
    importance(res.feature_importance),
    treeViewer(res.tree, res),
    prepReport(res.preprocessing, res.split),
    settings(res),
  ].filter(Boolean);
}
