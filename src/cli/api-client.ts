// The CLI's side of the admin API: it calls with the admin's own kubeusers-issued credentials (the
// client certificate named by their kubeconfig) or with a bearer token.
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

export interface ApiTarget {
  url: string;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
}

export interface ApiTargetOptions {
  api: string;
  apiCa?: string;
  kubeconfig?: string;
  tokenFile?: string;
}

interface Kubeconfig {
  'current-context'?: string;
  contexts?: { name: string; context?: { user?: string } }[];
  users?: { name: string; user?: Record<string, string> }[];
}

/** The client certificate and key of the kubeconfig's current user (files or inline data). */
async function fromKubeconfig(file: string): Promise<{ cert: string; key: string }> {
  const kc = parse(await readFile(file, 'utf8')) as Kubeconfig;
  const ctx = kc.contexts?.find((c) => c.name === kc['current-context'])?.context;
  const user = kc.users?.find((u) => u.name === ctx?.user)?.user ?? {};
  const resolve = (p: string): string => (isAbsolute(p) ? p : join(dirname(file), p));
  const load = async (pathKey: string, dataKey: string): Promise<string | undefined> => {
    if (user[dataKey]) return Buffer.from(user[dataKey], 'base64').toString('utf8');
    return user[pathKey] ? readFile(resolve(user[pathKey]), 'utf8') : undefined;
  };
  const cert = await load('client-certificate', 'client-certificate-data');
  const key = await load('client-key', 'client-key-data');
  if (!cert || !key) throw new Error(`${file} has no client certificate for its current context`);
  return { cert, key };
}

export async function apiTarget(o: ApiTargetOptions): Promise<ApiTarget> {
  const ca = o.apiCa ? await readFile(o.apiCa, 'utf8') : undefined;
  const base = { url: o.api.replace(/\/+$/, ''), ...(ca ? { ca } : {}) };
  if (o.tokenFile) return { ...base, token: (await readFile(o.tokenFile, 'utf8')).trim() };
  return {
    ...base,
    ...(await fromKubeconfig(o.kubeconfig ?? join(process.env.HOME ?? '/', '.kube', 'config'))),
  };
}

export interface ApiReply {
  status: number;
  body: Record<string, unknown>;
}

export function callApi(t: ApiTarget, method: string, path: string, body?: object): Promise<ApiReply> {
  return new Promise((resolve, reject) => {
    const payload = body ? JSON.stringify(body) : undefined;
    const req = request(
      `${t.url}${path}`,
      {
        method,
        ...(t.ca ? { ca: t.ca } : {}),
        ...(t.cert ? { cert: t.cert, key: t.key } : {}),
        headers: {
          ...(t.token ? { authorization: `Bearer ${t.token}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: { detail: text.slice(0, 200) } });
          }
        });
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}
