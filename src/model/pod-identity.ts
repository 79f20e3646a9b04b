// One ValidatingAdmissionPolicy for every tool namespace: pods run as the tool's own uid/gid, never
// privileged, and mount only allowed host paths. What the policy trusts about a tool (its uid, gid
// and host paths) is read from the tool's Namespace through `namespaceObject`: labels and
// annotations kubeusers writes and a tool cannot change (it has no rights on namespaces). A
// parameter object inside the tool's namespace would be writable by the tool itself (ADR 8).
import type { KubernetesObject } from '@kubernetes/client-node';
import { ACCOUNT_LABEL } from './names.ts';

export const POLICY_NAME = 'kubeusers-pod-identity';
/** The per-namespace parameter ConfigMap of earlier releases: deleted where kubeusers finds it. */
export const LEGACY_PARAMS_NAME = 'kubeusers-pod-identity';

export const UID_LABEL = 'kubeusers.io/uid';
export const GID_LABEL = 'kubeusers.io/gid';
export const ALLOWED_HOST_PATHS_ANNOTATION = 'kubeusers.io/allowed-host-paths';
export const READ_ONLY_HOST_PATHS_ANNOTATION = 'kubeusers.io/read-only-host-paths';
/** `Strict`: pods must set supplementalGroupsPolicy Strict (no groups from the image's /etc/group). */
export const SUPPLEMENTAL_GROUPS_POLICY_ANNOTATION = 'kubeusers.io/supplemental-groups-policy';

export interface PodIdentitySettings {
  allowedHostPaths: string[];
  readOnlyHostPaths: string[];
  strictSupplementalGroups?: boolean;
}

/** The labels and annotations of a tool's Namespace that the policy reads. Without settings, no
 * host path is allowed. */
export function podIdentityMetadata(
  uid: number,
  gid: number,
  s: PodIdentitySettings | undefined,
): { labels: Record<string, string>; annotations: Record<string, string> } {
  return {
    labels: { [UID_LABEL]: String(uid), [GID_LABEL]: String(gid) },
    annotations: {
      [ALLOWED_HOST_PATHS_ANNOTATION]: (s?.allowedHostPaths ?? []).join(','),
      [READ_ONLY_HOST_PATHS_ANNOTATION]: (s?.readOnlyHostPaths ?? []).join(','),
      ...(s?.strictSupplementalGroups ? { [SUPPLEMENTAL_GROUPS_POLICY_ANNOTATION]: 'Strict' } : {}),
    },
  };
}

/** The Pod Security Standards' safe sysctls (k8s.io/pod-security-admission, policy/check_sysctls.go, 1.37). */
export const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  'net.ipv4.tcp_slow_start_after_idle',
  'net.ipv4.tcp_notsent_lowat',
];

const SPEC =
  "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";
/** The pod's annotations (the legacy AppArmor and seccomp ones still matter). */
const ANNOTATIONS =
  "object.kind == 'Pod' ? object.metadata.?annotations.orValue({}) : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.?metadata.?annotations.orValue({}) : object.spec.template.?metadata.?annotations.orValue({}))";
const ID = "'^[1-9][0-9]{0,9}$'";
const label = (key: string): string => `variables.nsLabels[?'${key}'].orValue('')`;
const annotation = (key: string): string => `variables.nsAnnotations[?'${key}'].orValue('')`;

