// The configuration schema: every key, its type, default and meaning. docs/configuration.md is
// generated from it. Secrets are named by file or environment variable, never written inline.
import { z } from 'zod';
import { plaintextServers } from '../directory/transport.ts';
import { KEY_TYPES } from '../pki/keys.ts';

const secretRef = z
  .strictObject({
    file: z.string().min(1).optional().describe('read the secret from this file (trailing newline stripped)'),
    env: z.string().min(1).optional().describe('read the secret from this environment variable'),
  })
  .refine((s) => (s.file === undefined) !== (s.env === undefined), 'give exactly one of "file" or "env"');

const quantityMap = z.record(z.string(), z.union([z.string(), z.number()]).transform(String));

const limitRangeItem = z.strictObject({
  type: z.enum(['Container', 'Pod', 'PersistentVolumeClaim']),
  default: quantityMap.optional(),
  defaultRequest: quantityMap.optional(),
  max: quantityMap.optional(),
  min: quantityMap.optional(),
});

const resources = z.strictObject({
  quota: quantityMap.describe('ResourceQuota spec.hard'),
  limitRange: z.array(limitRangeItem).describe('LimitRange spec.limits'),
});

const override = z.strictObject({
  version: z.number().int().min(1).describe('bump to re-apply this override'),
  quota: quantityMap.optional().describe('replaces keys of the default quota'),
  limitRange: z.array(limitRangeItem).optional().describe('replaces the default limit range'),
});

// The tool namespace carries the list as one comma-separated annotation, which the policy splits.
const hostPath = z.string().regex(/^\/[^,]*$/, 'an absolute path without commas');

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const ldapUrl = z.url({ protocol: /^ldaps?$/, error: 'must be an ldap:// or ldaps:// URL' }).refine((u) => {
  const url = new URL(u);
  return url.username === '' && url.password === '';
}, 'no credentials in the URL: the password comes from ldap.bindPassword');

