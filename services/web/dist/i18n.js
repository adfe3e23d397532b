// i18n: every string the UI shows, one dictionary per language, and the helpers that apply them.
// Static markup names its strings with data-i18n="key" (text), data-i18n-aria-label="key" and
// data-i18n-placeholder="key"; code calls t("key", {param}) for the strings it builds.

import { selStrings } from './i18n-sel.js';
import { mlStrings } from './i18n-ml.js';
import { xaiStrings } from './i18n-xai.js';

const STORAGE_KEY = 'ibx.lang';

export const dictionaries = {
  en: {
    'app.title': 'IBIS-X',
    'app.tagline': 'Explainable AI for everyone',
    'app.skip': 'Skip to main content',
    'app.loading': 'Loading…',
    'lang.label': 'Language',

    'auth.signin.title': 'Sign in',
    'auth.signup.title': 'Create your account',
    'auth.signin.intro': 'Welcome back. Sign in to explore datasets and explain your models.',
    'auth.signup.intro': 'Create an account to find datasets, train models and read explanations written for you.',
    'auth.mode.label': 'Sign in or create an account',
    'auth.mode.signin': 'Sign in',
    'auth.mode.signup': 'Create account',
    'auth.email': 'Email address',
    'auth.password': 'Password',
    'auth.password.hint': 'At least 8 characters, and not your email address.',
    'auth.password.show': 'Show password',
    'auth.display_name': 'Display name (optional)',
    'auth.submit.signin': 'Sign in',
    'auth.submit.signup': 'Create account',
    'auth.busy.signin': 'Signing in…',
    'auth.busy.signup': 'Creating your account…',
    'auth.switch.to_signup': 'New to IBIS-X?',
    'auth.switch.to_signup.action': 'Create an account',
    'auth.switch.to_signin': 'Already have an account?',
    'auth.switch.to_signin.action': 'Sign in',
    'auth.session_ended': 'Your session has ended, please sign in again.',
    'auth.signed_out': 'You have signed out.',
    'auth.fix_fields': 'Please correct the highlighted fields.',

    'check.email.required': 'Enter your email address.',
    'check.email.length': 'The email address must be between 3 and 254 characters.',
    'check.email.at': 'The email address must contain exactly one @ with a name before it.',
    'check.email.domain': 'The email address needs a domain such as example.org after the @.',
    'check.email.chars': 'The email address must not contain spaces, quotes, commas or angle brackets.',
    'check.password.required': 'Enter your password.',
    'check.password.short': 'The password must be at least 8 characters.',
    'check.password.long': 'The password must be at most 1024 characters.',
    'check.password.email': 'The password must not be your email address.',
    'check.display_name.long': 'The display name must be at most 100 characters.',

    'error.invalid_credentials': 'The email or password is incorrect.',
    'error.email_taken': 'An account with this email already exists. Try signing in instead.',
    'error.rate_limited': 'Too many attempts. Please wait a moment and try again.',
    'error.forbidden': 'You are not allowed to see this.',
    'error.unreachable': 'IBIS-X is not reachable right now',
    'error.unreachable.detail': 'The service may be restarting. Check your connection and try again in a moment.',
    'error.retry_after': 'Try again in about {seconds} seconds.',
    'error.generic': 'Something went wrong ({status}). Please try again.',
    'error.reference': 'Reference: {id}',
    'error.field.email': 'Email',
    'error.field.password': 'Password',
    'error.field.display_name': 'Display name',
    'action.retry': 'Retry',
    'action.back_to_signin': 'Back to sign-in',

    'home.welcome': 'Welcome, {name}',
    'home.intro': 'Pick a dataset, then train a model on it and compare the results. Explanations and predictions are coming soon.',
    'header.signed_in_as': 'Signed in as',
    'header.role': 'Role',
    'header.signout': 'Sign out',

    'role.admin': 'Administrator',
    'role.user': 'User',
    'role.developer': 'Developer',
    'audience.novice': 'Novice',
    'audience.intermediate': 'Intermediate',
    'audience.expert': 'Expert',

    'profile.title': 'Your profile',
    'profile.name': 'Name',
    'profile.email': 'Email',
    'profile.role': 'Role',
    'profile.audience': 'Explanation level',
    'profile.created': 'Member since',
    'profile.none': '—',

    'catalogue.title': 'Dataset catalogue',
    'catalogue.intro': 'Datasets you can use to train and explain models.',
    'catalogue.sort': 'Sort by',
    'catalogue.order': 'Order',
    'catalogue.order.asc': 'Ascending',
    'catalogue.order.desc': 'Descending',
    'catalogue.sort.name': 'Name',
    'catalogue.sort.year': 'Year',
    'catalogue.sort.instances_number': 'Instances',
    'catalogue.sort.features_number': 'Features',
    'catalogue.sort.num_citations': 'Citations',
    'catalogue.sort.created_at': 'Date added',
    'catalogue.sort.updated_at': 'Last updated',
    'catalogue.col.name': 'Name',
    'catalogue.col.year': 'Year',
    'catalogue.col.instances': 'Instances',
    'catalogue.col.features': 'Features',
    'catalogue.col.domains': 'Domains',
    'catalogue.col.tasks': 'Tasks',
    'catalogue.caption': 'Datasets, page {page} of {pages}',
    'catalogue.loading': 'Loading datasets…',
    'catalogue.empty.title': 'No datasets yet',
    'catalogue.empty.body': 'Datasets will appear here once they are added to the catalogue.',
    'catalogue.error.title': 'The datasets could not be loaded',
    'catalogue.count': '{count} datasets',
    'catalogue.count.one': '1 dataset',
    'catalogue.prev': 'Previous',
    'catalogue.next': 'Next',
    'catalogue.page': 'Page {page} of {pages}',
    'catalogue.pager': 'Catalogue pages',
    'catalogue.unknown': '—',

    'footer.text': 'IBIS-X · explainable AI platform',
  },

  fr: {
    'app.title': 'IBIS-X',
    'app.tagline': 'L’IA explicable pour tous',
    'app.skip': 'Aller au contenu principal',
    'app.loading': 'Chargement…',
    'lang.label': 'Langue',

    'auth.signin.title': 'Connexion',
    'auth.signup.title': 'Créer votre compte',
    'auth.signin.intro': 'Bon retour. Connectez-vous pour explorer les jeux de données et expliquer vos modèles.',
    'auth.signup.intro': 'Créez un compte pour trouver des jeux de données, entraîner des modèles et lire des explications adaptées à vous.',
    'auth.mode.label': 'Se connecter ou créer un compte',
    'auth.mode.signin': 'Connexion',
    'auth.mode.signup': 'Créer un compte',
    'auth.email': 'Adresse e-mail',
    'auth.password': 'Mot de passe',
    'auth.password.hint': 'Au moins 8 caractères, et différent de votre adresse e-mail.',
    'auth.password.show': 'Afficher le mot de passe',
    'auth.display_name': 'Nom affiché (facultatif)',
    'auth.submit.signin': 'Se connecter',
    'auth.submit.signup': 'Créer le compte',
    'auth.busy.signin': 'Connexion en cours…',
    'auth.busy.signup': 'Création du compte…',
    'auth.switch.to_signup': 'Nouveau sur IBIS-X ?',
    'auth.switch.to_signup.action': 'Créer un compte',
    'auth.switch.to_signin': 'Vous avez déjà un compte ?',
    'auth.switch.to_signin.action': 'Se connecter',
    'auth.session_ended': 'Votre session a expiré, veuillez vous reconnecter.',
    'auth.signed_out': 'Vous êtes déconnecté.',
    'auth.fix_fields': 'Veuillez corriger les champs signalés.',

    'check.email.required': 'Saisissez votre adresse e-mail.',
    'check.email.length': 'L’adresse e-mail doit contenir entre 3 et 254 caractères.',
    'check.email.at': 'L’adresse e-mail doit contenir un seul @ précédé d’un nom.',
    'check.email.domain': 'L’adresse e-mail doit avoir un domaine comme example.org après le @.',
    'check.email.chars': 'L’adresse e-mail ne doit contenir ni espaces, ni guillemets, ni virgules, ni chevrons.',
    'check.password.required': 'Saisissez votre mot de passe.',
    'check.password.short': 'Le mot de passe doit contenir au moins 8 caractères.',
    'check.password.long': 'Le mot de passe doit contenir au plus 1024 caractères.',
    'check.password.email': 'Le mot de passe ne doit pas être votre adresse e-mail.',
    'check.display_name.long': 'Le nom affiché doit contenir au plus 100 caractères.',

    'error.invalid_credentials': 'L’adresse e-mail ou le mot de passe est incorrect.',
    'error.email_taken': 'Un compte existe déjà avec cette adresse e-mail. Essayez plutôt de vous connecter.',
    'error.rate_limited': 'Trop de tentatives. Patientez un instant puis réessayez.',
    'error.forbidden': 'Vous n’avez pas accès à ce contenu.',
    'error.unreachable': 'IBIS-X est injoignable pour le moment',
    'error.unreachable.detail': 'Le service redémarre peut-être. Vérifiez votre connexion et réessayez dans un instant.',
    'error.retry_after': 'Réessayez dans environ {seconds} secondes.',
    'error.generic': 'Une erreur est survenue ({status}). Veuillez réessayer.',
    'error.reference': 'Référence : {id}',
    'error.field.email': 'E-mail',
    'error.field.password': 'Mot de passe',
    'error.field.display_name': 'Nom affiché',
    'action.retry': 'Réessayer',
    'action.back_to_signin': 'Retour à la connexion',

    'home.welcome': 'Bienvenue, {name}',
    'home.intro': 'Choisissez un jeu de données, entraînez-y un modèle et comparez les résultats. Les explications et les prédictions arrivent bientôt.',
    'header.signed_in_as': 'Connecté en tant que',
    'header.role': 'Rôle',
    'header.signout': 'Se déconnecter',

    'role.admin': 'Administrateur',
    'role.user': 'Utilisateur',
    'role.developer': 'Développeur',
    'audience.novice': 'Débutant',
    'audience.intermediate': 'Intermédiaire',
    'audience.expert': 'Expert',

    'profile.title': 'Votre profil',
    'profile.name': 'Nom',
    'profile.email': 'E-mail',
    'profile.role': 'Rôle',
    'profile.audience': 'Niveau des explications',
    'profile.created': 'Membre depuis',
    'profile.none': '—',

    'catalogue.title': 'Catalogue de jeux de données',
    'catalogue.intro': 'Les jeux de données disponibles pour entraîner et expliquer des modèles.',
    'catalogue.sort': 'Trier par',
    'catalogue.order': 'Ordre',
    'catalogue.order.asc': 'Croissant',
    'catalogue.order.desc': 'Décroissant',
    'catalogue.sort.name': 'Nom',
    'catalogue.sort.year': 'Année',
    'catalogue.sort.instances_number': 'Instances',
    'catalogue.sort.features_number': 'Variables',
    'catalogue.sort.num_citations': 'Citations',
    'catalogue.sort.created_at': 'Date d’ajout',
    'catalogue.sort.updated_at': 'Dernière mise à jour',
    'catalogue.col.name': 'Nom',
    'catalogue.col.year': 'Année',
    'catalogue.col.instances': 'Instances',
    'catalogue.col.features': 'Variables',
    'catalogue.col.domains': 'Domaines',
    'catalogue.col.tasks': 'Tâches',
    'catalogue.caption': 'Jeux de données, page {page} sur {pages}',
    'catalogue.loading': 'Chargement des jeux de données…',
    'catalogue.empty.title': 'Aucun jeu de données pour l’instant',
    'catalogue.empty.body': 'Les jeux de données apparaîtront ici dès qu’ils seront ajoutés au catalogue.',
    'catalogue.error.title': 'Impossible de charger les jeux de données',
    'catalogue.count': '{count} jeux de données',
    'catalogue.count.one': '1 jeu de données',
    'catalogue.prev': 'Précédent',
    'catalogue.next': 'Suivant',
    'catalogue.page': 'Page {page} sur {pages}',
    'catalogue.pager': 'Pages du catalogue',
    'catalogue.unknown': '—',

    'footer.text': 'IBIS-X · plateforme d’IA explicable',
  },
};

