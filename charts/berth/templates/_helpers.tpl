{{/*
Object names are fixed (berth, berth-xds, ...): the controller derives the
xDS address berth-xds.<namespace>.svc and its certificate names from them,
and berth is meant to be installed once per cluster.
*/}}

{{- define "berth.labels" -}}
app.kubernetes.io/name: berth
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: berth
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "berth.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The watched namespaces, sorted and without duplicates, as berth rbac does. */}}
{{- define "berth.watchNamespaces" -}}
{{ .Values.watch.namespaces | uniq | sortAlpha | join "," }}
{{- end }}

{{/*
The flags every `berth controller` invocation of this release shares (the
Deployment and the uninstall Job), one per line.
*/}}
{{- define "berth.controllerArgs" -}}
- --controller-name={{ .Values.controllerName }}
- --controller-namespace={{ .Release.Namespace }}
{{- with include "berth.watchNamespaces" . }}
- --watch-namespaces={{ . }}
{{- end }}
{{- with .Values.watch.namespaceSelector }}
- --watch-namespace-selector={{ . }}
{{- end }}
- --log-level={{ .Values.logLevel }}
{{- end }}

{{/* The restricted pod and container security contexts. */}}
{{- define "berth.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "berth.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
  - ALL
{{- end }}

{{/*
berth.rbac renders the RBAC of one identity: the ClusterRole and binding,
the Role in the release namespace, and with watch.namespaces a Role in each
watched namespace instead of the cluster-wide object rights. The rules come
from _rules.tpl, generated from package rbac (berth rbac prints the same).
Arguments: root (the chart context), name, serviceAccount, annotations.
*/}}
{{- define "berth.rbac" -}}
{{- $root := .root -}}
{{- $watched := $root.Values.watch.namespaces | uniq | sortAlpha -}}
{{- $selfRules := ternary "berth.rules.self.external" "berth.rules.self.managed" (eq $root.Values.xds.tls.mode "External") -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .name }}
  labels:
    {{- include "berth.labels" $root | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
rules:
{{- include "berth.rules.cluster" $root | nindent 0 }}
{{- if not $watched }}
{{- include "berth.rules.watched" $root | nindent 0 }}
{{- end }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ .name }}
  labels:
    {{- include "berth.labels" $root | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ .name }}
subjects:
- kind: ServiceAccount
  name: {{ .serviceAccount }}
  namespace: {{ $root.Release.Namespace }}
{{- $roles := list (dict "name" .name "namespace" $root.Release.Namespace "rules" $selfRules) }}
{{- range $watched }}
{{- $roles = append $roles (dict "name" (printf "%s-watched" $.name) "namespace" . "rules" "berth.rules.watched") }}
{{- end }}
{{- range $roles }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "berth.labels" $root | nindent 4 }}
  {{- with $.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
rules:
{{- include .rules $root | nindent 0 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "berth.labels" $root | nindent 4 }}
  {{- with $.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ .name }}
subjects:
- kind: ServiceAccount
  name: {{ $.serviceAccount }}
  namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- end }}
