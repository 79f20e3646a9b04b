// Where a command writes its lines (its own file: commands.ts and lease.ts both need it).
export interface Output {
  out(line: string): void;
  err(line: string): void;
}
