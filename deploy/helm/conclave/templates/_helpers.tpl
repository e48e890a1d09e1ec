{{- define "conclave.fullname" -}}
{{ .Release.Name }}
{{- end -}}

{{- define "conclave.labels" -}}
app.kubernetes.io/name: conclave
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "conclave.selectorLabels" -}}
app.kubernetes.io/name: conclave
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "conclave.scheme" -}}
{{- if .Values.tls.enabled -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{- define "conclave.tlsSecret" -}}
{{- if .Values.tls.secretName -}}{{ .Values.tls.secretName }}{{- else -}}{{ include "conclave.fullname" . }}-tls{{- end -}}
{{- end -}}

{{- define "conclave.probeScheme" -}}
{{- if .Values.tls.enabled -}}HTTPS{{- else -}}HTTP{{- end -}}
{{- end -}}
