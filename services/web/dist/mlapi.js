// mlapi: the ml-pipeline API as the UI uses it (algorithms, advice, experiments, results,
// model download) and the live progress of a run: its Server-Sent Events read through
// fetch(), because the gateway wants the bearer token and EventSource cannot send it.
import { request, ApiError, session } from './api.js';

const V1 = '/api/v1';
const enc = encodeURIComponent;
const RECONNECT_MS = [500, 1000, 2000, 4000, 8000];

export const ml = {
  algorithms: () => request(`${V1}/algorithms`),
  adviseTask: (datasetId, target) => request(`${V1}/advice/task-type`, {
    method: 'POST', body: { dataset_id: datasetId, target_column: target },
  }),
  adviseAlgorithm: (datasetId, target, taskType) => request(`${V1}/advice/algorithm`, {
    method: 'POST',
    body: taskType ? { dataset_id: datasetId, target_column: target, task_type: taskType }
      : { dataset_id: datasetId, target_column: target },
  }),
  create: (body) => request(`${V1}/experiments`, { method: 'POST', body }),
  list: (query) => request(`${V1}/experiments`, { query }),
  get: (id) => request(`${V1}/experiments/${enc(id)}`),
  results: (id) => request(`${V1}/experiments/${enc(id)}/results`),
  cancel: (id) => request(`${V1}/experiments/${enc(id)}/cancel`, { method: 'POST' }),
  remove: (id) => request(`${V1}/experiments/${enc(id)}`, { method: 'DELETE' }),
  modelUrl: (id) => `${V1}/experiments/${enc(id)}/model`,
};

// An ApiError from a non-2xx fetch Response (its JSON error body when it has one).
async function responseError(res) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    body = {};
  }
  return new ApiError({
    status: res.status,
    code: typeof body.error === 'string' ? body.error : `http_${res.status}`,
    message: typeof body.message === 'string' ? body.message : '',
    details: body.details,
    requestId: typeof body.request_id === 'string' ? body.request_id : res.headers.get('X-Request-Id') || '',
  });
}

function authHeaders(accept) {
  const headers = { Accept: accept };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

/**
 * Saves the file at url (an API path that needs the bearer token) under filename.
 * Resolves with the number of bytes saved; rejects with ApiError.
 */
export async function downloadFile(url, filename) {
  let res;
  try {
    res = await fetch(url, { headers: authHeaders('*/*'), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError({ status: 0, code: 'network', message: '' });
  }
  if (!res.ok) throw await responseError(res);
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
  return blob.size;
}

// Splits Server-Sent Events text into {event, data} records; returns the unfinished tail.
export function parseSse(text, onRecord) {
  const blocks = text.split(/\r?\n\r?\n/);
  const tail = blocks.pop();
  for (const block of blocks) {
    let event = 'message';
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (name === 'event') event = value;
      else if (name === 'data') data.push(value);
    }
    if (data.length) onRecord({ event, data: data.join('\n') });
  }
  return tail;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'deleted']);

/**
 * Follows GET /experiments/{id}/events. onState(state, eventName) for every event
 * ({id, status, progress, stage, error}); onEnd(state) once the run has ended;
 * onProblem(err, retrying) when the stream breaks (it reconnects by itself, the server
 * sends the current state first) or is refused (401, 404: no retry). Returns stop().
 * collection: 'experiments', or 'explanations' (whose events have the same form).
 */
export function followRun(id, { onState, onEnd, onProblem }, collection = 'experiments') {
  let stopped = false;
  let ctrl = null;
  let attempt = 0;
  let timer = null;

  function finish(state) {
    stopped = true;
    if (onEnd) onEnd(state);
  }

  async function connect() {
    if (stopped) return;
    ctrl = new AbortController();
    let res;
    try {
      res = await fetch(`${V1}/${collection}/${enc(id)}/events`, {
        headers: authHeaders('text/event-stream'), credentials: 'same-origin', cache: 'no-store', signal: ctrl.signal,
      });
    } catch {
      if (!stopped) retry(new ApiError({ status: 0, code: 'network', message: '' }));
      return;
    }
    if (!res.ok || !res.body) {
      const err = res.ok ? new ApiError({ status: res.status, code: 'bad_response', message: '' }) : await responseError(res);
      if (err.unauthorized || err.status === 404 || err.status === 403) {
        stopped = true;
        if (onProblem) onProblem(err, false);
      } else {
        retry(err);
      }
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let ended = null;
    try {
      for (;;) {
        // eslint-disable-next-line no-await-in-loop
        const { value, done } = await reader.read();
        if (done || stopped) break;
        attempt = 0;
        buffer = parseSse(buffer + decoder.decode(value, { stream: true }), ({ event, data }) => {
          let state;
          try {
            state = JSON.parse(data);
          } catch {
            return;
          }
          if (!state || typeof state !== 'object') return;
          if (event === 'deleted') state.status = 'deleted';
          if (!stopped && onState) onState(state, event);
          if (TERMINAL.has(event) || TERMINAL.has(state.status)) ended = state;
        });
        if (ended) break;
      }
    } catch {
      /* the connection broke: reconnect below unless stopped */
    }
    try {
      ctrl.abort();
    } catch {
      /* already closed */
    }
    if (stopped) return;
    if (ended) finish(ended);
    else retry(new ApiError({ status: 0, code: 'network', message: '' }));
  }

  function retry(err) {
    if (stopped) return;
    const wait = RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)];
    attempt += 1;
    if (onProblem) onProblem(err, true);
    timer = setTimeout(connect, wait);
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (ctrl) ctrl.abort();
  };
}
