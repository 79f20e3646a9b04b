// The small sample directory of the local platform and of the docs walk-through.
import type { AdminSpec, ToolSpec } from './ldif.ts';

export const SAMPLE_TOOLS: ToolSpec[] = [
  ...[
    'alpha',
    'bravo',
    'charlie',
    'delta',
    'echo',
    'foxtrot',
    'golf',
    'hotel',
    'india',
    'juliet',
    'kilo',
    'lima',
  ].map((name, i) => ({ name, uidNumber: 52_001 + i })),
  { name: 'mike', uidNumber: 52_013, locked: 'disabled' },
  { name: 'Not_A_Valid_Name', uidNumber: 52_014 },
];
export const SAMPLE_ADMINS: AdminSpec[] = [
  { user: 'alice', uidNumber: 51_001 },
  { user: 'bob', uidNumber: 51_002 },
];
