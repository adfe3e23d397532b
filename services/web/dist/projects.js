// projects: a user's projects (list, create, edit, delete): criteria (the catalogue filters),
// weight sliders for the twelve IBIS-X criteria with a live ranked preview (POST
// /datasets/score), and the recommendations heatmap (datasets × active criteria).
import { sel } from './selapi.js';
import {
  el, errorBlock, loadingBlock, stateBlock, errorText, field, fmtNum, pct, focusSoon, fieldLabel,
} from './ui.js';
import { filterForm, describeFilters } from './filters.js';
import { heatmapTable, heatLegend, bars, destroyCharts } from './charts.js';
import { t, formatDate } from './i18n.js';
import { scoreMeter } from './datasets.js';

export const CRITERIA = ['ethical_score', 'technical_score', 'popularity_score', 'anonymization',
  'transparency', 'informed_consent', 'documentation', 'data_quality', 'instances_count',
  'features_count', 'citations', 'year'];
// The IBIS-X project-form defaults.
const DEFAULT_WEIGHTS = { ethical_score: 0.4, technical_score: 0.4, popularity_score: 0.2 };
const PROFILES = {
  research: { ethical_score: 0.3, technical_score: 0.4, popularity_score: 0.3 },
  industrial: { ethical_score: 0.6, technical_score: 0.4 },
  prototype: { ethical_score: 0.2, technical_score: 0.8 },
};

function weightsMap(list) {
  const m = {};
  for (const w of Array.isArray(list) ? list : []) {
    if (w && CRITERIA.includes(w.criterion_name) && typeof w.weight === 'number') m[w.criterion_name] = w.weight;
  }
  return m;
}

function weightsList(m) {
  return CRITERIA.filter((c) => m[c] > 0).map((c) => ({ criterion_name: c, weight: m[c] }));
}

// ------------------------------------------------------------------ list

export function projectsPage(root, ctx) {
  const st = { status: 'loading', data: null, error: null, confirm: null, actionError: null };
  async function load() {
    st.status = 'loading';
    st.error = null;
    draw();
    try {
      const r = await sel.projects(1);
      st.data = Array.isArray(r.projects) ? r.projects : [];
      st.status = 'ready';
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.status = 'error';
      st.error = err;
    }
    draw();
  }
  async function remove(p) {
    try {
      await sel.deleteProject(p.id);
      st.confirm = null;
      load();
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.actionError = err;
      st.confirm = null;
      draw();
    }
  }
  function card(p) {
    const ws = weightsMap(p.weights);
    const crit = describeFilters(p.criteria || {});
    return el('li', { class: 'card project-card', 'data-project': p.name },
      el('h3', {}, el('a', { href: `#/projects/${p.id}`, text: p.name })),
      p.description ? el('p', { class: 'muted', text: p.description }) : null,
      el('p', { class: 'small', text: `${t('projects.criteria')}: ${crit.length ? crit.join(' · ') : t('projects.criteria.none')}` }),
      el('p', { class: 'small', text: `${t('projects.weights')}: ${weightsList(ws).map((w) => `${t(`criterion.${w.criterion_name}`)} ${fmtNum(w.weight, 2)}`).join(' · ') || t('projects.weights.default')}` }),
      el('p', { class: 'small muted', text: t('projects.updated', { date: formatDate(p.updated_at) }) }),
      st.confirm === p.id ? el('div', { class: 'notice notice-error', role: 'alertdialog' },
        el('p', { text: t('projects.delete.confirm', { name: p.name }) }),
        el('div', { class: 'form-actions' },
          el('button', { type: 'button', class: 'btn btn-danger', text: t('action.delete'), onclick: () => remove(p) }),
          el('button', { type: 'button', class: 'btn btn-secondary', text: t('action.cancel'), onclick: () => { st.confirm = null; draw(); } })))
        : el('div', { class: 'form-actions' },
          el('a', { class: 'btn btn-secondary btn-small', href: `#/projects/${p.id}`, text: t('action.open') }),
          el('a', { class: 'btn btn-secondary btn-small', href: `#/projects/${p.id}/edit`, text: t('action.edit') }),
          el('button', { type: 'button', class: 'btn btn-quiet btn-small', text: t('action.delete'), onclick: () => { st.confirm = p.id; draw(); } })));
  }
  function draw() {
    let body;
    if (st.status === 'error') body = errorBlock(st.error, t('projects.error'), load);
    else if (!st.data) body = loadingBlock(t('app.loading'));
    else if (!st.data.length) {
      body = stateBlock('empty', t('projects.empty.title'), t('projects.empty.body'),
        el('a', { class: 'btn btn-primary', href: '#/projects/new', text: t('projects.new') }));
    } else body = el('ul', { class: 'project-grid', id: 'project-list' }, st.data.map(card));
    root.replaceChildren(el('section', { class: 'page', 'aria-labelledby': 'page-title' },
      el('div', { class: 'page-head' },
        el('div', {}, el('h1', { id: 'page-title', tabindex: '-1', text: t('projects.title') }),
          el('p', { class: 'muted', text: t('projects.intro') })),
        el('a', { class: 'btn btn-primary', href: '#/projects/new', id: 'project-new', text: t('projects.new') })),
      st.actionError ? el('div', { class: 'notice notice-error', role: 'alert', text: errorText(st.actionError) }) : null,
      body));
  }
  load();
  focusSoon(document.getElementById('page-title'));
  return { draw };
}