// The dataset, upload, project and onboarding screens keep their strings in i18n-sel.js.
for (const lang of Object.keys(dictionaries)) Object.assign(dictionaries[lang], selStrings[lang]);
// The training, experiment and results screens keep theirs in i18n-ml.js.
for (const lang of Object.keys(dictionaries)) Object.assign(dictionaries[lang], mlStrings[lang]);
// The explanation screens keep theirs in i18n-xai.js.
for (const lang of Object.keys(dictionaries)) Object.assign(dictionaries[lang], xaiStrings[lang]);

export const LANGS = Object.keys(dictionaries);

// Server validation problems we know, so French readers get them in French too.
const SERVER_PROBLEMS = {
  'must be at least 8 characters': 'check.password.short',
  'must be at most 1024 characters': 'check.password.long',
  'must not be your email address': 'check.password.email',
  'must be between 3 and 254 characters': 'check.email.length',
  'must contain exactly one @ with a name before it': 'check.email.at',
  'must have a domain such as example.org after the @': 'check.email.domain',
  'must not contain spaces, quotes, commas or angle brackets': 'check.email.chars',
};

let current = initialLang();
const listeners = new Set();

function storedLang() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: fall back to the browser's language
  }
}

function initialLang() {
  const saved = storedLang();
  if (saved && saved in dictionaries) return saved;
  const prefs = (navigator.languages && navigator.languages.length)
    ? navigator.languages : [navigator.language || 'en'];
  for (const p of prefs) {
    const base = String(p).toLowerCase().split('-')[0];
    if (base in dictionaries) return base;
  }
  return 'en';
}

