// One ValidatingAdmissionPolicy for every tool namespace: pods run as the tool's own uid/gid, never
// privileged, and mount only allowed host paths. Per-namespace parameters (a ConfigMap kubeusers
// writes) carry the tool's uid and gid; the binding resolves them in the namespace being admitted.
import type { KubernetesObject } from '@kubernetes/client-node';

export const POLICY_NAME = 'kubeusers-pod-identity';
export const PARAMS_NAME = 'kubeusers-pod-identity';

export interface PodIdentitySettings {
  allowedHostPaths: string[];
  readOnlyHostPaths: string[];
}

export function paramsData(
  tool: string,
  uid: number,
  gid: number,
  s: PodIdentitySettings,
): Record<string, string> {
  return {
    tool,
    uid: String(uid),
    gid: String(gid),
    allowedHostPaths: s.allowedHostPaths.join(','),
    readOnlyHostPaths: s.readOnlyHostPaths.join(','),
  };
}

const SPEC =
  "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";
const who = `" (the uid of tool '" + params.data.tool + "')"`;
const whoGid = `" (the gid of tool '" + params.data.tool + "')"`;
const under = (list: string, path: string): string =>
  `params.data.${list}.split(',').exists(p, p != '' && (${path} == p || ${path}.startsWith(p + '/')))`;

/** Effective per-container value: the container's own setting, else the pod's. */
const effective = (field: string, ok: string): string =>
  `variables.containers.all(c, (has(c.securityContext) && has(c.securityContext.${field})) ? ${ok.replace(/\$v/g, `c.securityContext.${field}`)} : (has(variables.spec.securityContext) && has(variables.spec.securityContext.${field}) && ${ok.replace(/\$v/g, `variables.spec.securityContext.${field}`)}))`;
const podLevel = (field: string, ok: string): string =>
  `!has(variables.spec.securityContext) || !has(variables.spec.securityContext.${field}) || ${ok.replace(/\$v/g, `variables.spec.securityContext.${field}`)}`;

const validations: { expression: string; messageExpression: string; reason: string }[] = [
  {
    expression: `${effective('runAsUser', '$v == int(params.data.uid)')} && (${podLevel('runAsUser', '$v == int(params.data.uid)')})`,
    messageExpression: `"securityContext.runAsUser must be " + params.data.uid + ${who} + ", set on the pod or on every container"`,
    reason: 'Forbidden',
  },
  {
    expression: `${effective('runAsGroup', '$v == int(params.data.gid)')} && (${podLevel('runAsGroup', '$v == int(params.data.gid)')})`,
    messageExpression: `"securityContext.runAsGroup must be " + params.data.gid + ${whoGid} + ", set on the pod or on every container"`,
    reason: 'Forbidden',
  },
  {
    expression:
      'has(variables.spec.securityContext) && has(variables.spec.securityContext.fsGroup) && variables.spec.securityContext.fsGroup == int(params.data.gid)',
    messageExpression: `"spec.securityContext.fsGroup must be " + params.data.gid + ${whoGid}`,
    reason: 'Forbidden',
  },
  {
    expression: effective('runAsNonRoot', '$v == true'),
    messageExpression: '"securityContext.runAsNonRoot must be true, on the pod or on every container"',
    reason: 'Forbidden',
  },
  {
    expression:
      'variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || c.securityContext.privileged == false)',
    messageExpression:
      '"securityContext.privileged must not be true (container " + variables.containers.filter(c, has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged)[0].name + ")"',
    reason: 'Forbidden',
  },
  {
    expression:
      'variables.containers.all(c, has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation) && c.securityContext.allowPrivilegeEscalation == false)',
    messageExpression: '"securityContext.allowPrivilegeEscalation must be false in every container"',
    reason: 'Forbidden',
  },
  {
    expression:
      "variables.containers.all(c, has(c.securityContext) && has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop) && c.securityContext.capabilities.drop.exists(d, d == 'ALL'))",
    messageExpression: '"securityContext.capabilities.drop must include ALL in every container"',
    reason: 'Forbidden',
  },
  {
    expression:
      'variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.capabilities) || !has(c.securityContext.capabilities.add) || size(c.securityContext.capabilities.add) == 0)',
    messageExpression: '"securityContext.capabilities.add must be empty"',
    reason: 'Forbidden',
  },
  ...(['hostNetwork', 'hostPID', 'hostIPC'] as const).map((f) => ({
    expression: `!has(variables.spec.${f}) || variables.spec.${f} == false`,
    messageExpression: `"spec.${f} must be false"`,
    reason: 'Forbidden',
  })),
  {
    expression: `!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.hostPath) || (!v.hostPath.path.contains('..') && ${under('allowedHostPaths', 'v.hostPath.path')}))`,
    messageExpression:
      '"hostPath volume " + variables.spec.volumes.filter(v, has(v.hostPath))[0].hostPath.path + " is not allowed: host paths must be under " + params.data.allowedHostPaths',
    reason: 'Forbidden',
  },
  {
    expression: `!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.hostPath) || !${under('readOnlyHostPaths', 'v.hostPath.path')} || variables.containers.all(c, !has(c.volumeMounts) || c.volumeMounts.all(m, m.name != v.name || (has(m.readOnly) && m.readOnly))))`,
    messageExpression:
      '"volumeMounts of host paths under " + params.data.readOnlyHostPaths + " must set readOnly: true"',
    reason: 'Forbidden',
  },
];

export function podIdentityPolicy(): KubernetesObject[] {
  const labels = { 'app.kubernetes.io/part-of': 'kubeusers' };
  const workloads = (apiGroups: string[], resources: string[]): Record<string, string[]> => ({
    apiGroups,
    apiVersions: ['*'],
    operations: ['CREATE', 'UPDATE'],
    resources,
  });
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: POLICY_NAME, labels },
      spec: {
        failurePolicy: 'Fail',
        paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
        matchConstraints: {
          resourceRules: [
            workloads([''], ['pods']),
            workloads(['apps'], ['deployments', 'replicasets', 'statefulsets', 'daemonsets']),
            workloads(['batch'], ['jobs', 'cronjobs']),
          ],
        },
        variables: [
          { name: 'spec', expression: SPEC },
          {
            name: 'containers',
            expression:
              'variables.spec.containers + (has(variables.spec.initContainers) ? variables.spec.initContainers : [])',
          },
        ],
        validations,
      },
    } as KubernetesObject,
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: POLICY_NAME, labels },
      spec: {
        policyName: POLICY_NAME,
        validationActions: ['Deny'],
        // No namespace: the parameter is looked up in the namespace of the object being admitted.
        paramRef: { name: PARAMS_NAME, parameterNotFoundAction: 'Deny' },
        matchResources: {
          namespaceSelector: {
            matchLabels: { tenancy: 'tool', 'app.kubernetes.io/managed-by': 'kubeusers' },
          },
        },
      },
    } as KubernetesObject,
  ];
}
