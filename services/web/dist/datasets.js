// datasets: the dataset catalogue (search, every filter, sort, pages, cards with the API's
// ethical and technical scores) and the dataset page (metadata, ethical checklist, files and
// columns, preview rows, statistics with histograms, quality report, similar datasets,
// datasheet completion, downloads, edit and delete for the owner).
import { sel, filterQuery } from './selapi.js';
import { ApiError, session } from './api.js';
import {
  el, errorBlock, loadingBlock, stateBlock, fmtNum, pct, chipList, label, yesNoUnknown,
  field, select, focusSoon, errorText,
} from './ui.js';
import { filterForm, describeFilters, ETHICAL_FLAGS, ACCESS, AVAILABILITY } from './filters.js';
import { histogram, bars, heatmapTable, destroyCharts } from './charts.js';
import { t, formatDate } from './i18n.js';

const PAGE_SIZE = 12;
const SORT_KEYS = ['name', 'year', 'instances_number', 'features_number', 'num_citations',
  'created_at', 'updated_at'];

// The catalogue's choices survive a visit to a dataset page.
const cat = {
  filters: {}, page: 1, sortBy: 'name', sortOrder: 'asc', data: null, error: null,
  status: 'idle', seq: 0, domains: null, tasks: null, listsError: null,
};

export function scoreMeter(name, score) {
  const p = typeof score === 'number' && Number.isFinite(score) ? Math.round(score * 100) : null;
  return el('div', { class: 'score', 'data-score': name },
    el('span', { class: 'score-label', text: t(`score.${name}`) }),
    el('span', { class: 'score-value', text: p === null ? t('value.unknown') : `${p} %` }),
    p === null ? null : el('meter', {
      min: '0', max: '100', low: '30', high: '60', optimum: '100', value: String(p),
      'aria-label': `${t(`score.${name}`)} ${p} %`,
    }));
}

// ------------------------------------------------------------------ catalogue

async function loadLists(draw) {
  try {
    const [d, tk] = await Promise.all([sel.domains(), sel.tasks()]);
    cat.domains = Array.isArray(d.domains) ? d.domains : [];
    cat.tasks = Array.isArray(tk.tasks) ? tk.tasks : [];
    cat.listsError = null;
  } catch (err) {
    cat.listsError = err;
    cat.domains = cat.domains || [];
    cat.tasks = cat.tasks || [];
  }
  draw();
}

async function loadCatalogue(ctx, draw) {
  const seq = ++cat.seq;
  cat.status = 'loading';
  cat.error = null;
  draw();
  try {
    const data = await sel.list({
      ...filterQuery(cat.filters), page: cat.page, page_size: PAGE_SIZE,
      sort_by: cat.sortBy, sort_order: cat.sortOrder,
    });
    if (seq !== cat.seq) return;
    cat.data = {
      datasets: Array.isArray(data.datasets) ? data.datasets : [],
      total: Number(data.total_count) || 0,
      page: Number(data.page) || cat.page,
      pages: Number(data.total_pages) || 0,
    };
    cat.status = 'ready';
  } catch (err) {
    if (seq !== cat.seq) return;
    if (ctx.unauthorized(err)) return;
    cat.status = 'error';
    cat.error = err;
  }
  draw();
}

function datasetCard(d) {
  const title = d.display_name || d.name;
  return el('li', { class: 'ds-card card', 'data-name': d.name },
    el('h3', { class: 'ds-card-title' }, el('a', { href: `#/datasets/${d.id}`, text: title })),
    d.name && d.name !== title ? el('p', { class: 'ds-id', text: d.name }) : null,
    d.objective ? el('p', { class: 'ds-objective muted', text: d.objective }) : null,
    el('div', { class: 'ds-chips' }, chipList(d.domain), chipList(d.task, 'chips chips-task')),
    el('dl', { class: 'ds-facts' },
      el('div', {}, el('dt', { text: t('catalogue.col.instances') }), el('dd', { text: fmtNum(d.instances_number) })),
      el('div', {}, el('dt', { text: t('catalogue.col.features') }), el('dd', { text: fmtNum(d.features_number) })),
      el('div', {}, el('dt', { text: t('catalogue.col.year') }), el('dd', { text: d.year ? String(d.year) : t('value.unknown') })),
      el('div', {}, el('dt', { text: t('field.access') }), el('dd', { text: label('access', d.access) }))),
    el('div', { class: 'ds-scores' }, scoreMeter('ethical', d.ethical_score), scoreMeter('technical', d.technical_score)));
}

