// selapi: the dataset-selection API as the UI uses it (catalogue, dataset pages, upload,
// scoring, projects) and multipart sends through XMLHttpRequest for upload progress.
import { request, ApiError, session } from './api.js';

const V1 = '/api/v1';
const UPLOAD_TIMEOUT_MS = 30 * 60 * 1000;

// Filters as query text: lists joined with commas, false booleans left out (the API applies
// them only when true), has_missing_values both ways.
export function filterQuery(filters) {
  const q = {};
  for (const [k, v] of Object.entries(filters || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) {
      if (v.length) q[k] = v.join(',');
    } else if (typeof v === 'boolean') {
      if (v || k === 'has_missing_values') q[k] = v ? 'true' : 'false';
    } else {
      q[k] = String(v);
    }
  }
  return q;
}

const enc = encodeURIComponent;

export const sel = {
  list: (query) => request(`${V1}/datasets`, { query }),
  domains: () => request(`${V1}/datasets/domains`),
  tasks: () => request(`${V1}/datasets/tasks`),
  get: (id) => request(`${V1}/datasets/${enc(id)}`),
  patch: (id, body) => request(`${V1}/datasets/${enc(id)}`, { method: 'PATCH', body }),
  remove: (id) => request(`${V1}/datasets/${enc(id)}`, { method: 'DELETE' }),
  preview: (id, rows, sample, seed) => request(`${V1}/datasets/${enc(id)}/preview`, {
    query: { rows, sample, seed },
  }),
  stats: (id) => request(`${V1}/datasets/${enc(id)}/stats`),
  quality: (id) => request(`${V1}/datasets/${enc(id)}/quality`),
  similar: (id) => request(`${V1}/datasets/${enc(id)}/similar`, { query: { limit: 5 } }),
  completion: (id) => request(`${V1}/datasets/${enc(id)}/completion`),
  croissantUrl: (id) => `${V1}/datasets/${enc(id)}/croissant`,
  fileUrl: (id, fileId) => `${V1}/datasets/${enc(id)}/files/${enc(fileId)}/download`,
  score: (filters, weights) => request(`${V1}/datasets/score`, {
    method: 'POST', body: { filters, weights },
  }),
  projects: (page) => request(`${V1}/projects`, { query: { page, page_size: 50 } }),
  project: (id) => request(`${V1}/projects/${enc(id)}`),
  createProject: (body) => request(`${V1}/projects`, { method: 'POST', body }),
  patchProject: (id, body) => request(`${V1}/projects/${enc(id)}`, { method: 'PATCH', body }),
  deleteProject: (id) => request(`${V1}/projects/${enc(id)}`, { method: 'DELETE' }),
  recommendations: (id) => request(`${V1}/projects/${enc(id)}/recommendations`),
  updateMe: (body) => request(`${V1}/users/me`, { method: 'PATCH', body }),
};

function xhrError(xhr) {
  let body = null;
  try {
    body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
  } catch {
    body = null;
  }
  const err = body && typeof body === 'object' ? body : {};
  const ra = Number(xhr.getResponseHeader('Retry-After'));
  return new ApiError({
    status: xhr.status,
    code: typeof err.error === 'string' ? err.error : `http_${xhr.status}`,
    message: typeof err.message === 'string' ? err.message : '',
    details: err.details,
    requestId: typeof err.request_id === 'string' ? err.request_id : xhr.getResponseHeader('X-Request-Id') || '',
    retryAfter: Number.isFinite(ra) && ra > 0 ? ra : null,
  });
}

/**
 * sendForm('/api/v1/datasets', formData, (sent, total) => …) → parsed JSON answer.
 * Multipart through XMLHttpRequest so the upload's progress can be shown; rejects with
 * ApiError like request(). Returns {promise, abort}.
 */
export function sendForm(path, form, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', path);
    xhr.timeout = UPLOAD_TIMEOUT_MS;
    xhr.setRequestHeader('Accept', 'application/json');
    const token = session.token();
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    if (onProgress) {
      xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0));
    }
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(xhr.responseText ? JSON.parse(xhr.responseText) : {});
        } catch {
          reject(new ApiError({ status: xhr.status, code: 'bad_response', message: '' }));
        }
      } else {
        reject(xhrError(xhr));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError({ status: 0, code: 'network', message: '' })));
    xhr.addEventListener('timeout', () => reject(new ApiError({ status: 0, code: 'timeout', message: '' })));
    xhr.addEventListener('abort', () => reject(new ApiError({ status: 0, code: 'aborted', message: '' })));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

export const upload = {
  preview: (files, onProgress) => {
    const form = new FormData();
    for (const f of files) form.append('files', f, f.name);
    return sendForm(`${V1}/datasets/preview`, form, onProgress);
  },
  create: (metadata, files, onProgress) => {
    const form = new FormData();
    form.append('metadata', JSON.stringify(metadata));
    for (const f of files) form.append('files', f, f.name);
    return sendForm(`${V1}/datasets`, form, onProgress);
  },
};
