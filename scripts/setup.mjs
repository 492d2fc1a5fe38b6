#!/usr/bin/env node
// Runs before `npm start` and `npm test` so a fresh clone needs no manual step: installs npm dependencies
// when missing and, as root on Debian, the system packages the run needs. Plain JavaScript with no
// dependencies, because it runs before node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--test');

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const say = (line) => console.log(`[setup] ${line}`);

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  say('installing npm dependencies (npm ci)');
  execFileSync('npm', [existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
  });
}

// command on PATH → Debian package that provides it. `npm start` needs only InfluxDB; the tests also
// drive real MQTT peers, Redis for the broker cluster, Chromium for the caregiver page and
// docker-compose to validate the compose file without an engine.
const wanted = [
  ['influxd', 'influxdb'],
  ...(forTests
    ? [
        ['mosquitto_pub', 'mosquitto-clients'],
        ['mosquitto', 'mosquitto'],
        ['redis-server', 'redis-server'],
        ['chromium', 'chromium'],
        ['docker-compose', 'docker-compose'],
      ]
    : []),
];
// The daemons live in sbin, which a non-login PATH may lack.
const onPath = (command) => has(command) || existsSync(`/usr/sbin/${command}`) || existsSync(`/usr/bin/${command}`);
const missing = wanted.filter(([command]) => !onPath(command));
if (missing.length === 0) process.exit(0);

const packages = missing.map(([, pkg]) => pkg);
const isRoot = process.getuid?.() === 0;
const isDebian = existsSync('/etc/debian_version') && has('apt-get');
if (process.env.CW_SKIP_SYSTEM_INSTALL === '1' || !isRoot || !isDebian) {
  const how = isDebian ? `sudo apt-get install -y ${packages.join(' ')}` : `install: ${packages.join(', ')}`;
  console.error(`[setup] missing ${missing.map(([c]) => c).join(', ')}; ${how}`);
  // Without influxd, `npm start` still runs (it spools); tests cannot run without their real peers.
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
  spawnSync('sh', ['-c', `service ${service} stop`], { stdio: 'ignore' });
}
say('system packages ready');
