import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ALERTING_FILE, BUILD_DIR, DASHBOARDS_DIR, boards, staleFiles } from './build.ts';
import { DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID } from './style.ts';

const ROOT = join(DASHBOARDS_DIR, '..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'bin/cradlewatch.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });
const yamlFile = <T>(path: string): T => parseYaml(readFileSync(join(DASHBOARDS_DIR, path), 'utf8')) as T;

/** Every `datasource` object anywhere in a JSON document. */
function datasourceUids(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) datasourceUids(item, found);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (
        (key === 'datasource' && value && typeof value === 'object' && 'uid' in value) ||
        key === 'datasourceUid'
      ) {
        found.push(typeof value === 'string' ? value : String((value as { uid: unknown }).uid));
      } else datasourceUids(value, found);
    }
  }
  return found;
}

describe('generated files', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'cw-dashboards-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('the committed JSON and alert rules equal a fresh build', () => {
    expect(staleFiles(), 'run `node bin/cradlewatch.mjs dashboards build` and commit the result').toEqual([]);
  });

  it('`dashboards check` fails naming an edited or leftover file, and `dashboards build` repairs both', () => {
    cpSync(join(DASHBOARDS_DIR, BUILD_DIR), join(scratch, BUILD_DIR), { recursive: true });
    cpSync(join(DASHBOARDS_DIR, 'provisioning'), join(scratch, 'provisioning'), { recursive: true });
    writeFileSync(join(scratch, BUILD_DIR, 'city.json'), '{}\n');
    writeFileSync(join(scratch, BUILD_DIR, 'renamed-away.json'), '{}\n');

    const stale = cli('dashboards', 'check', '--dir', scratch);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toContain(join(BUILD_DIR, 'city.json'));
    expect(stale.stderr).toContain(join(BUILD_DIR, 'renamed-away.json'));

    const build = cli('dashboards', 'build', '--out', scratch);
    expect(build.status, build.stderr).toBe(0);
    rmSync(join(scratch, BUILD_DIR, 'renamed-away.json'));
    const fresh = cli('dashboards', 'check', '--dir', scratch);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(fresh.stdout).toContain('up to date');
  });
});

describe('Grafana provisioning', () => {
  const datasources = yamlFile<{
    datasources: { uid: string; type: string; jsonData: Record<string, string> }[];
  }>('provisioning/datasources/influxdb.yaml');
  const providers = yamlFile<{
    providers: { folderUid: string; folder: string; options: { path: string } }[];
  }>('provisioning/dashboards/cradlewatch.yaml');
  const alerting = yamlFile<{
    apiVersion: number;
    groups: {
      folder: string;
      interval: string;
      rules: {
        uid: string;
        condition: string;
        data: { refId: string }[];
        annotations: Record<string, string>;
      }[];
    }[];
  }>(ALERTING_FILE);
  const builtDashboards = readdirSync(join(DASHBOARDS_DIR, BUILD_DIR))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(DASHBOARDS_DIR, BUILD_DIR, f), 'utf8')) as { uid: string });

  it('provisions one InfluxQL datasource with the uid the dashboards and rules use', () => {
    expect(datasources.datasources).toHaveLength(1);
    const [ds] = datasources.datasources;
    expect(ds).toMatchObject({ uid: DATASOURCE_UID, type: 'influxdb' });
    expect(ds!.jsonData.version).toBe('InfluxQL');
    expect(ds!.jsonData.httpHeaderName1).toBe('Authorization');
  });

  it('every dashboard, panel, variable and annotation points at the provisioned datasource', () => {
    expect(builtDashboards.map((d) => d.uid).sort()).toEqual(
      boards()
        .map((b) => b.uid)
        .sort(),
    );
    for (const dashboard of builtDashboards) {
      const uids = datasourceUids(dashboard);
      expect(uids.length, dashboard.uid).toBeGreaterThan(0);
      expect(new Set(uids), dashboard.uid).toEqual(new Set([DATASOURCE_UID]));
    }
  });

  it('alert rules query the provisioned datasource (or expressions) and link to dashboards that exist', () => {
    expect(alerting.apiVersion).toBe(1);
    const dashboardUids = new Set(builtDashboards.map((d) => d.uid));
    for (const group of alerting.groups) {
      expect(group.folder).toBe(FOLDER_TITLE);
      expect(group.interval).toMatch(/^\d+s$/);
      for (const rule of group.rules) {
        expect(new Set(datasourceUids(rule.data)), rule.uid).toEqual(new Set([DATASOURCE_UID, '__expr__']));
        expect(rule.data.map((d) => d.refId)).toContain(rule.condition);
        expect(dashboardUids.has(rule.annotations.__dashboardUid__!), rule.uid).toBe(true);
      }
    }
  });

  it('the dashboard provider loads the folder docker-compose.yml mounts the build into', () => {
    const [provider] = providers.providers;
    expect(provider).toMatchObject({ folderUid: FOLDER_UID, folder: FOLDER_TITLE });
    const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { volumes?: string[] }>;
    };
    expect(compose.services.grafana!.volumes).toContain(`./dashboards/build:${provider!.options.path}:ro`);
  });
});