export function cataloguePage(root, ctx) {
  let form = null;
  function draw() {
    const keepFocus = document.activeElement && document.activeElement.id;
    destroyCharts(root);
    if (!form || form.lang !== document.documentElement.lang || form.lists !== cat.domains) {
      const f = filterForm({ values: cat.filters, domains: cat.domains || [], tasks: cat.tasks || [], idPrefix: 'cat' });
      form = { ...f, lang: document.documentElement.lang, lists: cat.domains };
    }
    const wide = window.matchMedia('(min-width: 900px)').matches;
    const filterPanel = el('form', {
      class: 'card filters', id: 'catalogue-filters', 'aria-labelledby': 'filters-title',
      onsubmit: (e) => {
        e.preventDefault();
        cat.filters = form.read();
        cat.page = 1;
        loadCatalogue(ctx, draw);
      },
    },
    el('details', { open: wide || Object.keys(cat.filters).length > 0, class: 'filters-details' },
      el('summary', {}, el('h2', { id: 'filters-title', text: t('filters.title') })),
      cat.listsError ? el('p', { class: 'notice notice-error', text: `${t('filters.lists_error')} ${errorText(cat.listsError)}` }) : null,
      form.node,
      el('div', { class: 'form-actions' },
        el('button', { type: 'submit', class: 'btn btn-primary', id: 'filters-apply', text: t('filters.apply') }),
        el('button', {
          type: 'button', class: 'btn btn-secondary', id: 'filters-reset', text: t('filters.reset'),
          onclick: () => {
            cat.filters = {};
            cat.page = 1;
            form = null;
            loadCatalogue(ctx, draw);
          },
        }))));

    const sortBy = select(SORT_KEYS.map((k) => [k, t(`catalogue.sort.${k}`)]), cat.sortBy, { id: 'cat-sort-by' });
    const sortOrder = select([['asc', t('catalogue.order.asc')], ['desc', t('catalogue.order.desc')]], cat.sortOrder, { id: 'cat-sort-order' });
    const onSort = () => {
      cat.sortBy = sortBy.value;
      cat.sortOrder = sortOrder.value;
      cat.page = 1;
      loadCatalogue(ctx, draw);
    };
    sortBy.addEventListener('change', onSort);
    sortOrder.addEventListener('change', onSort);

    const active = describeFilters(cat.filters);
    let results;
    let status = '';
    if (cat.status === 'error') {
      results = errorBlock(cat.error, t('catalogue.error.title'), () => loadCatalogue(ctx, draw));
    } else if (!cat.data) {
      results = loadingBlock(t('catalogue.loading'));
    } else if (!cat.data.datasets.length) {
      results = active.length
        ? stateBlock('empty', t('catalogue.none_match.title'), t('catalogue.none_match.body'))
        : stateBlock('empty', t('catalogue.empty.title'), t('catalogue.empty.upload'),
          el('a', { class: 'btn btn-primary', href: '#/datasets/upload', text: t('nav.upload') }));
    } else {
      status = cat.data.total === 1 ? t('catalogue.count.one') : t('catalogue.count', { count: fmtNum(cat.data.total) });
      results = el('ul', { class: 'ds-grid', id: 'catalogue-cards' }, cat.data.datasets.map(datasetCard));
    }
    const pages = cat.data ? Math.max(1, cat.data.pages) : 1;
    const pager = cat.data && cat.data.datasets.length ? el('nav', { class: 'pager', 'aria-label': t('catalogue.pager') },
      el('button', {
        type: 'button', class: 'btn btn-secondary', id: 'cat-prev', text: t('catalogue.prev'),
        'aria-disabled': String(cat.page <= 1),
        onclick: () => { if (cat.page > 1 && cat.status !== 'loading') { cat.page -= 1; loadCatalogue(ctx, draw); } },
      }),
      el('span', { class: 'page-info', id: 'cat-page-info', text: t('catalogue.page', { page: cat.data.page, pages }) }),
      el('button', {
        type: 'button', class: 'btn btn-secondary', id: 'cat-next', text: t('catalogue.next'),
        'aria-disabled': String(cat.page >= pages),
        onclick: () => { if (cat.page < pages && cat.status !== 'loading') { cat.page += 1; loadCatalogue(ctx, draw); } },
      })) : null;

    root.replaceChildren(el('section', { class: 'page page-catalogue', 'aria-labelledby': 'page-title' },
      el('div', { class: 'page-head' },
        el('div', {}, el('h1', { id: 'page-title', tabindex: '-1', text: t('catalogue.title') }),
          el('p', { class: 'muted', text: t('catalogue.intro') })),
        el('a', { class: 'btn btn-primary', href: '#/datasets/upload', id: 'go-upload', text: t('nav.upload') })),
      el('div', { class: 'catalogue-layout' },
        filterPanel,
        el('div', { class: 'catalogue-results', 'aria-busy': String(cat.status === 'loading') },
          el('div', { class: 'results-bar' },
            el('p', { id: 'cat-status', role: 'status', 'aria-live': 'polite', class: 'catalogue-status', text: cat.status === 'loading' && cat.data ? t('catalogue.loading') : status }),
            el('div', { class: 'catalogue-controls' },
              el('div', { class: 'field-inline' }, el('label', { for: 'cat-sort-by', text: t('catalogue.sort') }), sortBy),
              el('div', { class: 'field-inline' }, el('label', { for: 'cat-sort-order', text: t('catalogue.order') }), sortOrder))),
          active.length ? el('ul', { class: 'chips active-filters', 'aria-label': t('filters.active') },
            active.map((w) => el('li', { class: 'chip chip-filter', text: w }))) : null,
          el('div', { class: cat.status === 'loading' && cat.data ? 'is-loading' : '' }, results),
          pager))));
    if (keepFocus && document.getElementById(keepFocus)) document.getElementById(keepFocus).focus();
  }
  if (!cat.domains) loadLists(draw);
  loadCatalogue(ctx, draw);
  focusSoon(document.getElementById('page-title'));
  return { draw };
}

