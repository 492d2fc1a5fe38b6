import { EventSource } from 'eventsource';
import mqtt from 'mqtt';
import { sleep } from '../../lib/backoff.ts';
import { waitFor } from '../../lib/net.ts';
import type { AlertTransition } from '../../protocol/alerts.ts';
import type { Fleet } from '../../protocol/fleet.ts';
import { topics } from '../../protocol/topics.ts';
import { type BenchOptions, SUPERVISOR_TOKEN } from '../options.ts';
import { devicesByPartition } from '../partitions.ts';
import { gatewayFleet, type Scenario } from './scenario.ts';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const BUTTONS = 20;

/**
 * The alarm buttons the latency scenario presses: the fleet's first 20, or with partitions each
 * partition's first buttons in turn, so that every rules partition's presses are timed. The simulator leaves them
 * alone: a device's client id is its id, so two connections of one button would take the session from
 * each other.
 */
function pressedButtons(fleet: Fleet, options: Pick<BenchOptions, 'partitions'>): Fleet['devices'] {
  const alarms = devicesByPartition(fleet, options.partitions).map((devices) =>
    devices.filter((d) => d.kind === 'alarm'),
  );
  const buttons: Fleet['devices'] = [];
  for (let i = 0; buttons.length < BUTTONS && alarms.some((a) => i < a.length); i += 1)
    for (const a of alarms) if (i < a.length && buttons.length < BUTTONS) buttons.push(a[i]!);
  return buttons;
}

/** Presses alarm buttons one at a time each and times press → SSE event on a real HTTP client. */
async function pressAlarms(
  buttons: Fleet['devices'],
  credentials: Record<string, string>,
  mqttUrl: string,
  /** Every rules partition's page: a press's alert reaches the SSE stream of its centre's partition. */
  pageUrls: string[],
  presses: number,
  /** The presses are spread evenly over this window. */
  windowMs: number,
): Promise<number[]> {
  const pending = new Map<string, number>();
  const latencies: number[] = [];
  const sources = pageUrls.map(
    (pageUrl) =>
      new EventSource(`${pageUrl}/api/alerts/stream`, {
        fetch: (input, init) =>
          fetch(input, {
            ...init,
            headers: { ...init?.headers, authorization: `Bearer ${SUPERVISOR_TOKEN}` },
          }),
      }),
  );
  for (const source of sources) {
    source.addEventListener('alert', (event) => {
      const transition = JSON.parse(event.data) as AlertTransition;
      if (transition.alert.rule !== 'one-key-alarm' || transition.kind === 'acknowledged') return;
      const started = pending.get(transition.alert.subject.id);
      if (started === undefined) return;
      pending.delete(transition.alert.subject.id);
      latencies.push(performance.now() - started);
    });
  }
  await Promise.all(
    sources.map(
      (source) =>
        new Promise<void>((resolve, reject) => {
          source.onopen = () => resolve();
          source.onerror = () => reject(new Error('SSE stream refused'));
        }),
    ),
  );
  // A broker too busy to answer CONNACK in time says so as an 'error' event, also after the connect: with
  // no listener that ended the whole bench (30,000 offered on a loaded machine).
  const clients = await Promise.all(
    buttons.map(
      (b) =>
        new Promise<mqtt.MqttClient>((resolve, reject) => {
          const client = mqtt.connect(mqttUrl, {
            clientId: b.id,
            username: b.id,
            password: credentials[b.id]!,
            reconnectPeriod: 0,
          });
          client.once('connect', () => resolve(client));
          client.on('error', reject);
        }),
    ),
  );
  const spacing = Math.max(50, Math.floor(windowMs / presses));
  let seq = 0;
  for (let i = 0; i < presses; i += 1) {
    const index = i % buttons.length;
    const button = buttons[index]!;
    if (pending.has(button.id)) {
      await waitFor(() => !pending.has(button.id), {
        timeoutMs: 5_000,
        intervalMs: 5,
        what: `SSE for ${button.id}`,
      }).catch(() => pending.delete(button.id));
    }
    pending.set(button.id, performance.now());
    await clients[index]!.publishAsync(
      topics.deviceAlarm(button.center, button.id),
      JSON.stringify({ v: 1, ts: Date.now(), seq: seq++, event: 'pressed' }),
      { qos: 1 },
    );
    await new Promise((r) => setTimeout(r, spacing));
  }
  await waitFor(() => pending.size === 0, { timeoutMs: 5_000, what: 'the last SSE events' }).catch(() => {});
  for (const source of sources) source.close();
  await Promise.all(clients.map((c) => c.endAsync()));
  return latencies;
}

/** The offered rate, plus one-key alarm presses timed from the MQTT publish to the SSE event. */
export const latency: Scenario = {
  fleet: gatewayFleet,
  reserved: pressedButtons,
  async run({ options, generated, services, rampMs }) {
    await sleep(rampMs);
    const latencies = await pressAlarms(
      pressedButtons(generated.fleet, options),
      generated.credentials,
      services.mqttUrl,
      services.pageUrls,
      options.presses,
      options.durationS * 1000 * 0.8,
    );
    const sorted = latencies.slice().sort((a, b) => a - b);
    return {
      latencyMs: {
        count: sorted.length,
        p50: Math.round(percentile(sorted, 50)),
        p99: Math.round(percentile(sorted, 99)),
        max: Math.round(sorted.at(-1) ?? Number.NaN),
      },
    };
  },
};
