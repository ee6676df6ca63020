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
{{- else if include "app.podWantsGpu" . -}}
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
{{- fail (printf "%s.type is exec but %s.command is empty" .name .name) -}}
{{- end }}
exec:
  command:
    {{- toYaml $p.command | nindent 4 }}
{{- else -}}
{{- $port := $p.port | default (include "app.firstPortName" .root) -}}
{{- if eq (toString $port) "" -}}
{{- fail (printf "%s needs a port: set %s.port or add a port" .name .name) -}}
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

{{/* Kinds that run to completion: no probes, no Service needed, restartPolicy from job. */}}
{{- define "app.isJob" -}}
{{- if has .Values.controller.type (list "Job" "CronJob") -}}true{{- end -}}
{{- end -}}

{{/* Any image dict {repository, tag, digest} as a reference. Call with (dict "image" $img "what" "containers[0].image"). */}}
{{- define "app.imageRef" -}}
{{- $img := .image | default dict -}}
{{- $repo := required (printf "%s.repository is required" .what) $img.repository -}}
{{- $tag := toString ($img.tag | default "") -}}
{{- if and (not $tag) (not $img.digest) -}}
{{- fail (printf "%s needs a pinned tag or digest" .what) -}}
{{- end -}}
{{- $repo -}}{{- if $tag }}:{{ $tag }}{{ end -}}{{- if $img.digest }}@{{ $img.digest }}{{ end -}}
{{- end -}}

{{/* Whether any container of the pod asks for a GPU ("true" or ""). */}}
{{- define "app.podWantsGpu" -}}
{{- $want := .Values.gpu.enabled -}}
{{- range concat (.Values.containers | default list) (.Values.initContainers | default list) -}}
{{- if gt (int (dig "gpu" "count" 0 .)) 0 -}}{{- $want = true -}}{{- end -}}
{{- end -}}
{{- if $want -}}true{{- end -}}
{{- end -}}

