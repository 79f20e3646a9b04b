import { describe, expect, it } from '@jest/globals';
import { x509 } from '../pki/crypto.ts';
import { certInfo } from '../pki/cert.ts';
import { generateKey, signingAlgorithm } from '../pki/keys.ts';
import {
  describeValidity,
  issuedProblem,
  recordedValidity,
  validityAt,
  type Requested,
  type Validity,
} from './validity.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const at = (ms: number): Date => new Date(NOW.getTime() + ms);

describe('validityAt', () => {
  const cases: [string, number, number, Validity['validity']][] = [
    ['started ten minutes ago', -10 * MIN, HOUR, 'valid'],
    ['starts in 30 s, within the tolerance', 30_000, HOUR, 'valid'],
    ['starts in 61 s, beyond the tolerance', 61_000, HOUR, 'not-yet-valid'],
    ['starts in an hour', HOUR, 2 * HOUR, 'not-yet-valid'],
    ['ends now', -HOUR, 0, 'expired'],
    ['ended an hour ago', -2 * HOUR, -HOUR, 'expired'],
  ];
  it.each(cases)('a certificate that %s is %s', (_, start, end, expected) =>
    expect(validityAt({ notBefore: at(start), notAfter: at(end) }, NOW, MIN).validity).toBe(expected),
  );

  it('tells how far ahead a certificate starts', () => {
    expect(validityAt({ notBefore: at(HOUR), notAfter: at(2 * HOUR) }, NOW, MIN)).toEqual({
      validity: 'not-yet-valid',
      skewSeconds: 3600,
    });
  });

  it('tells an operator, and says when nothing is recorded', () => {
    expect(describeValidity(recordedValidity({ notBefore: at(HOUR), notAfter: at(2 * HOUR) }, NOW))).toBe(
      'not yet valid: starts 3600 s ahead of this clock (clock skew?)',
    );
    expect(recordedValidity({}, NOW)).toEqual({ validity: 'none' });
  });
});

/** A certificate as a signer might return it, made with WebCrypto and signed by a throwaway CA. */
async function signed(subject: string, notBefore: Date, notAfter: Date): Promise<string> {
  const ca = await generateKey('ecdsa-p256');
  const leaf = await generateKey('ecdsa-p256');
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: 'CN=test-signer',
    publicKey: leaf.publicKey,
    signingKey: ca.privateKey,
    notBefore,
    notAfter,
    signingAlgorithm: signingAlgorithm('ecdsa-p256'),
  });
  return cert.toString('pem');
}

describe("issuedProblem: the signer's answer against the request", () => {
  const asked: Requested = {
    commonName: 'tools.foo',
    groups: ['kubeusers:tools', 'kubeusers:tool:foo:1'],
    expirationSeconds: 3600,
    at: at(-MIN),
  };
  const good = 'CN=tools.foo, O=kubeusers:tools, O=kubeusers:tool:foo:1';
  // The real signer backdates notBefore by five minutes and ends the certificate at the asked lifetime.
  const cases: [string, string, number, number, string | undefined][] = [
    ['exactly what was asked', good, -5 * MIN, 55 * MIN, undefined],
    ['a shorter lifetime (the signer may cap it)', good, -5 * MIN, 10 * MIN, undefined],
    [
      'the groups in another order',
      'CN=tools.foo, O=kubeusers:tool:foo:1, O=kubeusers:tools',
      -5 * MIN,
      55 * MIN,
      undefined,
    ],
    [
      'a wrong CN',
      'CN=tools.bar, O=kubeusers:tools, O=kubeusers:tool:foo:1',
      -5 * MIN,
      55 * MIN,
      'subject-mismatch',
    ],
    ['a second CN', `${good}, CN=system:kube-controller-manager`, -5 * MIN, 55 * MIN, 'subject-mismatch'],
    ['an extra O', `${good}, O=system:masters`, -5 * MIN, 55 * MIN, 'groups-mismatch'],
    [
      'a missing O (the epoch group)',
      'CN=tools.foo, O=kubeusers:tools',
      -5 * MIN,
      55 * MIN,
      'groups-mismatch',
    ],
    ['no O at all', 'CN=tools.foo', -5 * MIN, 55 * MIN, 'groups-mismatch'],
    ['notBefore an hour in the future', good, HOUR, 2 * HOUR, 'not-yet-valid'],
    ['already expired', good, -2 * HOUR, -HOUR, 'expired'],
    ['notAfter a day away, beyond the hour asked for', good, -5 * MIN, 24 * HOUR, 'lifetime-too-long'],
    [
      'notAfter just beyond the asked lifetime and the tolerance',
      good,
      -5 * MIN,
      61 * MIN,
      'lifetime-too-long',
    ],
  ];
  it.each(cases)('%s: %s', async (_, subject, start, end, reason) => {
    const info = await certInfo(await signed(subject, at(start), at(end)));
    expect(issuedProblem(info, asked, NOW, MIN)?.reason).toBe(reason);
  });

  it('reports the skew of a certificate that starts in the future', async () => {
    const info = await certInfo(await signed(good, at(HOUR), at(2 * HOUR)));
    expect(issuedProblem(info, asked, NOW, MIN)).toMatchObject({ skewSeconds: 3600 });
  });
});
