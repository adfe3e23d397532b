// validate: checks Kubernetes objects against the OpenAPI schemas of Kubernetes v1.33.0 as
// the npm package kubernetes-models@4.5.1 ships them (pinned in package-lock.json).
//
// Two checks per object:
//  1. the package's validators (the OpenAPI schemas compiled with ajv): wrong types, missing
//     required fields, bad enum values and formats;
//  2. unknown fields, which those schemas let through (Kubernetes' OpenAPI does not close its
//     objects): every key must be a property of the object's type. The types come from the
//     same package's declaration files (generated from the same OpenAPI document): each
//     `interface` lists its properties, whose types name the interfaces to descend into.
//     An interface with no properties (RawExtension, FieldsV1) holds anything.
// validateObject(obj) returns a list of messages ("" when valid); the CLI validates YAML files.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const NODE_MODULES = path.join(HERE, 'node_modules');
const MODELS = path.join(NODE_MODULES, 'kubernetes-models');
export const KUBERNETES_VERSION = '1.33.0';

// ---- the declaration files ------------------------------------------------------------
const dtsCache = new Map();

// One .d.ts file: its imports (name -> file) and its interfaces (name -> properties).
function parseDts(file) {
  if (dtsCache.has(file)) return dtsCache.get(file);
  const text = fs.readFileSync(file, 'utf8');
  const imports = new Map();
  for (const m of text.matchAll(/^import \{([^}]*)\} from "([^"]+)";$/gm)) {
    const target = m[2].startsWith('.')
      ? path.resolve(path.dirname(file), m[2]) + '.d.ts'
      : path.join(NODE_MODULES, m[2]) + '.d.ts';
    for (const name of m[1].split(',').map((s) => s.trim()).filter(Boolean)) {
      imports.set(name, target);
    }
  }
  const interfaces = new Map();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = lines[i].match(/^export interface (\w+)(?: extends [\w, ]+)? \{$/);
    if (!head) continue;
    const props = new Map();
    for (i++; i < lines.length && lines[i] !== '}'; i++) {
      const p = lines[i].match(/^ {4}"([^"]+)"(\?)?: (.*)$/);
      if (!p) continue;
      let type = p[3];
      if (type === '{') { // a map: "{ [key: string]: T; }" over three lines
        const value = lines[i + 1].match(/^ {8}\[key: string\]: (.*);$/);
        if (!value || lines[i + 2] !== '    };') throw new Error(`${file}:${i + 1}: unexpected map type`);
        type = { map: value[1] };
        i += 2;
      } else {
        type = type.replace(/;$/, '');
      }
      props.set(p[1], { optional: p[2] === '?', type });
    }
    interfaces.set(head[1], props);
  }
  const parsed = { file, imports, interfaces };
  dtsCache.set(file, parsed);
  return parsed;
}

// The interface a type name stands for, from the file it is used in: null for a leaf (a
// primitive, a literal union, a type alias such as Quantity or IntOrString).
function resolveInterface(dts, name) {
  if (dts.interfaces.has(name)) return { dts, name };
  const target = dts.imports.get(name);
  if (!target || !fs.existsSync(target)) return null;
  const other = parseDts(target);
  // the exporting file names it by its short name: `export { IFoo as IIoK8s...Foo }`
  const text = fs.readFileSync(target, 'utf8');
  const alias = text.match(new RegExp(`export \\{ (\\w+) as ${name}\\b`));
  const local = alias ? alias[1] : name;
  return other.interfaces.has(local) ? { dts: other, name: local } : null;
}

function checkUnknown(value, type, dts, where, out) {
  if (value === null || value === undefined) return;
  if (typeof type === 'object' && type.map) {
    if (typeof value !== 'object' || Array.isArray(value)) return; // ajv reports the type
    for (const [k, v] of Object.entries(value)) checkUnknown(v, type.map, dts, `${where}/${k}`, out);
    return;
  }
  const arr = type.match(/^Array<(.*)>$/);
  if (arr) {
    if (!Array.isArray(value)) return;
    value.forEach((v, i) => checkUnknown(v, arr[1], dts, `${where}/${i}`, out));
    return;
  }
  if (!/^I\w+$/.test(type)) return; // string, number, boolean, literals, T["kind"]
  const iface = resolveInterface(dts, type);
  if (!iface) return;
  checkObject(value, iface.dts, iface.name, where, out);
}

function checkObject(value, dts, name, where, out) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  const props = dts.interfaces.get(name);
  if (props.size === 0) return; // free-form (RawExtension, FieldsV1, JSON)
  for (const [k, v] of Object.entries(value)) {
    const prop = props.get(k);
    if (!prop) {
      out.push(`${where || '/'}: unknown field "${k}"`);
      continue;
    }
    checkUnknown(v, prop.type, dts, `${where}/${k}`, out);
  }
}

// ---- one object ------------------------------------------------------------------------
function modelFile(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !/^\w+$/.test(kind)) return null;
  const base = path.join(MODELS, apiVersion, kind); // apiVersion "apps/v1" or "v1"
  if (!base.startsWith(MODELS + path.sep)) return null;
  return fs.existsSync(base + '.js') && fs.existsSync(base + '.d.ts') ? base : null;
}

export function validateObject(obj) {
  const out = [];
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return ['not an object'];
  const base = modelFile(obj.apiVersion, obj.kind);
  if (!base) return [`unknown apiVersion/kind ${obj.apiVersion}/${obj.kind} (Kubernetes ${KUBERNETES_VERSION})`];
  const mod = require(base + '.js');
  const Model = mod[obj.kind];
  try {
    new Model(obj).validate();
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    for (const err of e.errors) {
      out.push(`${err.instancePath || '/'}: ${err.message}`);
    }
  }
  checkObject(obj, parseDts(base + '.d.ts'), `I${obj.kind}`, '', out);
  return out;
}

export function describe(obj) {
  const ns = obj?.metadata?.namespace ? `${obj.metadata.namespace}/` : '';
  return `${obj?.kind}/${ns}${obj?.metadata?.name}`;
}

// Every object of a multi-document YAML text (empty documents dropped).
export function parseAll(text) {
  return YAML.parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(d.errors.map((e) => e.message).join('; '));
    return d.toJS();
  }).filter((o) => o !== null && o !== undefined);
}

// CLI: node validate.mjs FILE... (or - for stdin): one line per problem, exit 1 on any.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let bad = 0;
  const files = process.argv.slice(2);
  for (const f of files.length ? files : ['-']) {
    const text = fs.readFileSync(f === '-' ? 0 : f, 'utf8');
    for (const obj of parseAll(text)) {
      for (const msg of validateObject(obj)) {
        console.log(`${f}: ${describe(obj)}: ${msg}`);
        bad++;
      }
    }
  }
  if (bad) process.exit(1);
}
