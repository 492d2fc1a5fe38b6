#!/usr/bin/env node
// Runs before `npm start` and `npm test` so a fresh clone needs no manual step: provides Node 24 when the
// machine's Node is too old (node-runtime.mjs), installs npm dependencies when missing and, as root on
// Debian, the system packages the run needs. Plain JavaScript with no dependencies, because it runs before
// node_modules exists. When everything is present it only stats a few files and prints nothing, so it
// costs a few tens of milliseconds on every run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNodeRuntime } from './node-runtime.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--test');

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const say = (line) => console.log(`[setup] ${line}`);

const nodeDir = ensureNodeRuntime(root, say);

// A dependency added or upgraded since the last install (a pull, a merge) counts as missing too, not only a
// fresh clone: each declared package must be installed at the version package-lock.json pins.
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const declared = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
const installedVersion = (name) => {
  const file = join(root, 'node_modules', name, 'package.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : undefined;
};
const absent = declared.filter((name) => {
  const installed = installedVersion(name);
  const pinned = lock.packages?.[`node_modules/${name}`]?.version;
  // Some packages write their version with a leading v (the Grafana SDK), the lock without.
  return installed === undefined || (pinned !== undefined && installed.replace(/^v/, '') !== pinned);
});
if (absent.length > 0) {
  // `npm install` honours package-lock.json. Not `npm ci`: npm 11 writes locks without the optional
  // packages of other platforms (biome's per-OS binaries) and `npm ci` then refuses them as out of sync;
  // it would also delete a working tree's node_modules.
  say(`installing npm dependencies (npm install: ${absent.length} missing or not at the locked version)`);
  // On the project's Node when there is one, so engine checks and install scripts see the Node that runs.
  const npmEnv = nodeDir ? { ...process.env, PATH: `${nodeDir}:${process.env.PATH}` } : process.env;
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env: npmEnv });
  // npm install may drop links in node_modules/.bin it did not make itself.
  ensureNodeRuntime(root, say);
}

// The daemons live in sbin, which a non-login PATH may lack.
const onPath = (command) => () =>
  has(command) || existsSync(`/usr/sbin/${command}`) || existsSync(`/usr/bin/${command}`);

/**
 * What the run needs from Debian: [how to tell it is there, package]. `npm start` needs InfluxDB and Redis
 * (the broker's durable sessions); the tests also drive real MQTT peers, Chromium (with a CJK font, so
 * zh-CN screenshots show text rather than boxes) for the caregiver page, and docker-compose to validate the
 * compose file without an engine.
 */
const wanted = [
  [onPath('influxd'), 'influxdb'],
  [onPath('redis-server'), 'redis-server'],
  ...(forTests
    ? [
        [onPath('mosquitto_pub'), 'mosquitto-clients'],
        [onPath('mosquitto'), 'mosquitto'],
        [onPath('chromium'), 'chromium'],
        [onPath('docker-compose'), 'docker-compose'],
        [onPath('promtool'), 'prometheus'],
        [() => existsSync('/usr/share/fonts/truetype/wqy/wqy-microhei.ttc'), 'fonts-wqy-microhei'],
      ]
    : []),
];
const packages = wanted.filter(([present]) => !present()).map(([, pkg]) => pkg);
if (packages.length === 0) process.exit(0);

const isRoot = process.getuid?.() === 0;
const isDebian = existsSync('/etc/debian_version') && has('apt-get');
if (process.env.CW_SKIP_SYSTEM_INSTALL === '1' || !isRoot || !isDebian) {
  const how = isDebian ? `sudo apt-get install -y ${packages.join(' ')}` : `install: ${packages.join(', ')}`;
  console.error(`[setup] missing Debian packages ${packages.join(', ')}; ${how}`);
  // Without influxd, `npm start` still runs (it spools); without redis-server it says so and how to opt out
  // (CW_MEMORY_SESSIONS); tests cannot run without their real peers.
  process.exit(forTests ? 1 : 0);
}
say(`installing Debian packages: ${packages.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env,
});
// Debian starts some daemons on install where an init system runs; the project runs its own private ones.
for (const service of ['influxdb', 'mosquitto', 'redis-server']) {
  if (packages.includes(service)) {
    spawnSync('sh', ['-c', `service ${service} stop`], { stdio: 'ignore' });
  }
}
say('system packages ready');