// ------------------------------------------------------------------ dataset page

// A download through fetch (the API wants the bearer token), saved under the given name.
async function download(url, filename, onError) {
  try {
    const headers = {};
    const token = session.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(url, { headers, credentials: 'same-origin' });
    if (!res.ok) {
      let body = {};
      try { body = await res.json(); } catch { body = {}; }
      throw new ApiError({ status: res.status, code: body.error || `http_${res.status}`, message: body.message || '', requestId: body.request_id });
    }
    const blob = await res.blob();
    const href = URL.createObjectURL(blob);
    const a = el('a', { href, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10000);
  } catch (err) {
    onError(err instanceof ApiError ? err : new ApiError({ status: 0, code: 'network', message: '' }));
  }
}

function section(id, title, ...children) {
  return el('section', { class: 'card ds-section', id, 'aria-labelledby': `${id}-title` },
    el('h2', { id: `${id}-title`, text: title }), ...children);
}

function async(part, titleKey, drawBody, reload) {
  if (!part || part.status === 'loading') return loadingBlock(t('app.loading'));
  if (part.status === 'error') {
    if (part.error instanceof ApiError && part.error.status === 404 && part.emptyKey) {
      return stateBlock('empty', t(part.emptyKey), '');
    }
    return errorBlock(part.error, t(titleKey), reload);
  }
  return drawBody(part.data);
}

const META_FIELDS = ['name', 'year', 'access', 'availability', 'license', 'sources', 'num_citations',
  'citation_link', 'storage_uri', 'instances_number', 'features_number', 'features_description',
  'target_column', 'representativity_level', 'representativity_description', 'sample_balance_level',
  'sample_balance_description', 'split', 'has_missing_values', 'global_missing_percentage',
  'missing_values_handling_method', 'temporal_factors', 'metadata_provided_with_dataset',
  'external_documentation_available', 'documentation_link', 'created_at', 'updated_at'];

function metaValue(k, v) {
  if (v === null || v === undefined || v === '') return el('span', { class: 'muted', text: t('value.unknown') });
  if (typeof v === 'boolean') return t(v ? 'flag.yes' : 'flag.no');
  if (k === 'access') return label('access', v);
  if (k === 'availability') return label('availability', v);
  if (k === 'created_at' || k === 'updated_at') return formatDate(v);
  if (k === 'year') return String(v);
  if (/_level$/.test(k)) return label('level', v);
  if (k === 'global_missing_percentage') return `${fmtNum(v, 2)} %`;
  if (typeof v === 'number') return fmtNum(v);
  if (/_link$|_uri$/.test(k) && /^https?:\/\//.test(v)) {
    return el('a', { href: v, rel: 'noopener noreferrer', target: '_blank', text: v });
  }
  return String(v);
}

function overview(d) {
  return section('ds-overview', t('ds.overview'),
    el('div', { class: 'ds-scores ds-scores-wide' },
      scoreMeter('ethical', d.ethical_score), scoreMeter('technical', d.technical_score),
      scoreMeter('popularity', d.popularity_score)),
    el('p', { class: 'muted small', text: t('ds.scores_from_api') }),
    el('div', { class: 'ds-chips' }, el('span', { class: 'chip-label', text: t('filters.domain') }), chipList(d.domain),
      el('span', { class: 'chip-label', text: t('filters.task') }), chipList(d.task, 'chips chips-task')),
    el('dl', { class: 'meta-list' }, META_FIELDS.map((k) => el('div', {},
      el('dt', { text: t(`field.${k}`) }), el('dd', {}, metaValue(k, d[k]))))));
}

function checklist(d) {
  return section('ds-ethics', t('ds.ethics'),
    el('p', { class: 'muted', text: t('ds.ethics.intro') }),
    el('ul', { class: 'ethics-list', id: 'ethics-list' }, ETHICAL_FLAGS.map((f) => {
      const s = yesNoUnknown(d[f]);
      return el('li', { class: `ethic ${s.cls}`, 'data-flag': f },
        el('span', { class: 'ethic-mark', 'aria-hidden': 'true' }),
        el('span', { class: 'ethic-name', text: t(`ethical.${f}`) }),
        el('span', { class: 'ethic-value', text: s.text }));
    })));
}

function filesSection(d, onDownload) {
  const files = Array.isArray(d.files) ? d.files : [];
  if (!files.length) return section('ds-files', t('ds.files'), stateBlock('empty', t('ds.files.none'), t('ds.files.none.body')));
  return section('ds-files', t('ds.files'), files.map((f) => {
    const cols = Array.isArray(f.columns) ? f.columns : [];
    return el('div', { class: 'file-block' },
      el('div', { class: 'file-head' },
        el('h3', { text: f.original_filename || f.filename || f.name || f.id }),
        el('span', { class: 'muted', text: t('ds.file.facts', { rows: fmtNum(f.row_count), cols: fmtNum(f.column_count ?? cols.length), format: (f.format || '').toUpperCase() }) }),
        el('button', {
          type: 'button', class: 'btn btn-secondary btn-small', text: t('ds.download_file'),
          onclick: () => onDownload(sel.fileUrl(d.id, f.id), f.original_filename || f.filename || 'data'),
        })),
      el('div', { class: 'table-wrap' }, el('table', { class: 'data-table columns-table' },
        el('caption', { class: 'visually-hidden', text: t('ds.columns.caption') }),
        el('thead', {}, el('tr', {}, ['name', 'type', 'nullable', 'pii', 'examples'].map((h) => el('th', { scope: 'col', text: t(`ds.col.${h}`) })))),
        el('tbody', {}, cols.map((c) => el('tr', {},
          el('th', { scope: 'row', text: c.name }),
          el('td', { text: label('type', c.data_type_interpreted || c.type) }),
          el('td', { text: c.is_nullable ? t('flag.yes') : t('flag.no') }),
          el('td', {}, c.is_pii ? el('span', { class: 'badge badge-warn', title: c.pii_reason || '', text: t('ds.pii') }) : t('flag.no')),
          el('td', { class: 'examples', text: (Array.isArray(c.example_values) ? c.example_values : []).slice(0, 3).map(String).join(' · ') })))))));
  }));
}

function previewTable(p) {
  const cols = Array.isArray(p.columns) ? p.columns : [];
  const rows = Array.isArray(p.rows) ? p.rows : [];
  const nums = Array.isArray(p.row_numbers) ? p.row_numbers : [];
  if (!rows.length) return stateBlock('empty', t('ds.preview.none'), '');
  return el('div', {},
    el('p', { class: 'muted', id: 'preview-info', text: t('ds.preview.info', { shown: rows.length, total: fmtNum(p.total_rows), file: p.filename || '' }) }),
    el('div', { class: 'table-wrap preview-wrap' }, el('table', { class: 'data-table preview-table', id: 'preview-table' },
      el('caption', { class: 'visually-hidden', text: t('ds.preview') }),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: '#' }), cols.map((c) => el('th', { scope: 'col' }, c.name, el('span', { class: 'col-type', text: label('type', c.type) }))))),
      el('tbody', {}, rows.map((r, i) => el('tr', {},
        el('th', { scope: 'row', class: 'num', text: String((nums[i] ?? i) + 1) }),
        (Array.isArray(r) ? r : cols.map((c) => r[c.name])).map((v) => el('td', {
          class: typeof v === 'number' ? 'num' : v === null ? 'null' : '',
          text: v === null || v === undefined ? t('value.null') : String(v),
        }))))))),
    p.columns_truncated ? el('p', { class: 'muted', text: t('ds.preview.truncated') }) : null);
}

