// skaffold.test: skaffold.yaml against the structure of skaffold's configuration schema
// for its apiVersion, skaffold/v4beta12 (docs-v2/content/en/schemas/v4beta12.json in
// skaffold's repository; no npm package ships it, so the part this project uses is written
// here from that schema: every object closed, as the schema's additionalProperties: false,
// with its required fields and types). Then what the profiles must do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readYaml, ROOT } from './lib.mjs';

const str = { type: 'string' };
const bool = { type: 'boolean' };
const int = { type: 'integer' };
const strs = { type: 'array', items: str };
const strMap = { type: 'object', values: str };
const obj = (properties, required = []) => ({ type: 'object', properties, required });
const arr = (items) => ({ type: 'array', items });

const metadata = obj({ name: str, labels: strMap, annotations: strMap });
const dockerArtifact = obj({
  dockerfile: str, target: str, buildArgs: strMap, network: str, addHost: strs, cacheFrom: strs,
  cliFlags: strs, pullParent: bool, noCache: bool, squash: bool, secrets: { type: 'array' }, ssh: str,
});
const customArtifact = obj({ buildCommand: str, dependencies: { type: 'object' } });
const artifact = obj({
  image: str, context: str, sync: { type: 'object' }, requires: { type: 'array' }, hooks: { type: 'object' },
  platforms: strs, runtimeType: str, docker: dockerArtifact, custom: customArtifact,
}, ['image']);
const tagPolicy = obj({
  gitCommit: obj({ variant: str, prefix: str, ignoreChanges: bool }), sha256: obj({}),
  envTemplate: obj({ template: str }, ['template']), dateTime: obj({ format: str, timezone: str }),
  customTemplate: { type: 'object' }, inputDigest: obj({}),
});
const localBuild = obj({ push: bool, tryImportMissing: bool, useDockerCLI: bool, useBuildkit: bool, concurrency: int });
const build = obj({ hooks: { type: 'object' }, artifacts: arr(artifact), insecureRegistries: strs, tagPolicy, platforms: strs, local: localBuild });
const kustomize = obj({ paths: strs, buildArgs: strs, hooks: { type: 'object' } });
const manifests = obj({ rawYaml: strs, kustomize, helm: { type: 'object' }, kpt: strs, transform: { type: 'array' }, validate: { type: 'array' }, hooks: { type: 'object' } });
const kubectl = obj({ defaultNamespace: str, flags: obj({ global: strs, apply: strs, delete: strs, disableValidation: bool }), hooks: { type: 'object' }, remoteManifests: strs });
const helmRelease = obj({
  name: str, chartPath: str, remoteChart: str, valuesFiles: strs, namespace: str, version: str,
  setValues: strMap, setValueTemplates: strMap, setFiles: strMap, createNamespace: bool, wait: bool,
  recreatePods: bool, skipBuildDependencies: bool, skipTests: bool, useHelmSecrets: bool, repo: str,
  upgradeOnChange: bool, overrides: { type: 'object' }, packaged: { type: 'object' }, dependsOn: strs,
}, ['name']);
const helmDeploy = obj({ releases: arr(helmRelease), flags: { type: 'object' }, hooks: { type: 'object' } });
const deploy = obj({
  kubectl, helm: helmDeploy, docker: { type: 'object' }, kpt: { type: 'object' }, cloudrun: { type: 'object' },
  kubeContext: str, logs: { type: 'object' }, statusCheck: bool, statusCheckDeadlineSeconds: int,
  tolerateFailuresUntilDeadline: bool,
});
const portForward = arr(obj({ resourceType: str, resourceName: str, namespace: str, port: { type: ['integer', 'string'] }, localPort: int, address: str }));
const activation = obj({ env: str, kubeContext: str, command: str });
const profile = obj({
  name: str, activation: arr(activation), requiresAllActivations: bool, patches: { type: 'array' }, build, test: { type: 'array' },
  manifests, deploy, portForward, resourceSelector: { type: 'object' }, verify: { type: 'array' }, customActions: { type: 'array' },
}, ['name']);
const config = obj({
  apiVersion: str, kind: str, metadata, requires: { type: 'array' }, build, test: { type: 'array' }, manifests, deploy,
  portForward, resourceSelector: { type: 'object' }, verify: { type: 'array' }, customActions: { type: 'array' }, profiles: arr(profile),
}, ['apiVersion', 'kind']);

