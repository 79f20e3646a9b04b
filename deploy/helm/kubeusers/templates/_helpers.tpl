{{/*
kubeusers.yaml: the values' config, with kubernetes.namespace the release's namespace (the guard,
the ServiceAccount and the admins' group follow the release's namespace, so the daemon must too).
*/}}
{{- define "kubeusers.config" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- $kubernetes := get $config "kubernetes" | default dict -}}
{{- if and (hasKey $kubernetes "namespace") (ne (toString $kubernetes.namespace) .Release.Namespace) -}}
{{- fail (printf "config.kubernetes.namespace is %q but the release's namespace is %q: kubeusers' namespace is the release's; leave the key out" (toString $kubernetes.namespace) .Release.Namespace) -}}
{{- end -}}
{{- $_ := set $kubernetes "namespace" .Release.Namespace -}}
{{- $_ := set $config "kubernetes" $kubernetes -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
The tool namespaces' prefix (config.kubernetes.namespacePrefix, default tool-), checked as the
daemon checks it, because the guard's CEL quotes it.
*/}}
{{- define "kubeusers.prefix" -}}
{{- $prefix := "tool-" -}}
{{- with .Values.config.kubernetes -}}{{- with .namespacePrefix -}}{{- $prefix = toString . -}}{{- end -}}{{- end -}}
{{- if or (not (regexMatch "^[a-z0-9][a-z0-9-]*-$" $prefix)) (hasPrefix "kube-" $prefix) -}}
{{- fail (printf "config.kubernetes.namespacePrefix %q must be a DNS label prefix ending with \"-\", not kube-" $prefix) -}}
{{- end -}}
{{- $prefix -}}
{{- end -}}

{{/* A volume of the homes: the values' volume source, named. */}}
{{- define "kubeusers.homeVolume" -}}
{{- $source := index .root.Values.homeVolumes .which -}}
{{- if not $source -}}
{{- fail (printf "homeVolumes.%s is empty: give the volume source of the homes (hostPath, nfs, ...)" .which) -}}
{{- end -}}
{{- toJson (set (deepCopy $source) "name" .name) -}}
{{- end -}}