const variables: { name: string; expression: string }[] = [
  { name: 'spec', expression: SPEC },
  {
    name: 'containers',
    expression:
      'variables.spec.containers + variables.spec.?initContainers.orValue([]) + variables.spec.?ephemeralContainers.orValue([])',
  },
  { name: 'annotations', expression: ANNOTATIONS },
  { name: 'nsLabels', expression: 'namespaceObject.metadata.?labels.orValue({})' },
  { name: 'nsAnnotations', expression: 'namespaceObject.metadata.?annotations.orValue({})' },
  {
    name: 'tool',
    expression: `variables.nsLabels[?'${ACCOUNT_LABEL}'].orValue(namespaceObject.metadata.name)`,
  },
  // Fail closed: without kubeusers' labels and annotations the namespace admits no pod at all.
  {
    name: 'identityKnown',
    expression: `${label(UID_LABEL)}.matches(${ID}) && ${label(GID_LABEL)}.matches(${ID}) && '${ALLOWED_HOST_PATHS_ANNOTATION}' in variables.nsAnnotations && '${READ_ONLY_HOST_PATHS_ANNOTATION}' in variables.nsAnnotations`,
  },
  { name: 'uid', expression: `variables.identityKnown ? int(${label(UID_LABEL)}) : -1` },
  { name: 'gid', expression: `variables.identityKnown ? int(${label(GID_LABEL)}) : -1` },
  { name: 'allowedHostPathsText', expression: annotation(ALLOWED_HOST_PATHS_ANNOTATION) },
  { name: 'readOnlyHostPathsText', expression: annotation(READ_ONLY_HOST_PATHS_ANNOTATION) },
  {
    name: 'allowedHostPaths',
    expression: "variables.allowedHostPathsText.split(',').filter(p, p != '')",
  },
  {
    name: 'readOnlyHostPaths',
    expression: "variables.readOnlyHostPathsText.split(',').filter(p, p != '')",
  },
];

const who = `" (the uid of tool '" + variables.tool + "')"`;
const whoGid = `" (the gid of tool '" + variables.tool + "')"`;
const under = (list: string, path: string): string =>
  `variables.${list}.exists(p, ${path} == p || ${path}.startsWith(p + '/'))`;

/** Effective per-container value: the container's own setting, else the pod's. */
const effective = (field: string, ok: string): string =>
  `variables.containers.all(c, (has(c.securityContext) && has(c.securityContext.${field})) ? ${ok.replace(/\$v/g, `c.securityContext.${field}`)} : (has(variables.spec.securityContext) && has(variables.spec.securityContext.${field}) && ${ok.replace(/\$v/g, `variables.spec.securityContext.${field}`)}))`;
const podLevel = (field: string, ok: string): string =>
  `!has(variables.spec.securityContext) || !has(variables.spec.securityContext.${field}) || ${ok.replace(/\$v/g, `variables.spec.securityContext.${field}`)}`;
/** A securityContext path (e.g. `seccompProfile.?type`) that is unset or allowed, on the pod and on every container. */
const everyLevel = (path: string, ok: (v: string) => string): string =>
  `${ok(`variables.spec.?securityContext.?${path}`)} && variables.containers.all(c, ${ok(`c.?securityContext.?${path}`)})`;
const firstContainer = (cond: string): string => `variables.containers.filter(c, ${cond}).map(c, c.name)[0]`;

const FORBIDDEN = 'Forbidden';
const APPARMOR_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';
const SECCOMP_POD = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_PREFIX = 'container.seccomp.security.alpha.kubernetes.io/';

