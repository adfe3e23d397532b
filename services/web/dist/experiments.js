// experiments: the caller's training runs. The list (status, algorithm, dataset, accuracy or
// R² once completed, delete, pick several to compare), a run's page (live progress with
// cancel, then its results and the model download), the side-by-side comparison of
// completed runs, and the home screen's recent experiments. The run card with its live
// progress bar is shared with the training wizard (train.js).
import { ml, followRun, downloadFile } from './mlapi.js';
import { sel } from './selapi.js';
import { ApiError } from './api.js';
import {
  el, errorBlock, loadingBlock, stateBlock, errorText, fmtNum, focusSoon, select,
} from './ui.js';
import { destroyCharts, keepChart, chartLibrary } from './charts.js';
import {
  resultsSections, headline, metricName, metricValue, lowerIsBetter, reasonWords, CLS_METRICS, CLS_WEIGHTED, REG_METRICS,
} from './results.js';
import { t, has, formatDate } from './i18n.js';

const PAGE_SIZE = 20;
const POLL_MS = 2500;
export const ACTIVE = new Set(['pending', 'running']);
const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];

export function algName(name) {
  return has(`alg.${name}`) ? t(`alg.${name}`) : String(name || '');
}

export function statusBadge(status) {
  return el('span', { class: `badge status status-${status}`, 'data-status': status, text: has(`status.${status}`) ? t(`status.${status}`) : status });
}

// A run's state in words: its stage while active, else how it ended.
function stageWords(st) {
  if (st.status === 'completed') return t('run.done');
  if (st.status === 'failed') return t('run.failed');
  if (st.status === 'cancelled') return t('run.cancelled');
  if (st.status === 'deleted') return t('run.deleted');
  if (st.stage && has(`stage.${st.stage}`)) return t(`stage.${st.stage}`);
  return has(`status.${st.status}`) ? t(`status.${st.status}`) : (st.stage || '');
}

function stageText(st) {
  if (!ACTIVE.has(st.status)) return stageWords(st);
  return t('run.stage', { stage: stageWords(st), pct: Math.round(Number(st.progress) || 0) });
}

// ------------------------------------------------------------------ shared caches

const datasetNames = new Map(); // id → Promise<name>
const resultsCache = new Map(); // id → results (a completed run's results never change)

export function datasetName(id) {
  if (!id) return Promise.resolve('');
  if (!datasetNames.has(id)) {
    datasetNames.set(id, sel.get(id).then((d) => d.display_name || d.name || id).catch(() => {
      datasetNames.delete(id);
      return null;
    }));
  }
  return datasetNames.get(id);
}

export async function resultsOf(id) {
  if (resultsCache.has(id)) return resultsCache.get(id);
  const r = await ml.results(id);
  resultsCache.set(id, r);
  return r;
}

export function forgetRun(id) {
  resultsCache.delete(id);
}

// ------------------------------------------------------------------ run card

/**
 * A run's live card: progress bar, stage, status, a cancel button while it is active.
 * Returns {node, update(state)}; update changes the card in place, so the polite live
 * region announces only stage and status changes, not every percent.
 */
