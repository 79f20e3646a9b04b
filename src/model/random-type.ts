// The randomness a decision is given (injected like the clock, so decisions stay pure).
export interface Random {
  /** The random part of a new epoch id: 64 bits, lowercase hex. */
  epochSuffix(): string;
}
