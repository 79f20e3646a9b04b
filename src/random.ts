// Randomness, injected like the clock so that decisions stay pure and table-testable.
import { randomBytes } from 'node:crypto';

export interface Random {
  /** The random part of a new epoch id: 64 bits, lowercase hex. */
  epochSuffix(): string;
}

export const systemRandom: Random = { epochSuffix: () => randomBytes(8).toString('hex') };
