import { afterEach, describe, expect, inject, it } from 'vitest';
import { pingInflux } from '../../lib/influx/query.ts';
import { findInfluxd } from '../../lib/influx/server.ts';
import { freePort } from '../../lib/net.ts';
import { dockerAvailable } from './docker.ts';
import { provideInfluxServer, uniqueName } from './influx-provider.ts';

const saved = { ...process.env };
afterEach(() => {
  for (const key of ['CW_TEST_INFLUX_URL', 'CW_TEST_INFLUX_TOKEN', 'CW_INFLUXD', 'DOCKER_HOST']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

describe('provideInfluxServer', () => {
  it('uses CW_TEST_INFLUX_URL first, as v1 without a token and v2 with one', async () => {
    const { url } = inject('influx');
    process.env.CW_TEST_INFLUX_URL = url;
    const v1 = await provideInfluxServer();
    expect(v1.info).toEqual({ api: 'v1', url, source: 'CW_TEST_INFLUX_URL' });
    await v1.stop();
    // Not ours to stop: the server still answers.
    expect(await pingInflux({ url })).toBe(true);
    process.env.CW_TEST_INFLUX_TOKEN = 'tok';
    expect((await provideInfluxServer()).info).toMatchObject({ api: 'v2', token: 'tok', org: 'cradlewatch' });
  });

  it('refuses a CW_TEST_INFLUX_URL that does not answer', async () => {
    process.env.CW_TEST_INFLUX_URL = `http://127.0.0.1:${await freePort()}`;
    await expect(provideInfluxServer()).rejects.toThrow(/does not answer \/ping/);
  });

  it.skipIf(!findInfluxd())(
    'otherwise starts a private influxd from PATH and removes it on stop [needs influxd]',
    async () => {
      delete process.env.CW_TEST_INFLUX_URL;
      const { info, stop } = await provideInfluxServer();
      expect(info).toMatchObject({ api: 'v1', source: 'influxd' });
      expect(await pingInflux(info)).toBe(true);
      await stop();
      expect(await pingInflux(info, 500)).toBe(false);
    },
  );

  it('without influxd or Docker says in one line what to install', async () => {
    delete process.env.CW_TEST_INFLUX_URL;
    process.env.CW_INFLUXD = 'cw-no-such-influxd';
    process.env.DOCKER_HOST = `tcp://127.0.0.1:${await freePort()}`;
    expect(await dockerAvailable(500)).toBe(false);
    await expect(provideInfluxServer()).rejects.toThrow(
      /^no InfluxDB for the tests: set CW_TEST_INFLUX_URL, or install influxd \(Debian: apt-get install influxdb\), or run a Docker engine$/,
    );
  });

  it('uniqueName gives distinct database names InfluxQL accepts unquoted', () => {
    const names = new Set(Array.from({ length: 100 }, () => uniqueName()));
    expect(names.size).toBe(100);
    for (const name of names) expect(name).toMatch(/^cw_test_[a-z0-9]+_[0-9a-f]{6}$/);
  });
});