export function getLang() {
  return current;
}

export function setLang(lang) {
  if (!(lang in dictionaries)) return;
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* not remembered, still applied */
  }
  applyTranslations(document);
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
}

// t('key', {name: 'x'}) → the current language's string with {name} filled in.
export function t(key, params) {
  const dict = dictionaries[current];
  let s = dict[key] ?? dictionaries.en[key] ?? key;
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }
  return s;
}

export function has(key) {
  return key in dictionaries[current] || key in dictionaries.en;
}

// A server validation problem for field → a full sentence in the current language.
export function serverProblem(field, problem) {
  const key = SERVER_PROBLEMS[problem];
  if (key && key.startsWith(`check.${field}.`)) return t(key);
  const label = has(`error.field.${field}`) ? t(`error.field.${field}`) : field;
  return `${label}: ${problem}`;
}

export function applyTranslations(root) {
  document.documentElement.lang = current;
  document.title = t('app.title') + ' — ' + t('app.tagline');
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  }
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
  }
  for (const el of root.querySelectorAll('[data-lang-choice]')) {
    el.setAttribute('aria-pressed', String(el.dataset.langChoice === current));
  }
}

export function formatNumber(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return t('catalogue.unknown');
  return new Intl.NumberFormat(current).format(n);
}

export function formatDate(iso) {
  if (!iso) return t('profile.none');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(current, { dateStyle: 'long' }).format(d);
}
