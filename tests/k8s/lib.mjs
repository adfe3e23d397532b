// lib: what the Kubernetes checks share: the renders (kustomize overlays, Helm chart) made
// once per test file with the binaries in tests/k8s/tools, the services' configuration
// tables (`ibx-<service> --help`) and default ports (their sources), small helpers.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { parseAll } from './validate.mjs';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');
export const TOOLS = path.join(HERE, 'tools');
const BIN = process.env.IBX_BIN_DIR || path.join(ROOT, 'build/release/bin');

// The suite's images and the services behind them. Third-party images (not built here)
// must be pinned to a version.
export const SERVICES = {
  gateway: { dir: 'gateway', bin: 'ibx-gateway' },
  selection: { dir: 'selection', bin: 'ibx-selection' },
  'ml-pipeline': { dir: 'ml-pipeline', bin: 'ibx-pipeline' },
  'xai-engine': { dir: 'xai-engine', bin: 'ibx-xai' },
  'model-serving': { dir: 'model-serving', bin: 'ibx-serving' },
};
export const THIRD_PARTY = ['docker.io/library/postgres', 'docker.io/apache/kafka'];

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 60000, maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

function mustRun(cmd, args) {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export const kubectl = (args) => mustRun(path.join(TOOLS, 'kubectl'), args);
export const helm = (args) => mustRun(path.join(TOOLS, 'helm'), args);

// The renders the checks run on: name -> { objects, source }. Rendered once, lazily.
const RENDERS = {
  'kustomize/local': () => kubectl(['kustomize', 'kustomize/local']),
  'kustomize/production': () => kubectl(['kustomize', 'kustomize/production']),
  'helm (values.yaml)': () => helm(['template', 'ibisx', 'helm/ibisx', '--namespace', 'ibisx']),
  'helm (values-production.yaml)': () =>
    helm(['template', 'ibisx', 'helm/ibisx', '--namespace', 'ibisx', '-f', 'helm/ibisx/values-production.yaml']),
};
export const RENDER_NAMES = Object.keys(RENDERS);
const cache = new Map();
export function render(name) {
  if (!cache.has(name)) cache.set(name, parseAll(RENDERS[name]()));
  return cache.get(name);
}

export function readYaml(rel) {
  return YAML.parse(fs.readFileSync(path.join(ROOT, rel), 'utf8'));
}

// "ibisx/gateway:dev" -> "ibisx/gateway" (tag and digest dropped)
export function imageRepo(image) {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}
export function imageTag(image) {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : '';
}

// The pod templates of a render: { owner, kind, name, template }.
export function podTemplates(objects) {
  const out = [];
  for (const o of objects) {
    if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(o.kind)) {
      out.push({ owner: o, kind: o.kind, name: o.metadata.name, template: o.spec.template });
    } else if (o.kind === 'Job') {
      out.push({ owner: o, kind: o.kind, name: o.metadata.name, template: o.spec.template });
    }
  }
  return out;
}

export function matches(selector, labels) {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

// A LabelSelector (matchLabels and matchExpressions) against labels.
export function selects(sel, labels) {
  labels = labels || {};
  for (const [k, v] of Object.entries(sel?.matchLabels || {})) if (labels[k] !== v) return false;
  for (const e of sel?.matchExpressions || []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

// ---- the services' configuration tables and ports ------------------------------------
const tables = new Map();
// The variables a service reads: the names `ibx-<service> --help` lists (Map name -> line).
export function configTable(service) {
  if (tables.has(service)) return tables.get(service);
  const bin = path.join(BIN, SERVICES[service].bin);
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: build first (make build) or set IBX_BIN_DIR`);
  const r = run(bin, ['--help']);
  const text = `${r.stdout}${r.stderr}`;
  const vars = new Map();
  for (const m of text.matchAll(/^ {2}((?:PORT|IBX_[A-Z0-9_]+))\s+(.*)$/gm)) vars.set(m[1], m[2]);
  if (!vars.has('PORT') || !vars.has('IBX_DATABASE_URL')) {
    throw new Error(`${bin} --help printed no configuration table:\n${text.slice(0, 500)}`);
  }
  tables.set(service, vars);
  return vars;
}

function sources(service) {
  const dir = path.join(ROOT, 'services', SERVICES[service].dir, 'src');
  return fs.readdirSync(dir).filter((f) => /\.[ch]$/.test(f)).map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
}

function macro(texts, name) {
  for (const t of texts) {
    const m = t.match(new RegExp(`^#define\\s+${name}\\s+(\\d+)\\b`, 'm'));
    if (m) return Number(m[1]);
  }
  return null;
}

// The service's default ports from its sources (svc_def .default_port in main.c): { api,
// worker } (worker null when the service has no worker mode in its sources).
export function sourcePorts(service) {
  const texts = sources(service);
  const main = fs.readFileSync(path.join(ROOT, 'services', SERVICES[service].dir, 'src/main.c'), 'utf8');
  const m = main.match(/\.default_port\s*=\s*(?:worker\s*\?\s*(\w+)\s*:\s*)?(\w+)/);
  if (!m) throw new Error(`services/${service}/src/main.c sets no .default_port`);
  const value = (tok) => (/^\d+$/.test(tok) ? Number(tok) : macro(texts, tok));
  let worker = m[1] ? value(m[1]) : null;
  if (worker === null) {
    for (const t of texts) {
      const w = t.match(/^#define\s+\w*WORKER_PORT\s+(\d+)\b/m);
      if (w) worker = Number(w[1]);
    }
  }
  return { api: value(m[2]), worker };
}

// The env names a container gets: its env list and its envFrom ConfigMaps (from the render).
export function containerEnv(container, objects) {
  const env = new Map();
  for (const ref of container.envFrom || []) {
    if (!ref.configMapRef) continue;
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === ref.configMapRef.name);
    if (!cm) throw new Error(`container ${container.name}: ConfigMap ${ref.configMapRef.name} is not in the render`);
    for (const [k, v] of Object.entries(cm.data || {})) env.set(k, { value: v, from: `ConfigMap ${cm.metadata.name}` });
  }
  for (const e of container.env || []) env.set(e.name, { value: e.value, valueFrom: e.valueFrom, from: 'env' });
  return env;
}