// ------------------------------------------------------------------ form with live preview

// A chart label that leaves the bars room on a phone; the list above has the full names.
function shortName(s) {
  return s.length > 22 ? `${s.slice(0, 21)}…` : s;
}

function rankedPreview(p) {
  if (!p || p.status === 'loading' && !p.data) return loadingBlock(t('projects.preview.loading'));
  if (p.status === 'error') return errorBlock(p.error, t('projects.preview.error'), p.retry);
  const list = (p.data && Array.isArray(p.data.datasets)) ? p.data.datasets : [];
  if (!list.length) return stateBlock('empty', t('projects.preview.none'), t('catalogue.none_match.body'));
  const top = list.slice(0, 10);
  return el('div', { class: p.status === 'loading' ? 'is-loading' : '' },
    el('p', { class: 'muted', id: 'preview-count', text: t('projects.preview.count', { n: list.length }) }),
    el('ol', { class: 'ranked', id: 'ranked-preview' }, top.map((d) => el('li', {},
      el('a', { href: `#/datasets/${d.id}`, text: d.display_name || d.name }),
      el('span', { class: 'rank-score', text: pct(d.score) })))),
    bars(t('projects.preview.chart'), top.map((d) => shortName(d.display_name || d.name)), top.map((d) => Math.round((d.score || 0) * 100)), { horizontal: true, max: 100 }));
}

