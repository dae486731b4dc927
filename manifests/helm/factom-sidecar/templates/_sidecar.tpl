{{/*
Named templates for charts that add the sidecar to their own factomd or
walletd StatefulSets (this chart as a dependency, with bridge.enabled and
wallet.enabled false). They render what `sidecar injector` and the
kustomize components add (the manifests tests compare them), and read the
same pod annotations (README, "Injecting into a deployment you already
run"). Each takes a dict:
  image       the sidecar image, "repository:tag"
  pullPolicy  optional
*/}}

{{/* The probes of the factomd container: (dict) — none needed. */}}
{{- define "factom-sidecar.factomdProbes" -}}
startupProbe:
  httpGet: {path: /startupz, port: 8099}
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 4320
livenessProbe:
  httpGet: {path: /livez, port: 8099}
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: 8099}
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 1
{{- end -}}

{{- define "factom-sidecar.annotationEnv" -}}
- name: {{ .name }}
  valueFrom: {fieldRef: {fieldPath: "metadata.annotations['{{ .annotation }}']"}}
{{- end -}}

{{- define "factom-sidecar.podEnv" -}}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: POD_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
{{- end -}}

{{- define "factom-sidecar.walletEnv" -}}
{{ include "factom-sidecar.annotationEnv" (dict "name" "FACTOM_SIDECAR_LEASE_NAME" "annotation" "factom.io/lease-name") }}
{{ include "factom-sidecar.annotationEnv" (dict "name" "FACTOM_SIDECAR_KEYSTORE_SECRET" "annotation" "factom.io/keystore-secret") }}
- name: FACTOM_SIDECAR_KEYSTORE_KEY_FILE
  value: /etc/factom-sidecar/keystore-key/key
{{ include "factom-sidecar.annotationEnv" (dict "name" "FACTOM_SIDECAR_WALLET_PATH" "annotation" "factom.io/wallet-path") }}
{{- end -}}

{{- define "factom-sidecar.sidecarSecurity" -}}
securityContext:
  {{- if .ownUser }}
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  {{- end }}
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: ["ALL"]}
{{- end -}}

{{/* The sidecar container beside factomd. */}}
{{- define "factom-sidecar.factomdSidecarContainer" -}}
- name: sidecar
  image: {{ .image | quote }}
  {{- with .pullPolicy }}
  imagePullPolicy: {{ . }}
  {{- end }}
  args: ["factomd"]
  env:
    {{- include "factom-sidecar.podEnv" . | nindent 4 }}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    {{- include "factom-sidecar.annotationEnv" (dict "name" "FACTOM_SIDECAR_PEER_SERVICE" "annotation" "factom.io/peer-service") | nindent 4 }}
    {{- include "factom-sidecar.annotationEnv" (dict "name" "FACTOM_SIDECAR_MAX_LAG" "annotation" "factom.io/max-lag") | nindent 4 }}
  ports:
    - {name: sidecar, containerPort: 8099}
  livenessProbe:
    httpGet: {path: /healthz, port: sidecar}
    periodSeconds: 10
    timeoutSeconds: 2
  resources:
    requests: {cpu: 10m, memory: 32Mi}
    limits: {memory: 64Mi}
  {{- include "factom-sidecar.sidecarSecurity" (dict "ownUser" true) | nindent 2 }}
{{- end -}}

{{/*
walletd-init, first among the init containers. Also takes volumeMounts:
walletd's own mounts (it writes the wallet file where walletd reads it).
*/}}
{{- define "factom-sidecar.walletdInitContainer" -}}
- name: walletd-init
  image: {{ .image | quote }}
  {{- with .pullPolicy }}
  imagePullPolicy: {{ . }}
  {{- end }}
  args: ["walletd-init"]
  env:
    {{- include "factom-sidecar.podEnv" . | nindent 4 }}
    {{- include "factom-sidecar.walletEnv" . | nindent 4 }}
  resources:
    requests: {cpu: 10m, memory: 32Mi}
    limits: {memory: 64Mi}
  {{- include "factom-sidecar.sidecarSecurity" (dict "ownUser" false) | nindent 2 }}
  volumeMounts:
    {{- with .volumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    - {name: keystore-key, mountPath: /etc/factom-sidecar/keystore-key, readOnly: true}
{{- end -}}

{{/* The sidecar container beside walletd: leader election and the proxy. */}}
{{- define "factom-sidecar.walletdSidecarContainer" -}}
- name: sidecar
  image: {{ .image | quote }}
  {{- with .pullPolicy }}
  imagePullPolicy: {{ . }}
  {{- end }}
  args: ["walletd"]
  env:
    {{- include "factom-sidecar.annotationEnv" (dict "name" "FACTOM_SIDECAR_FACTOMD_URL" "annotation" "factom.io/factomd-url") | nindent 4 }}
    {{- include "factom-sidecar.podEnv" . | nindent 4 }}
    {{- include "factom-sidecar.walletEnv" . | nindent 4 }}
  ports:
    - {name: proxy, containerPort: 8189}
    - {name: sidecar, containerPort: 8099}
  readinessProbe:
    httpGet: {path: /readyz, port: sidecar}
    periodSeconds: 2
    timeoutSeconds: 1
    failureThreshold: 1
  livenessProbe:
    httpGet: {path: /livez, port: sidecar}
    periodSeconds: 10
    timeoutSeconds: 2
    failureThreshold: 3
  startupProbe:
    httpGet: {path: /startupz, port: sidecar}
    periodSeconds: 2
    timeoutSeconds: 1
    failureThreshold: 150
  resources:
    requests: {cpu: 20m, memory: 32Mi}
    limits: {memory: 128Mi}
  {{- include "factom-sidecar.sidecarSecurity" (dict "ownUser" true) | nindent 2 }}
  volumeMounts:
    - {name: keystore-key, mountPath: /etc/factom-sidecar/keystore-key, readOnly: true}
{{- end -}}

{{/* The keystore key volume: (dict "secretName" "...") */}}
{{- define "factom-sidecar.keystoreKeyVolume" -}}
- name: keystore-key
  secret:
    secretName: {{ .secretName | default "factom-wallet-keystore-key" }}
    defaultMode: 0400
{{- end -}}
