{{- define "promethium.podTemplate" -}}
metadata:
  labels:
    {{- include "promethium.selectorLabels" . | nindent 4 }}
    {{- with .Values.server.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A config change rolls the pod, so the new prometheus.yml takes effect
    # even without a reload call.
    checksum/config: {{ include "promethium.config" . | sha256sum }}
    {{- with .Values.server.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "promethium.serviceAccountName" . }}
  securityContext:
    {{- toYaml .Values.server.securityContext | nindent 4 }}
  containers:
    - name: promethium
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        {{- include "promethium.args" . | nindent 8 }}
      ports:
        - name: http
          containerPort: 9090
      readinessProbe:
        httpGet:
          path: /-/ready
          port: http
        {{- toYaml .Values.server.readinessProbe | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /-/healthy
          port: http
        {{- toYaml .Values.server.livenessProbe | nindent 8 }}
      resources:
        {{- toYaml .Values.server.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.server.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/promethium
          readOnly: true
        - name: storage
          mountPath: {{ .Values.server.persistentVolume.mountPath }}
  volumes:
    - name: config
      configMap:
        name: {{ include "promethium.fullname" . }}
    {{- /* With a StatefulSet and persistence, "storage" comes from its volume claim template. */}}
    {{- if not .Values.server.persistentVolume.enabled }}
    - name: storage
      emptyDir: {}
    {{- else if not .Values.server.statefulSet.enabled }}
    - name: storage
      persistentVolumeClaim:
        claimName: {{ .Values.server.persistentVolume.existingClaim | default (include "promethium.fullname" .) }}
    {{- end }}
  {{- with .Values.server.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.server.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.server.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