export function runCard(run, { onCancel, resultsHref, title } = {}) {
  const st = { ...run };
  const bar = el('progress', { class: 'run-progress', id: `progress-${run.id}`, max: '100', value: String(Math.round(Number(st.progress) || 0)), 'aria-labelledby': `run-title-${run.id}` });
  const pct = el('span', { class: 'run-pct', id: `pct-${run.id}` });
  const stage = el('p', { class: 'run-stage', id: `stage-${run.id}` });
  const live = el('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', id: `live-${run.id}` });
  const badgeBox = el('span', { class: 'run-badge' });
  const problem = el('p', { class: 'notice notice-error run-error', role: 'alert', id: `error-${run.id}` });
  const cancel = onCancel ? el('button', {
    type: 'button', class: 'btn btn-secondary btn-small run-cancel', id: `cancel-${run.id}`, text: t('run.cancel'),
    onclick: async () => {
      cancel.setAttribute('aria-disabled', 'true');
      cancel.textContent = t('run.cancelling');
      try {
        await onCancel(st);
      } catch (err) {
        problem.textContent = errorText(err);
        cancel.removeAttribute('aria-disabled');
        cancel.textContent = t('run.cancel');
      }
    },
  }) : null;
  const link = resultsHref ? el('a', { class: 'btn btn-primary btn-small run-results', href: resultsHref, text: t('run.see_results') }) : null;
  const node = el('article', { class: 'card run-card', 'data-run': run.id },
    el('div', { class: 'run-head' },
      el('h3', { id: `run-title-${run.id}`, text: title || algName(run.algorithm) }), badgeBox),
    el('div', { class: 'run-bar' }, bar, pct),
    stage, live, problem,
    el('div', { class: 'form-actions run-actions' }, cancel, link));
  let spoken = '';
  function update(next) {
    Object.assign(st, next);
    const p = st.status === 'completed' ? 100 : Math.max(0, Math.min(100, Math.round(Number(st.progress) || 0)));
    bar.value = p;
    bar.setAttribute('value', String(p));
    bar.setAttribute('aria-valuetext', `${stageWords(st)}, ${p} %`);
    pct.textContent = `${p} %`;
    stage.textContent = stageWords(st);
    node.dataset.status = st.status || '';
    badgeBox.replaceChildren(statusBadge(st.status || 'pending'));
    const active = ACTIVE.has(st.status);
    if (cancel) cancel.hidden = !active;
    if (link) link.hidden = st.status !== 'completed';
    problem.textContent = st.status === 'failed' && st.error ? st.error : problem.textContent;
    const say = `${title || algName(st.algorithm)}: ${stageWords(st)}`;
    if (say !== spoken) {
      spoken = say;
      live.textContent = say;
    }
  }
  update(st);
  return { node, update, state: st };
}

// Cancels a run; a run that already ended is not an error worth showing.
export async function cancelRun(id) {
  try {
    return await ml.cancel(id);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) return null;
    throw err;
  }
}

/**
 * The model download of a completed run: nodes() gives a fresh button and status line for
 * each draw; the download updates the latest ones in place (saving, saved with its size, or
 * the error in words).
 */
export function modelDownloader(id, ctx) {
  const st = { status: null, bytes: 0, error: null };
  let button = null;
  let line = null;
  function paint() {
    if (!button || !line) return;
    button.textContent = t(st.status === 'saving' ? 'exp.downloading' : 'exp.download');
    button.setAttribute('aria-disabled', String(st.status === 'saving'));
    line.className = st.status === 'error' ? 'notice notice-error download-status' : 'muted small download-status';
    line.textContent = st.status === 'saving' ? t('exp.downloading')
      : st.status === 'saved' ? t('exp.saved', { bytes: fmtNum(st.bytes) })
        : st.status === 'error' ? errorText(st.error) : '';
  }
  async function save() {
    if (st.status === 'saving') return;
    st.status = 'saving';
    paint();
    try {
      st.bytes = await downloadFile(ml.modelUrl(id), `model-${id}.ibxmodel`);
      st.status = 'saved';
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.status = 'error';
      st.error = err;
    }
    paint();
  }
  return {
    button() {
      button = el('button', { type: 'button', class: 'btn btn-primary', id: 'download-model', onclick: save });
      paint();
      return button;
    },
    status() {
      line = el('p', { id: 'download-status', role: 'status', 'aria-live': 'polite' });
      paint();
      return line;
    },
  };
}

// ------------------------------------------------------------------ run page

