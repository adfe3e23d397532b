// upload: the dataset upload wizard. 1 files (drop or choose) → 2 analysis (POST
// /datasets/preview: rows, columns, types, missing values, first rows, suggestions) →
// 3 datasheet (metadata and the ten ethical flags) → 4 confirm and upload (POST /datasets,
// multipart, with a progress bar), then the new dataset's page.
import { upload, sel } from './selapi.js';
import { ApiError } from './api.js';
import {
  el, field, select, checkbox, errorText, fmtNum, label, focusSoon, fieldLabel,
} from './ui.js';
import { ETHICAL_FLAGS, ACCESS, AVAILABILITY } from './filters.js';
import { t, has } from './i18n.js';

const EXTENSIONS = ['.csv', '.tsv', '.json', '.jsonl', '.ndjson', '.txt'];
const LEVELS = ['high', 'medium', 'low', 'unknown'];
const BALANCE = ['balanced', 'moderate', 'imbalanced', 'unknown'];
const TASKS = ['classification', 'regression', 'clustering', 'anomaly_detection', 'time_series', 'nlp'];
const DOMAINS = ['healthcare', 'finance', 'education', 'biology', 'environment', 'transportation',
  'social', 'retail', 'energy', 'food', 'chemistry'];

export function slugify(s) {
  return String(s || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 100) || '';
}

function freshWizard() {
  return {
    step: 1, files: [], analysis: null, error: null, busy: false, progress: null,
    meta: {
      display_name: '', name: '', objective: '', year: '', domain: [], task: [], target_column: '',
      access: 'private', availability: 'online', license: '', sources: '', citation_link: '',
      documentation_link: '', representativity_level: '', sample_balance_level: '',
      split: false, metadata_provided_with_dataset: false, external_documentation_available: false,
      temporal_factors: false, ...Object.fromEntries(ETHICAL_FLAGS.map((f) => [f, null])),
    },
    nameEdited: false, fields: {}, xhr: null,
  };
}

// An API error about an upload, in words: formats, the bad line, a taken name.
function uploadErrorText(err) {
  if (!(err instanceof ApiError)) return errorText(err);
  if (err.status === 415) return `${t('upload.error.format')} ${err.serverMessage ? `(${err.serverMessage})` : ''}`.trim();
  if (err.status === 409) return t('upload.error.name_taken');
  if (err.status === 413) return t('upload.error.too_large');
  if (err.status === 422 && err.code !== 'validation_error' && err.code !== 'validation_failed') {
    return `${t('upload.error.invalid_file')} ${err.serverMessage}`.trim();
  }
  return errorText(err);
}

