// api: the one way the UI talks to IBIS-X. JSON in, JSON out, errors as ApiError, and the
// access token kept in sessionStorage (gone when the tab closes).

const TOKEN_KEY = 'ibx.access_token';
const TIMEOUT_MS = 20000;

export class ApiError extends Error {
  constructor({ status, code, message, details, requestId, retryAfter }) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status; // 0 when the request never got an answer
    this.code = code; // the server's "error" field, or network/timeout/http_NNN
    this.serverMessage = message || '';
    this.details = details && typeof details === 'object' ? details : {};
    this.requestId = requestId || '';
    this.retryAfter = retryAfter; // seconds, or null
  }

  // Nothing answered, or a proxy said the service behind it is down.
  get unreachable() {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }

  get unauthorized() {
    return this.status === 401;
  }

  // [{field, problem}] from a validation error, or [].
  get fields() {
    const f = this.details.fields;
    if (!Array.isArray(f)) return [];
    return f.filter((x) => x && typeof x.field === 'string' && typeof x.problem === 'string');
  }
}

export const session = {
  token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  },
  save(token) {
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
    } catch {
      /* storage disabled: the session lasts as long as this page */
    }
    memoryToken = token;
  },
  clear() {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* nothing stored */
    }
    memoryToken = null;
  },
};
let memoryToken = null;

function currentToken() {
  return session.token() ?? memoryToken;
}

function parseRetryAfter(value) {
  if (!value) return null;
  const secs = Number(value);
  if (Number.isFinite(secs) && secs >= 0) return Math.round(secs);
  const when = Date.parse(value);
  if (Number.isNaN(when)) return null;
  return Math.max(0, Math.round((when - Date.now()) / 1000));
}

// Read a body as JSON without ever throwing: a proxy's HTML error page gives null.
async function readJson(res) {
  let text = '';
  try {
    text = await res.text();
  } catch {
    return null;
  }
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * request('/api/v1/users/me', {auth: true}) → parsed JSON body.
 * Throws ApiError for anything but a 2xx answer, and for a network failure or a time-out.
 */
export async function request(path, { method = 'GET', body, auth = true, query } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (auth) {
    const token = currentToken();
    if (token) headers.Authorization = `Bearer ${token}`;
  }
  let url = path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
    }
    const s = qs.toString();
    if (s) url += `?${s}`;
  }

  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
  init.signal = ctrl.signal;
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    clearTimeout(timer);
    throw new ApiError({
      status: 0,
      code: e && e.name === 'AbortError' ? 'timeout' : 'network',
      message: '',
    });
  }
  const data = await readJson(res);
  clearTimeout(timer);
  if (res.ok) return data ?? {};

  const err = data && typeof data === 'object' ? data : {};
  throw new ApiError({
    status: res.status,
    code: typeof err.error === 'string' ? err.error : `http_${res.status}`,
    message: typeof err.message === 'string' ? err.message : '',
    details: err.details,
    requestId: typeof err.request_id === 'string' ? err.request_id
      : res.headers.get('X-Request-Id') || '',
    retryAfter: parseRetryAfter(res.headers.get('Retry-After')),
  });
}

export const api = {
  register: (email, password, displayName) => request('/api/v1/auth/register', {
    method: 'POST',
    auth: false,
    body: displayName ? { email, password, display_name: displayName } : { email, password },
  }),
  login: (email, password) => request('/api/v1/auth/login', {
    method: 'POST', auth: false, body: { email, password },
  }),
  me: () => request('/api/v1/users/me'),
  datasets: ({ page, pageSize, sortBy, sortOrder }) => request('/api/v1/datasets', {
    query: { page, page_size: pageSize, sort_by: sortBy, sort_order: sortOrder },
  }),
};
