{{/* The chart's name, overridable. */}}
{{- define "runestone.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release-qualified name; the release name alone when it already holds the chart's. */}}
{{- define "runestone.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of the operator's Deployment, ServiceAccount and RBAC objects. */}}
{{- define "runestone.operatorName" -}}
{{- printf "%s-operator" (include "runestone.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "runestone.selectorLabels" -}}
app.kubernetes.io/name: {{ include "runestone.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "runestone.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "runestone.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: runestone
{{- end }}

{{- define "runestone.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "runestone.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* One image runs the operator, the gateways and their sidecars. */}}
{{- define "runestone.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The operator's RBAC rules, generated from `runestone operator --print-rbac`. */}}
{{- define "runestone.rules" -}}
{{- $role := .Files.Get "files/operator-clusterrole.yaml" | fromYaml }}
{{- if not $role.rules }}
{{- fail "files/operator-clusterrole.yaml is missing or holds no rules; run `make manifests`" }}
{{- end }}
{{- toYaml $role.rules }}
{{- end }}

{{/* The leader-election Role's rules, generated from `runestone operator --print-election-rbac`. */}}
{{- define "runestone.electionRules" -}}
{{- $role := .Files.Get "files/operator-election-role.yaml" | fromYaml }}
{{- if not $role.rules }}
{{- fail "files/operator-election-role.yaml is missing or holds no rules; run `make manifests`" }}
{{- end }}
{{- toYaml $role.rules }}
{{- end }}

{{/*
The sidecar admission policies need admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy,
served from Kubernetes 1.30. A release older than that fails here with a clear message; a build
from source that reports no release version (v0.0.0-...) is let through.
*/}}
{{- define "runestone.requireKubernetes" -}}
{{- if regexMatch "^v?1\\.([0-9]|[12][0-9])\\." .Capabilities.KubeVersion.Version }}
{{- fail (printf "Runestone needs Kubernetes 1.30 or later (ValidatingAdmissionPolicy keeps each health sidecar to its own pod); this cluster runs %s" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- end }}