export function uploadPage(root, ctx) {
  const w = freshWizard();
  let domains = DOMAINS;
  let tasks = TASKS;
  Promise.all([sel.domains(), sel.tasks()]).then(([d, tk]) => {
    domains = [...new Set([...(d.domains || []), ...DOMAINS])];
    tasks = [...new Set([...(tk.tasks || []), ...TASKS])];
    if (w.step === 3) draw();
  }).catch(() => { /* the built-in lists are enough */ });

  function steps() {
    return el('ol', { class: 'wizard-steps', 'aria-label': t('upload.steps') },
      [1, 2, 3, 4].map((n) => el('li', {
        class: n === w.step ? 'current' : n < w.step ? 'done' : '',
        'aria-current': n === w.step ? 'step' : undefined,
      }, el('span', { class: 'step-num', text: String(n) }), t(`upload.step.${n}`))));
  }

  function addFiles(list) {
    const added = [...list].filter((f) => f && f.size >= 0);
    for (const f of added) {
      if (!w.files.some((g) => g.name === f.name && g.size === f.size)) w.files.push(f);
    }
    w.error = null;
    w.analysis = null;
    draw();
  }

  async function analyse() {
    if (!w.files.length) {
      w.error = t('upload.error.no_file');
      draw();
      return;
    }
    w.busy = true;
    w.error = null;
    w.progress = { phase: 'analyse', sent: 0, total: w.files.reduce((n, f) => n + f.size, 0) };
    const job = upload.preview(w.files, (sent, total) => { w.progress = { phase: 'analyse', sent, total }; drawProgress(); });
    w.xhr = job;
    draw();
    try {
      w.analysis = await job.promise;
      applySuggestions();
      w.step = 2;
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      w.error = err.code === 'aborted' ? null : uploadErrorText(err);
    }
    w.busy = false;
    w.progress = null;
    w.xhr = null;
    draw();
    focusSoon(document.getElementById('wizard-title'));
  }

  // The suggestions of the whole upload, else those of its first file.
  function suggestionsOf(a) {
    if (a && a.suggestions && typeof a.suggestions === 'object') return a.suggestions;
    const f = a && Array.isArray(a.files) ? a.files[0] : null;
    return (f && f.suggestions) || {};
  }

  function applySuggestions() {
    const s = suggestionsOf(w.analysis);
    const m = w.meta;
    if (!m.display_name && s.display_name) m.display_name = s.display_name;
    if (!w.nameEdited) m.name = slugify(s.name || m.display_name);
    const sd = s.domains || s.domain;
    const stk = s.tasks || s.task;
    if (!m.domain.length && Array.isArray(sd)) m.domain = sd.slice(0, 5);
    if (!m.task.length && Array.isArray(stk)) m.task = stk.slice(0, 5);
    if (!m.target_column && (s.target_column || s.target)) m.target_column = s.target_column || s.target;
  }

  function allColumns() {
    const files = (w.analysis && Array.isArray(w.analysis.files)) ? w.analysis.files : [];
    const names = [];
    for (const f of files) for (const c of (f.columns || [])) if (!names.includes(c.name)) names.push(c.name);
    return names;
  }

  // ---- step 1
  function stepFiles() {
    const input = el('input', {
      type: 'file', id: 'upload-input', multiple: true, accept: EXTENSIONS.join(','), class: 'visually-hidden', tabindex: '-1',
      onchange: (e) => addFiles(e.target.files),
    });
    const zone = el('div', {
      class: 'drop-zone', id: 'drop-zone',
      ondragover: (e) => { e.preventDefault(); zone.classList.add('drag'); },
      ondragleave: () => zone.classList.remove('drag'),
      ondrop: (e) => { e.preventDefault(); zone.classList.remove('drag'); addFiles(e.dataTransfer.files); },
    },
    el('p', { class: 'drop-title', text: t('upload.drop') }),
    el('p', { class: 'muted', text: t('upload.formats') }),
    input,
    el('label', { for: 'upload-input', class: 'btn btn-secondary', tabindex: '0', id: 'upload-choose', text: t('upload.choose'),
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } } }));
    const list = w.files.length ? el('ul', { class: 'file-list', id: 'upload-files' }, w.files.map((f, i) => el('li', {},
      el('span', { class: 'file-name', text: f.name }), el('span', { class: 'muted', text: ` ${fmtNum(f.size)} ${t('upload.bytes')}` }),
      el('button', {
        type: 'button', class: 'link-button', text: t('upload.remove'), 'aria-label': `${t('upload.remove')} ${f.name}`,
        onclick: () => { w.files.splice(i, 1); w.analysis = null; draw(); },
      })))) : el('p', { class: 'muted', text: t('upload.no_files') });
    return el('div', {}, zone, list,
      el('div', { class: 'form-actions' },
        el('button', { type: 'button', class: 'btn btn-primary', id: 'upload-analyse', 'aria-disabled': String(w.busy), text: t(w.busy ? 'upload.analysing' : 'upload.analyse'), onclick: () => { if (!w.busy) analyse(); } }),
        w.busy && w.xhr ? el('button', { type: 'button', class: 'btn btn-secondary', text: t('action.cancel'), onclick: () => w.xhr && w.xhr.abort() }) : null));
  }

  // ---- step 2
  function fileAnalysis(f) {
    const cols = Array.isArray(f.columns) ? f.columns : [];
    const prev = f.preview || {};
    const rows = Array.isArray(prev.rows) ? prev.rows : [];
    const pcols = Array.isArray(prev.columns) ? prev.columns.map((c) => (typeof c === 'string' ? c : c.name)) : cols.map((c) => c.name);
    return el('article', { class: 'card analysis-file' },
      el('h3', { text: f.filename || f.name || '' }),
      el('p', { class: 'analysis-facts', text: t('upload.file.facts', { rows: fmtNum(f.row_count), cols: fmtNum(f.column_count ?? cols.length), format: String(f.format || '').toUpperCase() }) }),
      el('div', { class: 'table-wrap' }, el('table', { class: 'data-table analysis-columns' },
        el('caption', { class: 'visually-hidden', text: t('ds.columns.caption') }),
        el('thead', {}, el('tr', {}, ['name', 'type', 'missing', 'distinct', 'pii', 'examples'].map((h) => el('th', { scope: 'col', text: t(`ds.col.${h}`) })))),
        el('tbody', {}, cols.map((c) => el('tr', {},
          el('th', { scope: 'row', text: c.name }),
          el('td', { text: label('type', c.type || c.data_type_interpreted) }),
          el('td', { class: 'num', text: fmtNum(c.missing ?? (c.stats && c.stats.nulls)) }),
          el('td', { class: 'num', text: fmtNum(c.distinct ?? (c.stats && c.stats.distinct)) }),
          el('td', { text: c.is_pii || c.pii ? t('ds.pii') : t('flag.no') }),
          el('td', { class: 'examples', text: (c.examples || c.example_values || []).slice(0, 3).map(String).join(' · ') })))))),
      rows.length ? el('details', { open: true }, el('summary', { text: t('upload.first_rows', { n: rows.length }) }),
        el('div', { class: 'table-wrap' }, el('table', { class: 'data-table preview-table' },
          el('thead', {}, el('tr', {}, pcols.map((c) => el('th', { scope: 'col', text: c })))),
          el('tbody', {}, rows.map((r) => el('tr', {}, (Array.isArray(r) ? r : pcols.map((c) => r[c])).map((v) => el('td', { text: v === null || v === undefined ? t('value.null') : String(v) })))))))) : null);
  }

  function stepAnalysis() {
    const a = w.analysis || {};
    const files = Array.isArray(a.files) ? a.files : [];
    const s = suggestionsOf(a);
    const sugg = [];
    if (s.display_name) sugg.push(`${t('field.display_name')}: ${s.display_name}`);
    const sd = s.domains || s.domain;
    const stk = s.tasks || s.task;
    if (Array.isArray(sd) && sd.length) sugg.push(`${t('filters.domain')}: ${sd.map((x) => label('domain', x)).join(', ')}`);
    if (Array.isArray(stk) && stk.length) sugg.push(`${t('filters.task')}: ${stk.map((x) => label('domain', x)).join(', ')}`);
    if (s.target_column || s.target) sugg.push(`${t('field.target_column')}: ${s.target_column || s.target}`);
    return el('div', { id: 'upload-analysis' },
      sugg.length ? el('div', { class: 'notice notice-info' }, el('p', { text: t('upload.suggestions') }), el('ul', {}, sugg.map((x) => el('li', { text: x })))) : null,
      files.map(fileAnalysis),
      el('div', { class: 'form-actions' },
        el('button', { type: 'button', class: 'btn btn-secondary', text: t('action.back'), onclick: () => { w.step = 1; draw(); } }),
        el('button', { type: 'button', class: 'btn btn-primary', id: 'upload-to-meta', text: t('upload.next.meta'), onclick: () => { w.step = 3; draw(); focusSoon(document.getElementById('meta-display_name')); } })));
  }

  // ---- step 3
  function readMeta(form) {
    const m = w.meta;
    for (const k of ['display_name', 'name', 'objective', 'year', 'target_column', 'access', 'availability', 'license', 'sources',
      'citation_link', 'documentation_link', 'representativity_level', 'sample_balance_level']) {
      const n = form.querySelector(`[name="${k}"]`);
      if (n) m[k] = n.value.trim();
    }
    for (const k of ['split', 'metadata_provided_with_dataset', 'external_documentation_available', 'temporal_factors']) {
      m[k] = form.querySelector(`[name="${k}"]`).checked;
    }
    for (const k of ['domain', 'task']) {
      const chosen = [...form.querySelectorAll(`input[name="${k}"]:checked`)].map((i) => i.value);
      const extra = form.querySelector(`[name="${k}-extra"]`).value.split(',').map((x) => slugify(x)).filter(Boolean);
      m[k] = [...new Set([...chosen, ...extra])];
    }
    for (const f of ETHICAL_FLAGS) {
      const r = form.querySelector(`input[name="eth-${f}"]:checked`);
      m[f] = !r || r.value === '' ? null : r.value === 'true';
    }
  }

  function checkMeta() {
    const m = w.meta;
    const p = {};
    if (!m.display_name) p.display_name = t('upload.check.display_name');
    if (!/^[a-z0-9][a-z0-9_-]{0,127}$/.test(m.name)) p.name = t('upload.check.name');
    if (m.year && !(Number.isInteger(Number(m.year)) && Number(m.year) >= 1800 && Number(m.year) <= 2200)) p.year = t('upload.check.year');
    return p;
  }

  function metaInput(k, type = 'text', attrs = {}) {
    const input = type === 'textarea' ? el('textarea', { name: k, id: `meta-${k}`, rows: '3', ...attrs })
      : el('input', { type, name: k, id: `meta-${k}`, ...attrs });
    input.value = w.meta[k] ?? '';
    const err = w.fields[k];
    input.setAttribute('aria-invalid', String(Boolean(err)));
    const f = field(t(`field.${k}`), input, has(`upload.hint.${k}`) ? t(`upload.hint.${k}`) : undefined);
    if (err) {
      f.classList.add('has-error');
      const e = el('p', { class: 'field-error', id: `meta-${k}-error`, text: err });
      input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby') || ''} meta-${k}-error`.trim());
      f.append(e);
    }
    return f;
  }

  function listField(k, options) {
    const chosen = new Set(w.meta[k]);
    const all = [...new Set([...options, ...chosen])];
    return el('fieldset', { class: 'check-group' }, el('legend', { text: t(`filters.${k}`) }),
      all.map((v) => checkbox(label('domain', v), el('input', { name: k, value: v, checked: chosen.has(v) }))),
      field(t('upload.other_values'), el('input', { type: 'text', name: `${k}-extra`, id: `meta-${k}-extra` })));
  }

  function stepMeta() {
    const cols = allColumns();
    const target = select([['', t('upload.no_target')], ...cols.map((c) => [c, c])], w.meta.target_column, { name: 'target_column', id: 'meta-target_column' });
    const form = el('form', {
      class: 'form meta-form', id: 'meta-form', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        readMeta(form);
        w.fields = checkMeta();
        if (Object.keys(w.fields).length) {
          w.error = t('auth.fix_fields');
          draw();
          const first = root.querySelector('[aria-invalid="true"]');
          if (first) first.focus();
          return;
        }
        w.error = null;
        w.step = 4;
        draw();
        focusSoon(document.getElementById('wizard-title'));
      },
    },
    el('fieldset', {}, el('legend', { text: t('upload.meta.general') }),
      metaInput('display_name', 'text', { maxlength: '200', required: true, oninput: (e) => {
        if (!w.nameEdited) {
          const n = document.getElementById('meta-name');
          if (n) n.value = slugify(e.target.value);
        }
      } }),
      metaInput('name', 'text', { maxlength: '128', required: true, spellcheck: 'false', oninput: () => { w.nameEdited = true; } }),
      metaInput('objective', 'textarea', { maxlength: '4000' }),
      el('div', { class: 'two-cols' }, metaInput('year', 'number', { min: '1800', max: '2200' }),
        field(t('field.target_column'), target)),
      listField('domain', domains),
      listField('task', tasks),
      el('div', { class: 'two-cols' },
        field(t('field.access'), select(ACCESS.map((a) => [a, t(`access.${a}`)]), w.meta.access, { name: 'access' })),
        field(t('field.availability'), select(AVAILABILITY.map((a) => [a, t(`availability.${a}`)]), w.meta.availability, { name: 'availability' }))),
      metaInput('license'), metaInput('sources', 'textarea'), metaInput('citation_link', 'url'), metaInput('documentation_link', 'url')),
    el('fieldset', {}, el('legend', { text: t('upload.meta.technical') }),
      el('div', { class: 'two-cols' },
        field(t('field.representativity_level'), select([['', t('value.unknown')], ...LEVELS.map((l) => [l, label('level', l)])], w.meta.representativity_level, { name: 'representativity_level' })),
        field(t('field.sample_balance_level'), select([['', t('value.unknown')], ...BALANCE.map((l) => [l, label('level', l)])], w.meta.sample_balance_level, { name: 'sample_balance_level' }))),
      ['split', 'metadata_provided_with_dataset', 'external_documentation_available', 'temporal_factors']
        .map((k) => checkbox(t(`field.${k}`), el('input', { name: k, checked: w.meta[k] })))),
    el('fieldset', { class: 'ethics-form' }, el('legend', { text: t('ds.ethics') }),
      el('p', { class: 'field-hint', text: t('upload.ethics.hint') }),
      ETHICAL_FLAGS.map((f) => el('fieldset', { class: 'tri', 'data-flag': f }, el('legend', { text: t(`ethical.${f}`) }),
        [['true', 'flag.yes'], ['false', 'flag.no'], ['', 'flag.unknown']].map(([v, k]) => {
          const cur = w.meta[f] === true ? 'true' : w.meta[f] === false ? 'false' : '';
          const id = `eth-${f}-${v || 'unknown'}`;
          return el('span', { class: 'radio-inline' }, el('input', { type: 'radio', name: `eth-${f}`, id, value: v, checked: cur === v }), el('label', { for: id, text: t(k) }));
        })))),
    el('div', { class: 'form-actions' },
      el('button', { type: 'button', class: 'btn btn-secondary', text: t('action.back'), onclick: () => { readMeta(form); w.step = 2; draw(); } }),
      el('button', { type: 'submit', class: 'btn btn-primary', id: 'meta-next', text: t('upload.next.confirm') })));
    return form;
  }

  // ---- step 4
  function metadataBody() {
    const m = w.meta;
    const out = { name: m.name, display_name: m.display_name };
    for (const k of ['objective', 'target_column', 'access', 'availability', 'license', 'sources', 'citation_link',
      'documentation_link', 'representativity_level', 'sample_balance_level']) if (m[k]) out[k] = m[k];
    if (m.year) out.year = Number(m.year);
    if (m.domain.length) out.domain = m.domain;
    if (m.task.length) out.task = m.task;
    for (const k of ['split', 'metadata_provided_with_dataset', 'external_documentation_available', 'temporal_factors']) out[k] = m[k];
    for (const f of ETHICAL_FLAGS) out[f] = m[f];
    return out;
  }

  async function send() {
    if (w.busy) return;
    w.busy = true;
    w.error = null;
    w.progress = { phase: 'upload', sent: 0, total: w.files.reduce((n, f) => n + f.size, 0) };
    const job = upload.create(metadataBody(), w.files, (sent, total) => { w.progress = { phase: 'upload', sent, total }; drawProgress(); });
    w.xhr = job;
    draw();
    try {
      const d = await job.promise;
      w.busy = false;
      ctx.go(`#/datasets/${d.id}`);
      return;
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      w.error = err.code === 'aborted' ? null : uploadErrorText(err);
      if (err instanceof ApiError && err.status === 409) w.fields = { name: t('upload.error.name_taken') };
      else if (err instanceof ApiError && err.fields.length) w.fields = Object.fromEntries(err.fields.map((f) => [f.field, `${fieldLabel(f.field)}: ${f.problem}.`]));
    }
    w.busy = false;
    w.progress = null;
    w.xhr = null;
    // A problem with the datasheet: back to its form, on the field to change.
    const bad = Object.keys(w.fields).find((k) => document.getElementById(`meta-${k}`) || k in w.meta);
    if (bad) w.step = 3;
    draw();
    const target = (bad && document.getElementById(`meta-${bad}`)) || document.getElementById('wizard-error');
    if (target) target.focus();
  }

  function stepConfirm() {
    const m = w.meta;
    const known = ETHICAL_FLAGS.filter((f) => m[f] !== null).length;
    const rows = [
      ['display_name', m.display_name], ['name', m.name], ['objective', m.objective], ['year', m.year],
      ['domain', m.domain.map((x) => label('domain', x)).join(', ')], ['task', m.task.map((x) => label('domain', x)).join(', ')],
      ['target_column', m.target_column], ['access', label('access', m.access)], ['license', m.license],
    ];
    return el('div', { id: 'upload-confirm' },
      el('dl', { class: 'meta-list' }, rows.map(([k, v]) => el('div', {}, el('dt', { text: t(k === 'domain' || k === 'task' ? `filters.${k}` : `field.${k}`) }), el('dd', { text: v || t('value.unknown') })))),
      el('p', { text: t('upload.confirm.files', { n: w.files.length, names: w.files.map((f) => f.name).join(', ') }) }),
      el('p', { class: 'muted', text: t('upload.confirm.ethics', { known, total: ETHICAL_FLAGS.length }) }),
      el('div', { class: 'form-actions' },
        el('button', { type: 'button', class: 'btn btn-secondary', text: t('action.back'), 'aria-disabled': String(w.busy), onclick: () => { if (!w.busy) { w.step = 3; draw(); } } }),
        el('button', { type: 'button', class: 'btn btn-primary', id: 'upload-send', 'aria-disabled': String(w.busy), text: t(w.busy ? 'upload.sending' : 'upload.send'), onclick: send }),
        w.busy && w.xhr ? el('button', { type: 'button', class: 'btn btn-secondary', id: 'upload-cancel', text: t('action.cancel'), onclick: () => w.xhr && w.xhr.abort() }) : null));
  }

  function progressNode() {
    const p = w.progress;
    if (!p) return el('div', { id: 'upload-progress', hidden: true });
    const pctDone = p.total ? Math.min(100, Math.round((p.sent / p.total) * 100)) : null;
    const done = pctDone === 100;
    const text = done ? t(p.phase === 'upload' ? 'upload.progress.processing' : 'upload.progress.analysing')
      : t('upload.progress', { pct: pctDone ?? 0, sent: fmtNum(p.sent), total: fmtNum(p.total) });
    return el('div', { id: 'upload-progress', class: 'upload-progress' },
      el('label', { for: 'upload-progress-bar', text }),
      el('progress', { id: 'upload-progress-bar', max: '100', value: pctDone === null || done ? undefined : String(pctDone) }));
  }

  function drawProgress() {
    const old = document.getElementById('upload-progress');
    if (old) old.replaceWith(progressNode());
  }

  function draw() {
    const body = w.step === 1 ? stepFiles() : w.step === 2 ? stepAnalysis() : w.step === 3 ? stepMeta() : stepConfirm();
    root.replaceChildren(el('section', { class: 'page page-upload', 'aria-labelledby': 'page-title' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/datasets', text: t('nav.datasets') })),
      el('h1', { id: 'page-title', text: t('upload.title') }),
      el('p', { class: 'muted', text: t('upload.intro') }),
      steps(),
      el('div', { class: 'card wizard-body' },
        el('h2', { id: 'wizard-title', tabindex: '-1', text: t(`upload.step.${w.step}`) }),
        w.error ? el('div', { class: 'notice notice-error', id: 'wizard-error', role: 'alert', tabindex: '-1', text: w.error }) : null,
        progressNode(),
        body)));
  }
  draw();
  return {
    draw: () => {
      const form = document.getElementById('meta-form');
      if (form) readMeta(form);
      draw();
    },
    leave: () => { if (w.xhr) w.xhr.abort(); },
  };
}