{{/*
One container, as YAML. Call with (dict "root" $ "spec" $spec "auto" $mounts "podGpu" bool "what" "containers[0]").
spec: {name, image, command, args, env, envFrom, ports, probes, resources, securityContext,
volumeMounts, gpu, restartPolicy}. The chart's safety defaults (securityContext, resources)
apply under whatever the container sets; probes take their timings from .Values.probes.
*/}}
{{- define "app.container" -}}
{{- $root := .root -}}
{{- $s := .spec -}}
{{- $V := $root.Values -}}
{{- $out := dict "name" $s.name "image" (include "app.imageRef" (dict "image" $s.image "what" (printf "%s.image" .what))) -}}
{{- $_ := set $out "imagePullPolicy" (dig "pullPolicy" "IfNotPresent" ($s.image | default dict)) -}}
{{- with $s.command }}{{ $_ := set $out "command" . }}{{ end -}}
{{- with $s.args }}{{ $_ := set $out "args" . }}{{ end -}}
{{- with $s.restartPolicy }}{{ $_ := set $out "restartPolicy" . }}{{ end -}}
{{- $gpuCount := int (dig "count" 0 ($s.gpu | default dict)) -}}
{{- $env := dict -}}
{{- if gt $gpuCount 0 -}}
{{- $_ := set $env "NVIDIA_DRIVER_CAPABILITIES" (dig "driverCapabilities" $V.gpu.driverCapabilities ($s.gpu | default dict)) -}}
{{- else if .podGpu -}}
{{- /* The NVIDIA runtime would hand this container every GPU its image names (CUDA images set NVIDIA_VISIBLE_DEVICES=all): void gives it none. */ -}}
{{- $_ := set $env "NVIDIA_VISIBLE_DEVICES" "void" -}}
{{- end -}}
{{- range $k, $v := ($s.env | default dict) }}{{ $_ := set $env $k (toString $v) }}{{ end -}}
{{- if $env -}}
{{- $list := list -}}
{{- range $k, $v := $env }}{{ $list = append $list (dict "name" $k "value" $v) }}{{ end -}}
{{- $_ := set $out "env" $list -}}
{{- end -}}
{{- with $s.envFrom }}{{ $_ := set $out "envFrom" . }}{{ end -}}
{{- if $s.ports -}}
{{- $ports := list -}}
{{- range $s.ports }}{{ $ports = append $ports (dict "name" .name "containerPort" (int (.targetPort | default .containerPort | default .port)) "protocol" (.protocol | default "TCP")) }}{{ end -}}
{{- $_ := set $out "ports" $ports -}}
{{- end -}}
{{- if not (include "app.isJob" $root) -}}
{{- $firstPort := "" -}}
{{- with $s.ports }}{{ $firstPort = (first .).name }}{{ end -}}
{{- range $probeName := list "startup" "liveness" "readiness" -}}
{{- $given := index ($s.probes | default dict) $probeName -}}
{{- if $given -}}
{{- $p := deepCopy (index $V.probes $probeName) -}}
{{- if not (hasKey $p "enabled") }}{{ $_ := set $p "enabled" true }}{{ end -}}
{{- if ne $.what "app" }}{{ $_ := set $p "enabled" true }}{{ end -}}
{{- range $k, $v := $given }}{{ $_ := set $p $k $v }}{{ end -}}
{{- if $p.enabled -}}
{{- $portless := dict "Values" (dict "service" (dict "ports" (ternary (list (dict "name" $firstPort)) list (ne $firstPort "")))) -}}
{{- $label := ternary (printf "probes.%s" $probeName) (printf "%s.probes.%s" $.what $probeName) (eq $.what "app") -}}
{{- $body := include "app.probe" (dict "name" $label "probe" $p "root" $portless) | fromYaml -}}
{{- $_ := set $out (printf "%sProbe" $probeName) $body -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $resources := deepCopy ($s.resources | default $V.resources) -}}
{{- if not (dig "requests" dict $resources) -}}
{{- $_ := set $resources "requests" (deepCopy $V.resources.requests) -}}
{{- end -}}
{{- if gt $gpuCount 0 -}}
{{- $limits := deepCopy (dig "limits" dict $resources) -}}
{{- $_ := set $limits (dig "resourceName" $V.gpu.resourceName ($s.gpu | default dict)) $gpuCount -}}
{{- $_ := set $resources "limits" $limits -}}
{{- end -}}
{{- $_ := set $out "resources" $resources -}}
{{- /* The container's own keys win one by one (sprig's merge would let a default true beat an own false);
       inside capabilities, add and drop separately, so adding one keeps "drop: [ALL]". */ -}}
{{- /* The app container starts from securityContext; every other one from the safe defaults,
       so loosening the app (a device's privileged mode) loosens no sidecar. */ -}}
{{- $sc := deepCopy ($V.securityContext | default dict) -}}
{{- if ne .what "app" -}}
{{- $sc = dict "allowPrivilegeEscalation" false "readOnlyRootFilesystem" true "privileged" false "capabilities" (dict "drop" (list "ALL")) -}}
{{- end -}}
{{- range $k, $v := ($s.securityContext | default dict) -}}
{{- if and (eq $k "capabilities") (kindIs "map" $v) -}}
{{- $caps := deepCopy (dig "capabilities" dict $sc) -}}
{{- range $ck, $cv := $v }}{{ $_ := set $caps $ck $cv }}{{ end -}}
{{- $_ := set $sc "capabilities" $caps -}}
{{- else -}}
{{- $_ := set $sc $k $v -}}
{{- end -}}
{{- end -}}
{{- if and (dig "privileged" false $sc) (hasKey $sc "allowPrivilegeEscalation") (not $sc.allowPrivilegeEscalation) -}}
{{- fail (printf "%s: securityContext.privileged=true requires securityContext.allowPrivilegeEscalation=true (the API server rejects the combination)" .what) -}}
{{- end -}}
{{- $_ := set $out "securityContext" $sc -}}
{{- $mounts := concat (.auto | default list) ($s.volumeMounts | default list) -}}
{{- with $mounts }}{{ $_ := set $out "volumeMounts" . }}{{ end -}}
{{- toYaml $out -}}
{{- end -}}
