// revoke, renew <name> and status --api: an admin's commands, sent to the admin API.
import { Command, Option } from 'commander';
import { apiTarget, callApi, type ApiReply, type ApiTargetOptions } from './api-client.ts';
import type { Output } from './commands.ts';
import { EXIT } from './exit-codes.ts';

export function addApiOptions(cmd: Command, required: boolean): Command {
  const api = new Option('--api <url>', 'admin API URL').env('KUBEUSERS_API');
  return cmd
    .addOption(required ? api.makeOptionMandatory() : api)
    .addOption(new Option('--api-ca <file>', "CA of the API's serving certificate").env('KUBEUSERS_API_CA'))
    .option(
      '--kubeconfig <file>',
      'kubeconfig whose client certificate authenticates you (default ~/.kube/config)',
    )
    .option('--token-file <file>', 'authenticate with this bearer token instead');
}

function problem(io: Output, r: ApiReply): number {
  const text = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
  io.err(`kubeusers: ${r.status} ${text(r.body.code, '')}: ${text(r.body.detail, 'request failed')}`);
  return EXIT.error;
}

export async function revokeViaApi(
  io: Output,
  name: string,
  o: ApiTargetOptions & { reason: string; kind: string; reissue: boolean },
): Promise<number> {
  const t = await apiTarget(o);
  const r = await callApi(t, 'POST', `/api/v1/accounts/${encodeURIComponent(name)}/revoke?kind=${o.kind}`, {
    reason: o.reason,
    reissue: o.reissue,
  });
  if (r.status !== 200) return problem(io, r);
  const rev = r.body.revoked as { serial: string; fingerprint: string };
  io.out(
    `revoked ${o.kind}/${name}: certificate ${rev.serial} (sha256 ${rev.fingerprint}) no longer has any right kubeusers granted`,
  );
  io.out(
    o.reissue
      ? `a new credential is being written to its home; follow it with: kubeusers status ${name} --api ${o.api}`
      : 'no new credential was issued; renew it when ready',
  );
  return EXIT.ok;
}

export async function renewViaApi(
  io: Output,
  name: string,
  o: ApiTargetOptions & { kind: string },
): Promise<number> {
  const r = await callApi(
    await apiTarget(o),
    'POST',
    `/api/v1/accounts/${encodeURIComponent(name)}/renew?kind=${o.kind}`,
  );
  if (r.status !== 202) return problem(io, r);
  io.out(`renewal of ${o.kind}/${name} accepted; follow it at ${String(r.body.follow)}`);
  return EXIT.ok;
}

export async function statusViaApi(
  io: Output,
  name: string | undefined,
  o: ApiTargetOptions & { kind: string; json: boolean },
): Promise<number> {
  const t = await apiTarget(o);
  const r = name
    ? await callApi(t, 'GET', `/api/v1/accounts/${encodeURIComponent(name)}?kind=${o.kind}`)
    : await callApi(t, 'GET', '/api/v1/accounts?limit=500');
  if (r.status !== 200) return problem(io, r);
  if (o.json) {
    io.out(JSON.stringify(r.body, null, 2));
    return EXIT.ok;
  }
  const rows = name ? [r.body] : (r.body.items as Record<string, unknown>[]);
  io.out(['KIND', 'NAME', 'STATE', 'EPOCH', 'SERIAL', 'NOT AFTER'].join('\t'));
  for (const a of rows)
    io.out([a.kind, a.name, a.state, a.epoch, a.serial ?? '-', a.notAfter ?? '-'].map(String).join('\t'));
  return EXIT.ok;
}
