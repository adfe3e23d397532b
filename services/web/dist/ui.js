// ui: small DOM and wording helpers shared by the dataset, upload and project screens:
// element building, errors in words with a Retry, loading and empty states, number formats.
import { ApiError } from './api.js';
import { t, has, getLang } from './i18n.js';

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'value') node.value = v;
    else if (k === 'checked' || k === 'selected') node[k] = Boolean(v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// A unique id for label/for pairs of generated forms.
let seq = 0;
export function uid(prefix) {
  seq += 1;
  return `${prefix}-${seq}`;
}

function sentence(s) {
  const trimmed = String(s).trim();
  if (!trimmed) return trimmed;
  const cap = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(cap) ? cap : `${cap}.`;
}

// One sentence for an error, in the current language; the server's own words when we know no
// better (they name the line of a bad file, the parameter of a bad filter, …).
export function errorText(err) {
  if (!(err instanceof ApiError)) return t('error.generic', { status: '—' });
  if (err.unreachable) return `${t('error.unreachable')}. ${t('error.unreachable.detail')}`;
  if (err.status === 429) return t('error.rate_limited');
  const fields = err.fields;
  if (has(`error.${err.code}`)) {
    const extra = err.serverMessage && err.code !== 'not_found' ? ` ${sentence(err.serverMessage)}` : '';
    return `${t(`error.${err.code}`)}${extra}`;
  }
  if (fields.length) return fields.map((f) => `${fieldLabel(f.field)}: ${f.problem}.`).join(' ');
  if (err.serverMessage) return sentence(err.serverMessage);
  return t('error.generic', { status: err.status });
}

export function fieldLabel(field) {
  return has(`field.${field}`) ? t(`field.${field}`) : field;
}

export function stateBlock(kind, title, detail, extra) {
  return el('div', { class: `state state-${kind}` },
    el('div', { class: `state-icon state-icon-${kind}`, 'aria-hidden': 'true' }),
    title ? el('p', { class: 'state-title', text: title }) : null,
    detail ? el('p', { class: 'state-detail muted', text: detail }) : null,
    extra || null);
}

export function loadingBlock(text) {
  return el('div', { class: 'state state-loading', role: 'status' },
    el('div', { class: 'spinner', 'aria-hidden': 'true' }), el('p', { text }));
}

// An error in words with a Retry button (and the request id to quote).
export function errorBlock(err, title, retry) {
  const unreachable = err instanceof ApiError && err.unreachable;
  const head = unreachable ? t('error.unreachable') : title;
  const detail = unreachable ? t('error.unreachable.detail') : errorText(err);
  return el('div', { class: 'state state-error', role: 'alert' },
    el('div', { class: 'state-icon state-icon-error', 'aria-hidden': 'true' }),
    el('p', { class: 'state-title', text: head }),
    el('p', { class: 'state-detail muted', text: detail }),
    el('div', { class: 'state-actions' },
      err && err.requestId ? el('p', { class: 'reference', text: t('error.reference', { id: err.requestId }) }) : null,
      retry ? el('button', { type: 'button', class: 'btn btn-primary retry', text: t('action.retry'), onclick: retry }) : null));
}

export function fmtNum(n, digits) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return t('value.unknown');
  const opts = digits === undefined ? { maximumFractionDigits: Math.abs(n) < 10 ? 3 : 2 }
    : { maximumFractionDigits: digits, minimumFractionDigits: 0 };
  return new Intl.NumberFormat(getLang(), opts).format(n);
}

// A 0..1 score from the API as a whole percentage (the API computes it; we only print it).
export function pct(score) {
  if (typeof score !== 'number' || !Number.isFinite(score)) return t('value.unknown');
  return `${Math.round(score * 100)} %`;
}

// The heatmap colour band of a 0..100 value (IBIS-X docs: 0–30 red, 30–60 orange,
// 60–85 green, 85–100 blue).
export function band(value100) {
  if (value100 < 30) return 'red';
  if (value100 < 60) return 'orange';
  if (value100 < 85) return 'green';
  return 'blue';
}

export function chipList(values, cls = 'chips') {
  const list = Array.isArray(values) ? values.filter((v) => typeof v === 'string' && v) : [];
  if (!list.length) return el('span', { class: 'muted', text: t('value.unknown') });
  return el('ul', { class: cls }, list.map((v) => el('li', { class: 'chip', text: label('domain', v) })));
}

// A known value's words (access.public → "Public"), else the value itself.
export function label(prefix, value) {
  if (value === null || value === undefined || value === '') return t('value.unknown');
  return has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value);
}

export function yesNoUnknown(v) {
  if (v === true) return { cls: 'flag-yes', text: t('flag.yes') };
  if (v === false) return { cls: 'flag-no', text: t('flag.no') };
  return { cls: 'flag-unknown', text: t('flag.unknown') };
}

export function focusSoon(node) {
  if (node) requestAnimationFrame(() => node.focus());
}

export function field(labelText, input, hint) {
  const id = input.id || uid('f');
  input.id = id;
  const hintNode = hint ? el('p', { class: 'field-hint', id: `${id}-hint`, text: hint }) : null;
  if (hintNode) input.setAttribute('aria-describedby', `${id}-hint`);
  return el('div', { class: 'field' }, el('label', { for: id, text: labelText }), input, hintNode);
}

export function checkbox(labelText, input) {
  const id = input.id || uid('c');
  input.id = id;
  input.type = 'checkbox';
  return el('div', { class: 'check' }, input, el('label', { for: id, text: labelText }));
}

export function select(options, value, attrs = {}) {
  return el('select', attrs, options.map(([v, text]) => el('option', { value: v, selected: v === value, text })));
}
