// Randomness, injected like the clock so that decisions stay pure and table-testable.
import { randomBytes } from 'node:crypto';

export type { Random } from './model/random-type.ts';
import type { Random } from './model/random-type.ts';

export const systemRandom: Random = { epochSuffix: () => randomBytes(8).toString('hex') };
