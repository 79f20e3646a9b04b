import { describe, expect, it } from '@jest/globals';
import { canonicalQuantity, quantityNanos } from './quantity.ts';

describe('quantities by value', () => {
  const same: [string, string, string][] = [
    ['binary forms', '1024Mi', '1Gi'],
    ['milli and whole', '1000m', '1'],
    ['a fraction and milli', '0.5', '500m'],
    ['a fraction of a binary unit', '1.5Gi', '1536Mi'],
    ['an exponent and a decimal suffix', '1e3', '1k'],
    ['a capital exponent', '2E6', '2M'],
    ['a leading plus', '+4', '4'],
    ['a bare fraction', '.25', '250m'],
    ['micro and nano', '1u', '1000n'],
    ['below a nano, rounded up as the apiserver does', '0.1n', '1n'],
    ['decimal giga and the plain number', '8G', '8000000000'],
  ];
  it.each(same)('%s: %s equals %s', (_, a, b) => {
    expect(canonicalQuantity(a)).toBe(canonicalQuantity(b));
  });

  const different: [string, string, string][] = [
    ['binary and decimal mega', '1Mi', '1M'],
    ['a raised limit', '4Gi', '64Gi'],
    ['milli against whole', '100m', '100'],
  ];
  it.each(different)('%s: %s differs from %s', (_, a, b) => {
    expect(canonicalQuantity(a)).not.toBe(canonicalQuantity(b));
  });

  const values: [string, string | undefined][] = [
    ['1', '1000000000'],
    ['1Ki', '1024000000000'],
    ['-1m', '-1000000'],
    ['abc', undefined],
    ['1Gb', undefined],
    ['', undefined],
    ['.', undefined],
    ['1e99999', undefined],
  ];
  it.each(values)('%s is %s nano-units', (text, nanos) => {
    expect(quantityNanos(text)).toBe(nanos);
  });

  it('keeps text that is no quantity apart from any quantity', () => {
    expect(canonicalQuantity('lots')).toBe('?lots');
  });
});
