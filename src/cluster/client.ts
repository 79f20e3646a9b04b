// Every API client kubeusers uses, over one connection pool (src/cluster/http.ts) with one middleware
// that fences writes, rate-limits and counts each request. client-node is not loaded (ADR 26): its
// types name the methods and their parameters, the transport is ours.
import type * as k8s from '@kubernetes/client-node';
import {
  authenticationApi,
  authorizationApi,
  certificatesApi,
  coreApi,
  objectsApi,
  rbacApi,
  type AuthenticationApi,
  type AuthorizationApi,
  type Call,
  type CertificatesApi,
  type CoreApi,
  type ObjectsApi,
  type RbacApi,
} from './apis.ts';
import { NotLeaderError } from './errors.ts';
import { sendJson, transport, webBody, type Send } from './http.ts';
import type { KubeAccess } from './kubeconfig.ts';
import type { TokenBucket } from './rate-limit.ts';

export interface Clients {
  /** Where the API server is and how to prove who kubeusers is: another client set is made from it. */
  kc: KubeAccess;
  core: CoreApi;
  rbac: RbacApi;
  certificates: CertificatesApi;
  objects: ObjectsApi;
  authentication: AuthenticationApi;
  authorization: AuthorizationApi;
  /**
   * GET a JSON document through the same middleware, parsed and nothing more: a list of thousands is
   * one copy in memory.
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
const READ_ONLY_POSTS = /^\/apis\/(authentication|authorization)\.k8s\.io\//;

export interface ClientOptions {
  userAgent: string;
  onRequest?: RequestHook;
  /** Writes are refused unless this says yes (leader election's fence). */
  canWrite?: () => boolean;
  /** A watch's limits (tests make them short); defaults: WATCH_LIMITS. */
  watchLimits?: WatchLimits;
}

/**
 * A watch ends by the API server at its timeoutSeconds; a connection silent past that plus `marginMs`,
 * or with no response head within `headMs`, is dead (half-open: a failover, a NAT or load balancer that
 * dropped it without a reset) and fails, so the cache lists again instead of serving stale state.
 */
export interface WatchLimits {
  headMs: number;
  marginMs: number;
}

export const WATCH_LIMITS: WatchLimits = { headMs: 30_000, marginMs: 30_000 };
/** For a watch that does not say (the API server's default is at most 30 min). */
const WATCH_SECONDS_UNSET = 1800;

function watchBodyMs(path: string, limits: WatchLimits): number {
  const q = path.includes('?') ? new URLSearchParams(path.slice(path.indexOf('?') + 1)) : undefined;
  const seconds = Number(q?.get('timeoutSeconds') ?? WATCH_SECONDS_UNSET);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : WATCH_SECONDS_UNSET) * 1000 + limits.marginMs;
}

export function makeClients(kc: KubeAccess, limiter: TokenBucket, opts: ClientOptions): Clients {
  const { userAgent, onRequest, canWrite, watchLimits = WATCH_LIMITS } = opts;
  const pool = transport(kc);
  const pre = async (method: string, path: string): Promise<void> => {
    const url = `${kc.server}${path}`;
    // The path alone, from its start: the server's own URL may have a path of its own.
    if (canWrite && method !== 'GET' && !READ_ONLY_POSTS.test(path) && !canWrite())
      throw new NotLeaderError();
    await limiter.take();
    onRequest?.(method, url);
  };
  // The audit log tells installations apart by user agent (and benchmarks count requests by it).
  const headers = { 'user-agent': userAgent };
  const send = async <T>(s: Send): Promise<T> => {
    await pre(s.method, s.path);
    return sendJson<T>(pool, { ...s, headers });
  };
  const call: Call = (method, path, body, contentType) =>
    send({ method, path, body, ...(contentType ? { contentType } : {}) });
  const getJson = (path: string, accept = 'application/json'): Promise<unknown> =>
    send({ method: 'GET', path, accept });
  const stream = async (path: string, signal: AbortSignal): Promise<Streamed> => {
    await pre('GET', path);
    const res = await pool.open({
      method: 'GET',
      path,
      headers,
      signal,
      idleMs: 0,
      headMs: watchLimits.headMs,
      bodyMs: watchBodyMs(path, watchLimits),
    });
    return { status: res.statusCode ?? 0, body: webBody(res) };
  };
  return {
    kc,
    getJson,
    stream,
    core: coreApi(call),
    rbac: rbacApi(call),
    certificates: certificatesApi(call),
    objects: objectsApi(call),
    authentication: authenticationApi(call),
    authorization: authorizationApi(call),
  };
}
