import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const SCRIPTS = join(import.meta.dirname, '..', 'scripts');
const SETUP = join(SCRIPTS, 'setup.mjs');

// Plain JavaScript without declarations (it runs before node_modules exists), so typed here.
const runtime = (await import(join(SCRIPTS, 'node-runtime.mjs'))) as {
  PINNED: string;
  ensureNodeRuntime: (root: string, say: (line: string) => void) => string | undefined;
};

describe('scripts/setup.mjs', () => {
  it.each([
    ['npm start', []],
    ['npm test', ['--test']],
  ])('before %s, with everything installed, does nothing and says nothing', (_when, args) => {
    const result = spawnSync(process.execPath, [SETUP, ...args], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('scripts/node-runtime.mjs', () => {
  let root = '';
  afterEach(() => {
    vi.unstubAllEnvs();
    if (root) rmSync(root, { recursive: true, force: true });
    root = '';
  });

  /**
   * A project root whose pinned Node is already in place (a link to the Node running this test, so no 50 MB
   * download), and a check as npm on `npmNode` at `version` would run it. Returns what it said and gave.
   */
  function ensureAs(npmNode: (store: string) => string, version: string) {
    root ||= realpathSync(mkdtempSync(join(tmpdir(), 'cw-setup-')));
    const store = join(root, 'node_modules', '.cw-node', `v${runtime.PINNED}`);
    mkdirSync(store, { recursive: true });
    symlinkSync(process.execPath, join(store, 'node'));
    vi.stubEnv('npm_node_execpath', npmNode(store));
    vi.stubEnv('npm_config_user_agent', `npm/11.19.1 node/v${version} linux x64 workspaces/false`);
    const said: string[] = [];
    const dir = runtime.ensureNodeRuntime(root, (line) => said.push(line));
    return { said, dir, store };
  }

  const linked = () => {
    const link = join(root, 'node_modules', '.bin', 'node');
    try {
      return lstatSync(link).isSymbolicLink() ? readlinkSync(link) : 'not a link';
    } catch {
      return 'absent';
    }
  };
  const system = () => '/usr/bin/node';

  it('links node_modules/.bin/node to the pinned Node while npm runs on Node 20, and drops the link once npm runs on 22.12', () => {
    const old = ensureAs(system, '20.20.2');
    expect(old.said).toEqual([]);
    expect(old.dir).toBe(old.store);
    expect(linked()).toBe(`../.cw-node/v${runtime.PINNED}/node`);

    rmSync(old.store, { recursive: true });
    const current = ensureAs(system, '22.12.0');
    expect(current.dir, "the user's own Node is used as is").toBeUndefined();
    expect(linked()).toBe('absent');
  });

  it('keeps the link when npm itself runs on the pinned Node (an `npm start` inside `npm test`)', () => {
    const ours = ensureAs((store) => join(store, 'node'), runtime.PINNED);
    expect(ours.dir).toBe(ours.store);
    expect(linked()).toBe(`../.cw-node/v${runtime.PINNED}/node`);
  });
});

// The system Node of this machine kind (Debian's Node 20); another machine may have none older than 22.12.
const SYSTEM_NODE = '/usr/bin/node';
const systemVersion = spawnSync(SYSTEM_NODE, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
const systemTooOld = /^v(1\d|2[01])\.|^v22\.(\d|1[01])\./.test(systemVersion);

describe.skipIf(!systemTooOld)(
  `bin/cradlewatch.mjs under ${SYSTEM_NODE}${systemTooOld ? ` (${systemVersion})` : ' [skipped: no system Node older than 22.12]'}`,
  () => {
    it("hands over to the project's Node, passing the arguments and the exit status through", () => {
      const bin = join(import.meta.dirname, '..', 'bin', 'cradlewatch.mjs');
      const version = spawnSync(SYSTEM_NODE, [bin, '--version'], { encoding: 'utf8' });
      expect(version.stderr).toContain(`Node ${systemVersion} is older than 22.12; running on`);
      expect(version.stdout.trim()).toBe('0.1.0');
      expect(version.status).toBe(0);
      const unknown = spawnSync(SYSTEM_NODE, [bin, 'no-such-command'], { encoding: 'utf8' });
      expect(unknown.status).toBe(2);
    });
  },
);
