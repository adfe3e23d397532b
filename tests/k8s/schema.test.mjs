// schema.test: every rendered object is valid against the OpenAPI schemas of Kubernetes
// 1.33.0 (kubernetes-models), unknown fields refused; and the validator itself catches
// each kind of mistake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RENDER_NAMES, render, ROOT } from './lib.mjs';
import { validateObject, describe, parseAll, KUBERNETES_VERSION } from './validate.mjs';

for (const name of RENDER_NAMES) {
  test(`${name}: every object is valid against Kubernetes ${KUBERNETES_VERSION}`, () => {
    const problems = [];
    for (const obj of render(name)) {
      for (const msg of validateObject(obj)) problems.push(`${describe(obj)}: ${msg}`);
    }
    assert.deepEqual(problems, []);
  });
}

test('k8s/secret.example.yaml is a valid Secret', () => {
  const objs = parseAll(fs.readFileSync(path.join(ROOT, 'k8s/secret.example.yaml'), 'utf8'));
  assert.equal(objs.length, 1);
  assert.deepEqual(validateObject(objs[0]), []);
  for (const v of Object.values(objs[0].stringData)) assert.equal(v, '', 'no real values');
});

const good = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'x', labels: { a: 'b' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { a: 'b' } },
    template: {
      metadata: { labels: { a: 'b' } },
      spec: {
        containers: [{
          name: 'c', image: 'i', ports: [{ containerPort: 80 }],
          resources: { limits: { cpu: '1', memory: '1Gi' } },
          env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
        }],
        volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } }],
      },
    },
  },
});

test('the validator accepts a valid Deployment', () => {
  assert.deepEqual(validateObject(good()), []);
});

test('the validator refuses wrong types', () => {
  const d = good();
  d.spec.replicas = '2';
  d.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
  const out = validateObject(d);
  assert.ok(out.some((m) => m.startsWith('/spec/replicas: must be integer')), out.join('\n'));
  assert.ok(out.some((m) => m.includes('/ports/0/containerPort')), out.join('\n'));
});

test('the validator refuses missing required fields', () => {
  const d = good();
  delete d.spec.selector;
  delete d.spec.template.spec.containers[0].name;
  const out = validateObject(d);
  assert.ok(out.some((m) => m === '/spec: must have required property selector'), out.join('\n'));
  assert.ok(out.some((m) => m === '/spec/template/spec/containers/0: must have required property name'), out.join('\n'));
});

test('the validator refuses unknown fields at any depth', () => {
  const d = good();
  d.spec.replica = 3;
  d.metadata.label = {};
  d.spec.template.spec.containers[0].resources.limit = {};
  d.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.keyy = 'k';
  d.spec.template.spec.volumes[0].emptyDir.size = '1Gi';
  const out = validateObject(d);
  for (const where of ['/spec: unknown field "replica"', '/metadata: unknown field "label"',
    '/spec/template/spec/containers/0/resources: unknown field "limit"',
    '/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef: unknown field "keyy"',
    '/spec/template/spec/volumes/0/emptyDir: unknown field "size"']) {
    assert.ok(out.includes(where), `${where}\nin\n${out.join('\n')}`);
  }
});

test('the validator refuses unknown kinds and API versions', () => {
  assert.match(validateObject({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } })[0], /unknown apiVersion\/kind/);
  assert.match(validateObject({ apiVersion: 'extensions/v1beta9', kind: 'Ingress' })[0], /unknown apiVersion\/kind/);
});
