// The commands the docs show: every line of a shell code block, and every inline code span that
// starts with a command, in document order.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DocCommand {
  file: string;
  line: number;
  text: string;
}

const SHELL_FENCES = new Set(['sh', 'bash', 'shell', 'console']);
// A program's name alone (`kubectl`) is prose, not a command.
const COMMAND = /^(kubeusers|kubectl|helm|curl|node|npm|docker|bash)\s/;

function fromFence(text: string): string | undefined {
  // A trailing comment is a note to the reader, not part of the command.
  const command = text
    .trim()
    .replace(/^\$ /, '')
    .replace(/\s+#\s.*$/, '');
  return command && !command.startsWith('#') ? command : undefined;
}

export function extractCommands(file: string, markdown: string): DocCommand[] {
  const out: DocCommand[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((line, i) => {
    const opens = /^\s*```(\w*)/.exec(line);
    if (opens) {
      fence = fence === undefined ? opens[1]! : undefined;
      return;
    }
    if (fence !== undefined) {
      const command = SHELL_FENCES.has(fence) ? fromFence(line) : undefined;
      if (command) out.push({ file, line: i + 1, text: command });
      return;
    }
    for (const m of line.matchAll(/`([^`]+)`/g)) {
      const span = m[1]!.trim();
      if (COMMAND.test(span)) out.push({ file, line: i + 1, text: span });
    }
  });
  return out;
}

export function docCommands(repo: string, files: string[]): DocCommand[] {
  return files.flatMap((f) => extractCommands(f, readFileSync(join(repo, f), 'utf8')));
}
