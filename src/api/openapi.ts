// The OpenAPI 3 description of the admin API. A test checks it against the routes the app serves.
const problem = { $ref: '#/components/responses/Problem' };
const kindParam = {
  name: 'kind',
  in: 'query',
  required: false,
  schema: { type: 'string', enum: ['tool', 'admin'], default: 'tool' },
};
const nameParam = {
  name: 'name',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
};
// 503 also answers when too many requests wait for the cluster to check their callers.
const errors = { '400': problem, '401': problem, '403': problem, '429': problem, '503': problem };
/** Bodies are application/json in UTF-8 only; anything else is 415 (a browser sends other types cross-site). */
const bodyErrors = { ...errors, '415': problem };
// Writes: 503 `not-leader` when no leader can be reached, 502 `forward-failed` when the hop to the
// leader failed (the outcome is unknown: read the account before trying again). ADR 25.
const writeErrors = { ...bodyErrors, '502': problem };

export const openApiDocument = {
  openapi: '3.0.3',
  info: {
    title: 'kubeusers admin API',
    version: '1',
    description:
      "Inspect, revoke and reissue the Kubernetes credentials kubeusers manages. Authenticate with a client certificate issued by the cluster (an admin kubeconfig) or a bearer token; the cluster RBAC decides through kubeusers.io/accounts, whose resource names are the accounts' Kubernetes user names (<project>.<tool> for a tool, the uid for an admin). Request bodies are application/json in UTF-8.",
  },
  servers: [{ url: '/' }],
  security: [{ clientCertificate: [] }, { bearer: [] }],
  paths: {
    '/api/v1/accounts': {
      get: {
        operationId: 'listAccounts',
        summary: 'List accounts',
        parameters: [
          { name: 'kind', in: 'query', required: false, schema: { type: 'string', enum: ['tool', 'admin'] } },
          {
            name: 'state',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: ['active', 'locked', 'revoked', 'pending', 'error'] },
          },
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
          },
          { name: 'continue', in: 'query', required: false, schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: 'A page of accounts',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/AccountList' } } },
          },
          ...errors,
        },
      },
    },
    '/api/v1/accounts/{name}': {
      get: {
        operationId: 'getAccount',
        summary: 'One account, with its recent audit entries',
        parameters: [nameParam, kindParam],
        responses: {
          '200': {
            description: 'The account',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/AccountDetail' } } },
          },
          '404': problem,
          ...errors,
        },
      },
    },
    '/api/v1/accounts/{name}/revoke': {
      post: {
        operationId: 'revokeAccount',
        summary: "Revoke the account's current credential; answers once the cluster no longer authorises it",
        parameters: [nameParam, kindParam],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/RevokeRequest' } } },
        },
        responses: {
          '200': {
            description: 'Revoked',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/RevokeResponse' } } },
          },
          '404': problem,
          '409': problem,
          ...writeErrors,
        },
      },
    },
    '/api/v1/accounts/{name}/renew': {
      post: {
        operationId: 'renewAccount',
        summary: 'Force a reissue through the normal reconcile path',
        parameters: [nameParam, kindParam],
        responses: {
          '202': {
            description: 'Accepted; follow the account',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Accepted' } } },
          },
          '404': problem,
          '409': problem,
          ...writeErrors,
        },
      },
    },
    '/api/v1/revocations': {
      get: {
        operationId: 'listRevocations',
        summary: 'The revocation ledger, newest first; with `since`, the revocations feed',
        description:
          'Without `since`: the ledger for admins (list on kubeusers.io/accounts), newest first. With `since` (empty for the beginning): the feed for services (list on kubeusers.io/revocations), oldest first, in pages; keep the returned `cursor` and ask again with it.',
        parameters: [
          { name: 'kind', in: 'query', required: false, schema: { type: 'string', enum: ['tool', 'admin'] } },
          { name: 'account', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'since', in: 'query', required: false, schema: { type: 'string', maxLength: 200 } },
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 1000, default: 500 },
          },
        ],
        responses: {
          '200': {
            description: 'Ledger entries, or a page of the feed',
            content: {
              'application/json': {
                schema: {
                  oneOf: [
                    {
                      type: 'object',
                      properties: {
                        items: { type: 'array', items: { $ref: '#/components/schemas/Revocation' } },
                      },
                    },
                    { $ref: '#/components/schemas/RevocationFeedPage' },
                  ],
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    '/api/v1/credential-reviews': {
      get: {
        operationId: 'reviewCredential',
        summary: 'Is this client certificate a current kubeusers credential, and whose?',
        description:
          'For gateways (nginx auth_request): create on kubeusers.io/credentialreviews. Answered from memory on every replica. 200 with X-Kubeusers-Kind/Name/Project/Epoch/Not-After headers; 401 not a credential kubeusers knows (or expired); 403 revoked, locked or superseded; 503 this replica cannot know right now.',
        parameters: [
          {
            name: 'X-Client-Certificate',
            in: 'header',
            required: false,
            description: "The certificate as URL-encoded PEM (nginx's $ssl_client_escaped_cert)",
            schema: { type: 'string' },
          },
          {
            name: 'X-Client-Certificate-Sha256',
            in: 'header',
            required: false,
            description: 'Or its SHA-256 fingerprint (only an account’s current certificate is known by it)',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': {
            description: 'A current credential',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/CredentialReview' } } },
          },
          ...errors,
        },
      },
    },
    '/api/v1/openapi.json': {
      get: {
        operationId: 'openApi',
        summary: 'This document',
        security: [],
        responses: {
          '200': {
            description: 'OpenAPI 3 document',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
  },
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'A Kubernetes token, checked with a TokenReview',
      },
      clientCertificate: {
        type: 'http',
        scheme: 'mutual-tls',
        description: 'A client certificate signed by the cluster CA',
      },
    },
    responses: {
      Problem: {
        description: 'An RFC 7807 problem',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    },
    schemas: {
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status', 'code', 'detail'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          code: { type: 'string' },
          detail: { type: 'string' },
        },
      },
      Account: {
        type: 'object',
        required: ['name', 'kind', 'state', 'epoch', 'lastChange'],
        properties: {
          name: { type: 'string' },
          kind: { type: 'string', enum: ['tool', 'admin'] },
          state: { type: 'string', enum: ['active', 'locked', 'revoked', 'pending', 'error'] },
          serial: { type: 'string', nullable: true },
          fingerprint: { type: 'string', nullable: true },
          notAfter: { type: 'string', format: 'date-time', nullable: true },
          epoch: { type: 'integer' },
          lastChange: { type: 'string', format: 'date-time' },
          lastError: { type: 'string', nullable: true },
        },
      },
      AccountList: {
        type: 'object',
        required: ['items'],
        properties: {
          items: { type: 'array', items: { $ref: '#/components/schemas/Account' } },
          continue: { type: 'string' },
        },
      },
      AuditEntry: {
        type: 'object',
        properties: {
          time: { type: 'string', format: 'date-time' },
          reason: { type: 'string' },
          message: { type: 'string' },
        },
      },
      AccountDetail: {
        allOf: [
          { $ref: '#/components/schemas/Account' },
          {
            type: 'object',
            properties: {
              audit: { type: 'array', items: { $ref: '#/components/schemas/AuditEntry' } },
              revocations: { type: 'array', items: { $ref: '#/components/schemas/Revocation' } },
            },
          },
        ],
      },
      RevokeRequest: {
        type: 'object',
        additionalProperties: false,
        required: ['reason'],
        properties: {
          reason: { type: 'string', minLength: 1, maxLength: 1000 },
          reissue: { type: 'boolean', default: true },
        },
      },
      Revocation: {
        type: 'object',
        properties: {
          serial: { type: 'string' },
          fingerprint: { type: 'string' },
          kind: { type: 'string' },
          account: { type: 'string' },
          epoch: { type: 'integer' },
          actor: { type: 'string' },
          reason: { type: 'string' },
          time: { type: 'string', format: 'date-time' },
          notAfter: { type: 'string', format: 'date-time' },
        },
      },
      RevocationFeedPage: {
        type: 'object',
        properties: {
          items: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                serial: { type: 'string' },
                fingerprint: { type: 'string' },
                kind: { type: 'string' },
                account: { type: 'string' },
                time: { type: 'string', format: 'date-time' },
                notAfter: { type: 'string', format: 'date-time', nullable: true },
              },
            },
          },
          cursor: { type: 'string' },
          more: { type: 'boolean' },
        },
      },
      CredentialReview: {
        type: 'object',
        properties: {
          kind: { type: 'string', enum: ['tool', 'admin'] },
          name: { type: 'string' },
          project: { type: 'string' },
          epoch: { type: 'integer' },
          notAfter: { type: 'string', format: 'date-time' },
          serial: { type: 'string' },
          fingerprint: { type: 'string' },
        },
      },
      RevokeResponse: {
        type: 'object',
        properties: {
          revoked: { $ref: '#/components/schemas/Revocation' },
          reissue: { type: 'string', enum: ['started', 'none'] },
          follow: { type: 'string' },
        },
      },
      Accepted: { type: 'object', properties: { status: { type: 'string' }, follow: { type: 'string' } } },
    },
  },
} as const;
