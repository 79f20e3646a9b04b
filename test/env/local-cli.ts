// `npm run local -- <command>`: change the local platform's directory over LDAP.
//   add-tool <name> [uid] | lock <name> | unlock <name> | delete-tool <name>   [--dir <data dir>]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DirectoryFixture } from './directory.ts';
import type { EnvInfo } from './environment.ts';

const repo = resolve(import.meta.dirname, '..', '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { dir: { type: 'string', default: join(repo, 'local') } },
});
const [command, name, uid] = positionals;
const env = JSON.parse(readFileSync(join(resolve(values.dir), 'env', 'env.json'), 'utf8')) as EnvInfo;
const dir = new DirectoryFixture(env.ldap);

switch (command) {
  case 'add-tool': {
    const uidNumber = uid ? Number(uid) : 53_000 + Math.floor(Math.random() * 10_000);
    await dir.addTool({ name: name!, uidNumber });
    console.log(`added tool ${name} (uid ${uidNumber}); its home will be ${join(env.homesRoot, name!)}`);
    break;
  }
  case 'lock':
    await dir.lock(dir.toolDn(name!));
    console.log(`locked tool ${name}`);
    break;
  case 'unlock':
    await dir.unlock(dir.toolDn(name!));
    console.log(`unlocked tool ${name}`);
    break;
  case 'delete-tool':
    await dir.deleteTool(name!);
    console.log(`deleted tool ${name}`);
    break;
  default:
    console.error(
      'usage: npm run local -- add-tool <name> [uid] | lock <name> | unlock <name> | delete-tool <name> [--dir <data dir>]',
    );
    process.exit(2);
}
