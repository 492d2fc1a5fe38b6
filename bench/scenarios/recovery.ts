import { sleep } from '../../lib/backoff.ts';
import { waitFor } from '../../lib/net.ts';
import { scrapeSum } from '../service-metrics.ts';
import { gatewayFleet, type Scenario } from './scenario.ts';

/**
 * InfluxDB stopped under load a quarter of the way in; reports how long ingest's spool takes to drain
 * (every partition's: InfluxDB up and the spool empty in each).
 */
export const recovery: Scenario = {
  fleet: gatewayFleet,
  async run({ options, services, influxd, rampMs, say }) {
    await sleep(rampMs + (options.durationS * 1000) / 4);
    say(`stopping InfluxDB for ${options.outageS} s under load`);
    await influxd.stop();
    await sleep(options.outageS * 1000);
    await influxd.restart();
    const restarted = performance.now();
    say('InfluxDB is back; timing the spool drain');
    await waitFor(
      async () =>
        (await scrapeSum(services.ingestUrls, 'cradlewatch_ingest_influx_up')) ===
          services.ingestUrls.length &&
        (await scrapeSum(services.ingestUrls, 'cradlewatch_ingest_spool_bytes')) === 0,
      { timeoutMs: 600_000, intervalMs: 250, what: 'the spool to drain' },
    );
    const drainS = (performance.now() - restarted) / 1000;
    return { drainS: Math.round(drainS * 10) / 10 };
  },
};
