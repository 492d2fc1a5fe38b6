import { randomBytes } from 'node:crypto';
import { type RunningInfluxd, findInfluxd, startInfluxd } from '../../lib/influx/server.ts';
import { pingInflux } from '../../lib/influx/query.ts';
import { dockerAvailable } from './docker.ts';

/** What a test run shares: one server; each suite makes its own database or bucket on it. */
export interface InfluxServerInfo {
  api: 'v1' | 'v2';
  url: string;
  /** Set for v2 (InfluxDB 2.7 in a container). */
  token?: string;
  org?: string;
  orgId?: string;
  /** How the server came to be, for the run's log. */
  source: 'CW_TEST_INFLUX_URL' | 'influxd' | 'testcontainers';
}

export const INFLUX2_IMAGE = 'influxdb:2.7.12';
export const INFLUX2_SETUP = {
  username: 'cradlewatch',
  password: 'cradlewatch-test',
  org: 'cradlewatch',
  token: 'cw-test-token',
};

/**
 * Finds a real InfluxDB for the test run, in this order: CW_TEST_INFLUX_URL; a private influxd from PATH;
 * InfluxDB 2.7 through testcontainers when a Docker engine answers; otherwise one line on what to install.
 */
export async function provideInfluxServer(): Promise<{ info: InfluxServerInfo; stop: () => Promise<void> }> {
  const fromEnv = process.env.CW_TEST_INFLUX_URL;
  if (fromEnv) {
    if (!(await pingInflux({ url: fromEnv }, 3_000)))
      throw new Error(`CW_TEST_INFLUX_URL=${fromEnv} does not answer /ping`);
    const token = process.env.CW_TEST_INFLUX_TOKEN;
    return {
      info: token
        ? {
            api: 'v2',
            url: fromEnv,
            token,
            org: process.env.CW_TEST_INFLUX_ORG ?? 'cradlewatch',
            source: 'CW_TEST_INFLUX_URL',
          }
        : { api: 'v1', url: fromEnv, source: 'CW_TEST_INFLUX_URL' },
      stop: async () => {},
    };
  }
  if (findInfluxd()) {
    const server: RunningInfluxd = await startInfluxd();
    return { info: { api: 'v1', url: server.url, source: 'influxd' }, stop: () => server.stop() };
  }
  if (await dockerAvailable()) {
    const container = await startInflux2Container();
    return { info: { ...container.info, source: 'testcontainers' }, stop: container.stop };
  }
  throw new Error(
    'no InfluxDB for the tests: set CW_TEST_INFLUX_URL, or install influxd (Debian: apt-get install influxdb), or run a Docker engine',
  );
}

export async function startInflux2Container(): Promise<{
  info: Omit<InfluxServerInfo, 'source'>;
  stop: () => Promise<void>;
}> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(INFLUX2_IMAGE)
    .withEnvironment({
      DOCKER_INFLUXDB_INIT_MODE: 'setup',
      DOCKER_INFLUXDB_INIT_USERNAME: INFLUX2_SETUP.username,
      DOCKER_INFLUXDB_INIT_PASSWORD: INFLUX2_SETUP.password,
      DOCKER_INFLUXDB_INIT_ORG: INFLUX2_SETUP.org,
      DOCKER_INFLUXDB_INIT_BUCKET: 'bootstrap',
      DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: INFLUX2_SETUP.token,
    })
    .withExposedPorts(8086)
    .withWaitStrategy(Wait.forHttp('/ping', 8086).forStatusCode(204))
    .start();
  const url = `http://${container.getHost()}:${container.getMappedPort(8086)}`;
  const orgs = (await (
    await fetch(`${url}/api/v2/orgs?org=${INFLUX2_SETUP.org}`, {
      headers: { authorization: `Token ${INFLUX2_SETUP.token}` },
    })
  ).json()) as { orgs: { id: string }[] };
  return {
    info: { api: 'v2', url, token: INFLUX2_SETUP.token, org: INFLUX2_SETUP.org, orgId: orgs.orgs[0]!.id },
    stop: async () => {
      await container.stop();
    },
  };
}

export function uniqueName(prefix = 'cw_test'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}
