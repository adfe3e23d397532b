// render.test: the overlays render with `kubectl kustomize`, the chart lints and renders
// with `helm lint` and `helm template` (default values and values-production.yaml).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RENDER_NAMES, render, helm, kubectl } from './lib.mjs';

for (const name of RENDER_NAMES) {
  test(`${name} renders the suite`, () => {
    const objects = render(name);
    const deployments = objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name).sort();
    assert.deepEqual(deployments, ['gateway', 'ml-pipeline', 'ml-pipeline-worker', 'model-serving', 'selection',
      'web', 'xai-engine', 'xai-engine-worker']);
    assert.ok(objects.some((o) => o.kind === 'Ingress'), 'an Ingress');
  });
}

test('the base k8s/ renders on its own, in namespace ibisx', () => {
  const objects = render('kustomize/local'); // warm the cache order; the base below is separate
  assert.ok(objects.length > 0);
  const text = kubectl(['kustomize', 'k8s']);
  assert.match(text, /kind: Namespace\nmetadata:\n(?: {2}.*\n)*? {2}name: ibisx/);
  for (const m of text.matchAll(/^ {2}namespace: (.*)$/gm)) assert.equal(m[1], 'ibisx');
});

test('helm lint passes with the default values and values-production.yaml', () => {
  for (const extra of [[], ['-f', 'helm/ibisx/values-production.yaml']]) {
    const out = helm(['lint', '--strict', 'helm/ibisx', ...extra]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('helm template refuses an external Kafka without brokers', () => {
  assert.throws(() => helm(['template', 'ibisx', 'helm/ibisx', '--set', 'kafka.enabled=false']),
    /kafka.brokers is required/);
});

test('the local overlay: one replica, tag dev, ibisx.localhost without TLS, datastores and demo', () => {
  const objects = render('kustomize/local');
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    if (d.spec.replicas !== undefined) assert.equal(d.spec.replicas, 1, d.metadata.name);
    for (const c of d.spec.template.spec.containers) assert.match(c.image, /:dev$/, d.metadata.name);
  }
  const ing = objects.find((o) => o.kind === 'Ingress');
  assert.equal(ing.spec.rules[0].host, 'ibisx.localhost');
  assert.equal(ing.spec.tls, undefined);
  for (const n of ['postgresql', 'kafka']) assert.ok(objects.some((o) => o.kind === 'StatefulSet' && o.metadata.name === n), n);
  assert.ok(objects.some((o) => o.kind === 'Job' && o.metadata.name === 'demo-loader'));
});

test('the production overlay: replicas, TLS by cert-manager, external PostgreSQL and Kafka', () => {
  const objects = render('kustomize/production');
  const gw = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway');
  assert.ok(gw.spec.replicas >= 2);
  const ing = objects.find((o) => o.kind === 'Ingress');
  assert.ok(ing.metadata.annotations['cert-manager.io/cluster-issuer']);
  assert.deepEqual(ing.spec.tls[0].hosts, [ing.spec.rules[0].host]);
  assert.ok(!objects.some((o) => o.kind === 'StatefulSet'), 'no in-cluster datastores');
  const common = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('ibisx-common'));
  assert.notEqual(common.data.IBX_KAFKA_BROKERS, 'kafka:9092');
  assert.ok(objects.some((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'services-to-external-datastores'));
});