export function experimentPage(root, ctx, id) {
  const st = { run: null, error: null, results: null, resultsError: null, confirm: false, actionError: null };
  const model = modelDownloader(id, ctx);
  let stop = null;
  let card = null;
  let gone = false;

  async function loadResults() {
    st.results = null;
    st.resultsError = null;
    draw();
    try {
      st.results = await resultsOf(id);
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.resultsError = err;
    }
    if (!gone) draw();
  }

  function follow() {
    if (stop) stop();
    stop = followRun(id, {
      onState: (s) => {
        if (!st.run) return;
        Object.assign(st.run, { status: s.status, progress: s.progress, stage: s.stage, error: s.error });
        if (card) card.update(s);
      },
      onEnd: (s) => {
        stop = null;
        if (gone) return;
        if (s.status === 'deleted') {
          st.error = new ApiError({ status: 404, code: 'not_found', message: '' });
          draw();
          return;
        }
        if (s.status === 'completed') loadResults();
        else draw();
      },
      onProblem: (err, retrying) => {
        if (ctx.unauthorized(err)) return;
        if (!retrying) {
          st.actionError = err;
          draw();
        }
      },
    });
  }

  async function load() {
    st.error = null;
    st.run = null;
    draw();
    try {
      st.run = await ml.get(id);
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.error = err;
      draw();
      return;
    }
    if (gone) return;
    datasetName(st.run.dataset_id).then((n) => { if (n && st.run) { st.run.dataset_name = n; if (!gone) draw(); } });
    if (ACTIVE.has(st.run.status)) {
      draw();
      follow();
    } else if (st.run.status === 'completed') {
      loadResults();
    } else {
      draw();
    }
  }

  async function remove() {
    try {
      await ml.remove(id);
      forgetRun(id);
      ctx.go('#/experiments');
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.actionError = err;
      st.confirm = false;
      draw();
    }
  }

  function head(run) {
    const dsLink = run.dataset_id ? el('a', { href: `#/datasets/${run.dataset_id}`, text: run.dataset_name || t('exp.dataset') }) : null;
    return el('div', { class: 'page-head' },
      el('div', {},
        el('h1', { id: 'page-title', tabindex: '-1', text: t('exp.title', { alg: algName(run.algorithm) }) }),
        el('p', { class: 'exp-facts' }, statusBadge(run.status), ' ',
          dsLink ? t('exp.on') : null, dsLink ? ' ' : null, dsLink,
          ` · ${t('exp.target', { target: run.target_column || '' })}`,
          run.task_type ? ` · ${t(`task.${run.task_type}`)}` : '',
          ` · ${formatDate(run.created_at)}`),
        run.task_type_reason && run.task_type_reason !== 'given in the request'
          ? el('p', { class: 'muted small', text: t('exp.task_reason', { reason: run.task_type_reason.split('; ').map(reasonWords).join(t('exp.reason_sep')) }) }) : null),
      el('div', { class: 'ds-actions' },
        run.status === 'completed' ? model.button() : null,
        run.status === 'completed' ? el('a', { class: 'btn btn-secondary', href: `#/experiments/compare?ids=${encodeURIComponent(id)}`, id: 'exp-compare', text: t('exp.compare') }) : null,
        run.dataset_id ? el('a', { class: 'btn btn-secondary', href: `#/train/${run.dataset_id}`, id: 'exp-train-again', text: t('exp.train_again') }) : null,
        el('button', { type: 'button', class: 'btn btn-danger', id: 'exp-delete', text: t('action.delete'), onclick: () => { st.confirm = true; draw(); focusSoon(document.getElementById('exp-delete-yes')); } })));
  }

  function draw() {
    destroyCharts(root);
    card = null;
    if (st.error) {
      const nf = st.error instanceof ApiError && st.error.status === 404;
      root.replaceChildren(el('section', { class: 'page' },
        el('p', { class: 'crumbs' }, el('a', { href: '#/experiments', text: t('nav.experiments') })),
        el('h1', { id: 'page-title', tabindex: '-1', text: nf ? t('exp.not_found') : t('exp.error') }),
        nf ? stateBlock('empty', t('exp.not_found'), t('exp.not_found.body'), el('a', { class: 'btn btn-primary', href: '#/experiments', text: t('nav.experiments') }))
          : errorBlock(st.error, t('exp.error'), load)));
      return;
    }
    if (!st.run) {
      root.replaceChildren(loadingBlock(t('app.loading')));
      return;
    }
    const run = st.run;
    let body;
    if (ACTIVE.has(run.status)) {
      card = runCard(run, { onCancel: (s) => cancelRun(s.id) });
      body = [card.node, el('p', { class: 'muted small', text: t('run.leave_note') })];
    } else if (run.status === 'failed') {
      body = [el('div', { class: 'notice notice-error', role: 'alert', id: 'exp-failed' },
        el('p', { text: t('exp.failed') }), run.error ? el('p', { text: run.error }) : null)];
    } else if (run.status === 'cancelled') {
      body = [el('div', { class: 'notice notice-info', id: 'exp-cancelled' }, el('p', { text: t('exp.cancelled') }))];
    } else if (st.resultsError) {
      body = [errorBlock(st.resultsError, t('exp.results_error'), loadResults)];
    } else if (!st.results) {
      body = [loadingBlock(t('exp.results_loading'))];
    } else {
      body = resultsSections(st.results);
    }
    root.replaceChildren(el('section', { class: 'page page-experiment', 'aria-labelledby': 'page-title' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/experiments', text: t('nav.experiments') })),
      head(run),
      model.status(),
      st.actionError ? el('div', { class: 'notice notice-error', role: 'alert', text: errorText(st.actionError) }) : null,
      st.confirm ? el('div', { class: 'notice notice-error confirm', role: 'alertdialog', 'aria-labelledby': 'exp-confirm-text' },
        el('p', { id: 'exp-confirm-text', text: t('exp.delete.confirm') }),
        el('div', { class: 'form-actions' },
          el('button', { type: 'button', class: 'btn btn-danger', id: 'exp-delete-yes', text: t('action.delete'), onclick: remove }),
          el('button', { type: 'button', class: 'btn btn-secondary', text: t('action.cancel'), onclick: () => { st.confirm = false; draw(); } }))) : null,
      body));
  }

  load().then(() => focusSoon(document.getElementById('page-title')));
  return { draw, leave: () => { gone = true; if (stop) stop(); } };
}

// ------------------------------------------------------------------ list

function scoreCell(run, results) {
  if (run.status !== 'completed') return el('span', { class: 'muted', text: '—' });
  const r = results.get(run.id);
  if (r === undefined) return el('span', { class: 'muted', text: '…' });
  const h = r ? headline(r) : null;
  if (!h) return el('span', { class: 'muted', text: t('value.unknown') });
  return el('span', { class: 'exp-score', 'data-metric': h.metric, 'data-value': String(h.value) }, `${metricName(h.metric)} ${metricValue(h.value)}`);
}

// Fetches the headline results of the completed runs in list (at most 4 at a time).
async function fillResults(list, results, redraw, isGone) {
  const todo = list.filter((r) => r.status === 'completed' && !results.has(r.id));
  let i = 0;
  const worker = async () => {
    while (i < todo.length && !isGone()) {
      const run = todo[i++];
      try {
        // eslint-disable-next-line no-await-in-loop
        results.set(run.id, await resultsOf(run.id));
      } catch {
        results.set(run.id, null);
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  if (!isGone() && todo.length) redraw();
}

function fillNames(list, redraw, isGone) {
  const ids = [...new Set(list.map((r) => r.dataset_id).filter(Boolean))];
  Promise.all(ids.map((id) => datasetName(id).then((n) => [id, n]))).then((pairs) => {
    const names = new Map(pairs);
    let changed = false;
    for (const r of list) {
      const n = names.get(r.dataset_id);
      if (n && r.dataset_name !== n) { r.dataset_name = n; changed = true; }
      if (n === null && !r.dataset_gone) { r.dataset_gone = true; changed = true; }
    }
    if (changed && !isGone()) redraw();
  });
}

export function experimentsPage(root, ctx) {
  const st = {
    status: 'loading', data: null, error: null, page: 1, filter: '', picked: new Set(),
    confirm: null, actionError: null, results: new Map(),
  };
  let gone = false;
  let timer = null;
  let seq = 0;

  async function load(quiet) {
    const mine = ++seq;
    clearTimeout(timer);
    if (!quiet) {
      st.status = 'loading';
      st.error = null;
      draw();
    }
    try {
      const r = await ml.list({ page: st.page, page_size: PAGE_SIZE, status: st.filter || undefined });
      if (mine !== seq || gone) return;
      const prev = new Map((st.data ? st.data.list : []).map((x) => [x.id, x]));
      const list = Array.isArray(r.experiments) ? r.experiments : [];
      for (const x of list) if (prev.has(x.id) && prev.get(x.id).dataset_name) x.dataset_name = prev.get(x.id).dataset_name;
      st.data = { list, total: Number(r.total_count) || 0, pages: Number(r.total_pages) || 0, page: Number(r.page) || st.page };
      st.status = 'ready';
    } catch (err) {
      if (mine !== seq || gone) return;
      if (ctx.unauthorized(err)) return;
      if (!quiet) {
        st.status = 'error';
        st.error = err;
      }
    }
    draw();
    if (st.data) {
      fillNames(st.data.list, draw, () => gone);
      fillResults(st.data.list, st.results, draw, () => gone);
      if (st.data.list.some((x) => ACTIVE.has(x.status))) timer = setTimeout(() => load(true), POLL_MS);
    }
  }

  async function remove(run) {
    try {
      await ml.remove(run.id);
      forgetRun(run.id);
      st.picked.delete(run.id);
      st.confirm = null;
      load();
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.actionError = err;
      st.confirm = null;
      draw();
    }
  }

  function row(run) {
    const completed = run.status === 'completed';
    const pick = el('input', {
      type: 'checkbox', id: `pick-${run.id}`, class: 'exp-pick', value: run.id, checked: st.picked.has(run.id),
      disabled: !completed, 'aria-label': t('exps.pick', { alg: algName(run.algorithm) }),
      onchange: (e) => { if (e.target.checked) st.picked.add(run.id); else st.picked.delete(run.id); draw(); },
    });
    const active = ACTIVE.has(run.status);
    const confirming = st.confirm === run.id;
    return el('tr', { 'data-run': run.id, 'data-status': run.status },
      el('td', { class: 'col-pick' }, pick),
      el('th', { scope: 'row', 'data-label': t('exps.col.algorithm') }, el('a', { href: `#/experiments/${run.id}`, text: algName(run.algorithm) })),
      el('td', { 'data-label': t('exps.col.dataset') }, run.dataset_name || el('span', { class: 'muted', text: run.dataset_gone ? t('exps.dataset_gone') : '…' }),
        el('span', { class: 'muted small' }, ` → ${run.target_column || ''}`)),
      el('td', { 'data-label': t('exps.col.status') }, statusBadge(run.status),
        active ? el('span', { class: 'small muted' }, ` ${stageText(run)}`) : null),
      el('td', { 'data-label': t('exps.col.score'), class: 'num' }, scoreCell(run, st.results)),
      el('td', { 'data-label': t('exps.col.created') }, formatDate(run.created_at)),
      el('td', { class: 'col-actions' }, confirming
        ? el('span', { class: 'confirm-inline', role: 'alertdialog', 'aria-label': t('exp.delete.confirm') },
          el('span', { class: 'small', text: t('exps.delete.sure') }), ' ',
          el('button', { type: 'button', class: 'btn btn-danger btn-small', id: `delete-yes-${run.id}`, text: t('action.delete'), onclick: () => remove(run) }), ' ',
          el('button', { type: 'button', class: 'btn btn-secondary btn-small', text: t('action.cancel'), onclick: () => { st.confirm = null; draw(); } }))
        : el('button', {
          type: 'button', class: 'btn btn-quiet btn-small exp-delete', text: t('action.delete'),
          'aria-label': t('exps.delete', { alg: algName(run.algorithm) }),
          onclick: () => { st.confirm = run.id; draw(); focusSoon(document.getElementById(`delete-yes-${run.id}`)); },
        })));
  }

  function draw() {
    const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : '';
    const filter = select([['', t('exps.filter.all')], ...STATUSES.map((s) => [s, t(`status.${s}`)])], st.filter, {
      id: 'exps-filter', onchange: (e) => { st.filter = e.target.value; st.page = 1; load(); },
    });
    let body;
    if (st.status === 'error') body = errorBlock(st.error, t('exps.error'), () => load());
    else if (!st.data) body = loadingBlock(t('app.loading'));
    else if (!st.data.list.length) {
      body = st.filter ? stateBlock('empty', t('exps.none_match'), t('exps.none_match.body'))
        : stateBlock('empty', t('exps.empty.title'), t('exps.empty.body'), el('a', { class: 'btn btn-primary', href: '#/train', text: t('nav.train') }));
    } else {
      body = el('div', { class: 'table-wrap' }, el('table', { class: 'data-table exps-table', id: 'experiments-table' },
        el('caption', { class: 'visually-hidden', text: t('exps.caption') }),
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col', class: 'col-pick' }, el('span', { class: 'visually-hidden', text: t('exps.col.pick') })),
          ['algorithm', 'dataset', 'status', 'score', 'created'].map((h) => el('th', { scope: 'col', class: h === 'score' ? 'num' : '', text: t(`exps.col.${h}`) })),
          el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: t('exps.col.actions') })))),
        el('tbody', {}, st.data.list.map(row))));
    }
    const picked = [...st.picked];
    const pages = st.data ? Math.max(1, st.data.pages) : 1;
    root.replaceChildren(el('section', { class: 'page page-experiments', 'aria-labelledby': 'page-title' },
      el('div', { class: 'page-head' },
        el('div', {}, el('h1', { id: 'page-title', tabindex: '-1', text: t('exps.title') }), el('p', { class: 'muted', text: t('exps.intro') })),
        el('a', { class: 'btn btn-primary', href: '#/train', id: 'exps-train', text: t('nav.train') })),
      st.actionError ? el('div', { class: 'notice notice-error', role: 'alert', text: errorText(st.actionError) }) : null,
      el('div', { class: 'results-bar' },
        el('p', { class: 'catalogue-status', role: 'status', 'aria-live': 'polite', id: 'exps-status', text: st.data ? t('exps.count', { n: fmtNum(st.data.total) }) : '' }),
        el('div', { class: 'catalogue-controls' },
          el('div', { class: 'field-inline' }, el('label', { for: 'exps-filter', text: t('exps.filter') }), filter),
          el('a', {
            class: `btn btn-secondary${picked.length >= 2 ? '' : ' is-disabled'}`, id: 'exps-compare',
            href: picked.length >= 2 ? `#/experiments/compare?ids=${picked.map(encodeURIComponent).join(',')}` : '#/experiments',
            'aria-disabled': String(picked.length < 2),
            onclick: (e) => { if (picked.length < 2) e.preventDefault(); },
            text: t('exps.compare', { n: picked.length }),
          }))),
      el('p', { class: 'muted small', text: t('exps.compare.hint') }),
      body,
      st.data && st.data.list.length && pages > 1 ? el('nav', { class: 'pager', 'aria-label': t('exps.pager') },
        el('button', { type: 'button', class: 'btn btn-secondary', id: 'exps-prev', text: t('catalogue.prev'), 'aria-disabled': String(st.page <= 1), onclick: () => { if (st.page > 1) { st.page -= 1; load(); } } }),
        el('span', { class: 'page-info', text: t('catalogue.page', { page: st.page, pages }) }),
        el('button', { type: 'button', class: 'btn btn-secondary', id: 'exps-next', text: t('catalogue.next'), 'aria-disabled': String(st.page >= pages), onclick: () => { if (st.page < pages) { st.page += 1; load(); } } })) : null));
    const again = focused && document.getElementById(focused);
    if (again) again.focus();
  }

  load();
  focusSoon(document.getElementById('page-title'));
  return { draw, leave: () => { gone = true; clearTimeout(timer); } };
}

