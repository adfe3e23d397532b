// app: the IBIS-X browser UI. Screens: loading, a whole-page problem, sign in / create an account,
// and home (profile + dataset catalogue). State lives in one object; render* functions draw it, so
// a language switch simply draws everything again.
import { api, ApiError, session } from './api.js';
import {
  t, has, setLang, onLangChange, applyTranslations, serverProblem, formatNumber, formatDate,
} from './i18n.js';
import {
  mount, leave as leavePage, redraw as redrawPage, sectionOf,
} from './pages.js';
import { needsOnboarding, onboardingPage } from './onboarding.js';
import { recentExperiments } from './experiments.js';

const PAGE_SIZE = 12;
const SORT_KEYS = ['name', 'year', 'instances_number', 'features_number', 'num_citations',
  'created_at', 'updated_at'];
const AUTH_FIELDS = ['email', 'display_name', 'password'];
const FIELD_INPUT = {
  email: 'auth-email', display_name: 'auth-display-name', password: 'auth-password',
};

const $ = (id) => document.getElementById(id);

const state = {
  view: 'loading',
  auth: {
    mode: 'signin', // or 'signup'
    status: null, // i18n key of a calm notice above the form
    error: null, // {key} | {text: () => string} | {err}: the form's alert region
    fields: {}, // field → {key} (our check) | {server: problem} (details.fields)
    busy: false,
  },
  lastEmail: '',
  user: null,
  fatal: null, // {err, retry}
  catalogue: freshCatalogue(),
  onboarding: null, // the onboarding form while it is shown
  recent: null, // the home screen's recent experiments while it is shown
};

// What the dataset and project screens (pages.js) get from the app.
const pageCtx = {
  // true (and back to sign-in) when err says the session is over
  unauthorized(err) {
    if (err instanceof ApiError && err.unauthorized) {
      sessionEnded();
      return true;
    }
    return false;
  },
  go(hash) {
    if (window.location.hash === hash) route();
    else window.location.hash = hash;
  },
};

function freshCatalogue() {
  return {
    page: 1, sortBy: 'name', sortOrder: 'asc', status: 'idle', data: null, error: null, seq: 0,
  };
}

// ------------------------------------------------------------------ small DOM helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function setText(id, text) {
  const node = $(id);
  if (node.textContent !== text) node.textContent = text;
}

// An email address that may wrap after its @ on a narrow screen.
function setEmail(id, email) {
  const node = $(id);
  const at = email.indexOf('@');
  if (at < 0) node.replaceChildren(email);
  else node.replaceChildren(email.slice(0, at + 1), document.createElement('wbr'), email.slice(at + 1));
}

function showView(name) {
  state.view = name;
  for (const v of ['loading', 'fatal', 'auth', 'home', 'onboarding', 'page']) $(`view-${v}`).hidden = v !== name;
  const inside = ['home', 'page', 'onboarding'].includes(name) && Boolean(state.user);
  $('user-box').hidden = !inside;
  $('app-nav').hidden = !inside || name === 'onboarding';
}

function focusSoon(node) {
  if (node) requestAnimationFrame(() => node.focus());
}

// ------------------------------------------------------------------ words for errors

// One sentence for an error, in the current language; the server's message when we know no better.
function errorText(err) {
  if (!(err instanceof ApiError)) return t('error.generic', { status: '—' });
  if (err.unreachable) return t('error.unreachable');
  if (err.status === 429) return t('error.rate_limited');
  if (has(`error.${err.code}`)) return t(`error.${err.code}`);
  if (err.serverMessage) return sentence(err.serverMessage);
  return t('error.generic', { status: err.status });
}

function sentence(s) {
  const trimmed = String(s).trim();
  if (!trimmed) return trimmed;
  const cap = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(cap) ? cap : `${cap}.`;
}

function unreachableDetail(err) {
  let s = t('error.unreachable.detail');
  if (err.retryAfter > 1) s += ` ${t('error.retry_after', { seconds: err.retryAfter })}`;
  return s;
}

// ------------------------------------------------------------------ whole-page problem

function showFatal(err, retry) {
  state.fatal = { err, retry };
  renderFatal();
  showView('fatal');
  focusSoon($('fatal-title'));
}

function renderFatal() {
  if (!state.fatal) return;
  const { err } = state.fatal;
  const unreachable = err instanceof ApiError && err.unreachable;
  setText('fatal-title', unreachable ? t('error.unreachable') : errorText(err));
  setText('fatal-detail', unreachable ? unreachableDetail(err) : '');
  setText('fatal-ref', err && err.requestId ? t('error.reference', { id: err.requestId }) : '');
}