const validations: { expression: string; messageExpression: string; reason: string }[] = [
  // First: the first failing validation is the message the user sees.
  {
    expression: 'variables.identityKnown',
    messageExpression: `"namespace " + namespaceObject.metadata.name + " lacks valid pod identity labels (${UID_LABEL}, ${GID_LABEL}) or annotations (${ALLOWED_HOST_PATHS_ANNOTATION}, ${READ_ONLY_HOST_PATHS_ANNOTATION}): no pod is admitted until kubeusers has synced this tool"`,
    reason: FORBIDDEN,
  },
  {
    expression: `${effective('runAsUser', '$v == variables.uid')} && (${podLevel('runAsUser', '$v == variables.uid')})`,
    messageExpression: `"securityContext.runAsUser must be " + string(variables.uid) + ${who} + ", set on the pod or on every container"`,
    reason: FORBIDDEN,
  },
  {
    expression: `${effective('runAsGroup', '$v == variables.gid')} && (${podLevel('runAsGroup', '$v == variables.gid')})`,
    messageExpression: `"securityContext.runAsGroup must be " + string(variables.gid) + ${whoGid} + ", set on the pod or on every container"`,
    reason: FORBIDDEN,
  },
  {
    expression:
      'has(variables.spec.securityContext) && has(variables.spec.securityContext.fsGroup) && variables.spec.securityContext.fsGroup == variables.gid',
    messageExpression: `"spec.securityContext.fsGroup must be " + string(variables.gid) + ${whoGid}`,
    reason: FORBIDDEN,
  },
  {
    expression: 'variables.spec.?securityContext.?supplementalGroups.orValue([]).all(g, g == variables.gid)',
    messageExpression: `"spec.securityContext.supplementalGroups may only contain " + string(variables.gid) + ${whoGid}`,
    reason: FORBIDDEN,
  },
  {
    // With the default policy (Merge) the runtime adds the groups the image's /etc/group gives the uid.
    expression: `${annotation(SUPPLEMENTAL_GROUPS_POLICY_ANNOTATION)} != 'Strict' || variables.spec.?securityContext.?supplementalGroupsPolicy.orValue('') == 'Strict'`,
    messageExpression:
      '"spec.securityContext.supplementalGroupsPolicy must be Strict in this namespace (no groups from the image\'s /etc/group)"',
    reason: FORBIDDEN,
  },
  {
    expression: effective('runAsNonRoot', '$v == true'),
    messageExpression: '"securityContext.runAsNonRoot must be true, on the pod or on every container"',
    reason: FORBIDDEN,
  },
  {
    expression:
      'variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || c.securityContext.privileged == false)',
    messageExpression: `"securityContext.privileged must not be true (container " + ${firstContainer('has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged')} + ")"`,
    reason: FORBIDDEN,
  },
  {
    expression:
      'variables.containers.all(c, has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation) && c.securityContext.allowPrivilegeEscalation == false)',
    messageExpression: '"securityContext.allowPrivilegeEscalation must be false in every container"',
    reason: FORBIDDEN,
  },
  {
    expression:
      "variables.containers.all(c, has(c.securityContext) && has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop) && c.securityContext.capabilities.drop.exists(d, d == 'ALL'))",
    messageExpression: '"securityContext.capabilities.drop must include ALL in every container"',
    reason: FORBIDDEN,
  },
  {
    expression:
      'variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.capabilities) || !has(c.securityContext.capabilities.add) || size(c.securityContext.capabilities.add) == 0)',
    messageExpression: '"securityContext.capabilities.add must be empty"',
    reason: FORBIDDEN,
  },
  ...(['hostNetwork', 'hostPID', 'hostIPC'] as const).map((f) => ({
    expression: `!has(variables.spec.${f}) || variables.spec.${f} == false`,
    messageExpression: `"spec.${f} must be false"`,
    reason: FORBIDDEN,
  })),
  {
    expression: 'variables.containers.all(c, c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))',
    messageExpression: `"ports[].hostPort must not be set (container " + ${firstContainer('c.?ports.orValue([]).exists(p, p.?hostPort.orValue(0) != 0)')} + ")"`,
    reason: FORBIDDEN,
  },
  {
    expression: everyLevel('seccompProfile.?type', (v) => `${v}.orValue('') != 'Unconfined'`),
    messageExpression:
      '"securityContext.seccompProfile.type must not be Unconfined, on the pod or on any container"',
    reason: FORBIDDEN,
  },
  {
    expression: everyLevel('appArmorProfile.?type', (v) => `${v}.orValue('') != 'Unconfined'`),
    messageExpression:
      '"securityContext.appArmorProfile.type must not be Unconfined, on the pod or on any container"',
    reason: FORBIDDEN,
  },
  {
    expression: `variables.annotations.all(k, !k.startsWith('${APPARMOR_PREFIX}') || variables.annotations[k] == '' || variables.annotations[k] == 'runtime/default' || variables.annotations[k].startsWith('localhost/'))`,
    messageExpression: `"annotations ${APPARMOR_PREFIX}* must be runtime/default or localhost/<profile>"`,
    reason: FORBIDDEN,
  },
  {
    expression: `variables.annotations.all(k, !(k == '${SECCOMP_POD}' || k.startsWith('${SECCOMP_PREFIX}')) || variables.annotations[k] != 'unconfined')`,
    messageExpression: '"seccomp annotations must not be unconfined"',
    reason: FORBIDDEN,
  },
  {
    expression: everyLevel('seLinuxOptions', (v) => `!${v}.hasValue()`),
    messageExpression: '"securityContext.seLinuxOptions must not be set, on the pod or on any container"',
    reason: FORBIDDEN,
  },
  {
    expression: "variables.containers.all(c, c.?securityContext.?procMount.orValue('Default') == 'Default')",
    messageExpression: '"securityContext.procMount must be Default"',
    reason: FORBIDDEN,
  },
  {
    expression: `variables.spec.?securityContext.?sysctls.orValue([]).all(s, s.name in ${JSON.stringify(SAFE_SYSCTLS).replace(/"/g, "'")})`,
    messageExpression:
      '"sysctl " + variables.spec.securityContext.sysctls.filter(s, !(s.name in ' +
      JSON.stringify(SAFE_SYSCTLS).replace(/"/g, "'") +
      '))[0].name + " is not in the Pod Security Standards\' safe set"',
    reason: FORBIDDEN,
  },
  {
    expression: everyLevel('windowsOptions.?hostProcess', (v) => `!${v}.orValue(false)`),
    messageExpression: '"securityContext.windowsOptions.hostProcess must not be true"',
    reason: FORBIDDEN,
  },
  {
    expression: `!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.hostPath) || (!v.hostPath.path.contains('..') && ${under('allowedHostPaths', 'v.hostPath.path')}))`,
    messageExpression:
      '"hostPath volume " + variables.spec.volumes.filter(v, has(v.hostPath))[0].hostPath.path + " is not allowed: host paths must be under " + variables.allowedHostPathsText',
    reason: FORBIDDEN,
  },
  {
    expression: `!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.hostPath) || !${under('readOnlyHostPaths', 'v.hostPath.path')} || variables.containers.all(c, !has(c.volumeMounts) || c.volumeMounts.all(m, m.name != v.name || (has(m.readOnly) && m.readOnly))))`,
    messageExpression:
      '"volumeMounts of host paths under " + variables.readOnlyHostPathsText + " must set readOnly: true"',
    reason: FORBIDDEN,
  },
];

/**
 * The apiserver's defaults inside a policy's `matchConstraints` and a binding's `matchResources`.
 * Both are atomic structs (`+structType=atomic`): a server-side apply owns each as one value, and an
 * applied value without the defaults differs from the stored one, so a second applier (the operator
 * re-applying deploy/base after the daemon, or the reverse) conflicts even with the same manifest.
 * Spelled out, every applier's value equals the stored object and they co-own it (ADR 20).
 */
export const MATCH_DEFAULTS = { matchPolicy: 'Equivalent', objectSelector: {} } as const;

export function podIdentityPolicy(): KubernetesObject[] {
  const labels = { 'app.kubernetes.io/part-of': 'kubeusers' };
  const workloads = (apiGroups: string[], resources: string[]): Record<string, string[] | string> => ({
    apiGroups,
    apiVersions: ['*'],
    operations: ['CREATE', 'UPDATE'],
    resources,
    scope: '*',
  });
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: POLICY_NAME, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          ...MATCH_DEFAULTS,
          namespaceSelector: {},
          resourceRules: [
            workloads([''], ['pods', 'pods/ephemeralcontainers']),
            workloads(['apps'], ['deployments', 'replicasets', 'statefulsets', 'daemonsets']),
            workloads(['batch'], ['jobs', 'cronjobs']),
          ],
        },
        variables,
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
        // No parameters: every fact about the tool comes from its Namespace (namespaceObject).
        matchResources: {
          ...MATCH_DEFAULTS,
          namespaceSelector: {
            matchLabels: { tenancy: 'tool', 'app.kubernetes.io/managed-by': 'kubeusers' },
          },
        },
      },
    } as KubernetesObject,
  ];
}
