// policy.test: the rules every render must keep, on each of them (both overlays, the chart
// with both values files): probes, resources and security context of every pod; Services
// that select pods; ports and IBX_* variables as the services' configuration tables and
// sources say; NetworkPolicies as ARCHITECTURE.md's callers; images built by skaffold;
// the chart and the overlays with the same objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  RENDER_NAMES, render, podTemplates, matches, selects, imageRepo, imageTag, readYaml, ROOT, SERVICES,
  THIRD_PARTY, configTable, sourcePorts, containerEnv,
} from './lib.mjs';

const byKind = (objects, kind) => objects.filter((o) => o.kind === kind);
const find = (objects, kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);
// kustomize's ConfigMap generator adds a hash: ibisx-common-5f7c9h2k8m -> ibisx-common
const baseName = (o) => (o.kind === 'ConfigMap' ? o.metadata.name.replace(/-[a-z0-9]{10}$/, '') : o.metadata.name);

// Pods that may keep a writable root filesystem, and why (documented in their manifests).
const WRITABLE_ROOT = { kafka: 'the apache/kafka image writes its server.properties at start' };

// The service a Deployment runs: { service, worker } from its image ibisx/<service> and args.
function serviceOf(deployment) {
  const c = deployment.spec.template.spec.containers[0];
  const repo = imageRepo(c.image).split('/').pop();
  if (!SERVICES[repo]) return null;
  return { service: repo, worker: (c.args || []).includes('--worker') };
}

// Who may call whom (ARCHITECTURE.md; the workers call what their API calls).
const CALLERS = {
  selection: ['gateway', 'ml-pipeline', 'ml-pipeline-worker', 'xai-engine', 'xai-engine-worker'],
  'ml-pipeline': ['gateway', 'model-serving', 'xai-engine', 'xai-engine-worker'],
  'xai-engine': ['gateway'],
  'model-serving': ['gateway', 'xai-engine', 'xai-engine-worker'],
  'ml-pipeline-worker': [],
  'xai-engine-worker': [],
};

