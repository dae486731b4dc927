{{/*
"true" when a monitoring part is on: its own `enabled` when set, else its
default. Call with (dict "root" $ "part" "serviceMonitor").
*/}}
{{- define "factom-sidecar.monitoring" -}}
{{- $m := .root.Values.metrics -}}
{{- $part := index $m .part | default dict -}}
{{- if hasKey $part "enabled" -}}
{{- if $part.enabled }}true{{ end -}}
{{- else if eq .part "serviceMonitor" -}}
{{- if and $m.enabled (not $m.podMonitor.enabled) }}true{{ end -}}
{{- else if eq .part "service" -}}
{{- include "factom-sidecar.monitoring" (dict "root" .root "part" "serviceMonitor") -}}
{{- else if eq .part "networkPolicy" -}}
{{- if or (include "factom-sidecar.monitoring" (dict "root" .root "part" "serviceMonitor")) $m.podMonitor.enabled }}true{{ end -}}
{{- else if $m.enabled -}}
true
{{- end -}}
{{- end -}}
