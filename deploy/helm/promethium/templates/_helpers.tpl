{{- define "promethium.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "promethium.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "promethium.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "promethium.serviceAccountName" -}}
{{- if .Values.serviceAccounts.server.create -}}
{{- default (include "promethium.fullname" .) .Values.serviceAccounts.server.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccounts.server.name -}}
{{- end -}}
{{- end -}}

{{/*
The rendered prometheus.yml: the chart's files/prometheus.yml (the same file
the kustomize manifests ship), with serverFiles."prometheus.yml" merged over
it (maps merge key by key, a list such as scrape_configs replaces the
default's), then extraScrapeConfigs (a YAML list, passed through tpl)
appended to scrape_configs.
*/}}
{{- define "promethium.config" -}}
{{- $cfg := .Files.Get "files/prometheus.yml" | fromYaml -}}
{{- $cfg = mergeOverwrite $cfg (deepCopy (index .Values.serverFiles "prometheus.yml")) -}}
{{- with .Values.extraScrapeConfigs -}}
{{- $_ := set $cfg "scrape_configs" (concat ($cfg.scrape_configs | default list) (tpl . $ | fromYamlArray)) -}}
{{- end -}}
{{ toYaml $cfg }}
{{- end -}}

{{- define "promethium.args" -}}
- --config.file=/etc/promethium/prometheus.yml
- --storage.tsdb.path={{ .Values.server.persistentVolume.mountPath }}
- --web.listen-address=0.0.0.0:9090
- --web.enable-lifecycle
{{- if .Values.server.retention }}
- --storage.tsdb.retention.time={{ .Values.server.retention }}
{{- end }}
{{- if .Values.server.retentionSize }}
- --storage.tsdb.retention.size={{ .Values.server.retentionSize }}
{{- end }}
{{- range $key, $value := .Values.server.extraArgs }}
- --{{ $key }}={{ $value }}
{{- end }}
{{- end -}}