function statNumbers(c) {
  const q = c.quantiles || {};
  const items = [['count', c.count], ['missing', c.missing ?? c.nulls], ['distinct', c.distinct],
    ['min', c.min], ['max', c.max], ['mean', c.mean], ['std', c.std],
    ['p25', q.p25], ['p50', q.p50], ['p75', q.p75]];
  return el('dl', { class: 'stat-list' }, items.filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => el('div', {}, el('dt', { text: t(`stat.${k}`) }),
      el('dd', { text: typeof v === 'number' ? fmtNum(v) : String(v) }))));
}

function columnStats(c) {
  const h = c.histogram;
  let chart = null;
  if (h && Array.isArray(h.counts) && h.counts.length) {
    chart = histogram(c.name, h.edges, h.counts);
  } else if (Array.isArray(c.top_values) && c.top_values.length) {
    const top = c.top_values.slice(0, 10);
    chart = bars(t('stat.top_values', { name: c.name }), top.map((x) => String(x.value)), top.map((x) => x.count), { horizontal: true });
  }
  return el('article', { class: 'stat-card', 'data-column': c.name },
    el('h3', {}, c.name, ' ', el('span', { class: 'col-type', text: label('type', c.type) }),
      c.is_pii ? el('span', { class: 'badge badge-warn', text: t('ds.pii') }) : null),
    statNumbers(c),
    c.distinct_exact === false && c.distinct_error ? el('p', { class: 'muted small', text: t('stat.distinct_estimate', { error: fmtNum(c.distinct_error * 100, 1) }) }) : null,
    chart);
}

