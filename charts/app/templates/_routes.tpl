{{/*
Extra ingress routes (ingress.routes): one Ingress per route, because both controllers
apply a rewrite or a middleware to a whole Ingress object, not to one of its paths.
  traefik: stripPrefix is a traefik.io/v1alpha1 Middleware <fullname>-<route>-strip; the
           route's middlewares (names in the release namespace, or namespace/name) follow it
           in the router.middlewares annotation, as <namespace>-<name>@kubernetescrd.
  nginx:   stripPrefix turns the path into the regex <path>(/|$)(.*) with rewrite-target /$2.
*/}}
{{- define "app.routeController" -}}
{{- $class := .Values.ingress.className -}}
{{- if or (eq $class "nginx") (hasPrefix "nginx" $class) -}}nginx{{- else -}}traefik{{- end -}}
{{- end -}}

{{- define "app.stripMiddlewareName" -}}
{{- printf "%s-%s-strip" (include "app.fullname" .root) .route.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
