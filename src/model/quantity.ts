// Kubernetes resource quantities by value: the apiserver rewrites "1024Mi" as "1Gi" and "1000m" as
// "1", so two quantities are compared by what they mean, never by how they are written.

const BINARY: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
/** Powers of ten of the decimal SI suffixes. */
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;
/** Exponents beyond this are not quantities the apiserver stores (it caps them far lower). */
const MAX_EXPONENT = 1_000;

const ceilDiv = (a: bigint, b: bigint): bigint => (a >= 0n ? (a + b - 1n) / b : a / b);

/**
 * The quantity's value in units of 10^-9 (the apiserver rounds up to that precision), as a decimal
 * string; undefined when the text is not a quantity.
 */
export function quantityNanos(text: string): string | undefined {
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const [, sign, whole = '', fraction = '', suffix = ''] = m;
  if (whole === '' && fraction === '') return undefined;
  const numerator = BigInt(`${sign === '-' ? '-' : ''}${whole}${fraction}` || '0') * (BINARY[suffix] ?? 1n);
  const exponent = 9 - fraction.length + powerOfTen(suffix);
  if (Math.abs(exponent) > MAX_EXPONENT) return undefined;
  const nanos =
    exponent >= 0 ? numerator * 10n ** BigInt(exponent) : ceilDiv(numerator, 10n ** BigInt(-exponent));
  return nanos.toString();
}

/** The power of ten a suffix stands for (0 for the binary ones, which multiply instead). */
function powerOfTen(suffix: string): number {
  if (suffix in BINARY) return 0;
  if (suffix.startsWith('e') || suffix.startsWith('E')) return Number(suffix.slice(1));
  return DECIMAL[suffix] ?? 0;
}

/** A quantity in a form that is equal for equal values; text that is no quantity stays as it is. */
export function canonicalQuantity(text: string): string {
  const nanos = quantityNanos(text);
  return nanos === undefined ? `?${text}` : `${nanos}n`;
}