// ------------------------------------------------------------------ sign in / sign up

// The server's rules, checked before sending (services/gateway/src/accounts.c).
function emailProblem(email) {
  if (!email) return 'check.email.required';
  if (email.length < 3 || email.length > 254) return 'check.email.length';
  const at = email.indexOf('@');
  if (at <= 0 || email.indexOf('@', at + 1) !== -1) return 'check.email.at';
  const domain = email.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  if (dot <= 0 || dot === domain.length - 1) return 'check.email.domain';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f"<>,]/.test(email)) return 'check.email.chars';
  return null;
}

function passwordProblem(password, email) {
  if (!password) return 'check.password.required';
  if (password.length < 8) return 'check.password.short';
  if (password.length > 1024) return 'check.password.long';
  if (email && password.toLowerCase() === email.toLowerCase()) return 'check.password.email';
  return null;
}

function checkAuthForm(mode, email, password, displayName) {
  const problems = {};
  const e = emailProblem(email);
  if (e) problems.email = e;
  if (mode === 'signup') {
    const p = passwordProblem(password, email);
    if (p) problems.password = p;
    if (displayName.length > 100) problems.display_name = 'check.display_name.long';
  } else if (!password) {
    problems.password = 'check.password.required';
  }
  return problems;
}

function showAuth(mode, statusKey) {
  const a = state.auth;
  a.mode = mode;
  a.status = statusKey || null;
  a.error = null;
  a.fields = {};
  a.busy = false;
  $('auth-password').value = '';
  if (state.lastEmail) $('auth-email').value = state.lastEmail;
  renderAuth();
  showView('auth');
  focusSoon($('auth-email').value ? $('auth-password') : $('auth-email'));
}

function setAuthMode(mode) {
  if (state.auth.mode === mode) return;
  state.auth.mode = mode;
  state.auth.status = null;
  state.auth.error = null;
  state.auth.fields = {};
  renderAuth();
}

function renderAuth() {
  const a = state.auth;
  const signup = a.mode === 'signup';
  $('mode-signin').setAttribute('aria-pressed', String(!signup));
  $('mode-signup').setAttribute('aria-pressed', String(signup));
  setText('auth-title', t(signup ? 'auth.signup.title' : 'auth.signin.title'));
  setText('auth-intro', t(signup ? 'auth.signup.intro' : 'auth.signin.intro'));
  $('field-display-name').hidden = !signup;
  $('auth-password-hint').hidden = !signup;
  $('auth-password').setAttribute('autocomplete', signup ? 'new-password' : 'current-password');
  const submit = $('auth-submit');
  setText('auth-submit', t(`auth.${a.busy ? 'busy' : 'submit'}.${a.mode}`));
  submit.setAttribute('aria-disabled', String(a.busy));
  $('auth-form').setAttribute('aria-busy', String(a.busy));
  setText('auth-switch-text', t(signup ? 'auth.switch.to_signin' : 'auth.switch.to_signup'));
  setText('auth-switch', t(signup ? 'auth.switch.to_signin.action' : 'auth.switch.to_signup.action'));
  renderAuthMessages();
}

function authErrorText(e) {
  if (!e) return '';
  if (e.key) return t(e.key);
  if (e.text) return e.text();
  return errorText(e.err);
}

function fieldText(field, f) {
  return f.key ? t(f.key) : serverProblem(field, f.server);
}

// Texts are built at draw time, so a language switch also translates the messages on screen.
function renderAuthMessages() {
  const a = state.auth;
  setText('auth-status', a.status ? t(a.status) : '');
  setText('auth-error', authErrorText(a.error));
  for (const f of AUTH_FIELDS) {
    const msg = a.fields[f] ? fieldText(f, a.fields[f]) : '';
    const id = FIELD_INPUT[f];
    setText(`${id}-error`, msg);
    $(id).setAttribute('aria-invalid', String(Boolean(msg)));
    $(id).closest('.field').classList.toggle('has-error', Boolean(msg));
  }
}

function focusFirstInvalid() {
  for (const f of AUTH_FIELDS) {
    if (state.auth.fields[f]) {
      $(FIELD_INPUT[f]).focus();
      return;
    }
  }
}