function statsBody(s) {
  const files = Array.isArray(s.files) ? s.files : [];
  if (!files.length) return stateBlock('empty', t('ds.stats.none'), t('ds.files.none.body'));
  return el('div', {}, files.map((f) => {
    const cols = Array.isArray(f.columns) ? f.columns : [];
    const corr = f.correlations;
    let heat = null;
    if (corr && Array.isArray(corr.columns) && Array.isArray(corr.matrix) && corr.columns.length > 1) {
      heat = el('div', { class: 'corr-block' }, el('h3', { text: t('stat.correlations') }),
        heatmapTable({
          caption: t('stat.correlations.caption'), columns: corr.columns, rowHeader: '', signed: true,
          rows: corr.columns.map((name, i) => ({ label: name, values: corr.matrix[i] || [] })),
        }));
    }
    return el('div', { class: 'stats-file' },
      files.length > 1 ? el('h3', { text: f.filename || f.id }) : null,
      el('div', { class: 'stat-grid', id: 'stat-grid' }, cols.map(columnStats)), heat);
  }));
}

function qualityBody(q) {
  const score = q.data_quality_score;
  const miss = (q.missing_data_analysis && q.missing_data_analysis.columns_with_missing) || {};
  const sev = (q.missing_data_analysis && q.missing_data_analysis.severity_assessment) || {};
  const iqr = (q.outliers_analysis && q.outliers_analysis.iqr_method) || {};
  const z = (q.outliers_analysis && q.outliers_analysis.zscore_method) || {};
  const missRows = Object.entries(miss);
  const outRows = Object.entries(iqr);
  const recs = (q.preprocessing_recommendations && q.preprocessing_recommendations.priority_actions) || [];
  return el('div', {},
    el('div', { class: 'quality-head' },
      el('div', { class: `quality-score band-${typeof score === 'number' ? (score < 30 ? 'red' : score < 60 ? 'orange' : score < 85 ? 'green' : 'blue') : 'none'}`, id: 'quality-score' },
        el('span', { class: 'quality-number', text: typeof score === 'number' ? String(score) : t('value.unknown') }),
        el('span', { class: 'quality-of', text: '/ 100' })),
      el('div', {},
        el('p', { class: 'quality-title', text: t('quality.score') }),
        sev.level ? el('p', { text: t('quality.severity', { level: label('severity', sev.level) }) }) : null,
        Array.isArray(sev.main_issues) && sev.main_issues.length ? el('ul', {}, sev.main_issues.map((i) => el('li', { text: String(i) }))) : null)),
    el('h3', { text: t('quality.missing') }),
    missRows.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'data-table', id: 'quality-missing' },
      el('thead', {}, el('tr', {}, ['column', 'missing', 'severity', 'strategy'].map((h) => el('th', { scope: 'col', text: t(`quality.col.${h}`) })))),
      el('tbody', {}, missRows.map(([name, m]) => el('tr', {},
        el('th', { scope: 'row', text: name }),
        el('td', { class: 'num', text: `${fmtNum(m.missing_count)} (${fmtNum(m.missing_percentage, 2)} %)` }),
        el('td', {}, el('span', { class: `badge sev-${m.severity}`, text: label('severity', m.severity) })),
        el('td', {}, label('strategy', m.recommended_strategy && m.recommended_strategy.primary_strategy),
          m.recommended_strategy && m.recommended_strategy.explanation ? el('p', { class: 'muted small', text: m.recommended_strategy.explanation }) : null)))))) : el('p', { class: 'muted', text: t('quality.no_missing') }),
    el('h3', { text: t('quality.outliers') }),
    outRows.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'data-table', id: 'quality-outliers' },
      el('thead', {}, el('tr', {}, ['column', 'iqr', 'bounds', 'zscore'].map((h) => el('th', { scope: 'col', text: t(`quality.col.${h}`) })))),
      el('tbody', {}, outRows.map(([name, o]) => el('tr', {},
        el('th', { scope: 'row', text: name }),
        el('td', { class: 'num', text: `${fmtNum(o.outliers_count)} (${fmtNum(o.outliers_percentage, 2)} %)` }),
        el('td', { class: 'num', text: `${fmtNum(o.lower_bound)} – ${fmtNum(o.upper_bound)}` }),
        el('td', { class: 'num', text: z[name] ? `${fmtNum(z[name].outliers_count)} (${fmtNum(z[name].outliers_percentage, 2)} %)` : t('value.unknown') })))))) : el('p', { class: 'muted', text: t('quality.no_outliers') }),
    recs.length ? el('div', {}, el('h3', { text: t('quality.actions') }),
      el('ul', { class: 'actions-list' }, recs.map((r) => el('li', {}, el('span', { class: `badge sev-${r.priority}`, text: label('priority', r.priority) }), ' ', r.description || r.action)))) : null);
}

