// filters: the catalogue filter form (every filter of GET /api/v1/datasets), shared by the
// catalogue and by a project's criteria. read() gives the filters as the API names them.
import { el, uid, field, checkbox, select, label } from './ui.js';
import { t } from './i18n.js';

export const ETHICAL_FLAGS = ['informed_consent', 'transparency', 'user_control',
  'equity_non_discrimination', 'security_measures_in_place', 'data_quality_documented',
  'anonymization_applied', 'record_keeping_policy_exists', 'purpose_limitation_respected',
  'accountability_defined'];
export const BOOL_FILTERS = ['split', 'metadata_provided_with_dataset',
  'external_documentation_available', 'temporal_factors', 'is_anonymized', 'is_public'];
export const RANGES = [['year', 1800, 2200], ['instances', 0, null], ['features', 0, null],
  ['citations', 0, null]];
export const ACCESS = ['public', 'private', 'restricted', 'academic'];
export const AVAILABILITY = ['online', 'offline', 'on_request', 'archived'];

function numberInput(name, value, min, max) {
  return el('input', {
    type: 'number', inputmode: 'numeric', name, min: min ?? undefined, max: max ?? undefined,
    step: '1', value: value ?? '',
  });
}

function listGroup(legend, name, options, chosen) {
  const set = new Set(chosen || []);
  const all = [...new Set([...options, ...set])];
  return el('fieldset', { class: 'check-group', 'data-list': name },
    el('legend', { text: legend }),
    all.length ? all.map((v) => checkbox(label('domain', v),
      el('input', { name, value: v, checked: set.has(v) })))
      : el('p', { class: 'muted', text: t('filters.none_yet') }));
}

/**
 * filterForm({values, domains, tasks, idPrefix}) → {node, read()}.
 * values: the current filters (API names). Lists come from GET /datasets/domains and /tasks.
 */
export function filterForm({ values = {}, domains = [], tasks = [], idPrefix = 'flt' }) {
  const v = values;
  const q = el('input', { type: 'search', name: 'q', id: `${idPrefix}-q`, value: v.q || '', maxlength: '200' });
  const access = select([['', t('filters.any')], ...ACCESS.map((a) => [a, t(`access.${a}`)])], v.access || '', { name: 'access' });
  const avail = select([['', t('filters.any')], ...AVAILABILITY.map((a) => [a, t(`availability.${a}`)])], v.availability || '', { name: 'availability' });
  const missing = select([['', t('filters.any')], ['true', t('filters.missing.yes')], ['false', t('filters.missing.no')]],
    v.has_missing_values === true ? 'true' : v.has_missing_values === false ? 'false' : '', { name: 'has_missing_values' });
  const ethMin = el('input', {
    type: 'number', name: 'ethical_score_min', min: '0', max: '100', step: '10', value: v.ethical_score_min ?? '',
  });

  const ranges = RANGES.map(([r, min, max]) => el('fieldset', { class: 'range-group' },
    el('legend', { text: t(`filters.range.${r}`) }),
    el('div', { class: 'range-pair' },
      field(t('filters.min'), numberInput(`${r}_min`, v[`${r}_min`], min, max)),
      field(t('filters.max'), numberInput(`${r}_max`, v[`${r}_max`], min, max)))));

  const node = el('div', { class: 'filter-form' },
    field(t('filters.q'), q, t('filters.q.hint')),
    listGroup(t('filters.domain'), 'domain', domains, v.domain),
    listGroup(t('filters.task'), 'task', tasks, v.task),
    el('div', { class: 'two-cols' }, field(t('filters.access'), access), field(t('filters.availability'), avail)),
    ranges,
    field(t('filters.ethical_score_min'), ethMin, t('filters.ethical_score_min.hint')),
    field(t('filters.has_missing_values'), missing),
    el('fieldset', { class: 'check-group' }, el('legend', { text: t('filters.features') }),
      BOOL_FILTERS.map((b) => checkbox(t(`filters.bool.${b}`), el('input', { name: b, checked: v[b] === true })))),
    el('details', { class: 'ethical-filters', open: ETHICAL_FLAGS.some((f) => v[f] === true) },
      el('summary', { text: t('filters.ethical') }),
      el('fieldset', { class: 'check-group' }, el('legend', { class: 'visually-hidden', text: t('filters.ethical') }),
        ETHICAL_FLAGS.map((f) => checkbox(t(`ethical.${f}`), el('input', { name: f, checked: v[f] === true }))))));

  function read() {
    const out = {};
    const text = q.value.trim();
    if (text) out.q = text;
    for (const g of node.querySelectorAll('[data-list]')) {
      const chosen = [...g.querySelectorAll('input:checked')].map((i) => i.value);
      if (chosen.length) out[g.dataset.list] = chosen;
    }
    if (access.value) out.access = access.value;
    if (avail.value) out.availability = avail.value;
    for (const input of node.querySelectorAll('input[type="number"]')) {
      if (input.value.trim() !== '' && Number.isFinite(Number(input.value))) out[input.name] = Number(input.value);
    }
    if (missing.value) out.has_missing_values = missing.value === 'true';
    for (const b of [...BOOL_FILTERS, ...ETHICAL_FLAGS]) {
      const box = node.querySelector(`input[name="${b}"]`);
      if (box && box.checked) out[b] = true;
    }
    return out;
  }
  return { node, read, focusSearch: () => q.focus(), uid: uid('ff') };
}

// The active filters as short words, for chips above the results.
export function describeFilters(f) {
  const words = [];
  for (const [k, v] of Object.entries(f)) {
    if (k === 'q') words.push(`“${v}”`);
    else if (Array.isArray(v)) words.push(`${t(`filters.${k}`)}: ${v.join(', ')}`);
    else if (k === 'access' || k === 'availability') words.push(t(`${k}.${v}`));
    else if (k === 'has_missing_values') words.push(t(v ? 'filters.missing.yes' : 'filters.missing.no'));
    else if (k === 'ethical_score_min') words.push(`${t('filters.ethical_score_min')} ≥ ${v}`);
    else if (/_min$|_max$/.test(k)) {
      const r = k.replace(/_(min|max)$/, '');
      words.push(`${t(`filters.range.${r}`)} ${k.endsWith('_min') ? '≥' : '≤'} ${v}`);
    } else if (v === true) words.push(ETHICAL_FLAGS.includes(k) ? t(`ethical.${k}`) : t(`filters.bool.${k}`));
  }
  return words;
}
