import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS_DIR } from './build.ts';

const ROOT = join(DASHBOARDS_DIR, '..');
const COMPOSE = join(ROOT, 'docker-compose.yml');
const compose = (...args: string[]) =>
  spawnSync('docker-compose', ['-f', COMPOSE, ...args], { cwd: ROOT, encoding: 'utf8' });

interface Resolved {
  services: Record<
    string,
    {
      image?: string;
      build?: unknown;
      profiles?: string[];
      command?: string[];
      healthcheck?: { test?: string[] };
      environment?: Record<string, string>;
      /** docker-compose 1.x writes `source:target:mode`. */
      volumes?: string[];
    }
  >;
}

/** The `cluster` profile's services (docs/scaling.md). */
const CLUSTER = [
  'redis',
  'broker-a',
  'broker-b',
  'ingest-0',
  'ingest-1',
  'rules-0',
  'rules-1',
  'frontend-a',
  'frontend-b',
  'balancer',
];

describe('docker-compose.yml', () => {
  // `docker-compose config` takes seconds, so each set of profiles is resolved once.
  const cache = new Map<string, Resolved>();
  const resolved = (...profiles: string[]): Resolved => {
    const key = profiles.join(',');
    if (!cache.has(key)) {
      const args = [...profiles.flatMap((p) => ['--profile', p]), 'config'];
      cache.set(key, parseYaml(compose(...args).stdout) as Resolved);
    }
    return cache.get(key)!;
  };
  // From the file as written: a service outside every profile runs whatever profiles are asked for.
  const written = parseYaml(readFileSync(COMPOSE, 'utf8')) as {
    services: Record<string, { profiles?: string[] }>;
  };
  const profiles = [...new Set(Object.values(written.services).flatMap((s) => s.profiles ?? []))];

  it('passes `docker-compose config` (no engine needed) with no profile and with each profile', () => {
    const config = compose('config', '-q');
    expect(
      config.error,
      'docker-compose is not installed (Debian: apt-get install docker-compose)',
    ).toBeUndefined();
    expect(config.status, config.stderr).toBe(0);
    expect(profiles).toContain('demo');
    for (const profile of profiles) {
      const checked = compose('--profile', profile, 'config', '-q');
      expect(checked.status, `profile ${profile}: ${checked.stderr}`).toBe(0);
    }
  });

  it('runs the core services under every profile, the simulator only under demo', () => {
    // docker-compose 1.x prints profiled services whatever profiles are asked for; their field tells.
    const { services } = resolved();
    expect(services.sim!.profiles).toEqual(['demo']);
    for (const name of ['influxdb', 'grafana', 'fleet', 'broker', 'ingest', 'rules'])
      expect(services[name]!.profiles, name).toBeUndefined();
  });

  it('pins every image it pulls to an exact release, Grafana new enough for the dashboards it loads', () => {
    const all = resolved(...profiles).services;
    const pulled = Object.entries(all).filter(([, service]) => service.build === undefined);
    expect(pulled.map(([name]) => name)).toEqual(expect.arrayContaining(['influxdb', 'grafana']));
    for (const [name, service] of pulled)
      expect(service.image, `${name}: an exact x.y.z tag or a digest`).toMatch(
        /:\d+\.\d+\.\d+(-[\w.-]+)?$|@sha256:[0-9a-f]{64}$/,
      );
    expect(all.influxdb!.image).toMatch(/^influxdb:2\.7\.\d+$/);
    // Grafana loads dashboards up to the schemaVersion of its release; 42 arrived with 12.2.
    const schemaVersions = readdirSync(join(DASHBOARDS_DIR, 'build'))
      .filter((f) => f.endsWith('.json'))
      .map(
        (f) =>
          (JSON.parse(readFileSync(join(DASHBOARDS_DIR, 'build', f), 'utf8')) as { schemaVersion: number })
            .schemaVersion,
      );
    expect(schemaVersions.length).toBeGreaterThan(0);
    expect(Math.max(...schemaVersions)).toBeLessThanOrEqual(42);
    const [major, minor] = /:(\d+)\.(\d+)\./.exec(all.grafana!.image!)!.slice(1).map(Number);
    expect(major! * 100 + minor!, all.grafana!.image).toBeGreaterThanOrEqual(12 * 100 + 2);
  });

  it('checks the health of every long-running service, and serves the broker metrics', () => {
    const all = resolved(...profiles).services;
    // One-shot jobs and the simulator (a device stand-in with no endpoint) are the only ones without.
    const unchecked = Object.entries(all)
      .filter(
        ([, service]) => service.healthcheck?.test === undefined || service.healthcheck.test[0] === 'NONE',
      )
      .map(([name]) => name);
    expect(unchecked.sort()).toEqual(['fleet', 'sim']);
    const broker = all.broker!;
    expect(broker.environment?.CW_BROKER_HTTP_PORT).toBeDefined();
    expect(broker.healthcheck!.test!.join(' ')).toContain(
      `:${broker.environment!.CW_BROKER_HTTP_PORT}/healthz`,
    );
  });

  it("keeps the broker's sessions on a volume of its own (its private redis-server's files)", () => {
    const broker = resolved().services.broker!;
    const dataDir = broker.environment?.CW_BROKER_DATA_DIR;
    expect(dataDir).toBeDefined();
    const mounts = (broker.volumes ?? []).map((v) => v.split(':'));
    const [source] = mounts.find(([, target]) => dataDir!.startsWith(`${target}/`)) ?? [];
    // A named volume, not a host path: its first owner comes from the image (the node user).
    expect(source, `a named volume holding ${dataDir}`).toMatch(/^[\w-]+$/);
  });

  it('validates the cluster profile: two brokers on Redis, both partitions of ingest and rules, two front ends, a stock balancer', () => {
    const check = compose('--profile', 'cluster', 'config', '-q');
    expect(check.status, check.stderr).toBe(0);
    const profiled = resolved('cluster').services;
    for (const name of CLUSTER) expect(profiled[name]?.profiles, name).toEqual(['cluster']);
    const cluster = parseYaml(compose('--profile', 'cluster', 'config').stdout) as {
      services: Record<string, { command?: string[]; image?: string; environment?: Record<string, string> }>;
    };
    const command = (name: string) => cluster.services[name]!.command!.join(' ');
    for (const broker of ['broker-a', 'broker-b'])
      expect(command(broker)).toContain('--redis redis://redis:6379');
    for (const tier of ['ingest', 'rules'])
      expect([0, 1].map((i) => command(`${tier}-${i}`).match(/--partition (\S+)/)?.[1])).toEqual([
        '0/2',
        '1/2',
      ]);
    for (const name of ['ingest-0', 'ingest-1', 'rules-0', 'rules-1', 'frontend-a', 'frontend-b'])
      expect(cluster.services[name]!.environment!.CW_MQTT_URL!.split(','), name).toHaveLength(2);
    expect(command('frontend-a')).toContain('bin/cradlewatch.mjs frontend');
    expect(cluster.services.balancer!.image).toMatch(/^haproxy:/);
    expect(existsSync(join(ROOT, 'deploy/haproxy-cluster.cfg'))).toBe(true);
  });

  it('runs each cradlewatch service from the one image with its command, env config and a healthcheck', () => {
    const { services } = resolved();
    for (const name of ['broker', 'ingest', 'rules']) {
      const service = services[name]!;
      expect(service.command!.slice(0, 3)).toEqual(['node', 'bin/cradlewatch.mjs', name]);
      expect(service.build, name).toBeDefined();
      expect(service.healthcheck?.test?.length, name).toBeGreaterThan(0);
      expect(service.environment?.CW_FLEET_FILE, name).toBe('/fleet/fleet.yaml');
    }
    for (const name of ['influxdb', 'grafana']) expect(services[name]!.healthcheck?.test).toBeDefined();
    // InfluxQL on 2.x needs the DBRP mapping the init script creates.
    const init = readFileSync(join(DASHBOARDS_DIR, 'provisioning/influxdb/create-dbrp.sh'), 'utf8');
    expect(init).toContain('influx v1 dbrp create');
  });

  it('a broken compose file is refused with a reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-compose-'));
    try {
      writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  grafana:\n    image: [unclosed\n');
      const result = spawnSync('docker-compose', ['-f', join(dir, 'docker-compose.yml'), 'config', '-q'], {
        encoding: 'utf8',
      });
      expect(result.status).not.toBe(0);
      expect(result.stderr.length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Files the CLI loads at start, following static imports only (a dynamic `import()` is loaded when its
 * command runs, e.g. `dashboards build`, which may use dev dependencies), and the packages they name.
 */
function staticImportGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  const importRe = /^\s*(?:import|export)\s+(?!type\s)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(importRe)) {
      if (spec!.startsWith('.')) pending.push(resolve(dirname(file), spec!));
      else if (!spec!.startsWith('node:') && !builtinModules.includes(spec!)) {
        const parts = spec!.split('/');
        packages.add(spec!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
      }
    }
  }
  return { files, packages };
}

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));

  it('is multi-stage, installs production dependencies only and runs as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm install --omit=dev/);
    const user = /^USER (\S+)/m.exec(dockerfile)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  it("has redis-server, which the broker's durable sessions run on", () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/apt-get install [^\n]*redis-server/);
  });

  it('runs on the Node release the project pins for npm start and npm test', () => {
    const pinned = /^export const PINNED = '([\d.]+)';$/m.exec(
      readFileSync(join(ROOT, 'scripts/node-runtime.mjs'), 'utf8'),
    )?.[1];
    expect(pinned).toMatch(/^24\./);
    const images = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(images).toEqual([`node:${pinned}-bookworm-slim`, `node:${pinned}-bookworm-slim`]);
  });

  it('copies every source folder the CLI loads, and those load only production dependencies', () => {
    const { files, packages } = staticImportGraph(join(ROOT, 'cli/main.ts'));
    const folders = new Set([...files].map((f) => relative(ROOT, f).split('/')[0]!));
    // Test code first, so a production import of test support is named as such.
    for (const file of files) {
      const path = relative(ROOT, file);
      expect(/\.test\.ts$|-contract\.ts$|^test\//.test(path), `${path} is test code`).toBe(false);
      expect(existsSync(file), path).toBe(true);
    }
    for (const folder of folders) {
      expect(dockerfile, `Dockerfile must COPY ${folder}`).toMatch(
        new RegExp(`^COPY ${folder} \\./${folder}$`, 'm'),
      );
      expect(dockerignore, `.dockerignore excludes ${folder}`).not.toContain(folder);
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of packages)
      expect(Object.keys(pkg.dependencies), `${name} is not a production dependency`).toContain(name);
  });
});
