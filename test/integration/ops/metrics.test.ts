import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { certInfo } from '../../../src/pki/cert.ts';
import { scenario, type Scenario } from '../support.ts';

let s: Scenario;
const N = 20;

beforeAll(async () => {
  s = await scenario('mx');
  for (let i = 0; i < N; i++) await s.dir.addTool({ name: `m${i}`, uidNumber: 66_000 + i });
  await s.dir.addTool({ name: 'Bad_Name', uidNumber: 66_999 });
  expect((await s.sync()).failures).toEqual([]);
});

const FAMILIES = [
  'kubeusers_certificate_expiration_timestamp_seconds',
  'kubeusers_certificate_renewal_timestamp_seconds',
  'kubeusers_certificate_not_before_timestamp_seconds',
  'kubeusers_accounts',
  'kubeusers_sync_runs_total',
  'kubeusers_sync_duration_seconds',
  'kubeusers_sync_last_success_timestamp_seconds',
  'kubeusers_issuance_duration_seconds',
  'kubeusers_certificates_issued_total',
  'kubeusers_failures_total',
  'kubeusers_revocations_total',
  'kubeusers_tampering_reverted_total',
  'kubeusers_directory_skipped_entries_total',
  'kubeusers_directory_skipped_entries',
  'kubeusers_removal_guard_trips_total',
  'kubeusers_removal_guard_held_accounts',
  'kubeusers_leader',
  'kubeusers_directory_up',
  'kubeusers_events_queued',
  'kubeusers_events_dropped_total',
];

describe('/metrics', () => {
  it.each(FAMILIES)('exposes %s', async (family) => {
    expect(await s.app.metrics.registry.metrics()).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
  });

  it(`matches the written certificates of ${N} tools in the per-account expiry series`, async () => {
    const text = await s.app.metrics.registry.metrics();
    for (let i = 0; i < N; i++) {
      const cert = readFileSync(join(s.homesRoot, `m${i}`, '.toolskube', 'client.crt'), 'utf8');
      const notAfter = (await certInfo(cert)).notAfter.getTime() / 1000;
      const m = new RegExp(
        `^kubeusers_certificate_expiration_timestamp_seconds\\{kind="tool",name="m${i}"\\} (\\d+)$`,
        'm',
      ).exec(text);
      expect(Number(m?.[1])).toBe(notAfter);
    }
    expect(text).toMatch(/^kubeusers_accounts\{kind="tool",state="active"\} 20$/m);
    expect(text).toMatch(/^kubeusers_directory_skipped_entries\{kind="tool",reason="invalid-name"\} 1$/m);
    expect(text).toMatch(/^kubeusers_issuance_duration_seconds_count\{kind="tool"\} 20$/m);
  });
});
