import { describe, expect, it } from '@jest/globals';
import { forClientModel } from './objects.ts';

describe('forClientModel', () => {
  const meta = { name: 'kubeusers', namespace: 'tool-a' };
  const cases: [string, object, object][] = [
    [
      "a LimitRange item's default takes the model's name, so the serializer keeps it",
      {
        apiVersion: 'v1',
        kind: 'LimitRange',
        metadata: meta,
        spec: { limits: [{ type: 'Container', default: { cpu: '1' } }] },
      },
      {
        apiVersion: 'v1',
        kind: 'LimitRange',
        metadata: meta,
        spec: { limits: [{ type: 'Container', _default: { cpu: '1' } }] },
      },
    ],
    [
      'an item without default stays as it is',
      {
        apiVersion: 'v1',
        kind: 'LimitRange',
        metadata: meta,
        spec: { limits: [{ type: 'Pod', max: { cpu: '2' } }] },
      },
      {
        apiVersion: 'v1',
        kind: 'LimitRange',
        metadata: meta,
        spec: { limits: [{ type: 'Pod', max: { cpu: '2' } }] },
      },
    ],
    [
      'other kinds stay as they are',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta, data: { default: 'x' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta, data: { default: 'x' } },
    ],
  ];
  it.each(cases)('%s', (_, object, expected) => {
    expect(forClientModel(object)).toEqual(expected);
  });
});
