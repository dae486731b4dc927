{{/*
Names. Every object carries its own suffix (-bridge, -wallet, -sidecar),
so the full name defaults to the release name: release "factom" renders
the names of manifests/base. fullnameOverride replaces it.
*/}}
{{- define "factom-sidecar.name" -}}
{{- default "factom" .Values.nameOverride | trunc 30 | trimSuffix "-" -}}
{{- end -}}

{{- define "factom-sidecar.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 36 | trimSuffix "-" -}}
{{- end -}}

{{- define "factom-sidecar.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object names, one place each: templates, RBAC and env agree. */}}
{{- define "factom-sidecar.bridge" -}}{{ include "factom-sidecar.fullname" . }}-bridge{{- end -}}
{{- define "factom-sidecar.wallet" -}}{{ include "factom-sidecar.fullname" . }}-wallet{{- end -}}
{{- define "factom-sidecar.injector" -}}{{ include "factom-sidecar.fullname" . }}-injector{{- end -}}
{{- define "factom-sidecar.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-sidecar" (include "factom-sidecar.fullname" .)) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
{{- define "factom-sidecar.leaseName" -}}
{{- default (printf "%s-walletd-leader" (include "factom-sidecar.fullname" .)) .Values.wallet.leaseName -}}
{{- end -}}
{{- define "factom-sidecar.keystoreSecret" -}}
{{- default (printf "%s-keystore" (include "factom-sidecar.wallet" .)) .Values.wallet.keystoreSecret -}}
{{- end -}}
{{- define "factom-sidecar.keystoreKeySecret" -}}
{{- default (printf "%s-keystore-key" (include "factom-sidecar.wallet" .)) .Values.keystoreKey.existingSecret -}}
{{- end -}}
{{/* host:port of the factomd API walletd and its sidecar use. */}}
{{- define "factom-sidecar.walletFactomd" -}}
{{- default (printf "%s:8088" (include "factom-sidecar.bridge" .)) .Values.wallet.factomd -}}
{{- end -}}

{{/*
Labels. Call with (dict "root" $ "component" "bridge"): the app name is
<name>-<component> (factom-bridge, factom-wallet), the instance the
release. Selectors use name and instance only, so two releases in one
namespace never select each other's pods.
*/}}
{{- define "factom-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "factom-sidecar.name" .root }}-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "factom-sidecar.labels" -}}
{{ include "factom-sidecar.selectorLabels" . }}
{{ include "factom-sidecar.commonLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The labels every object carries, whatever its component. */}}
{{- define "factom-sidecar.commonLabels" -}}
app.kubernetes.io/part-of: factom-sidecar
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "factom-sidecar.chart" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
An image reference: (dict "image" .Values.sidecar.image "root" $). The
tag defaults to the chart's appVersion only for the sidecar's own image.
*/}}
{{- define "factom-sidecar.image" -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion -}}
image: {{ printf "%s:%s" .image.repository (toString $tag) | quote }}
{{- with .image.pullPolicy }}
imagePullPolicy: {{ . }}
{{- end }}
{{- end -}}

{{/*
Scheduling of a StatefulSet's pods: (dict "root" $ "component" "wallet"
"values" .Values.wallet). Without an explicit affinity, pods of one
StatefulSet repel each other across nodes and spread across zones;
scheduling.mode "preferred" (default) still schedules where the cluster
has fewer nodes or zones than replicas, "required" refuses to.
*/}}
{{- define "factom-sidecar.scheduling" -}}
{{- $v := .values -}}
{{- $s := $v.scheduling -}}
{{- $sel := include "factom-sidecar.selectorLabels" . | fromYaml -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $s.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $s.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $s.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $s.affinity }}
affinity:
  {{- toYaml $s.affinity | nindent 2 }}
{{- else if eq $s.mode "required" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- toYaml $sel | nindent 12 }}
{{- else if eq $s.mode "preferred" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- toYaml $sel | nindent 14 }}
{{- end }}
{{- if $s.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml $s.topologySpreadConstraints | nindent 2 }}
{{- else if has $s.mode (list "preferred" "required") }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: {{ if eq $s.mode "required" }}DoNotSchedule{{ else }}ScheduleAnyway{{ end }}
    labelSelector:
      matchLabels:
        {{- toYaml $sel | nindent 8 }}
{{- end }}
{{- end -}}

{{/* A volumeClaimTemplate's storageClassName, when one is set. */}}
{{- define "factom-sidecar.storageClass" -}}
{{- with .storageClass }}
{{- if eq . "-" }}
storageClassName: ""
{{- else }}
storageClassName: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Labels of an object that belongs to no one component (monitoring). */}}
{{- define "factom-sidecar.instanceLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "factom-sidecar.commonLabels" . }}
{{- end -}}