function typeOf(v) {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (Number.isInteger(v)) return 'integer';
  return typeof v;
}

// Problems of value against schema s, at path where.
export function check(value, s, where = '', out = []) {
  const types = [].concat(s.type);
  if (!types.includes(typeOf(value))) {
    out.push(`${where || '/'}: is ${typeOf(value)}, want ${types.join(' or ')}`);
    return out;
  }
  if (s.items) value.forEach((v, i) => check(v, s.items, `${where}/${i}`, out));
  if (s.values) for (const [k, v] of Object.entries(value)) check(v, s.values, `${where}/${k}`, out);
  if (s.properties) {
    for (const r of s.required || []) if (value[r] === undefined) out.push(`${where || '/'}: missing required "${r}"`);
    for (const [k, v] of Object.entries(value)) {
      if (!s.properties[k]) out.push(`${where || '/'}: unknown field "${k}"`);
      else check(v, s.properties[k], `${where}/${k}`, out);
    }
  }
  return out;
}

const sk = () => readYaml('skaffold.yaml');

test('skaffold.yaml has the structure of skaffold/v4beta12', () => {
  const doc = sk();
  assert.equal(doc.apiVersion, 'skaffold/v4beta12');
  assert.equal(doc.kind, 'Config');
  assert.deepEqual(check(doc, config), []);
});

test('the structural check refuses unknown fields, wrong types and missing names', () => {
  const doc = sk();
  doc.build.artifacts[0].dockerFile = 'x';
  doc.build.local.push = 'no';
  delete doc.profiles[0].name;
  doc.profiles[1].deploy.kubectl.flagz = {};
  const out = check(doc, config);
  assert.ok(out.includes('/build/artifacts/0: unknown field "dockerFile"'), out.join('\n'));
  assert.ok(out.includes('/build/local/push: is string, want boolean'), out.join('\n'));
  assert.ok(out.includes('/profiles/0: missing required "name"'), out.join('\n'));
  assert.ok(out.includes('/profiles/1/deploy/kubectl: unknown field "flagz"'), out.join('\n'));
});

test('skaffold.yaml: one artifact per image, from its Containerfile, with the repository as context', () => {
  const names = sk().build.artifacts.map((a) => a.image).sort();
  assert.deepEqual(names, ['ibisx/demo-loader', 'ibisx/gateway', 'ibisx/ml-pipeline', 'ibisx/model-serving',
    'ibisx/selection', 'ibisx/web', 'ibisx/xai-engine']);
  for (const a of sk().build.artifacts) {
    assert.equal(a.context, '.');
    assert.ok(fs.existsSync(path.join(ROOT, a.docker.dockerfile)), a.docker.dockerfile);
  }
});

test('skaffold.yaml: profiles local (kustomize/local, gateway forwarded), production and helm', () => {
  const profiles = Object.fromEntries(sk().profiles.map((p) => [p.name, p]));
  assert.deepEqual(Object.keys(profiles).sort(), ['helm', 'local', 'production']);
  assert.deepEqual(profiles.local.manifests.kustomize.paths, ['kustomize/local']);
  assert.ok(profiles.local.portForward.some((f) => f.resourceType === 'service' && f.resourceName === 'gateway' && f.port === 8080));
  assert.deepEqual(profiles.production.manifests.kustomize.paths, ['kustomize/production']);
  const rel = profiles.helm.deploy.helm.releases[0];
  assert.equal(rel.chartPath, 'helm/ibisx');
  for (const p of [...profiles.local.manifests.kustomize.paths, ...profiles.production.manifests.kustomize.paths, rel.chartPath]) {
    assert.ok(fs.existsSync(path.join(ROOT, p)), p);
  }
  // the chart gets every artifact skaffold built
  for (const a of sk().build.artifacts) {
    const key = `images.${a.image.split('/').pop()}`;
    const id = a.image.replace(/[/-]/g, '_');
    assert.equal(rel.setValueTemplates[key], `{{.IMAGE_FULLY_QUALIFIED_${id}}}`, key);
  }
});
