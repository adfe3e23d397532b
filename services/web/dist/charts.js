// charts: the UI's charts. Histograms and bar charts are drawn by Chart.js (vendored in
// /vendor, loaded by index.html as window.Chart); heatmaps are tables of coloured cells, so
// they stay readable by screen readers and at any width. Every chart carries a text summary.
import { el, fmtNum, band } from './ui.js';
import { t } from './i18n.js';

const live = new Set();

function chartLib() {
  return typeof window !== 'undefined' && window.Chart ? window.Chart : null;
}

// Charts drawn inside a node that is being replaced must be destroyed, or they keep
// listening to resizes: call before re-rendering scope (all charts when no scope). Charts
// no longer in the document go too; those of another screen stay.
export function destroyCharts(scope) {
  for (const c of [...live]) {
    const canvas = c.canvas;
    if (!scope || !canvas || !canvas.isConnected || scope.contains(canvas)) {
      c.destroy();
      live.delete(c);
    }
  }
}

// Charts made by other modules (training results) are destroyed with the others.
export function keepChart(chart) {
  live.add(chart);
  return chart;
}

export function chartLibrary() {
  return chartLib();
}

const ACCENT = '#1f4e79';

function baseOptions(xTitle, yTitle) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { display: false }, tooltip: { enabled: true } },
    scales: {
      x: { title: { display: Boolean(xTitle), text: xTitle }, ticks: { maxRotation: 45, autoSkip: true } },
      y: { beginAtZero: true, title: { display: Boolean(yTitle), text: yTitle } },
    },
  };
}

function canvasBox(summary, cls) {
  const canvas = el('canvas', { role: 'img', 'aria-label': summary });
  const box = el('div', { class: `chart-box ${cls || ''}` }, canvas);
  return { box, canvas };
}

/**
 * A histogram from bin edges (n+1) and counts (n). Returns a figure with the chart and a
 * visually hidden summary; falls back to a small table when Chart.js is missing.
 */
export function histogram(name, edges, counts) {
  const n = Array.isArray(counts) ? counts.length : 0;
  const labels = [];
  for (let i = 0; i < n; i++) {
    const lo = edges && edges[i];
    const hi = edges && edges[i + 1];
    labels.push(typeof lo === 'number' && typeof hi === 'number' ? `${fmtNum(lo)}–${fmtNum(hi)}` : String(i + 1));
  }
  const summary = t('chart.histogram.summary', { name, bins: n });
  const Chart = chartLib();
  if (!Chart || !n) return fallbackTable(summary, labels, counts);
  const { box, canvas } = canvasBox(summary, 'chart-hist');
  const chart = new Chart(canvas, {
    type: 'bar',
    data: { labels, datasets: [{ label: t('chart.count'), data: counts, backgroundColor: ACCENT, barPercentage: 1, categoryPercentage: 1 }] },
    options: baseOptions('', t('chart.count')),
  });
  live.add(chart);
  return el('figure', { class: 'chart histogram', 'data-bins': String(n) }, box,
    el('figcaption', { class: 'visually-hidden', text: summary }));
}

// A bar chart of labelled values (top values of a category, ranked scores in %).
export function bars(title, labels, values, { horizontal = false, max } = {}) {
  const summary = t('chart.bars.summary', { title, count: labels.length });
  const Chart = chartLib();
  if (!Chart || !labels.length) return fallbackTable(summary, labels, values);
  const { box, canvas } = canvasBox(summary, horizontal ? 'chart-hbar' : 'chart-bar');
  if (horizontal) box.classList.add(`rows-${Math.min(labels.length, 12)}`);
  const options = baseOptions('', '');
  if (horizontal) {
    options.indexAxis = 'y';
    options.scales = { x: { beginAtZero: true, max }, y: { ticks: { autoSkip: false } } };
  } else if (max !== undefined) {
    options.scales.y.max = max;
  }
  const chart = new Chart(canvas, {
    type: 'bar',
    data: { labels, datasets: [{ label: title, data: values, backgroundColor: ACCENT }] },
    options,
  });
  live.add(chart);
  return el('figure', { class: 'chart bars' }, box, el('figcaption', { class: 'visually-hidden', text: summary }));
}

function fallbackTable(summary, labels, values) {
  return el('table', { class: 'mini-table' },
    el('caption', { class: 'visually-hidden', text: summary }),
    el('tbody', {}, labels.map((l, i) => el('tr', {}, el('th', { scope: 'row', text: l }),
      el('td', { class: 'num', text: fmtNum(values[i]) })))));
}

/**
 * A heatmap as a table: rows × columns of 0..1 values, each cell coloured by its IBIS-X band
 * (0–30 red, 30–60 orange, 60–85 green, 85–100 blue) and printing its percentage.
 * rows: [{label, href?, values: [0..1|null]}]; columns: [label].
 */
export function heatmapTable({ caption, columns, rows, rowHeader, signed = false }) {
  const head = el('tr', {}, el('th', { scope: 'col', text: rowHeader || '' }),
    columns.map((c) => el('th', { scope: 'col', class: 'hm-col', text: c })));
  const body = rows.map((r) => el('tr', {},
    el('th', { scope: 'row', class: 'hm-row' }, r.href ? el('a', { href: r.href, text: r.label }) : r.label),
    r.values.map((v) => heatCell(v, signed))));
  return el('div', { class: 'table-wrap heatmap-wrap' },
    el('table', { class: signed ? 'heatmap heatmap-signed' : 'heatmap' },
      el('caption', { text: caption }),
      el('thead', {}, head), el('tbody', {}, body)));
}

function heatCell(v, signed) {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    return el('td', { class: 'hm-cell hm-none', text: t('value.unknown') });
  }
  if (signed) { // correlations, −1..1: colour by strength, sign printed
    const strength = Math.min(1, Math.abs(v));
    const level = strength >= 0.7 ? 'strong' : strength >= 0.3 ? 'medium' : 'weak';
    return el('td', { class: `hm-cell corr-${level} corr-${v < 0 ? 'neg' : 'pos'}`, text: fmtNum(v, 2) });
  }
  const p = Math.round(Math.max(0, Math.min(1, v)) * 100);
  return el('td', { class: `hm-cell band-${band(p)}`, 'data-band': band(p), text: `${p}` });
}

export function heatLegend() {
  return el('ul', { class: 'hm-legend', 'aria-label': t('heatmap.legend') },
    [['red', '0–30'], ['orange', '30–60'], ['green', '60–85'], ['blue', '85–100']].map(([b, range]) =>
      el('li', {}, el('span', { class: `hm-swatch band-${b}`, 'aria-hidden': 'true' }), `${range} · ${t(`band.${b}`)}`)));
}
