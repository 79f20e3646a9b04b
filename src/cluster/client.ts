// Every API client kubeusers uses, built from one KubeConfig with one middleware that rate-limits
// and counts each request.
import * as k8s from '@kubernetes/client-node';
import { NotLeaderError } from './errors.ts';
import type { TokenBucket } from './rate-limit.ts';

export interface Clients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  certificates: k8s.CertificatesV1Api;
  objects: k8s.KubernetesObjectApi;
  coordination: k8s.CoordinationV1Api;
  authentication: k8s.AuthenticationV1Api;
  authorization: k8s.AuthorizationV1Api;
  events: k8s.EventsV1Api;
  /**
   * GET a JSON document through the same middleware, parsed but not turned into client-node's model
   * classes: a list of thousands is then one copy in memory, not two.
   */
  getJson: (path: string, accept?: string) => Promise<unknown>;
  /**
   * A long GET (a watch) through the same middleware and connection pool, its body handed over as a
   * stream; `signal` ends it.
   */
  stream: (path: string, signal: AbortSignal) => Promise<Streamed>;
  /** Told of every server-side apply (the cluster cache: it reads what kubeusers wrote at once). */
  writes?: WriteObserver;
}

export interface WriteObserver {
  /** Before the request: what kubeusers is about to write, so its own change is not taken for another's. */
  applying(object: k8s.KubernetesObject): void;
  /** After it: what was written, with the resourceVersion the apiserver gave it. */
  applied(object: k8s.KubernetesObject, resourceVersion: string | undefined): void;
  /** Before a delete kubeusers makes. */
  deleting(ref: { kind: string; name: string; namespace?: string }): void;
}

export interface Streamed {
  status: number;
  body: ReadableStream<Uint8Array> | null;
}

export interface RequestHook {
  (method: string, url: string): void;
}

/** Reviews are how the API authenticates callers; they change nothing and followers may make them. */
const READ_ONLY_POSTS = /\/apis\/(authentication|authorization)\.k8s\.io\//;

export interface ClientOptions {
  userAgent: string;
  onRequest?: RequestHook;
  /** Writes are refused unless this says yes (leader election's fence). */
  canWrite?: () => boolean;
}

export function makeClients(kc: k8s.KubeConfig, limiter: TokenBucket, opts: ClientOptions): Clients {
  const { userAgent, onRequest, canWrite } = opts;
  let shared: ReturnType<k8s.RequestContext['getDispatcher']>;
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const middleware: k8s.Middleware = {
    pre: async (ctx) => {
      const method = ctx.getHttpMethod();
      if (canWrite && method !== 'GET' && !READ_ONLY_POSTS.test(ctx.getUrl()) && !canWrite()) {
        throw new NotLeaderError();
      }
      await limiter.take();
      // client-node 2 builds a new undici Agent (a new TLS connection, kept alive 30 s) for every
      // request; one shared Agent per client set reuses connections instead. Measured on the cold
      // benchmark: most of kubeusers' CPU and memory went to those handshakes and idle sockets.
      const dispatcher = ctx.getDispatcher();
      if (shared === undefined) shared = dispatcher;
      else if (dispatcher !== undefined) ctx.setDispatcher(shared);
      // The audit log tells installations apart by user agent (and benchmarks count requests by it).
      ctx.setHeaderParam('User-Agent', userAgent);
      onRequest?.(ctx.getHttpMethod(), ctx.getUrl());
      return ctx;
    },
    post: (res) => Promise.resolve(res),
  };
  const configuration = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [middleware],
  });
  const getJson = async (path: string, accept = 'application/json'): Promise<unknown> => {
    const ctx = new k8s.RequestContext(`${cluster.server}${path}`, k8s.HttpMethod.GET);
    ctx.setHeaderParam('Accept', accept);
    await kc.applySecurityAuthentication(ctx);
    await middleware.pre(ctx);
    const res = await configuration.httpApi.send(ctx).toPromise();
    const text = await res.body.text();
    if (res.httpStatusCode >= 400)
      throw new k8s.ApiException(res.httpStatusCode, `GET ${path}`, text, res.headers);
    return JSON.parse(text) as unknown;
  };
  const stream = async (path: string, signal: AbortSignal): Promise<Streamed> => {
    const ctx = new k8s.RequestContext(`${cluster.server}${path}`, k8s.HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setSignal(signal);
    await kc.applySecurityAuthentication(ctx);
    await middleware.pre(ctx);
    const res = await configuration.httpApi.send(ctx).toPromise();
    return { status: res.httpStatusCode, body: res.body.stream() };
  };
  return {
    kc,
    getJson,
    stream,
    core: new k8s.CoreV1Api(configuration),
    rbac: new k8s.RbacAuthorizationV1Api(configuration),
    certificates: new k8s.CertificatesV1Api(configuration),
    objects: new k8s.KubernetesObjectApi(configuration),
    coordination: new k8s.CoordinationV1Api(configuration),
    authentication: new k8s.AuthenticationV1Api(configuration),
    authorization: new k8s.AuthorizationV1Api(configuration),
    events: new k8s.EventsV1Api(configuration),
  };
}