// ------------------------------------------------------------------ comparison

const COMPARE_CHART = ['accuracy', 'f1_macro', 'roc_auc', 'pr_auc', 'r2'];
const PALETTE = ['#1f4e79', '#c2571a', '#2e7d4f', '#8e3b8c', '#b58a00', '#2a8a9c', '#a33b3b', '#5a5f6b'];

function runLabel(run, all) {
  const same = all.filter((r) => r.algorithm === run.algorithm).length > 1;
  return same ? `${algName(run.algorithm)} (${run.id.slice(0, 8)})` : algName(run.algorithm);
}

// The indices holding the best value of metric (every one of them on a tie).
function bestIndices(metric, values) {
  const ok = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (!ok.length) return new Set();
  const best = lowerIsBetter(metric) ? Math.min(...ok) : Math.max(...ok);
  return new Set(values.map((v, i) => (v === best ? i : -1)).filter((i) => i >= 0));
}

/** The side-by-side table (and chart) of completed runs [{run, results}]. */
export function comparisonView(items) {
  const metrics = [...CLS_METRICS, ...CLS_WEIGHTED, ...REG_METRICS].filter((m) => items.some((x) => x.results && x.results.metrics && m in x.results.metrics));
  if (!items.length || !metrics.length) return stateBlock('empty', t('cmp.none'), t('cmp.none.body'));
  const runs = items.map((x) => x.run);
  const head = el('tr', {}, el('th', { scope: 'col', text: t('cmp.metric') }),
    items.map((x) => el('th', { scope: 'col', class: 'num' },
      el('a', { href: `#/experiments/${x.run.id}`, text: runLabel(x.run, runs) }),
      x.run.dataset_name ? el('span', { class: 'muted small cmp-ds', text: x.run.dataset_name }) : null)));
  const rows = metrics.map((m) => {
    const values = items.map((x) => (x.results.metrics || {})[m]);
    const best = items.length > 1 ? bestIndices(m, values) : new Set();
    return el('tr', { 'data-metric': m }, el('th', { scope: 'row' }, metricName(m),
      el('span', { class: 'muted small', text: lowerIsBetter(m) ? ` ${t('cmp.lower')}` : '' })),
    values.map((v, i) => el('td', { class: `num${best.has(i) ? ' cmp-best' : ''}`, 'data-value': typeof v === 'number' ? String(v) : '' },
      metricValue(v), best.has(i) ? el('span', { class: 'visually-hidden', text: ` (${t('cmp.best')})` }) : null)));
  });
  const table = el('div', { class: 'table-wrap' }, el('table', { class: 'data-table cmp-table', id: 'compare-table' },
    el('caption', { text: t('cmp.caption', { n: items.length }) }),
    el('thead', {}, head), el('tbody', {}, rows)));
  const chartMetrics = COMPARE_CHART.filter((m) => metrics.includes(m));
  const Chart = chartLibrary();
  let chart = null;
  if (Chart && chartMetrics.length) {
    const summary = t('cmp.chart.summary', { n: items.length, metrics: chartMetrics.map(metricName).join(', ') });
    const canvas = el('canvas', { role: 'img', 'aria-label': summary });
    const box = el('div', { class: 'chart-box chart-compare' }, canvas);
    keepChart(new Chart(canvas, {
      type: 'bar',
      data: {
        labels: chartMetrics.map(metricName),
        datasets: items.map((x, i) => ({
          label: runLabel(x.run, runs), backgroundColor: PALETTE[i % PALETTE.length],
          data: chartMetrics.map((m) => { const v = (x.results.metrics || {})[m]; return typeof v === 'number' ? v : null; }),
        })),
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: true, position: 'bottom', labels: { boxWidth: 12 } } },
        scales: { y: { beginAtZero: true, max: 1 } },
      },
    }));
    chart = el('figure', { class: 'chart', id: 'compare-chart' }, box, el('figcaption', { class: 'visually-hidden', text: summary }));
  }
  return el('div', { class: 'cmp-view' }, table, chart);
}

