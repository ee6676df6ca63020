{{/*
Helpers for the generic clustergen "app" chart.
Everything here must be deterministic: maps are always emitted through
toYaml/range (both sort keys), lists keep the order the user gave.
*/}}

{{/* Resource base name: nameOverride, else the release name. */}}
{{- define "app.fullname" -}}
{{- default .Release.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* chart label value: name-version */}}
{{- define "app.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* app.kubernetes.io/version: the image tag, sanitised into a valid label value. */}}
{{- define "app.version" -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" (toString .Values.image.tag) "_" | trunc 63 | trimAll "-_." -}}
{{- end -}}

{{/* Selector labels: name + instance only (immutable on workloads). */}}
{{- define "app.selectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/name: {{ include "app.fullname" . }}
{{- end -}}

{{/* Standard labels for every object. */}}
{{- define "app.labels" -}}
{{ include "app.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with (include "app.version" .) }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
helm.sh/chart: {{ include "app.chart" . }}
{{- end -}}

{{/* Full image reference: repository:tag[@digest]. Fails clearly when unset. */}}
{{- define "app.image" -}}
{{- $repo := required "image.repository is required (e.g. docker.io/library/eclipse-mosquitto)" .Values.image.repository -}}
{{- $tag := required "image.tag is required and must be a pinned tag" (toString .Values.image.tag) -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" $repo $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{/* Name of the first service port, or "" when there is none. */}}
{{- define "app.firstPortName" -}}
{{- with .Values.service.ports -}}
{{- (first .).name -}}
{{- end -}}
{{- end -}}

{{/* ServiceAccount name. */}}
{{- define "app.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "app.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Effective runtimeClassName: explicit value, else the GPU runtime class when gpu.enabled. */}}
{{- define "app.runtimeClassName" -}}
{{- if .Values.runtimeClassName -}}
{{- .Values.runtimeClassName -}}
{{- else if .Values.gpu.enabled -}}
{{- .Values.gpu.runtimeClassName -}}
{{- end -}}
{{- end -}}

{{/*
A port reference (IntOrString): numbers (or numeric strings) render as
integers, anything else as a quoted port name.
*/}}
{{- define "app.portRef" -}}
{{- if regexMatch "^[0-9]+$" (toString .) -}}
{{- int . -}}
{{- else -}}
{{- . | quote -}}
{{- end -}}
{{- end -}}

{{/*
One probe body. Call with (dict "name" "liveness" "probe" $probe "root" $).
type tcp|http uses `port` (default: first service port name); exec uses `command`.
*/}}
{{- define "app.probe" -}}
{{- $p := .probe -}}
{{- $type := default "tcp" $p.type -}}
{{- if eq $type "exec" -}}
{{- if not $p.command -}}
{{- fail (printf "probes.%s.type is exec but probes.%s.command is empty" .name .name) -}}
{{- end }}
exec:
  command:
    {{- toYaml $p.command | nindent 4 }}
{{- else -}}
{{- $port := $p.port | default (include "app.firstPortName" .root) -}}
{{- if eq (toString $port) "" -}}
{{- fail (printf "probes.%s needs a port: set probes.%s.port or add a service port" .name .name) -}}
{{- end -}}
{{- if eq $type "http" }}
httpGet:
  path: {{ $p.path | default "/" | quote }}
  port: {{ include "app.portRef" $port }}
  scheme: {{ $p.scheme | default "HTTP" }}
{{- else }}
tcpSocket:
  port: {{ include "app.portRef" $port }}
{{- end }}
{{- end }}
initialDelaySeconds: {{ int $p.initialDelaySeconds }}
periodSeconds: {{ int $p.periodSeconds }}
timeoutSeconds: {{ int $p.timeoutSeconds }}
failureThreshold: {{ int $p.failureThreshold }}
{{- end -}}

{{/*
Normalised persistence entry (as YAML; read back with fromYaml). Missing keys
take their defaults; hasKey is used so that explicit `false` survives.
*/}}
{{- define "app.persistenceEntry" -}}
{{- $in := . -}}
{{- $out := dict "enabled" true "mountPath" "" "size" "1Gi" "storageClass" "" "accessMode" "ReadWriteOnce" "existingClaim" "" "subPath" "" "retain" true "backup" "" -}}
{{- range $k, $_ := $out -}}
{{- if hasKey $in $k -}}
{{- $_ := set $out $k (index $in $k) -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* PVC annotations for retained volumes (never deleted by Helm nor pruned by Flux). */}}
{{- define "app.retainAnnotations" -}}
helm.sh/resource-policy: keep
kustomize.toolkit.fluxcd.io/prune: disabled
{{- end -}}

{{/* PVC annotations of a normalised entry: retention, and k8up's backup choice when `backup` is set. */}}
{{- define "app.pvcAnnotations" -}}
{{- if .p.retain }}
{{ include "app.retainAnnotations" .root }}
{{- end }}
{{- if kindIs "bool" .p.backup }}
k8up.io/backup: {{ ternary "true" "false" .p.backup | quote }}
{{- end }}
{{- end -}}

{{/* PVC spec body shared by PersistentVolumeClaims and volumeClaimTemplates. Call with the normalised entry. */}}
{{- define "app.pvcSpec" -}}
accessModes:
  - {{ .accessMode }}
{{- if eq .storageClass "-" }}
storageClassName: ""
{{- else if .storageClass }}
storageClassName: {{ .storageClass | quote }}
{{- end }}
resources:
  requests:
    storage: {{ .size | quote }}
{{- end -}}
