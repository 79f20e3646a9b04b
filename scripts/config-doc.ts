// docs/configuration.md's reference table, built from the config schema (src/config/schema.ts).
// `npm run gen:docs` writes it; test/unit/docs.test.ts fails when the two differ.
import { z } from 'zod';
import { configSchema } from '../src/config/schema.ts';

interface Json {
  type?: string | string[];
  properties?: Record<string, Json>;
  items?: Json;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  required?: string[];
  additionalProperties?: Json | boolean;
  anyOf?: Json[];
}

function typeOf(s: Json): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object')
    return `map of ${typeOf(s.additionalProperties)}`;
  return Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
}

function cell(v: unknown): string {
  if (v === undefined) return '';
  return `\`${JSON.stringify(v).replace(/\|/g, '\\|')}\``;
}

function row(path: string, s: Json, required: boolean): string {
  const def = required && s.default === undefined ? '**required**' : cell(s.default);
  return `| \`${path}\` | ${typeOf(s)} | ${def} | ${(s.description ?? '').replace(/\|/g, '\\|')} |`;
}

function rows(schema: Json, prefix: string, out: string[]): void {
  for (const [key, s] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    const leaf = s.type !== 'object' || !s.properties || key === 'bindPassword';
    if (leaf || s.default !== undefined) out.push(row(path, s, schema.required?.includes(key) === true));
    if (!leaf) rows(s, path, out);
  }
}

export function configReference(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Json;
  const out = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  rows(schema, '', out);
  return out.join('\n');
}

export const BEGIN = '<!-- BEGIN GENERATED REFERENCE (npm run gen:docs) -->';
export const END = '<!-- END GENERATED REFERENCE -->';