export function projectFormPage(root, ctx, id) {
  const st = {
    loading: Boolean(id), error: null, project: null, name: '', description: '', criteria: {},
    weights: { ...DEFAULT_WEIGHTS }, lists: null, preview: null, saveError: null, fields: {}, busy: false,
  };
  let form = null;
  let timer = null;
  let seq = 0;

  async function loadProject() {
    st.error = null;
    draw();
    try {
      const p = await sel.project(id);
      st.project = p;
      st.name = p.name || '';
      st.description = p.description || '';
      st.criteria = p.criteria || {};
      const w = weightsMap(p.weights);
      st.weights = Object.keys(w).length ? w : { ...DEFAULT_WEIGHTS };
      st.loading = false;
      form = null;
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.error = err;
    }
    draw();
    refreshPreview();
  }

  async function loadLists() {
    try {
      const [d, tk] = await Promise.all([sel.domains(), sel.tasks()]);
      st.lists = { domains: d.domains || [], tasks: tk.tasks || [] };
    } catch {
      st.lists = { domains: [], tasks: [] };
    }
    form = null;
    if (!st.loading) draw();
  }

  function readAll() {
    const n = document.getElementById('project-name');
    if (n) st.name = n.value;
    const dsc = document.getElementById('project-description');
    if (dsc) st.description = dsc.value;
    if (form) st.criteria = form.read();
  }

  async function refreshPreview() {
    const mine = ++seq;
    st.preview = { ...(st.preview || {}), status: 'loading', retry: refreshPreview };
    drawPreview();
    try {
      const data = await sel.score(st.criteria, weightsList(st.weights));
      if (mine !== seq) return;
      st.preview = { status: 'ready', data, retry: refreshPreview };
    } catch (err) {
      if (mine !== seq) return;
      if (ctx.unauthorized(err)) return;
      st.preview = { status: 'error', error: err, retry: refreshPreview };
    }
    drawPreview();
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 250);
  }

  function drawPreview() {
    const box = document.getElementById('live-preview');
    if (!box) return;
    destroyCharts(box);
    box.replaceChildren(rankedPreview(st.preview));
    box.setAttribute('aria-busy', String(Boolean(st.preview && st.preview.status === 'loading')));
  }

  function slider(c) {
    const v = st.weights[c] || 0;
    const out = el('output', { for: `w-${c}`, id: `w-${c}-value`, text: fmtNum(v, 2) });
    const input = el('input', {
      type: 'range', id: `w-${c}`, name: c, min: '0', max: '1', step: '0.05', value: String(v),
      'aria-valuetext': fmtNum(v, 2),
      oninput: (e) => {
        const x = Number(e.target.value);
        st.weights[c] = x;
        out.textContent = fmtNum(x, 2);
        e.target.setAttribute('aria-valuetext', fmtNum(x, 2));
        schedule();
      },
    });
    return el('div', { class: 'weight' }, el('label', { for: `w-${c}`, text: t(`criterion.${c}`) }), input, out,
      el('p', { class: 'field-hint', text: t(`criterion.${c}.hint`) }));
  }

  async function save(e) {
    e.preventDefault();
    if (st.busy) return;
    readAll();
    st.fields = {};
    if (!st.name.trim()) st.fields.name = t('projects.check.name');
    if (Object.keys(st.fields).length) {
      st.saveError = t('auth.fix_fields');
      draw();
      document.getElementById('project-name').focus();
      return;
    }
    st.busy = true;
    st.saveError = null;
    const body = { name: st.name.trim(), description: st.description.trim(), criteria: st.criteria, weights: weightsList(st.weights) };
    try {
      const p = id ? await sel.patchProject(id, body) : await sel.createProject(body);
      st.busy = false;
      ctx.go(`#/projects/${p.id || id}`);
    } catch (err) {
      st.busy = false;
      if (ctx.unauthorized(err)) return;
      st.fields = Object.fromEntries(err.fields.map((f) => [f.field, `${fieldLabel(f.field)}: ${f.problem}.`]));
      st.saveError = errorText(err);
      draw();
      const a = document.getElementById('project-error');
      if (a) a.focus();
    }
  }

  function draw() {
    if (st.error) {
      root.replaceChildren(errorBlock(st.error, t('projects.error'), loadProject));
      return;
    }
    if (st.loading) {
      root.replaceChildren(loadingBlock(t('app.loading')));
      return;
    }
    if (!form || form.lang !== document.documentElement.lang) {
      const lists = st.lists || { domains: [], tasks: [] };
      form = { ...filterForm({ values: st.criteria, domains: lists.domains, tasks: lists.tasks, idPrefix: 'prj' }), lang: document.documentElement.lang };
      form.node.addEventListener('change', () => { st.criteria = form.read(); schedule(); });
      form.node.addEventListener('input', (e) => { if (e.target.type === 'search' || e.target.type === 'number') { st.criteria = form.read(); schedule(); } });
    }
    const name = el('input', { type: 'text', id: 'project-name', maxlength: '200', required: true, value: st.name, 'aria-invalid': String(Boolean(st.fields.name)) });
    const nameField = field(t('projects.name'), name);
    if (st.fields.name) nameField.append(el('p', { class: 'field-error', text: st.fields.name }));
    const desc = el('textarea', { id: 'project-description', rows: '2', maxlength: '2000' });
    desc.value = st.description;
    const profiles = el('div', { class: 'profiles', role: 'group', 'aria-label': t('projects.profiles') },
      el('span', { class: 'muted', text: `${t('projects.profiles')}:` }),
      Object.keys(PROFILES).map((k) => el('button', {
        type: 'button', class: 'btn btn-quiet btn-small', text: t(`projects.profile.${k}`),
        onclick: () => { readAll(); st.weights = { ...PROFILES[k] }; draw(); refreshPreview(); },
      })));
    root.replaceChildren(el('section', { class: 'page page-project-form', 'aria-labelledby': 'page-title' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/projects', text: t('nav.projects') })),
      el('h1', { id: 'page-title', tabindex: '-1', text: id ? t('projects.edit') : t('projects.new') }),
      el('form', { class: 'project-layout', id: 'project-form', novalidate: true, onsubmit: save },
        el('div', { class: 'project-left' },
          el('div', { class: 'card' }, nameField, field(t('projects.description'), desc)),
          el('div', { class: 'card' }, el('h2', { text: t('projects.weights') }),
            el('p', { class: 'muted', text: t('projects.weights.intro') }), profiles,
            el('div', { class: 'weights', id: 'weights' }, CRITERIA.map(slider))),
          el('details', { class: 'card', open: Object.keys(st.criteria).length > 0 },
            el('summary', {}, el('h2', { text: t('projects.criteria') })),
            el('p', { class: 'muted', text: t('projects.criteria.intro') }), form.node),
          st.saveError ? el('div', { class: 'notice notice-error', id: 'project-error', role: 'alert', tabindex: '-1', text: st.saveError }) : null,
          el('div', { class: 'form-actions' },
            el('button', { type: 'submit', class: 'btn btn-primary', id: 'project-save', 'aria-disabled': String(st.busy), text: t('action.save') }),
            el('a', { class: 'btn btn-secondary', href: id ? `#/projects/${id}` : '#/projects', text: t('action.cancel') }))),
        el('aside', { class: 'card project-preview', 'aria-labelledby': 'preview-title' },
          el('h2', { id: 'preview-title', text: t('projects.preview') }),
          el('p', { class: 'muted small', text: t('projects.preview.intro') }),
          el('div', { id: 'live-preview', 'aria-live': 'polite' })))));
    drawPreview();
  }

  loadLists();
  if (id) loadProject();
  else {
    draw();
    refreshPreview();
  }
  focusSoon(document.getElementById('page-title'));
  return { draw: () => { readAll(); form = null; draw(); }, leave: () => clearTimeout(timer) };
}

