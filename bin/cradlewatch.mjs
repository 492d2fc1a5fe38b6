#!/usr/bin/env node
// The published entry stays plain JavaScript so `npx cradlewatch` runs without a build step;
// tsx compiles the TypeScript sources on load (esbuild, cached), which costs ~150 ms once per process.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main(process.argv.slice(2));
