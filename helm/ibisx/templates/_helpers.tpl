{{/* _helpers: names, labels, images and the pieces every pod shares. */}}

{{/* The services of the suite: name, values key, image, port, args, ConfigMap, kind. */}}
{{- define "ibisx.components" -}}
gateway: {values: gateway, image: gateway, port: 8080, config: gateway, kind: api, grace: 30, tmp: 1Gi}
selection: {values: selection, image: selection, port: 8081, config: selection, kind: api, grace: 30, tmp: 1Gi}
ml-pipeline: {values: mlPipeline, image: ml-pipeline, port: 8082, config: ml-pipeline, kind: api, grace: 30, tmp: 1Gi}
ml-pipeline-worker: {values: mlPipelineWorker, image: ml-pipeline, port: 8092, config: ml-pipeline, kind: worker, worker: true, grace: 60, tmp: 4Gi}
xai-engine: {values: xaiEngine, image: xai-engine, port: 8083, config: xai-engine, kind: api, grace: 30, tmp: 1Gi}
xai-engine-worker: {values: xaiEngineWorker, image: xai-engine, port: 8093, config: xai-engine, kind: worker, worker: true, grace: 60, tmp: 4Gi}
model-serving: {values: modelServing, image: model-serving, port: 8084, config: model-serving, kind: api, grace: 30, tmp: 1Gi}
{{- end -}}

{{/* Who calls whom (ARCHITECTURE.md): callee -> callers. */}}
{{- define "ibisx.callers" -}}
selection: [gateway, ml-pipeline, ml-pipeline-worker, xai-engine, xai-engine-worker]
ml-pipeline: [gateway, model-serving, xai-engine, xai-engine-worker]
xai-engine: [gateway]
model-serving: [gateway, xai-engine, xai-engine-worker]
ml-pipeline-worker: []
xai-engine-worker: []
{{- end -}}

{{- define "ibisx.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: ibisx
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Pod-template labels: the selector's and the component's kind. */}}
{{- define "ibisx.podLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: ibisx
app.kubernetes.io/component: {{ .kind }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "ibisx.selector" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/part-of: ibisx
{{- end -}}

{{/* An image: images.<name> when set (skaffold sets them), else <registry><prefix>/<name>:<tag>. */}}
{{- define "ibisx.image" -}}
{{- $full := index (.root.Values.images | default dict) .image -}}
{{- if $full -}}{{ $full }}{{- else -}}
{{ .root.Values.image.registry }}{{ .root.Values.image.prefix }}/{{ .image }}:{{ .root.Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "ibisx.podSecurity" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "ibisx.containerSecurity" -}}
runAsNonRoot: true
readOnlyRootFilesystem: {{ . }}
allowPrivilegeEscalation: false
capabilities: {drop: [ALL]}
{{- end -}}

{{- define "ibisx.dnsEgress" -}}
- to:
    - namespaceSelector: {}
      podSelector:
        matchLabels: {k8s-app: kube-dns}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end -}}

{{/* IBX_KAFKA_BROKERS: the in-cluster Service or the external brokers. */}}
{{- define "ibisx.kafkaBrokers" -}}
{{- if .Values.kafka.enabled -}}kafka:9092{{- else -}}{{ required "kafka.brokers is required when kafka.enabled is false" .Values.kafka.brokers }}{{- end -}}
{{- end -}}
