import { EventSource } from 'eventsource';
import type { MqttClient } from 'mqtt';
import { connectBroker } from '../lib/mqtt-connect.ts';
import { waitFor } from '../lib/net.ts';
import type { AlertTransition } from '../protocol/alerts.ts';
import type { Fleet } from '../protocol/fleet.ts';
import { topics } from '../protocol/topics.ts';
import { SUPERVISOR_TOKEN } from './options.ts';

export interface PressJob {
  buttons: Fleet['devices'];
  credentials: Record<string, string>;
  /** With a cluster, its brokers comma-separated: every button on the first, the rest to fail over to. */
  mqttUrl: string;
  /** Every rules partition's page: a press's alert reaches the SSE stream of its centre's partition. */
  pageUrls: string[];
  presses: number;
  /** The presses are spread evenly over this window. */
  windowMs: number;
}

/** How long a button may take to connect while the fleet's connection storm loads the broker. */
const CONNECT_WITHIN_MS = 120_000;

/** Presses alarm buttons one at a time each and times press → SSE event on a real HTTP client. */
export async function pressAlarms({
  buttons,
  credentials,
  mqttUrl,
  pageUrls,
  presses,
  windowMs,
}: PressJob): Promise<number[]> {
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
  // no listener that ended the whole bench (30,000 offered on a loaded machine). A button whose CONNACK
  // times out during the fleet's connection storm tries again, as a real one would; a press is timed from
  // its publish, so a slow connect costs the figure nothing.
  const clients = await Promise.all(
    buttons.map(
      (b) =>
        new Promise<MqttClient>((resolve, reject) => {
          const client = connectBroker(mqttUrl, {
            clientId: b.id,
            username: b.id,
            password: credentials[b.id]!,
            reconnectPeriod: 1_000,
          });
          const gaveUp = setTimeout(() => {
            client.end(true);
            reject(new Error(`alarm button ${b.id}: no CONNACK in ${CONNECT_WITHIN_MS} ms`));
          }, CONNECT_WITHIN_MS);
          client.once('connect', () => {
            clearTimeout(gaveUp);
            resolve(client);
          });
          client.on('error', () => {});
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
    // Not awaited: a PUBACK held up by a busy broker must not hold up the next press. A press that never
    // reaches the page is missing from the count (n), not waited for.
    clients[index]!.publishAsync(
      topics.deviceAlarm(button.center, button.id),
      JSON.stringify({ v: 1, ts: Date.now(), seq: seq++, event: 'pressed' }),
      { qos: 1 },
    ).catch(() => pending.delete(button.id));
    await new Promise((r) => setTimeout(r, spacing));
  }
  await waitFor(() => pending.size === 0, { timeoutMs: 5_000, what: 'the last SSE events' }).catch(() => {});
  for (const source of sources) source.close();
  // The broker may still owe PUBACKs; the presses are timed, nothing more is waited for.
  await Promise.all(clients.map((c) => c.endAsync(true)));
  return latencies;
}

/**
 * Run as a process of its own (`pressInOwnProcess`): the buttons and the SSE client then keep their own
 * event loop, and a press is not timed late because the simulator's thousands of connections hold the
 * bench's loop. What is left in the figure is the product: broker, rules, HTTP, and the CPU they share.
 */
if (process.send && process.argv[1] === new URL(import.meta.url).pathname) {
  // The bench gone (its end or its crash), this has nothing left to report to.
  process.once('disconnect', () => process.exit(1));
  process.once('message', (job: PressJob) => {
    void pressAlarms(job).then((latencies) => process.send!({ latencies }, () => process.exit(0)));
  });
}