async function onAuthSubmit(event) {
  event.preventDefault();
  const a = state.auth;
  if (a.busy) return;
  const mode = a.mode;
  const email = $('auth-email').value.trim();
  const password = $('auth-password').value;
  const displayName = $('auth-display-name').value.trim();
  $('auth-email').value = email;
  a.status = null;

  const problems = checkAuthForm(mode, email, password, displayName);
  if (Object.keys(problems).length) {
    a.fields = Object.fromEntries(Object.entries(problems).map(([f, k]) => [f, { key: k }]));
    a.error = { key: 'auth.fix_fields' };
    renderAuthMessages();
    focusFirstInvalid();
    return;
  }

  a.fields = {};
  a.error = null;
  a.busy = true;
  renderAuth();
  let res;
  try {
    res = mode === 'signup'
      ? await api.register(email, password, displayName)
      : await api.login(email, password);
    if (!res || typeof res.access_token !== 'string' || !res.access_token) {
      throw new ApiError({ status: 200, code: 'bad_response', message: '' });
    }
  } catch (err) {
    a.busy = false;
    onAuthError(err);
    renderAuth();
    focusFirstInvalid();
    return;
  }
  a.busy = false;
  session.save(res.access_token);
  state.lastEmail = email;
  $('auth-password').value = '';
  $('auth-display-name').value = '';
  if (res.user && typeof res.user === 'object') enterHome(res.user);
  else loadMe();
}

function onAuthError(err) {
  const fields = err instanceof ApiError ? err.fields : [];
  const known = fields.filter((f) => f.field in FIELD_INPUT);
  const other = fields.filter((f) => !(f.field in FIELD_INPUT));
  const a = state.auth;
  a.fields = Object.fromEntries(known.map((f) => [f.field, { server: f.problem }]));
  if (err instanceof ApiError && err.unreachable) {
    a.error = { text: () => `${t('error.unreachable')}. ${unreachableDetail(err)}` };
  } else if (known.length && !other.length) {
    a.error = { key: 'auth.fix_fields' };
  } else if (other.length) {
    a.error = { text: () => other.map((f) => serverProblem(f.field, f.problem)).join(' ') };
  } else {
    a.error = { err };
  }
}

// ------------------------------------------------------------------ session

async function loadMe() {
  state.fatal = null;
  showView('loading');
  try {
    const me = await api.me();
    enterHome(me);
  } catch (err) {
    if (err instanceof ApiError && err.unauthorized) sessionEnded();
    else showFatal(err, loadMe);
  }
}

function enterHome(user) {
  state.user = user;
  if (user.email) state.lastEmail = user.email;
  renderUser();
  if (needsOnboarding(user)) {
    showOnboarding();
    return;
  }
  route();
}

// Before the app opens: education level, age and AI familiarity (PATCH /users/me).
function showOnboarding() {
  leavePage();
  showView('onboarding');
  state.onboarding = onboardingPage($('view-onboarding'), pageCtx, state.user, (u) => {
    state.onboarding = null;
    state.user = u;
    renderUser();
    route();
  });
}

// The screen for the address's #hash: home, or a page of pages.js.
function route() {
  if (!state.user || state.onboarding) return;
  const hash = window.location.hash;
  const section = sectionOf(hash);
  renderNav(section);
  if (section === 'home') {
    leavePage();
    showHome();
    return;
  }
  leaveRecent();
  showView('page');
  if (!mount(hash, $('view-page'), pageCtx)) window.location.hash = '#/';
}

function renderNav(section) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function showHome() {
  state.catalogue = freshCatalogue();
  $('sort-by').value = state.catalogue.sortBy;
  $('sort-order').value = state.catalogue.sortOrder;
  renderUser();
  showView('home');
  focusSoon($('home-title'));
  loadCatalogue();
  leaveRecent();
  state.recent = recentExperiments($('home-experiments'), pageCtx);
}

function leaveRecent() {
  if (state.recent) state.recent.leave();
  state.recent = null;
}

function leave(statusKey) {
  session.clear();
  leavePage();
  leaveRecent();
  $('view-page').replaceChildren();
  state.onboarding = null;
  state.user = null;
  state.catalogue.seq++; // answers still on their way are dropped
  state.catalogue = freshCatalogue();
  state.fatal = null;
  showAuth('signin', statusKey);
}

function sessionEnded() {
  leave('auth.session_ended');
}

function signOut() {
  leave('auth.signed_out');
}

// ------------------------------------------------------------------ header and profile

function label(prefix, value) {
  if (value === null || value === undefined || value === '') return t('profile.none');
  return has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value);
}

function renderUser() {
  const u = state.user;
  if (!u) return;
  const name = u.display_name || u.email || '';
  if (u.display_name) setText('user-name', name);
  else setEmail('user-name', name);
  setEmail('user-email', u.display_name ? u.email || '' : '');
  $('user-email').hidden = !u.display_name;
  setText('user-role', label('role', u.role));
  setText('home-title', t('home.welcome', { name }));
  setText('profile-name', u.display_name || t('profile.none'));
  setEmail('profile-email', u.email || t('profile.none'));
  setText('profile-role', label('role', u.role));
  setText('profile-audience', label('audience', u.audience_level));
  setText('profile-created', formatDate(u.created_at));
}

