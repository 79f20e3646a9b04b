// Rewrites the generated part of docs/configuration.md from the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BEGIN, configReference, END } from './config-doc.ts';

const file = join(import.meta.dirname, '..', 'docs', 'configuration.md');
const text = readFileSync(file, 'utf8');
const start = text.indexOf(BEGIN);
const end = text.indexOf(END);
if (start < 0 || end < 0) throw new Error(`${file} lacks the generated-reference markers`);
writeFileSync(file, `${text.slice(0, start + BEGIN.length)}\n${configReference()}\n${text.slice(end)}`);