// ------------------------------------------------------------------ project page and heatmap

export function projectPage(root, ctx, id) {
  const st = { status: 'loading', data: null, error: null };
  async function load() {
    st.status = 'loading';
    draw();
    try {
      st.data = await sel.recommendations(id);
      st.status = 'ready';
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.status = 'error';
      st.error = err;
    }
    draw();
  }
  function draw() {
    destroyCharts(root);
    if (st.status === 'error') {
      root.replaceChildren(el('section', { class: 'page' },
        el('p', { class: 'crumbs' }, el('a', { href: '#/projects', text: t('nav.projects') })),
        el('h1', { id: 'page-title', tabindex: '-1', text: t('projects.error') }),
        errorBlock(st.error, t('projects.error'), load)));
      return;
    }
    if (!st.data) {
      root.replaceChildren(loadingBlock(t('app.loading')));
      return;
    }
    const p = st.data.project || {};
    const list = Array.isArray(st.data.datasets) ? st.data.datasets : [];
    const ws = weightsMap(p.weights);
    let active = CRITERIA.filter((c) => ws[c] > 0);
    if (!active.length) active = Object.keys(DEFAULT_WEIGHTS);
    const crit = describeFilters(p.criteria || {});
    const heat = list.length ? heatmapTable({
      caption: t('projects.heatmap.caption'),
      rowHeader: t('projects.heatmap.dataset'),
      columns: [...active.map((c) => `${t(`criterion.${c}`)} (${fmtNum(ws[c] ?? DEFAULT_WEIGHTS[c], 2)})`), t('projects.heatmap.score')],
      rows: list.map((d) => ({
        label: d.display_name || d.name, href: `#/datasets/${d.id}`,
        values: [...active.map((c) => (d.criterion_scores ? d.criterion_scores[c] : null)), d.score],
      })),
    }) : stateBlock('empty', t('projects.recs.none'), t('projects.recs.none.body'),
      el('a', { class: 'btn btn-primary', href: `#/projects/${id}/edit`, text: t('action.edit') }));
    root.replaceChildren(el('section', { class: 'page page-project', 'aria-labelledby': 'page-title' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/projects', text: t('nav.projects') })),
      el('div', { class: 'page-head' },
        el('div', {}, el('h1', { id: 'page-title', tabindex: '-1', text: p.name || '' }),
          p.description ? el('p', { class: 'muted', text: p.description }) : null),
        el('a', { class: 'btn btn-secondary', href: `#/projects/${id}/edit`, id: 'project-edit', text: t('action.edit') })),
      el('div', { class: 'card' },
        el('p', {}, el('strong', { text: `${t('projects.criteria')}: ` }), crit.length ? crit.join(' · ') : t('projects.criteria.none')),
        el('p', {}, el('strong', { text: `${t('projects.weights')}: ` }), active.map((c) => `${t(`criterion.${c}`)} ${fmtNum(ws[c] ?? DEFAULT_WEIGHTS[c], 2)}`).join(' · '))),
      el('section', { class: 'card', 'aria-labelledby': 'heatmap-title', id: 'project-heatmap' },
        el('h2', { id: 'heatmap-title', text: t('projects.heatmap') }),
        el('p', { class: 'muted', text: t('projects.heatmap.intro', { n: list.length }) }),
        heatLegend(), heat),
      list.length ? el('section', { class: 'card', 'aria-labelledby': 'best-title' },
        el('h2', { id: 'best-title', text: t('projects.best') }),
        el('ol', { class: 'ranked' }, list.slice(0, 5).map((d) => el('li', {},
          el('a', { href: `#/datasets/${d.id}`, text: d.display_name || d.name }),
          el('span', { class: 'rank-score', text: pct(d.score) }),
          el('div', { class: 'ds-scores' }, scoreMeter('ethical', d.ethical_score), scoreMeter('technical', d.technical_score)))))) : null));
  }
  load();
  return { draw };
}