// ------------------------------------------------------------------ catalogue

function num(v, fallback) {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function normaliseCatalogue(data, page) {
  const datasets = Array.isArray(data && data.datasets)
    ? data.datasets.filter((d) => d && typeof d === 'object') : [];
  const total = num(data && data.total_count, datasets.length);
  const size = num(data && data.page_size, PAGE_SIZE) || PAGE_SIZE;
  return {
    datasets,
    total,
    page: num(data && data.page, page),
    totalPages: num(data && data.total_pages, Math.ceil(total / size)),
  };
}

async function loadCatalogue() {
  const c = state.catalogue;
  const seq = ++c.seq;
  c.status = 'loading';
  c.error = null;
  renderCatalogue();
  try {
    const data = await api.datasets({
      page: c.page, pageSize: PAGE_SIZE, sortBy: c.sortBy, sortOrder: c.sortOrder,
    });
    if (seq !== c.seq || state.catalogue !== c) return;
    c.data = normaliseCatalogue(data, c.page);
    if (!c.data.datasets.length && c.data.totalPages > 0 && c.page > c.data.totalPages) {
      c.page = c.data.totalPages; // the catalogue shrank under us: show its last page
      loadCatalogue();
      return;
    }
    c.page = c.data.page;
    c.status = 'ready';
  } catch (err) {
    if (seq !== c.seq || state.catalogue !== c) return;
    if (err instanceof ApiError && err.unauthorized) {
      sessionEnded();
      return;
    }
    c.status = 'error';
    c.error = err;
  }
  renderCatalogue();
}

function stateBlock(kind, title, detail, extra) {
  return el('div', { class: `state state-${kind}` },
    el('div', { class: `state-icon state-icon-${kind}`, 'aria-hidden': 'true' }),
    title ? el('p', { class: 'state-title', text: title }) : null,
    detail ? el('p', { class: 'state-detail muted', text: detail }) : null,
    extra || null);
}

function chips(values) {
  const list = Array.isArray(values) ? values.filter((v) => typeof v === 'string' && v) : [];
  if (!list.length) return el('span', { class: 'muted', text: t('catalogue.unknown') });
  return el('ul', { class: 'chips' }, list.map((v) => el('li', { class: 'chip', text: v })));
}

function datasetRow(d) {
  const title = d.display_name || d.name || t('catalogue.unknown');
  const nameCell = el('th', { scope: 'row', class: 'col-name' },
    d.id ? el('a', { class: 'ds-title', href: `#/datasets/${encodeURIComponent(d.id)}`, text: title })
      : el('span', { class: 'ds-title', text: title }),
    d.display_name && d.name && d.name !== d.display_name
      ? el('span', { class: 'ds-id', text: d.name }) : null,
    typeof d.objective === 'string' && d.objective
      ? el('span', { class: 'ds-objective muted', text: d.objective }) : null);
  const cell = (key, content, cls) => el('td', { 'data-label': t(key), class: cls }, content);
  return el('tr', {},
    nameCell,
    cell('catalogue.col.year', typeof d.year === 'number' ? String(d.year) : t('catalogue.unknown'), 'num'),
    cell('catalogue.col.instances', formatNumber(d.instances_number), 'num'),
    cell('catalogue.col.features', formatNumber(d.features_number), 'num'),
    cell('catalogue.col.domains', chips(d.domain)),
    cell('catalogue.col.tasks', chips(d.task)));
}

function datasetTable(data) {
  const head = ['name', 'year', 'instances', 'features', 'domains', 'tasks'];
  return el('table', { class: 'datasets' },
    el('caption', {
      class: 'visually-hidden',
      text: t('catalogue.caption', { page: data.page, pages: Math.max(1, data.totalPages) }),
    }),
    el('thead', {}, el('tr', {}, head.map((h) => el('th', {
      scope: 'col',
      class: ['year', 'instances', 'features'].includes(h) ? 'num' : undefined,
      text: t(`catalogue.col.${h}`),
    })))),
    el('tbody', {}, data.datasets.map(datasetRow)));
}

function renderCatalogue() {
  const c = state.catalogue;
  const body = $('catalogue-body');
  const hadFocus = body.contains(document.activeElement);
  const loading = c.status === 'loading';
  body.setAttribute('aria-busy', String(loading));
  body.classList.toggle('is-loading', loading && Boolean(c.data));

  let content;
  let status = '';
  let showPager = false;
  if (c.status === 'error') {
    const err = c.error;
    const unreachable = err instanceof ApiError && err.unreachable;
    const title = unreachable ? t('error.unreachable') : t('catalogue.error.title');
    const detail = unreachable ? unreachableDetail(err) : errorText(err);
    const retry = el('button', {
      type: 'button', class: 'btn btn-primary', id: 'catalogue-retry', text: t('action.retry'),
      onclick: () => loadCatalogue(),
    });
    content = stateBlock('error', title, detail, el('div', { class: 'state-actions' },
      err && err.requestId ? el('p', { class: 'reference', text: t('error.reference', { id: err.requestId }) }) : null,
      retry));
    status = `${title}. ${detail}`;
  } else if (!c.data) {
    content = stateBlock('loading', t('catalogue.loading'));
    status = t('catalogue.loading');
  } else if (!c.data.datasets.length) {
    content = stateBlock('empty', t('catalogue.empty.title'), t('catalogue.empty.body'));
    status = loading ? t('catalogue.loading') : `${t('catalogue.empty.title')}. ${t('catalogue.empty.body')}`;
  } else {
    content = el('div', { class: 'table-wrap' }, datasetTable(c.data));
    status = loading ? t('catalogue.loading')
      : (c.data.total === 1 ? t('catalogue.count.one') : t('catalogue.count', { count: formatNumber(c.data.total) }));
    showPager = true;
  }
  body.replaceChildren(content);
  setText('catalogue-status', status);
  // Seen as a line above the table; for the other states the block itself says it.
  $('catalogue-status').classList.toggle('visually-hidden', !showPager);

  const pager = $('pager');
  pager.hidden = !showPager;
  if (showPager) {
    const pages = Math.max(1, c.data.totalPages);
    // The page on screen: while the next one loads the old one stays, dimmed.
    setText('page-info', t('catalogue.page', { page: c.data.page, pages }));
    $('page-prev').setAttribute('aria-disabled', String(loading || c.page <= 1));
    $('page-next').setAttribute('aria-disabled', String(loading || c.page >= pages));
  }
  if (hadFocus && !body.contains(document.activeElement)) {
    ($('catalogue-retry') || body).focus();
  }
}

function goToPage(delta) {
  const c = state.catalogue;
  if (c.status === 'loading' || !c.data) return;
  const next = c.page + delta;
  if (next < 1 || next > Math.max(1, c.data.totalPages)) return;
  c.page = next;
  loadCatalogue();
}

function onSortChange() {
  const c = state.catalogue;
  const by = $('sort-by').value;
  c.sortBy = SORT_KEYS.includes(by) ? by : 'name';
  c.sortOrder = $('sort-order').value === 'desc' ? 'desc' : 'asc';
  c.page = 1;
  loadCatalogue();
}

// ------------------------------------------------------------------ language

function renderAll() {
  renderAuth();
  renderFatal();
  renderUser();
  if (state.user) renderCatalogue();
  if (state.recent) state.recent.draw();
  if (state.view === 'page') redrawPage();
  if (state.view === 'onboarding' && state.onboarding) state.onboarding.draw();
}

// ------------------------------------------------------------------ wiring

function wire() {
  for (const b of document.querySelectorAll('[data-lang-choice]')) {
    b.addEventListener('click', () => setLang(b.dataset.langChoice));
  }
  onLangChange(renderAll);
  $('mode-signin').addEventListener('click', () => setAuthMode('signin'));
  $('mode-signup').addEventListener('click', () => setAuthMode('signup'));
  $('auth-switch').addEventListener('click', () => {
    setAuthMode(state.auth.mode === 'signup' ? 'signin' : 'signup');
    $('auth-email').focus();
  });
  $('auth-form').addEventListener('submit', onAuthSubmit);
  $('auth-show-password').addEventListener('change', (e) => {
    $('auth-password').type = e.target.checked ? 'text' : 'password';
  });
  $('signout').addEventListener('click', signOut);
  $('fatal-retry').addEventListener('click', () => {
    const retry = state.fatal && state.fatal.retry;
    if (retry) retry();
  });
  $('fatal-signin').addEventListener('click', () => leave(null));
  $('page-prev').addEventListener('click', () => goToPage(-1));
  $('page-next').addEventListener('click', () => goToPage(1));
  $('sort-by').addEventListener('change', onSortChange);
  $('sort-order').addEventListener('change', onSortChange);
  window.addEventListener('hashchange', () => {
    if (state.user && ['home', 'page'].includes(state.view)) route();
  });
}

function boot() {
  applyTranslations(document);
  wire();
  renderAuth();
  if (session.token()) loadMe();
  else showAuth('signin');
}

boot();
