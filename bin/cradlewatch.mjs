#!/usr/bin/env node
// The published entry stays plain JavaScript so `npx cradlewatch` runs without a build step;
// tsx compiles the TypeScript sources on load (esbuild, cached), which costs ~150 ms once per process.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Typed in a shell on a machine whose Node is too old (Debian's Node 20), this hands over to the Node 24
// that scripts/setup.mjs put in node_modules, so the CLI runs on the same Node as npm start and npm test.
const [major, minor] = process.versions.node.split('.').map(Number);
const projectNode = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
if ((major < 22 || (major === 22 && minor < 12)) && existsSync(projectNode)) {
  console.error(`cradlewatch: Node ${process.version} is older than 22.12; running on ${projectNode}`);
  const child = spawn(projectNode, process.argv.slice(1), { stdio: 'inherit' });
  // Ctrl-C and a closed terminal reach the whole process group, the child included; passing them on as
  // well would read as a second Ctrl-C there (exit at once). A SIGTERM is sent to this process alone.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGTERM' ? 143 : 1)));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../cli/main.ts');
  await main(process.argv.slice(2));
}
