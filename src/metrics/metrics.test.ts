import { describe, expect, it } from '@jest/globals';
import { Metrics } from './metrics.ts';
import { perAccountPieces, perAccountText, type PerAccountFamily } from './per-account.ts';
import type { AccountState } from '../model/state.ts';
import { renewalTime } from '../model/renewal.ts';

const policy = { renewFraction: 2 / 3, jitterFraction: 0.1 };
const clock = { now: () => new Date('2026-12-01T00:00:00Z') };

const state = (name: string, extra: Partial<AccountState> = {}): AccountState => ({
  kind: 'tool',
  name,
  uid: name,
  uidNumber: 1000,
  gidNumber: 1000,
  home: `/data/project/${name}`,
  epoch: 1,
  status: 'active',
  failures: 0,
  lastChange: new Date('2026-11-01T00:00:00Z'),
  ...extra,
});

const issued = {
  serial: '0a1b',
  notBefore: new Date('2026-11-01T00:00:00Z'),
  notAfter: new Date('2026-12-01T00:00:00Z'),
};

/** The lines of one family in the exposition text, HELP and TYPE included. */
const family = (text: string, name: string): string[] =>
  text
    .split('\n')
    .filter(
      (l) => l.startsWith(`${name}{`) || l.endsWith(` ${name} gauge`) || l.startsWith(`# HELP ${name} `),
    );

describe('Metrics: the per-account series', () => {
  it.each([
    {
      name: 'kubeusers_certificate_expiration_timestamp_seconds',
      value: (): number => issued.notAfter.getTime() / 1000,
    },
    {
      name: 'kubeusers_certificate_not_before_timestamp_seconds',
      value: (): number => issued.notBefore.getTime() / 1000,
    },
    {
      name: 'kubeusers_certificate_renewal_timestamp_seconds',
      value: (): number =>
        renewalTime(issued.notBefore, issued.notAfter, policy, 'tool/a/0a1b').getTime() / 1000,
    },
  ])(
    '$name: one gauge line per account with a certificate, none for one without',
    async ({ name, value }) => {
      const m = new Metrics(policy, clock);
      m.setStates([state('a', issued), state('b')]);
      const lines = family(await m.registry.metrics(), name);
      expect(lines).toEqual([
        expect.stringMatching(new RegExp(`^# HELP ${name} \\S`)),
        `# TYPE ${name} gauge`,
        `${name}{kind="tool",name="a"} ${value()}`,
      ]);
    },
  );

  it('follows saved and removed states between scrapes', async () => {
    const m = new Metrics(policy, clock);
    m.setStates([state('a', issued)]);
    m.stateSaved(state('c', { ...issued, kind: 'admin' }));
    m.stateRemoved('tool', 'a');
    const text = await m.registry.metrics();
    expect(family(text, 'kubeusers_certificate_expiration_timestamp_seconds').slice(2)).toEqual([
      `kubeusers_certificate_expiration_timestamp_seconds{kind="admin",name="c"} ${issued.notAfter.getTime() / 1000}`,
    ]);
    expect(text).toMatch(/^kubeusers_accounts\{kind="admin",state="active"\} 1$/m);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('lists the per-account families in getMetricsAsJSON too (the dashboard test reads names there)', async () => {
    const m = new Metrics(policy, clock);
    m.setStates([state('a', issued)]);
    const json = await m.registry.getMetricsAsJSON();
    const expiry = json.find((f) => f.name === 'kubeusers_certificate_expiration_timestamp_seconds');
    expect(expiry?.values).toEqual([
      { labels: { kind: 'tool', name: 'a' }, value: issued.notAfter.getTime() / 1000 },
    ]);
    expect(json.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'kubeusers_certificate_not_before_timestamp_seconds',
        'kubeusers_certificate_renewal_timestamp_seconds',
        'kubeusers_accounts',
      ]),
    );
  });

  it('renders a state record once per family: a scrape after the first joins kept lines; a saved state is new', () => {
    const asked: string[] = [];
    const f: PerAccountFamily = {
      name: 'x',
      help: 'h',
      value: (s) => (asked.push(s.name), s.epoch),
    };
    const a = state('a');
    const b = state('b');
    const first = perAccountText([f], [a, b]);
    const again = perAccountText([f], [a, b]);
    const saved = { ...a, epoch: 2 };
    const after = perAccountText([f], [saved, b]);
    expect(asked).toEqual(['a', 'b', 'a']);
    expect(again).toBe(first);
    expect(after.split('\n').slice(2)).toEqual(['x{kind="tool",name="a"} 2', 'x{kind="tool",name="b"} 1']);
  });

  describe('the page in pieces', () => {
    const fam = (name: string, skip = ''): PerAccountFamily => ({
      name,
      help: `help of ${name}\\n`,
      value: (st) => (st.name === skip ? undefined : st.epoch),
    });
    const states = ['a', 'b', 'c', 'd', 'e'].map((n) => state(n));
    // The exposition as prom-client lays out its own families: lines joined by one newline, families by two.
    const whole = (families: PerAccountFamily[]): string =>
      families
        .map((f) =>
          [
            `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\')}`,
            `# TYPE ${f.name} gauge`,
            ...states
              .filter((st) => f.value(st) !== undefined)
              .map((st) => `${f.name}{kind="tool",name="${st.name}"} ${st.epoch}`),
          ].join('\n'),
        )
        .join('\n\n');
    const cases: [string, PerAccountFamily[], number][] = [
      ['one family, one piece', [fam('x')], 100],
      ['one family, a piece per line', [fam('x')], 1],
      ['three families, pieces across their borders', [fam('x'), fam('y', 'c'), fam('z')], 3],
      ['no families', [], 2],
    ];
    it.each(cases)('%s', (_name, families, per) => {
      const pieces = [...perAccountPieces(families, states, per)];
      expect(pieces.join('')).toBe(whole(families));
      expect(perAccountText(families, states)).toBe(whole(families));
      for (const p of pieces) expect(p.split('\n').filter(Boolean).length).toBeLessThanOrEqual(per);
    });

    it('streams what metrics() returns', async () => {
      const m = new Metrics(policy, clock);
      m.setStates([
        state('a'),
        state('b', {
          serial: '1',
          notBefore: new Date('2026-11-01T00:00:00Z'),
          notAfter: new Date('2026-12-30T00:00:00Z'),
        }),
      ]);
      let streamed = '';
      for await (const p of m.registry.pieces()) streamed += p;
      // The process's own series (CPU, heap) move between two scrapes: kubeusers' are compared.
      const ours = (text: string): string[] =>
        text.split('\n').filter((l) => l.includes('kubeusers_') && !/kubeusers_(process|nodejs)_/.test(l));
      expect(ours(streamed)).toEqual(ours(await m.registry.metrics()));
      expect(streamed.endsWith('\n')).toBe(true);
      expect(streamed).toContain('kubeusers_certificate_expiration_timestamp_seconds{kind="tool",name="b"}');
    });
  });
});