export const configSchema = z.strictObject({
  ldap: z
    .strictObject({
      servers: z
        .array(ldapUrl)
        .min(1)
        .describe('LDAP URLs, tried in order: ldaps://, or ldap:// with startTls (see allowPlaintext)'),
      startTls: z
        .boolean()
        .default(false)
        .describe('upgrade ldap:// connections with StartTLS before anything is sent; no fallback'),
      caFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          "PEM bundle of the CAs trusted for the directory's certificate; default Node's built-in CAs",
        ),
      allowPlaintext: z
        .boolean()
        .default(false)
        .describe(
          'accept ldap:// without StartTLS (password and answers unprotected; warned about at start)',
        ),
      bindDn: z.string().min(1).describe('DN of the read-only service account'),
      bindPassword: secretRef.describe("the service account's password"),
      baseDn: z.string().min(1).describe('directory base, e.g. dc=wikimedia,dc=org'),
      project: z.string().regex(DNS_LABEL).describe('tool accounts are cn=<project>.<tool>'),
      toolsBase: z
        .string()
        .optional()
        .describe('where tool accounts live; default ou=people,ou=servicegroups,<baseDn>'),
      usersBase: z.string().optional().describe('where people (admins) live; default ou=people,<baseDn>'),
      adminGroupDn: z
        .string()
        .optional()
        .describe('the admin group; default cn=<project>.admin,ou=servicegroups,<baseDn>'),
      memberStyle: z
        .enum(['member', 'memberUid'])
        .default('member')
        .describe('admin group lists DNs (rfc2307bis) or uids (RFC 2307)'),
      disabledPolicyDn: z
        .string()
        .optional()
        .describe(
          'pwdPolicySubentry that marks a disabled account; default cn=disabled,ou=ppolicies,<baseDn>',
        ),
      attributes: z
        .strictObject({
          uid: z.string().default('uid'),
          uidNumber: z.string().default('uidNumber'),
          gidNumber: z.string().default('gidNumber'),
          homeDirectory: z.string().default('homeDirectory'),
        })
        .prefault({})
        .describe('attribute names, for directories that differ from RFC 2307'),
      minUidNumber: z
        .number()
        .int()
        .min(1)
        .default(1000)
        .describe('accounts with a lower uidNumber (root, system accounts) are skipped'),
      minGidNumber: z
        .number()
        .int()
        .min(1)
        .default(1000)
        .describe('accounts with a lower gidNumber (root, system groups) are skipped'),
      pageSize: z.number().int().min(1).max(10_000).default(500).describe('paged search size'),
      timeoutSeconds: z.number().positive().default(30).describe('per operation'),
    })
    .superRefine((l, ctx) => {
      const plain = plaintextServers(l.servers, l.startTls);
      if (plain.length > 0 && !l.allowPlaintext)
        ctx.addIssue({
          code: 'custom',
          path: ['allowPlaintext'],
          message: `${plain.join(', ')} would carry the bind password and every answer in plaintext: use ldaps://, or set ldap.startTls: true (with ldap.caFile), or accept it with ldap.allowPlaintext: true`,
        });
    })
    .describe('the directory'),
  homes: z
    .strictObject({
      root: z.string().startsWith('/').describe('tool homes must be under this directory'),
      adminRoot: z
        .string()
        .startsWith('/')
        .default('/home')
        .describe('admin homes must be under this directory'),
      toolCredentialsDir: z
        .string()
        .default('.toolskube')
        .describe("tool's key and certificate, inside the home"),
      adminCredentialsDir: z
        .string()
        .default('.admkube')
        .describe("admin's key and certificate, inside the home"),
      disabledFlag: z.string().default('k8s.disabled').describe('file left in the home of a locked account'),
    })
    .describe('home directories'),
  kubernetes: z
    .strictObject({
      kubeconfig: z.string().optional().describe('kubeconfig for kubeusers itself; default in-cluster'),
      namespace: z
        .string()
        .regex(DNS_LABEL)
        .default('kubeusers')
        .describe("kubeusers' own namespace: state, ledger, admin events"),
      // A tool's name comes from the directory: with no prefix, or one the cluster uses itself, a tool
      // named `system` or `default` would map onto a namespace kubeusers does not own.
      namespacePrefix: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]*-$/, 'must be a DNS label prefix ending with "-", such as tool-')
        .refine((p) => !p.startsWith('kube-'), "must not start with kube- (the cluster's own namespaces)")
        .default('tool-')
        .describe('tool namespaces are <prefix><tool>; not empty, ends with "-", not kube-'),
      clusterName: z
        .string()
        .min(1)
        .default('kubeusers')
        .describe('cluster and context name written into kubeconfigs'),
      server: z
        .string()
        .optional()
        .describe('API server URL for kubeconfigs; default from kube-public/cluster-info'),
    })
    .prefault({}),
  rbac: z
    .strictObject({
      toolClusterRole: z.string().default('kubeusers-tool').describe("bound in each tool's namespace"),
      adminClusterRoles: z
        .array(z.string())
        .default(['view', 'kubeusers-admin-impersonate'])
        .describe('bound cluster-wide for each admin'),
      extraGroups: z
        .array(z.string().regex(/^[a-z0-9][a-z0-9:._-]*$/))
        .default([])
        .describe('groups added to every certificate (allow-list)'),
    })
    .prefault({}),
  resources: resources.default({
    quota: {
      'requests.cpu': '2',
      'requests.memory': '6Gi',
      'limits.cpu': '4',
      'limits.memory': '8Gi',
      pods: '16',
      services: '2',
      persistentvolumeclaims: '3',
    },
    limitRange: [
      {
        type: 'Container',
        default: { cpu: '500m', memory: '512Mi' },
        defaultRequest: { cpu: '150m', memory: '256Mi' },
        max: { cpu: '1', memory: '4Gi' },
        min: { cpu: '50m', memory: '100Mi' },
      },
    ],
  }),
  overrides: z
    .record(z.string().regex(DNS_LABEL), override)
    .default({})
    .describe('per-tool quota and limits'),
  certificates: z
    .strictObject({
      lifetimeSeconds: z
        .number()
        .int()
        .min(600)
        .default(30 * 86_400)
        .describe('requested lifetime (expirationSeconds)'),
      renewFraction: z
        .number()
        .gt(0)
        .lt(1)
        .default(2 / 3)
        .describe('renew at this share of the real lifetime'),
      jitterFraction: z
        .number()
        .min(0)
        .lt(0.5)
        .default(0.05)
        .describe('spread renewals by up to this share of the lifetime, earlier'),
      keyType: z.enum(KEY_TYPES).default('ecdsa-p256'),
      signTimeoutSeconds: z.number().positive().default(60).describe('how long to wait for the signer'),
      clockSkewToleranceSeconds: z
        .number()
        .min(0)
        .max(600)
        .default(60)
        .describe(
          'a certificate starting later than this ahead of our clock is not valid yet: never adopted or kept, refused from the signer',
        ),
    })
    .prefault({}),
  sync: z
    .strictObject({
      intervalSeconds: z.number().positive().default(60).describe('time between full syncs'),
      watchSeconds: z
        .number()
        .min(0)
        .default(0.25)
        .describe(
          'pause between two looks asking LDAP which tools and admins were created or modified (three small searches on one kept connection); each change starts a sync of that account at once (0: never)',
        ),
      renewalCron: z.string().default('*/10 * * * *').describe('node-cron schedule of the renewal sweep'),
      concurrency: z.number().int().min(1).max(256).default(16).describe('accounts worked on at once'),
      qps: z
        .number()
        .positive()
        .default(200)
        .describe('client-side rate limit to the API server (requests per second)'),
      burst: z.number().int().min(1).default(400).describe('requests allowed at once above the rate'),
    })
    .prefault({}),
  removalGuard: z
    .strictObject({
      maxFraction: z
        .number()
        .min(0)
        .max(1)
        .default(0.05)
        .describe('largest share of accounts one sync may remove'),
      minCount: z.number().int().min(0).default(10).describe('removals always allowed up to this many'),
    })
    .prefault({})
    .describe('a sync that would remove more than max(maxFraction × accounts, minCount) removes nothing'),
  leaderElection: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe('run for a coordination.k8s.io Lease; only the leader writes'),
      leaseName: z.string().default('kubeusers-leader').describe("Lease name, in kubeusers' own namespace"),
      identity: z.string().optional().describe('this replica; default <hostname>-<pid>'),
      leaseDurationSeconds: z
        .number()
        .positive()
        .default(15)
        .describe('how long a lease lasts without renewal'),
      renewDeadlineSeconds: z
        .number()
        .positive()
        .default(10)
        .describe('a leader that has not renewed for this long stops writing (less than the lease duration)'),
      retryPeriodSeconds: z.number().positive().default(2).describe('how often to try to acquire or renew'),
    })
    .prefault({})
    .refine(
      (l) => l.renewDeadlineSeconds < l.leaseDurationSeconds,
      'leaderElection.renewDeadlineSeconds must be less than leaseDurationSeconds',
    ),
  podIdentity: z
    .strictObject({
      applyPolicy: z
        .boolean()
        .default(true)
        .describe(
          'create the pod-identity ValidatingAdmissionPolicy and its binding at start when they are missing; deploy/ and the Helm chart ship them, and kubeusers never changes existing ones (ADR 20)',
        ),
      allowedHostPaths: z
        .array(hostPath)
        .default(['/data/project', '/public/dumps', '/etc/wmcs-project'])
        .describe('hostPath volumes must be under one of these'),
      readOnlyHostPaths: z
        .array(hostPath)
        .default(['/public/dumps', '/etc/wmcs-project'])
        .describe('hostPath volumes under these must be mounted read-only'),
      strictSupplementalGroups: z
        .boolean()
        .default(false)
        .describe(
          "pods must set supplementalGroupsPolicy: Strict, so that the runtime adds no groups from the image's /etc/group (every node's runtime must support it: node status.features.supplementalGroupsPolicy)",
        ),
    })
    .prefault({})
    .describe('pod identity: what pods in tool namespaces may run as and mount'),
  api: z
    .strictObject({
      enabled: z.boolean().default(false).describe('serve the admin API over HTTPS'),
      address: z.string().default('0.0.0.0').describe('listen address'),
      port: z.number().int().min(0).max(65_535).default(8443).describe('0 picks a free port'),
      certFile: z.string().optional().describe('PEM serving certificate (required when enabled)'),
      keyFile: z.string().optional().describe('PEM serving key (required when enabled)'),
      clientCaFile: z
        .string()
        .optional()
        .describe('CA for client certificates; default the cluster CA from cluster-info'),
      bodyLimitBytes: z
        .number()
        .int()
        .min(256)
        .max(1_048_576)
        .default(16_384)
        .describe('largest request body'),
      requestsPerMinute: z
        .number()
        .int()
        .min(1)
        .default(600)
        .describe('per authenticated caller (user name and uid); nobody else spends it'),
      unauthenticatedRequestsPerMinute: z
        .number()
        .int()
        .min(1)
        .default(60)
        .describe(
          'per client address, counting only requests that fail to authenticate; beyond it the address gets 429 before another token is reviewed (a client certificate still works)',
        ),
      credentialReviewsPerMinute: z
        .number()
        .int()
        .min(1)
        .default(600_000)
        .describe(
          'credential reviews per authenticated caller (a gateway asks once per request it serves); answered from memory, so this only stops a runaway caller',
        ),
      audiences: z
        .array(z.string().min(1))
        .default([])
        .describe(
          "audiences a bearer token must be minted for (TokenReview spec.audiences), e.g. [kubeusers]; empty: the API server's own",
        ),
      forward: z
        .strictObject({
          tokenFile: z
            .string()
            .optional()
            .describe(
              "a token of kubeusers' own ServiceAccount minted for `audience` (a projected volume, re-read on every use); set, a replica that does not lead hands revoke and renew to the leader instead of answering 503 not-leader (ADR 25)",
            ),
          audience: z
            .string()
            .min(1)
            .default('kubeusers-forward')
            .describe(
              'the audience of that token; the leader accepts a forwarded request only with a token for it that names its own identity',
            ),
          host: z
            .string()
            .optional()
            .describe(
              "where the other replicas reach this one's API (the pod IP), advertised on the Lease; default the POD_IP environment variable",
            ),
          caFile: z
            .string()
            .optional()
            .describe(
              "CA the leader's serving certificate must chain to on the hop; default api.certFile itself (every replica serves the same pair); set it to the issuer when the pair rotates",
            ),
          serverName: z
            .string()
            .optional()
            .describe(
              "name the leader's serving certificate must carry; default the first DNS name of api.certFile",
            ),
        })
        .prefault({})
        .describe('writes that reach a follower are carried out by the leader, over an authenticated hop'),
      reviews: z
        .strictObject({
          qps: z
            .number()
            .positive()
            .default(50)
            .describe(
              "TokenReviews and SubjectAccessReviews per second, on a client of their own (never the sync's)",
            ),
          burst: z.number().int().min(1).default(100).describe('reviews allowed at once above the rate'),
          maxWaiting: z
            .number()
            .int()
            .min(1)
            .default(100)
            .describe('reviews that may wait for the rate; beyond it a request gets 503 at once'),
          cacheSeconds: z
            .number()
            .min(0)
            .default(10)
            .describe('how long an accepted token or an allowed request is remembered (by SHA-256 digest)'),
          negativeCacheSeconds: z
            .number()
            .min(0)
            .default(2)
            .describe('how long a refused token or a denied request is remembered'),
          cacheEntries: z.number().int().min(0).default(10_000).describe('most answers remembered'),
        })
        .prefault({})
        .describe("the API's own budget for asking the cluster who a caller is and what they may do"),
    })
    .prefault({})
    .refine(
      (a) => !a.enabled || (a.certFile !== undefined && a.keyFile !== undefined),
      'api.certFile and api.keyFile are required when api.enabled is true',
    )
    .describe('the admin API'),
  ops: z
    .strictObject({
      address: z
        .string()
        .default('0.0.0.0')
        .describe('listen address of the plain-HTTP port for /healthz, /readyz and /metrics'),
      port: z.number().int().min(0).max(65_535).default(9090).describe('0 picks a free port'),
    })
    .prefault({})
    .describe('the operations port'),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type SecretRef = z.output<typeof secretRef>;
