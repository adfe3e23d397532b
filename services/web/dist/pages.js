// pages: the signed-in screens reached by the address's #hash (datasets, a dataset, upload,
// projects, a project, its form, the training wizard, experiments, a run, the comparison,
// explanations and one explanation).
// mount() draws the page for the current hash into a node; redraw() draws it again in the
// new language without fetching again.
import { cataloguePage, datasetPage } from './datasets.js';
import { uploadPage } from './upload.js';
import { projectsPage, projectFormPage, projectPage } from './projects.js';
import { destroyCharts } from './charts.js';
import { trainPage } from './train.js';
import { experimentsPage, experimentPage, comparePage } from './experiments.js';
import { explanationsPage, explanationPage } from './explain.js';

const ROUTES = [
  [/^#\/datasets\/?$/, (root, ctx) => cataloguePage(root, ctx), 'datasets'],
  [/^#\/datasets\/upload\/?$/, (root, ctx) => uploadPage(root, ctx), 'upload'],
  [/^#\/datasets\/([\w-]+)\/?$/, (root, ctx, m) => datasetPage(root, ctx, m[1]), 'datasets'],
  [/^#\/projects\/?$/, (root, ctx) => projectsPage(root, ctx), 'projects'],
  [/^#\/projects\/new\/?$/, (root, ctx) => projectFormPage(root, ctx, null), 'projects'],
  [/^#\/projects\/([\w-]+)\/edit\/?$/, (root, ctx, m) => projectFormPage(root, ctx, m[1]), 'projects'],
  [/^#\/projects\/([\w-]+)\/?$/, (root, ctx, m) => projectPage(root, ctx, m[1]), 'projects'],
  [/^#\/train\/?$/, (root, ctx) => trainPage(root, ctx, null), 'train'],
  [/^#\/train\/([\w-]+)\/?$/, (root, ctx, m) => trainPage(root, ctx, m[1]), 'train'],
  [/^#\/experiments\/?$/, (root, ctx) => experimentsPage(root, ctx), 'experiments'],
  [/^#\/experiments\/compare\/?(\?.*)?$/, (root, ctx, m) => comparePage(root, ctx, m[0]), 'experiments'],
  [/^#\/experiments\/([\w-]+)\/?$/, (root, ctx, m) => experimentPage(root, ctx, m[1]), 'experiments'],
  [/^#\/explanations\/?$/, (root, ctx) => explanationsPage(root, ctx), 'explanations'],
  [/^#\/explanations\/([\w-]+)\/?$/, (root, ctx, m) => explanationPage(root, ctx, m[1]), 'explanations'],
];

let current = null;

// The nav section a hash belongs to ('home' for the home screen, null when unknown).
export function sectionOf(hash) {
  if (!hash || hash === '#' || hash === '#/') return 'home';
  const r = ROUTES.find(([re]) => re.test(hash));
  return r ? r[2] : null;
}

/** Draws the page for hash into root; false when no page has that address. */
export function mount(hash, root, ctx) {
  leave();
  const r = ROUTES.find(([re]) => re.test(hash));
  if (!r) return false;
  // Each page draws into its own box: answers that reach a page after it was left draw
  // into a box no longer in the document, never over the next page.
  const box = document.createElement('div');
  box.className = 'page-box';
  root.replaceChildren(box);
  current = r[1](box, ctx, hash.match(r[0]));
  window.scrollTo(0, 0);
  return true;
}

export function leave() {
  if (current && current.leave) current.leave();
  current = null;
  destroyCharts();
}

export function redraw() {
  if (current && current.draw) current.draw();
}
