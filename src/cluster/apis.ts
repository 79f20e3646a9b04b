// The API methods kubeusers calls, with client-node's names and parameter shapes (typed from it with
// `import type` only: nothing of it is loaded), over our own transport. Answers are the API's JSON as
// it is: timestamps stay RFC 3339 strings, not the Dates of client-node's model classes.
import type * as k8s from '@kubernetes/client-node';

/** One request: the middleware (fence, rate limit, User-Agent) is the caller's. */
export type Call = <T>(method: string, path: string, body?: unknown, contentType?: string) => Promise<T>;

type P<A, M extends keyof A> = A[M] extends (p: infer X, ...rest: never[]) => unknown ? X : never;

const QUERY: Record<string, string> = {
  labelSelector: 'labelSelector',
  fieldSelector: 'fieldSelector',
  limit: 'limit',
  _continue: 'continue',
  resourceVersion: 'resourceVersion',
  resourceVersionMatch: 'resourceVersionMatch',
  dryRun: 'dryRun',
  fieldManager: 'fieldManager',
  force: 'force',
  gracePeriodSeconds: 'gracePeriodSeconds',
  propagationPolicy: 'propagationPolicy',
};

/** The query string of a request's parameters (the path ones are placed by the caller). */
export function query(params: object): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    const name = QUERY[k];
    if (name !== undefined && v !== undefined && v !== null) q.set(name, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A name that would change the path it is placed in (empty, a dot segment, not a string at all). */
export class PathSegmentError extends Error {
  readonly reason = 'bad-path-segment';
  constructor(message: string) {
    super(message);
    this.name = 'PathSegmentError';
  }
}

/**
 * One path segment: escaped, and refused when empty, `.` or `..` (URL resolution would drop or climb
 * it, addressing another resource) or not a string (client-node refused a missing parameter too).
 */
export function seg(v: unknown): string {
  if (typeof v !== 'string') throw new PathSegmentError(`a path segment is ${typeof v}, not a name`);
  if (v === '' || v === '.' || v === '..')
    throw new PathSegmentError('a path segment is empty, . or .., which would change the path');
  return encodeURIComponent(v);
}

export type CoreApi = Pick<
  k8s.CoreV1Api,
  | 'readNamespace'
  | 'readNamespacedConfigMap'
  | 'listNamespacedConfigMap'
  | 'createNamespacedConfigMap'
  | 'createNamespacedEvent'
  | 'listNamespacedEvent'
>;

export function coreApi(call: Call): CoreApi {
  const ns = (p: { namespace: string }): string => `/api/v1/namespaces/${seg(p.namespace)}`;
  return {
    readNamespace: (p: P<CoreApi, 'readNamespace'>) => call('GET', `/api/v1/namespaces/${seg(p.name)}`),
    readNamespacedConfigMap: (p: P<CoreApi, 'readNamespacedConfigMap'>) =>
      call('GET', `${ns(p)}/configmaps/${seg(p.name)}`),
    listNamespacedConfigMap: (p: P<CoreApi, 'listNamespacedConfigMap'>) =>
      call('GET', `${ns(p)}/configmaps${query(p)}`),
    createNamespacedConfigMap: (p: P<CoreApi, 'createNamespacedConfigMap'>) =>
      call('POST', `${ns(p)}/configmaps${query(p)}`, p.body),
    createNamespacedEvent: (p: P<CoreApi, 'createNamespacedEvent'>) =>
      call('POST', `${ns(p)}/events${query(p)}`, p.body),
    listNamespacedEvent: (p: P<CoreApi, 'listNamespacedEvent'>) => call('GET', `${ns(p)}/events${query(p)}`),
  };
}

const RBAC = '/apis/rbac.authorization.k8s.io/v1';

export type RbacApi = Pick<
  k8s.RbacAuthorizationV1Api,
  'listClusterRoleBinding' | 'deleteNamespacedRoleBinding'
>;

export function rbacApi(call: Call): RbacApi {
  return {
    listClusterRoleBinding: (p: P<RbacApi, 'listClusterRoleBinding'> = {}) =>
      call('GET', `${RBAC}/clusterrolebindings${query(p)}`),
    deleteNamespacedRoleBinding: (p: P<RbacApi, 'deleteNamespacedRoleBinding'>) =>
      call('DELETE', `${RBAC}/namespaces/${seg(p.namespace)}/rolebindings/${seg(p.name)}${query(p)}`),
  };
}

const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

export type CertificatesApi = Pick<
  k8s.CertificatesV1Api,
  | 'createCertificateSigningRequest'
  | 'deleteCertificateSigningRequest'
  | 'replaceCertificateSigningRequestApproval'
>;

export function certificatesApi(call: Call): CertificatesApi {
  return {
    createCertificateSigningRequest: (p: P<CertificatesApi, 'createCertificateSigningRequest'>) =>
      call('POST', `${CSRS}${query(p)}`, p.body),
    deleteCertificateSigningRequest: (p: P<CertificatesApi, 'deleteCertificateSigningRequest'>) =>
      call('DELETE', `${CSRS}/${seg(p.name)}${query(p)}`),
    replaceCertificateSigningRequestApproval: (
      p: P<CertificatesApi, 'replaceCertificateSigningRequestApproval'>,
    ) => call('PUT', `${CSRS}/${seg(p.name)}/approval${query(p)}`, p.body),
  };
}

export type AuthenticationApi = Pick<k8s.AuthenticationV1Api, 'createTokenReview'>;
export type AuthorizationApi = Pick<k8s.AuthorizationV1Api, 'createSubjectAccessReview'>;

export const authenticationApi = (call: Call): AuthenticationApi => ({
  createTokenReview: (p: P<AuthenticationApi, 'createTokenReview'>) =>
    call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', p.body),
});

export const authorizationApi = (call: Call): AuthorizationApi => ({
  createSubjectAccessReview: (p: P<AuthorizationApi, 'createSubjectAccessReview'>) =>
    call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', p.body),
});

export const SERVER_SIDE_APPLY = 'application/apply-patch+yaml';
export const MERGE_PATCH = 'application/merge-patch+json';
export type PatchType = typeof SERVER_SIDE_APPLY | typeof MERGE_PATCH;

/** Any object by its apiVersion and kind, as client-node's KubernetesObjectApi (the methods used). */
export interface ObjectsApi {
  patch<T extends k8s.KubernetesObject>(
    spec: T,
    pretty?: string,
    dryRun?: string,
    fieldManager?: string,
    force?: boolean,
    patchType?: PatchType,
  ): Promise<T>;
  delete(spec: k8s.KubernetesObject): Promise<k8s.V1Status>;
}

interface Resource {
  plural: string;
  namespaced: boolean;
}

/** The kinds kubeusers writes; any other is looked up once in the API's discovery. */
const KNOWN: Record<string, Resource> = {
  'v1/Namespace': { plural: 'namespaces', namespaced: false },
  'v1/ConfigMap': { plural: 'configmaps', namespaced: true },
  'v1/ResourceQuota': { plural: 'resourcequotas', namespaced: true },
  'v1/LimitRange': { plural: 'limitranges', namespaced: true },
  'v1/ServiceAccount': { plural: 'serviceaccounts', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { plural: 'rolebindings', namespaced: true },
  'rbac.authorization.k8s.io/v1/Role': { plural: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { plural: 'clusterrolebindings', namespaced: false },
  'rbac.authorization.k8s.io/v1/ClusterRole': { plural: 'clusterroles', namespaced: false },
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': {
    plural: 'validatingadmissionpolicies',
    namespaced: false,
  },
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': {
    plural: 'validatingadmissionpolicybindings',
    namespaced: false,
  },
};

const API_VERSION = /^([a-z0-9][a-z0-9.-]*\/)?v[0-9][0-9a-z]*$/;

function prefixOf(apiVersion: string): string {
  if (!API_VERSION.test(apiVersion)) throw new PathSegmentError('an apiVersion that is not one');
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

export function objectsApi(call: Call): ObjectsApi {
  const found = new Map<string, Resource>();
  const resource = async (apiVersion: string, kind: string): Promise<Resource> => {
    const key = `${apiVersion}/${kind}`;
    const known = KNOWN[key] ?? found.get(key);
    if (known) return known;
    const list = await call<{ resources?: { name: string; kind: string; namespaced: boolean }[] }>(
      'GET',
      prefixOf(apiVersion),
    );
    const r = list.resources?.find((x) => x.kind === kind && !x.name.includes('/'));
    if (!r) throw new Error(`the API server serves no ${kind} in ${apiVersion}`);
    const res = { plural: r.name, namespaced: r.namespaced };
    found.set(key, res);
    return res;
  };
  const pathOf = async (spec: k8s.KubernetesObject): Promise<string> => {
    const { apiVersion, kind, metadata } = spec;
    if (!apiVersion || !kind || !metadata?.name) throw new Error('an object needs apiVersion, kind and name');
    const r = await resource(apiVersion, kind);
    const ns = r.namespaced ? `/namespaces/${seg(metadata.namespace ?? 'default')}` : '';
    return `${prefixOf(apiVersion)}${ns}/${r.plural}/${seg(metadata.name)}`;
  };
  return {
    // client-node's positional signature, kept so that call sites do not change.
    patch: async (spec, ...[, dryRun, fieldManager, force, patchType]) =>
      call(
        'PATCH',
        `${await pathOf(spec)}${query({ dryRun, fieldManager, force })}`,
        spec,
        patchType ?? MERGE_PATCH,
      ),
    delete: async (spec) => call('DELETE', await pathOf(spec)),
  };
}
