import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { healthSchema } from '../../protocol/health.ts';
import { promtoolCheck } from '../../test/support/promtool.ts';
import { type OpsSource, passing, registerOpsRoutes, sampleSum, unless } from './index.ts';

function counter(service: string, value: number): Registry {
  const registry = new Registry();
  new Counter({ name: `cradlewatch_${service}_things_total`, help: 'things', registers: [registry] }).inc(
    value,
  );
  return registry;
}

describe('ops routes', () => {
  let app: FastifyInstance | undefined;
  afterEach(() => app?.close());

  const serve = (sources: OpsSource[]) => {
    app = Fastify();
    registerOpsRoutes(app, sources);
    return app;
  };

  it('answers for several services of one process as `cradlewatch`, each check named by its service', async () => {
    let ingestUp = true;
    const routes = serve([
      { service: 'broker', registries: [counter('broker', 2)], checks: { mqtt: () => passing } },
      {
        service: 'ingest',
        registries: [counter('ingest', 3)],
        checks: {
          influxdb: () => unless(ingestUp, 'InfluxDB is not taking writes'),
          probe: () => {
            throw new Error('probe broke');
          },
        },
      },
    ]);
    const failing = await routes.inject({ method: 'GET', url: '/healthz' });
    expect(failing.statusCode).toBe(503);
    expect(healthSchema.parse(failing.json())).toEqual({
      status: 'fail',
      service: 'cradlewatch',
      checks: [
        { name: 'broker.mqtt', ok: true },
        { name: 'ingest.influxdb', ok: true },
        { name: 'ingest.probe', ok: false, reason: 'check failed: probe broke' },
      ],
    });
    ingestUp = false;
    const body = (await routes.inject({ method: 'GET', url: '/healthz' })).json();
    expect(body.checks[1]).toEqual({
      name: 'ingest.influxdb',
      ok: false,
      reason: 'InfluxDB is not taking writes',
    });

    const metrics = await routes.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sampleSum(metrics.body, 'cradlewatch_broker_things_total')).toBe(2);
    expect(sampleSum(metrics.body, 'cradlewatch_ingest_things_total')).toBe(3);
    expect(sampleSum(metrics.body, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(promtoolCheck(metrics.body)).toEqual({ code: 0, output: '' });
  });

  it('refuses at start two services that register a metric of the same name', () => {
    const same = counter('broker', 1);
    expect(() =>
      serve([
        { service: 'broker', registries: [same], checks: {} },
        { service: 'rules', registries: [counter('broker', 1)], checks: {} },
      ]),
    ).toThrow(/cradlewatch_broker_things_total/);
  });
});

describe('promtool', () => {
  it('refuses what breaks the naming rules, so a clean result means something', () => {
    const registry = new Registry();
    new Counter({
      name: 'cradlewatch_rules_lag_ms',
      help: 'a counter without _total',
      registers: [registry],
    });
    return registry.metrics().then((text) => {
      const { code, output } = promtoolCheck(text);
      expect(code).not.toBe(0);
      expect(output).toMatch(/cradlewatch_rules_lag_ms/);
    });
  });
});