for (const name of RENDER_NAMES) {
  const objects = () => render(name);

  test(`${name}: every Deployment has /healthz liveness and /readyz readiness probes, requests and limits`, () => {
    const problems = [];
    for (const d of byKind(objects(), 'Deployment')) {
      for (const c of d.spec.template.spec.containers) {
        const where = `${d.metadata.name}/${c.name}`;
        if (c.livenessProbe?.httpGet?.path !== '/healthz') problems.push(`${where}: liveness probe is not GET /healthz`);
        if (c.readinessProbe?.httpGet?.path !== '/readyz') problems.push(`${where}: readiness probe is not GET /readyz`);
        for (const kind of ['requests', 'limits']) {
          for (const r of ['cpu', 'memory']) {
            if (c.resources?.[kind]?.[r] === undefined) problems.push(`${where}: no ${kind}.${r}`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test(`${name}: every pod runs non-root, read-only root, no privilege escalation, all capabilities dropped`, () => {
    const problems = [];
    for (const p of podTemplates(objects())) {
      const spec = p.template.spec;
      for (const c of [...(spec.initContainers || []), ...spec.containers]) {
        const where = `${p.kind} ${p.name}/${c.name}`;
        const sc = c.securityContext || {};
        const nonRoot = sc.runAsNonRoot ?? spec.securityContext?.runAsNonRoot;
        if (nonRoot !== true) problems.push(`${where}: runAsNonRoot is not true`);
        if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
        if (!(sc.capabilities?.drop || []).includes('ALL')) problems.push(`${where}: capabilities do not drop ALL`);
        if (sc.privileged) problems.push(`${where}: privileged`);
        if (sc.readOnlyRootFilesystem !== true && !WRITABLE_ROOT[c.name]) problems.push(`${where}: readOnlyRootFilesystem is not true`);
        const seccomp = sc.seccompProfile?.type ?? spec.securityContext?.seccompProfile?.type;
        if (seccomp !== 'RuntimeDefault') problems.push(`${where}: seccomp profile is not RuntimeDefault`);
      }
      if (spec.automountServiceAccountToken !== false) problems.push(`${p.kind} ${p.name}: service-account token mounted`);
      if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push(`${p.kind} ${p.name}: host namespaces`);
    }
    assert.deepEqual(problems, []);
  });

  test(`${name}: every Service selects some pod template, on a port its pods name`, () => {
    const problems = [];
    const pods = podTemplates(objects());
    for (const s of byKind(objects(), 'Service')) {
      const selected = pods.filter((p) => matches(s.spec.selector, p.template.metadata.labels));
      if (selected.length === 0) { problems.push(`Service ${s.metadata.name} selects no pod template`); continue; }
      for (const port of s.spec.ports) {
        const target = port.targetPort ?? port.port;
        for (const p of selected) {
          const ok = p.template.spec.containers.some((c) => (c.ports || []).some((cp) =>
            (typeof target === 'string' ? cp.name === target : cp.containerPort === target)));
          if (!ok) problems.push(`Service ${s.metadata.name} port ${port.port}: ${p.kind} ${p.name} has no port ${target}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test(`${name}: ports and IBX_* variables match each service's configuration table and sources`, (t) => {
    const problems = [];
    const all = objects();
    const services = byKind(all, 'Service');
    const secretKeys = Object.keys(readYaml('k8s/secret.example.yaml').stringData);
    for (const d of byKind(all, 'Deployment')) {
      const who = serviceOf(d);
      if (!who) continue;
      const c = d.spec.template.spec.containers[0];
      const table = configTable(who.service);
      const ports = sourcePorts(who.service);
      const want = who.worker ? ports.worker : ports.api;
      const where = `Deployment ${d.metadata.name}`;
      if (want === null) {
        t.diagnostic(`${where}: services/${who.service} has no worker mode in its sources yet; its port is not checked`);
      } else {
        const http = (c.ports || []).find((p) => p.name === 'http');
        if (http?.containerPort !== want) problems.push(`${where}: containerPort ${http?.containerPort}, the service listens on ${want}`);
        const svc = services.find((s) => matches(s.spec.selector, d.spec.template.metadata.labels));
        if (svc && !svc.spec.ports.some((p) => p.port === want)) problems.push(`Service ${svc.metadata.name}: no port ${want}`);
      }
      const env = containerEnv(c, all);
      if (want !== null && env.has('PORT') && Number(env.get('PORT').value) !== want) {
        problems.push(`${where}: PORT=${env.get('PORT').value}, the service's port is ${want}`);
      }
      for (const [k, v] of env) {
        if (k !== 'PORT' && !k.startsWith('IBX_')) problems.push(`${where}: ${k} (${v.from}) is not a service setting`);
        else if (!table.has(k)) problems.push(`${where}: ${k} (${v.from}) is not in ${SERVICES[who.service].bin} --help`);
        const ref = v.valueFrom?.secretKeyRef;
        if (ref && !secretKeys.includes(ref.key)) problems.push(`${where}: ${k} reads secret key ${ref.key}, not in k8s/secret.example.yaml`);
        // another service's URL must name a Service of this render, on its port
        if (k.endsWith('_URL') && v.value && /^http/.test(v.value)) {
          const u = new URL(v.value);
          const target = services.find((s) => s.metadata.name === u.hostname);
          if (!target || !target.spec.ports.some((p) => p.port === Number(u.port))) problems.push(`${where}: ${k}=${v.value} names no Service port`);
        }
      }
      for (const k of ['IBX_DATABASE_URL', 'IBX_KAFKA_BROKERS', 'IBX_JWT_SECRET']) {
        if (!env.has(k)) problems.push(`${where}: ${k} is not set`);
      }
      // a URL setting left at its default (http://127.0.0.1:...) cannot work in a pod
      for (const [k, line] of table) {
        if (k.endsWith('_URL') && /default:? http:\/\/127\.0\.0\.1/.test(line) && !env.has(k)) {
          problems.push(`${where}: ${k} is not set (its default ${line.match(/http:\/\/[^ .]+(?:\.[0-9]+)*:[0-9]+/)?.[0]} is the pod itself)`);
        }
      }
    }
    for (const cm of byKind(all, 'ConfigMap')) {
      if (!cm.metadata.name.startsWith('ibisx-')) continue;
      for (const k of Object.keys(cm.data || {})) if (!k.startsWith('IBX_')) problems.push(`ConfigMap ${cm.metadata.name}: ${k} is not an IBX_* setting`);
    }
    assert.deepEqual(problems, []);
  });

  test(`${name}: every image is a skaffold artifact, or a third-party image pinned to a version`, () => {
    const artifacts = readYaml('skaffold.yaml').build.artifacts.map((a) => a.image);
    const problems = [];
    for (const p of podTemplates(objects())) {
      for (const c of p.template.spec.containers) {
        const repo = imageRepo(c.image);
        if (artifacts.includes(repo)) continue;
        if (THIRD_PARTY.includes(repo)) {
          if (!/^\d+(\.\d+)+/.test(imageTag(c.image))) problems.push(`${p.kind} ${p.name}: ${c.image} is not pinned to a version`);
          continue;
        }
        problems.push(`${p.kind} ${p.name}: image ${c.image} is not built by skaffold.yaml`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test(`${name}: NetworkPolicies: default deny, gateway and web only from the Ingress controller, each service only from its callers`, () => {
    const all = objects();
    const policies = byKind(all, 'NetworkPolicy');
    const pods = podTemplates(all);
    const problems = [];
    const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0);
    if (!deny || deny.spec.ingress || deny.spec.egress || !['Ingress', 'Egress'].every((t) => deny.spec.policyTypes.includes(t))) {
      problems.push('no default-deny policy (empty podSelector, both policy types, no rules)');
    }
    for (const p of policies) {
      const sel = p.spec.podSelector;
      if (Object.keys(sel).length && !pods.some((t) => selects(sel, t.template.metadata.labels))) {
        problems.push(`NetworkPolicy ${p.metadata.name} selects no pod`);
      }
    }
    // The pods' names (app.kubernetes.io/name) each policy lets in, per target pod.
    const allowedFrom = (target) => {
      const labels = pods.find((t) => t.template.metadata.labels['app.kubernetes.io/name'] === target).template.metadata.labels;
      const from = new Set();
      for (const p of policies) {
        if (!selects(p.spec.podSelector, labels) || !(p.spec.policyTypes || []).includes('Ingress')) continue;
        for (const rule of p.spec.ingress || []) {
          for (const peer of rule.from || [{ all: true }]) {
            if (peer.all) from.add('*');
            else if (peer.namespaceSelector) {
              const ns = peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name'] || '*';
              from.add(`namespace:${ns}`);
            } else {
              for (const t of pods) if (selects(peer.podSelector, t.template.metadata.labels)) from.add(t.template.metadata.labels['app.kubernetes.io/name']);
            }
          }
        }
      }
      return [...from].filter((f) => f !== 'namespace:monitoring').sort();
    };
    const demo = pods.some((t) => t.name === 'demo-loader');
    const expectGateway = ['namespace:ingress-nginx', ...(demo ? ['demo-loader'] : [])].sort();
    assert.deepEqual(allowedFrom('gateway'), expectGateway, 'gateway');
    assert.deepEqual(allowedFrom('web'), ['namespace:ingress-nginx'], 'web');
    for (const [target, callers] of Object.entries(CALLERS)) {
      const got = allowedFrom(target);
      if (JSON.stringify(got) !== JSON.stringify([...callers].sort())) problems.push(`${target} accepts ${got.join(',') || 'nobody'}, want ${callers.join(',') || 'nobody'}`);
    }
    for (const store of ['postgresql', 'kafka']) {
      if (!pods.some((t) => t.name === store)) continue;
      const got = allowedFrom(store).filter((f) => !['kafka', 'kafka-topics'].includes(f));
      const want = ['gateway', 'selection', 'ml-pipeline', 'ml-pipeline-worker', 'xai-engine', 'xai-engine-worker', 'model-serving'].sort();
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${store} accepts ${got.join(',')}`);
    }
    assert.deepEqual(problems, []);
  });

  test(`${name}: Ingress routes / to web and /api, /v1, /v2 to the gateway`, () => {
    const ing = byKind(objects(), 'Ingress');
    assert.equal(ing.length, 1);
    const paths = Object.fromEntries(ing[0].spec.rules[0].http.paths.map((p) => [p.path, p.backend.service.name]));
    assert.deepEqual(paths, { '/': 'web', '/api': 'gateway', '/v1': 'gateway', '/v2': 'gateway' });
    if (ing[0].spec.tls) {
      assert.ok(ing[0].metadata.annotations?.['cert-manager.io/cluster-issuer'], 'TLS through cert-manager');
    }
  });

  test(`${name}: workers and model-serving scale with HPAs; every Deployment has a PodDisruptionBudget`, () => {
    const all = objects();
    const problems = [];
    const hpas = byKind(all, 'HorizontalPodAutoscaler');
    for (const n of ['ml-pipeline-worker', 'xai-engine-worker', 'model-serving']) {
      const h = hpas.find((x) => x.spec.scaleTargetRef.name === n);
      if (!h) problems.push(`${n}: no HorizontalPodAutoscaler`);
    }
    for (const h of hpas) {
      const d = find(all, h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name);
      if (!d) problems.push(`HPA ${h.metadata.name}: no ${h.spec.scaleTargetRef.kind} ${h.spec.scaleTargetRef.name}`);
      else if (d.spec.replicas !== undefined) problems.push(`Deployment ${d.metadata.name}: replicas set although its HPA scales it`);
      if (h.spec.minReplicas > h.spec.maxReplicas) problems.push(`HPA ${h.metadata.name}: min > max`);
    }
    for (const d of byKind(all, 'Deployment')) {
      if (!byKind(all, 'PodDisruptionBudget').some((p) => selects(p.spec.selector, d.spec.template.metadata.labels))) {
        problems.push(`Deployment ${d.metadata.name}: no PodDisruptionBudget`);
      }
    }
    assert.deepEqual(problems, []);
  });
}

// The chart and the overlays install the same objects (names and kinds; the chart leaves
// the namespace to `helm install -n`).
for (const [helmName, kustName] of [['helm (values.yaml)', 'kustomize/local'], ['helm (values-production.yaml)', 'kustomize/production']]) {
  test(`${helmName} and ${kustName} render the same components`, () => {
    const key = (o) => `${o.kind}/${baseName(o)}`;
    const h = new Set(render(helmName).map(key));
    const k = new Set(render(kustName).filter((o) => o.kind !== 'Namespace').map(key));
    assert.deepEqual([...k].filter((x) => !h.has(x)).sort(), [], `only in ${kustName}`);
    assert.deepEqual([...h].filter((x) => !k.has(x)).sort(), [], `only in ${helmName}`);
  });
}

test('every skaffold artifact is used by the manifests and has its Containerfile', () => {
  const used = new Set(RENDER_NAMES.flatMap((n) => podTemplates(render(n)).flatMap((p) => p.template.spec.containers.map((c) => imageRepo(c.image)))));
  for (const a of readYaml('skaffold.yaml').build.artifacts) {
    assert.ok(used.has(a.image), `${a.image} is built but not deployed`);
    assert.ok(fs.existsSync(path.join(ROOT, a.context, a.docker.dockerfile)), `${a.docker.dockerfile} is missing`);
  }
});
