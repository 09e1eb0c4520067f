{{/*
Every permission the operator has, in one place (tests/unit/test_chart.py reads
the rendered rules). Least privilege: no wildcard verbs, resources or groups.

- namespacedRules: objects in watched namespaces. A ClusterRole when the
  operator watches every namespace; a Role in each namespace otherwise.
- clusterRules: cluster-scoped reads (CRDs, to find optional APIs such as
  ServiceMonitor or CNPG; namespaces, to follow watched namespaces).
- leaseRules: the leader-election Lease, a Role in its namespace only.
*/}}

{{- define "microservice-operator.namespacedRules" -}}
- apiGroups: ["microservice-operator.dev"]
  resources: ["microservices"]
  # patch: the finalizer, only on MicroServices with an external database and deletionPolicy Delete
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["microservice-operator.dev"]
  resources: ["microservices/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "serviceaccounts", "secrets", "configmaps"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors", "prometheusrules"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["postgresql.cnpg.io"]
  resources: ["clusters", "databases"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{- define "microservice-operator.clusterRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{/* create cannot be limited by name; everything else is limited to the one Lease. */}}
{{- define "microservice-operator.leaseRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: [{{ include "microservice-operator.fullname" . | quote }}]
  verbs: ["get", "update"]
{{- end }}