function similarBody(s) {
  const list = Array.isArray(s.similar_datasets) ? s.similar_datasets : [];
  if (!list.length) return stateBlock('empty', t('ds.similar.none'), '');
  return el('ul', { class: 'similar-list', id: 'similar-list' }, list.map((x) => el('li', {},
    el('a', { href: `#/datasets/${x.id}`, text: x.display_name || x.name }),
    x.similarity_explanation ? el('span', { class: 'muted', text: ` — ${x.similarity_explanation}` }) : null)));
}

function completionBody(c) {
  const p = typeof c.overall_completion === 'number' ? c.overall_completion : null;
  const group = (key, list, fmt) => (Array.isArray(list) && list.length ? el('div', {},
    el('h3', { text: t(`completion.${key}`) }),
    el('ul', {}, list.map((x) => el('li', {}, el('strong', { text: t(`field.${x.field}`) === `field.${x.field}` ? x.field : t(`field.${x.field}`) }), ' ', fmt(x))))) : null);
  return el('div', {},
    el('p', { id: 'completion-score' }, t('completion.overall', { pct: p === null ? '—' : fmtNum(p, 0) })),
    p === null ? null : el('progress', { max: '100', value: String(p), 'aria-label': t('completion.overall', { pct: fmtNum(p, 0) }) }),
    group('missing', c.missing_fields, (x) => x.description || ''),
    group('defaults', c.default_values, (x) => x.reason || ''),
    group('review', c.needs_review, (x) => x.reason || x.description || ''));
}

const EDIT_TEXT = ['display_name', 'objective', 'license', 'sources', 'citation_link', 'documentation_link', 'target_column'];

function editForm(d, onSave, onCancel) {
  const inputs = {};
  const text = EDIT_TEXT.map((k) => {
    const input = k === 'objective' || k === 'sources'
      ? el('textarea', { name: k, id: `edit-${k}`, rows: '3', maxlength: '4000' })
      : el('input', { type: 'text', name: k, id: `edit-${k}`, maxlength: '500' });
    input.value = d[k] ?? '';
    inputs[k] = input;
    return field(t(`field.${k}`), input);
  });
  const year = el('input', { type: 'number', name: 'year', min: '1800', max: '2200', value: d.year ?? '' });
  const access = select([['', t('value.unknown')], ...ACCESS.map((a) => [a, t(`access.${a}`)])], d.access || '', { name: 'access' });
  const avail = select([['', t('value.unknown')], ...AVAILABILITY.map((a) => [a, t(`availability.${a}`)])], d.availability || '', { name: 'availability' });
  const flags = ETHICAL_FLAGS.map((f) => {
    const cur = d[f] === true ? 'true' : d[f] === false ? 'false' : '';
    return field(t(`ethical.${f}`), select([['', t('flag.unknown')], ['true', t('flag.yes')], ['false', t('flag.no')]], cur, { name: f }));
  });
  const msg = el('div', { class: 'notice notice-error', role: 'alert' });
  const form = el('form', {
    class: 'form edit-form', id: 'ds-edit-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const body = {};
      for (const k of EDIT_TEXT) {
        const v = inputs[k].value.trim();
        const old = d[k] ?? '';
        if (v !== old) body[k] = v === '' && k !== 'display_name' ? null : v;
      }
      const y = year.value.trim() === '' ? null : Number(year.value);
      if (y !== (d.year ?? null)) body.year = y;
      if ((access.value || null) !== (d.access ?? null)) body.access = access.value || null;
      if ((avail.value || null) !== (d.availability ?? null)) body.availability = avail.value || null;
      for (const f of ETHICAL_FLAGS) {
        const v = form.querySelector(`select[name="${f}"]`).value;
        const nv = v === '' ? null : v === 'true';
        if (nv !== (d[f] ?? null)) body[f] = nv;
      }
      if (!Object.keys(body).length) { onCancel(); return; }
      msg.textContent = '';
      try {
        await onSave(body);
      } catch (err) {
        msg.textContent = errorText(err);
      }
    },
  },
  text, el('div', { class: 'two-cols' }, field(t('field.year'), year), field(t('field.access'), access)),
  field(t('field.availability'), avail),
  el('fieldset', { class: 'flag-grid' }, el('legend', { text: t('ds.ethics') }), flags),
  msg,
  el('div', { class: 'form-actions' },
    el('button', { type: 'submit', class: 'btn btn-primary', text: t('action.save') }),
    el('button', { type: 'button', class: 'btn btn-secondary', text: t('action.cancel'), onclick: onCancel })));
  return form;
}

