import { describe, expect, it } from '@jest/globals';
import { readJsonBody } from './body.ts';
import { HttpError } from './errors.ts';

const bytes = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

function outcome(type: string | undefined, body: Buffer | undefined): unknown {
  try {
    return { value: readJsonBody(type, body) };
  } catch (err) {
    if (err instanceof HttpError) return { status: err.status, code: err.code };
    throw err;
  }
}

describe('readJsonBody', () => {
  const cases: [string, string | undefined, Buffer | undefined, unknown][] = [
    ['JSON', 'application/json', bytes('{"reason":"x"}'), { value: { reason: 'x' } }],
    ['JSON, charset utf-8', 'application/json; charset=UTF-8', bytes('{"a":1}'), { value: { a: 1 } }],
    ['JSON, quoted charset', 'application/json;charset="utf-8"', bytes('{"a":1}'), { value: { a: 1 } }],
    ['upper-case media type', 'Application/JSON', bytes('{"a":1}'), { value: { a: 1 } }],
    [
      'UTF-8 text',
      'application/json',
      bytes('{"reason":"fuite de clé ✓"}'),
      { value: { reason: 'fuite de clé ✓' } },
    ],
    ['no body', undefined, undefined, { value: undefined }],
    ['an empty body of any type', 'text/plain', bytes(''), { value: undefined }],
    ['text/plain', 'text/plain', bytes('{"reason":"x"}'), { status: 415, code: 'unsupported-media-type' }],
    [
      'a form',
      'application/x-www-form-urlencoded',
      bytes('reason=x'),
      { status: 415, code: 'unsupported-media-type' },
    ],
    [
      'multipart',
      'multipart/form-data; boundary=b',
      bytes('--b--'),
      { status: 415, code: 'unsupported-media-type' },
    ],
    ['no content type', undefined, bytes('{"reason":"x"}'), { status: 415, code: 'unsupported-media-type' }],
    [
      'JSON in Latin-1',
      'application/json; charset=iso-8859-1',
      bytes('{"a":1}'),
      { status: 415, code: 'unsupported-media-type' },
    ],
    [
      'a JSON look-alike type',
      'application/jsonx',
      bytes('{"a":1}'),
      { status: 415, code: 'unsupported-media-type' },
    ],
    [
      'bytes that are not UTF-8',
      'application/json',
      bytes('{"reason":"', [0xff, 0xfe], '"}'),
      { status: 400, code: 'invalid-encoding' },
    ],
    [
      'a truncated UTF-8 sequence',
      'application/json',
      bytes('{"reason":"', [0xc3], '"}'),
      { status: 400, code: 'invalid-encoding' },
    ],
    [
      'an overlong encoding',
      'application/json',
      bytes('{"reason":"', [0xc0, 0xaf], '"}'),
      { status: 400, code: 'invalid-encoding' },
    ],
    [
      'a lone surrogate escape',
      'application/json',
      bytes('{"reason":"\\ud800"}'),
      { status: 400, code: 'invalid-encoding' },
    ],
    [
      'a lone surrogate in a key',
      'application/json',
      bytes('{"\\udc00":"x"}'),
      { status: 400, code: 'invalid-encoding' },
    ],
    [
      'an escaped surrogate pair',
      'application/json',
      bytes('{"reason":"\\ud83d\\ude00"}'),
      { value: { reason: '😀' } },
    ],
    ['not JSON', 'application/json', bytes('reason=x'), { status: 400, code: 'invalid-json' }],
  ];
  it.each(cases)('%s', (_, type, body, expected) => {
    expect(outcome(type, body)).toEqual(expected);
  });
});
