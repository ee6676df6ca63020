{{/*
The pod of every workload kind, built from the values: init containers (the per-replica
copier first), the main container "app", the extra containers, and the volumes.
Called from workload.yaml with the lists it assembled.
*/}}
{{- define "app.podSpecBody" -}}
{{- $a := . -}}
{{- $root := .root -}}
serviceAccountName: {{ include "app.serviceAccountName" $root }}
automountServiceAccountToken: {{ $root.Values.serviceAccount.automountToken }}
enableServiceLinks: false
{{- if $a.isJob }}
restartPolicy: {{ $root.Values.job.restartPolicy }}
{{- end }}
{{- with $a.runtimeClassName }}
runtimeClassName: {{ . }}
{{- end }}
{{- if $root.Values.hostNetwork }}
hostNetwork: true
{{- end }}
dnsPolicy: {{ $root.Values.dnsPolicy | default (ternary "ClusterFirstWithHostNet" "ClusterFirst" $root.Values.hostNetwork) }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with $root.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $a.initContainers }}
initContainers:
  {{- range . }}
  {{- $c := include "app.container" (dict "root" $root "spec" .spec "podGpu" $a.podGpu "what" .what) | fromYaml }}
  {{- if .downward }}
  {{- $_ := set $c "env" (concat ($c.env | default list) (list (dict "name" "POD_NAME" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.name"))))) }}
  {{- end }}
  - {{ toYaml $c | nindent 4 | trim }}
  {{- end }}
{{- end }}
containers:
  - {{ include "app.container" (dict "root" $root "spec" $a.main "auto" $a.mounts "podGpu" $a.podGpu "what" "app") | nindent 4 | trim }}
  {{- range $i, $c := $root.Values.containers }}
  - {{ include "app.container" (dict "root" $root "spec" $c "podGpu" $a.podGpu "what" (printf "containers[%d]" $i)) | nindent 4 | trim }}
  {{- end }}
{{- with $a.volumes }}
volumes:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "app.podTemplate" -}}
metadata:
  labels:
    {{- toYaml .labels | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- include "app.podSpecBody" .args | nindent 2 }}
{{- end -}}