export function datasetPage(root, ctx, id) {
  const st = {
    d: null, error: null, editing: false, confirmDelete: false, actionError: null,
    preview: null, stats: null, quality: null, similar: null, completion: null,
    rows: 10, sample: 'head',
  };
  let gone = false;
  const part = async (key, fn, emptyKey) => {
    st[key] = { status: 'loading', emptyKey };
    draw();
    try {
      st[key] = { status: 'ready', data: await fn() };
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st[key] = { status: 'error', error: err, emptyKey };
    }
    if (!gone) draw();
  };
  const loadPreview = () => part('preview', () => sel.preview(id, st.rows, st.sample, st.sample === 'random' ? 42 : undefined), 'ds.preview.none');
  const loadAll = async () => {
    st.error = null;
    st.d = null;
    draw();
    try {
      st.d = await sel.get(id);
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.error = err;
      draw();
      return;
    }
    draw();
    const hasFiles = Array.isArray(st.d.files) && st.d.files.length > 0;
    part('similar', () => sel.similar(id));
    part('completion', () => sel.completion(id));
    if (hasFiles) {
      loadPreview();
      part('stats', () => sel.stats(id));
      part('quality', () => sel.quality(id), 'ds.quality.none');
    }
  };
  // The edit form survives redraws (a late statistics answer must not wipe what is typed).
  let edit = null;
  const stopEditing = () => {
    st.editing = false;
    edit = null;
    draw();
  };
  const editNode = (d) => {
    if (!edit || edit.lang !== document.documentElement.lang) {
      edit = {
        lang: document.documentElement.lang,
        node: editForm(d, async (body) => {
          const updated = await sel.patch(id, body);
          st.d = { ...d, ...updated };
          stopEditing();
          focusSoon(document.getElementById('page-title'));
        }, stopEditing),
      };
    }
    return edit.node;
  };
  const onDownload = (url, name) => download(url, name, (err) => {
    st.actionError = err;
    draw();
  });

  function draw() {
    const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : '';
    drawPage();
    const again = focused && document.getElementById(focused);
    if (again) again.focus();
  }

  function drawPage() {
    destroyCharts(root);
    if (st.error) {
      const nf = st.error instanceof ApiError && st.error.status === 404;
      root.replaceChildren(el('section', { class: 'page' },
        el('h1', { id: 'page-title', tabindex: '-1', text: nf ? t('ds.not_found') : t('ds.error') }),
        nf ? stateBlock('empty', t('ds.not_found'), t('ds.not_found.body'), el('a', { class: 'btn btn-primary', href: '#/datasets', text: t('nav.datasets') }))
          : errorBlock(st.error, t('ds.error'), loadAll)));
      return;
    }
    if (!st.d) {
      root.replaceChildren(loadingBlock(t('app.loading')));
      return;
    }
    const d = st.d;
    const hasFiles = Array.isArray(d.files) && d.files.length > 0;
    const owner = d.can_edit === true;
    const rowsSel = select([10, 25, 50, 100].map((n) => [String(n), String(n)]), String(st.rows), { id: 'preview-rows' });
    const sampleSel = select([['head', t('ds.preview.head')], ['random', t('ds.preview.random')]], st.sample, { id: 'preview-sample' });
    const onPreviewChange = () => {
      st.rows = Number(rowsSel.value);
      st.sample = sampleSel.value;
      loadPreview();
    };
    rowsSel.addEventListener('change', onPreviewChange);
    sampleSel.addEventListener('change', onPreviewChange);

    const actions = el('div', { class: 'ds-actions' },
      hasFiles ? el('a', { class: 'btn btn-primary', href: `#/train/${encodeURIComponent(id)}`, id: 'ds-train', text: t('nav.train') }) : null,
      el('button', { type: 'button', class: 'btn btn-secondary', id: 'ds-croissant', text: t('ds.croissant'), onclick: () => onDownload(sel.croissantUrl(id), `${d.name || 'dataset'}.croissant.json`) }),
      owner ? el('button', {
        type: 'button', class: 'btn btn-secondary', id: 'ds-edit', text: t('action.edit'),
        onclick: () => { st.editing = true; draw(); focusSoon(document.getElementById('edit-display_name')); },
      }) : null,
      owner ? el('button', { type: 'button', class: 'btn btn-danger', id: 'ds-delete', text: t('action.delete'), onclick: () => { st.confirmDelete = true; draw(); } }) : null);

    const confirm = st.confirmDelete ? el('div', { class: 'notice notice-error confirm', role: 'alertdialog', 'aria-labelledby': 'confirm-text' },
      el('p', { id: 'confirm-text', text: t('ds.delete.confirm', { name: d.display_name || d.name }) }),
      el('div', { class: 'form-actions' },
        el('button', {
          type: 'button', class: 'btn btn-danger', id: 'ds-delete-yes', text: t('action.delete'),
          onclick: async () => {
            try {
              await sel.remove(id);
              ctx.go('#/datasets');
            } catch (err) {
              if (ctx.unauthorized(err)) return;
              st.actionError = err;
              st.confirmDelete = false;
              draw();
            }
          },
        }),
        el('button', { type: 'button', class: 'btn btn-secondary', text: t('action.cancel'), onclick: () => { st.confirmDelete = false; draw(); } }))) : null;

    const nav = el('nav', { class: 'ds-nav', 'aria-label': t('ds.sections') }, el('ul', {},
      [['ds-overview', 'ds.overview'], ['ds-ethics', 'ds.ethics'], ['ds-files', 'ds.files'], ['ds-preview', 'ds.preview'],
        ['ds-stats', 'ds.stats'], ['ds-quality', 'ds.quality'], ['ds-completion', 'ds.completion'], ['ds-similar', 'ds.similar']]
        .filter(([s]) => hasFiles || !['ds-preview', 'ds-stats', 'ds-quality'].includes(s))
        .map(([s, k]) => el('li', {}, el('a', {
          href: `#/datasets/${id}`, text: t(k),
          onclick: (e) => { e.preventDefault(); const n = document.getElementById(s); if (n) { n.scrollIntoView(); n.querySelector('h2').focus?.(); } },
        })))));

    root.replaceChildren(el('section', { class: 'page page-dataset', 'aria-labelledby': 'page-title' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/datasets', text: t('nav.datasets') })),
      el('div', { class: 'page-head' },
        el('div', {}, el('h1', { id: 'page-title', tabindex: '-1', text: d.display_name || d.name }),
          d.objective ? el('p', { class: 'muted', text: d.objective }) : null),
        actions),
      st.actionError ? el('div', { class: 'notice notice-error', role: 'alert', text: errorText(st.actionError) }) : null,
      confirm,
      st.editing ? section('ds-edit-section', t('ds.edit'), editNode(d)) : null,
      nav,
      overview(d),
      checklist(d),
      filesSection(d, onDownload),
      hasFiles ? section('ds-preview', t('ds.preview'),
        el('div', { class: 'preview-controls' },
          el('div', { class: 'field-inline' }, el('label', { for: 'preview-rows', text: t('ds.preview.rows') }), rowsSel),
          el('div', { class: 'field-inline' }, el('label', { for: 'preview-sample', text: t('ds.preview.sample') }), sampleSel)),
        async(st.preview, 'ds.preview.error', previewTable, loadPreview)) : null,
      hasFiles ? section('ds-stats', t('ds.stats'), async(st.stats, 'ds.stats.error', statsBody, () => part('stats', () => sel.stats(id)))) : null,
      hasFiles ? section('ds-quality', t('ds.quality'), async(st.quality, 'ds.quality.error', qualityBody, () => part('quality', () => sel.quality(id), 'ds.quality.none'))) : null,
      section('ds-completion', t('ds.completion'), async(st.completion, 'ds.completion.error', completionBody, () => part('completion', () => sel.completion(id)))),
      section('ds-similar', t('ds.similar'), async(st.similar, 'ds.similar.error', similarBody, () => part('similar', () => sel.similar(id))))));
  }
  loadAll().then(() => focusSoon(document.getElementById('page-title')));
  return { draw, leave: () => { gone = true; } };
}