export async function loadComparison(ids) {
  return Promise.all(ids.map(async (id) => {
    const run = await ml.get(id);
    const name = await datasetName(run.dataset_id);
    if (name) run.dataset_name = name;
    const results = run.status === 'completed' ? await resultsOf(id) : null;
    return { run, results };
  }));
}

function idsFrom(hash) {
  const q = hash.indexOf('?');
  if (q < 0) return [];
  const ids = new URLSearchParams(hash.slice(q + 1)).get('ids') || '';
  return [...new Set(ids.split(',').map((s) => s.trim()).filter((s) => /^[\w-]{1,64}$/.test(s)))].slice(0, 8);
}

export function comparePage(root, ctx, hash) {
  const ids = idsFrom(hash);
  const st = { items: null, error: null, choices: null, picked: new Set(ids) };
  let gone = false;

  async function load() {
    st.error = null;
    st.items = null;
    draw();
    try {
      const [items, list] = await Promise.all([
        ids.length ? loadComparison(ids) : Promise.resolve([]),
        ml.list({ status: 'completed', page_size: 50 }),
      ]);
      if (gone) return;
      st.items = items;
      st.choices = Array.isArray(list.experiments) ? list.experiments : [];
    } catch (err) {
      if (ctx.unauthorized(err)) return;
      st.error = err;
    }
    if (gone) return;
    draw();
    if (st.choices) fillNames(st.choices, draw, () => gone);
  }

  function picker() {
    if (!st.choices || !st.choices.length) return null;
    return el('details', { class: 'card', open: ids.length < 2, id: 'compare-picker' },
      el('summary', {}, el('h2', { text: t('cmp.pick') })),
      el('p', { class: 'muted small', text: t('cmp.pick.intro') }),
      el('ul', { class: 'pick-list' }, st.choices.map((r) => el('li', {},
        el('input', {
          type: 'checkbox', id: `cmp-${r.id}`, value: r.id, checked: st.picked.has(r.id),
          onchange: (e) => { if (e.target.checked) st.picked.add(r.id); else st.picked.delete(r.id); },
        }),
        el('label', { for: `cmp-${r.id}` }, `${algName(r.algorithm)} — ${r.dataset_name || '…'} → ${r.target_column} · ${formatDate(r.created_at)}`)))),
      el('div', { class: 'form-actions' }, el('button', {
        type: 'button', class: 'btn btn-primary', id: 'cmp-apply', text: t('cmp.apply'),
        onclick: () => ctx.go(`#/experiments/compare?ids=${[...st.picked].map(encodeURIComponent).join(',')}`),
      })));
  }

  function draw() {
    destroyCharts(root);
    let body;
    if (st.error) body = errorBlock(st.error, t('cmp.error'), load);
    else if (!st.items) body = loadingBlock(t('app.loading'));
    else {
      const done = st.items.filter((x) => x.results);
      const notDone = st.items.filter((x) => !x.results);
      body = el('div', {},
        notDone.length ? el('p', { class: 'notice notice-info', text: t('cmp.not_done', { list: notDone.map((x) => `${algName(x.run.algorithm)} (${t(`status.${x.run.status}`)})`).join(', ') }) }) : null,
        done.length ? comparisonView(done) : stateBlock('empty', t('cmp.none'), t('cmp.none.body')));
    }
    root.replaceChildren(el('section', { class: 'page page-compare', 'aria-labelledby': 'page-title' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/experiments', text: t('nav.experiments') })),
      el('h1', { id: 'page-title', tabindex: '-1', text: t('cmp.title') }),
      el('p', { class: 'muted', text: t('cmp.intro') }),
      el('section', { class: 'card', 'aria-labelledby': 'page-title' }, body),
      picker()));
  }

  load().then(() => focusSoon(document.getElementById('page-title')));
  return { draw, leave: () => { gone = true; } };
}

// ------------------------------------------------------------------ home: recent experiments

/** The home screen's "Recent experiments" card, drawn into node. Returns {draw, leave}. */
export function recentExperiments(node, ctx) {
  const st = { list: null, error: null, results: new Map() };
  let gone = false;
  let timer = null;

  async function load() {
    clearTimeout(timer);
    try {
      const r = await ml.list({ page: 1, page_size: 5 });
      if (gone) return;
      const prev = new Map((st.list || []).map((x) => [x.id, x.dataset_name]));
      st.list = Array.isArray(r.experiments) ? r.experiments : [];
      for (const x of st.list) if (prev.get(x.id)) x.dataset_name = prev.get(x.id);
      st.error = null;
    } catch (err) {
      if (gone || ctx.unauthorized(err)) return;
      st.error = err;
    }
    draw();
    if (st.list) {
      fillNames(st.list, draw, () => gone);
      fillResults(st.list, st.results, draw, () => gone);
      if (st.list.some((x) => ACTIVE.has(x.status))) timer = setTimeout(load, POLL_MS * 2);
    }
  }

  function draw() {
    let body;
    if (st.error) body = errorBlock(st.error, t('home.exps.error'), load);
    else if (!st.list) body = loadingBlock(t('app.loading'));
    else if (!st.list.length) {
      body = stateBlock('empty', t('home.exps.empty'), t('home.exps.empty.body'),
        el('a', { class: 'btn btn-primary', href: '#/train', id: 'home-train', text: t('nav.train') }));
    } else {
      body = el('ul', { class: 'recent-exps', id: 'recent-experiments' }, st.list.map((r) => el('li', { 'data-run': r.id, 'data-status': r.status },
        el('a', { href: `#/experiments/${r.id}`, text: algName(r.algorithm) }),
        el('span', { class: 'muted small', text: ` ${r.dataset_name || ''}` }),
        el('span', { class: 'recent-right' }, statusBadge(r.status), ' ', scoreCell(r, st.results)))));
    }
    node.replaceChildren(
      el('div', { class: 'recent-head' },
        el('h2', { id: 'recent-title', text: t('home.exps.title') }),
        el('a', { href: '#/experiments', id: 'home-all-exps', text: t('home.exps.all') })),
      body);
  }

  draw();
  load();
  return { draw, leave: () => { gone = true; clearTimeout(timer); } };
}
