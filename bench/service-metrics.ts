import { scrapeMetric } from '../lib/ops/index.ts';
import type { ScenarioResult } from './options.ts';
import type { Services } from './services.ts';

/** A metric summed over several services (the partitions of a tier): counters and histogram series add up. */
export async function scrapeSum(urls: string[], name: string, labels: Record<string, string> = {}) {
  const values = await Promise.all(urls.map((url) => scrapeMetric(url, name, labels)));
  return values.reduce((a, b) => a + b, 0);
}

/**
 * What the services' own /metrics say about the run: the brokers' holds (summed: each holds its own
 * publishers), and presses as the rules saw them (every rules partition's, summed: each saw only its own
 * centres' presses).
 */
export async function serviceCounters(
  services: Services,
): Promise<Pick<ScenarioResult, 'overload' | 'alarmPath'>> {
  const overload = {
    brokerHolds: await scrapeSum(services.brokerUrls, 'cradlewatch_broker_overload_holds_total'),
    rulesHeardHeld: await scrapeSum(services.rulesUrls, 'cradlewatch_rules_broker_holds_heard_total', {
      held: 'true',
    }),
  };
  // Where an alarm's time goes: the rules' own histograms of press time to arrival, and to processed.
  const lag = async (name: string, suffix: string, labels: Record<string, string> = {}) =>
    scrapeSum(services.rulesUrls, `cradlewatch_rules_${name}_seconds_${suffix}`, {
      kind: 'alarm',
      ...labels,
    });
  const presses = await lag('arrival_lag', 'count');
  const alarmPath =
    presses > 0
      ? {
          presses,
          meanArrivalMs: Math.round(((await lag('arrival_lag', 'sum')) / presses) * 1000),
          meanProcessedMs: Math.round(((await lag('input_lag', 'sum')) / presses) * 1000),
          arrivedAfter1s: presses - (await lag('arrival_lag', 'bucket', { le: '1' })),
        }
      : undefined;
  return { overload, ...(alarmPath ? { alarmPath } : {}) };
}
