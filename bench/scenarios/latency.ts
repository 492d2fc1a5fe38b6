import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from '../../lib/backoff.ts';
import { waitFor } from '../../lib/net.ts';
import type { Fleet } from '../../protocol/fleet.ts';
import type { PressJob } from '../alarm-presser.ts';
import { onExit } from '../on-exit.ts';
import type { BenchOptions } from '../options.ts';
import { devicesByPartition } from '../partitions.ts';
import { gatewayFleet, type Scenario } from './scenario.ts';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const BUTTONS = 20;
/** The shortest window the presses are spread over. */
const MIN_PRESS_WINDOW_MS = 10_000;

/** bench/alarm-presser.ts in a child process, on the bench's own Node and TypeScript loader. */
function pressInOwnProcess(job: PressJob): Promise<number[]> {
  const child = fork(fileURLToPath(new URL('../alarm-presser.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const forget = onExit(() => child.kill('SIGKILL'));
  return new Promise<number[]>((resolve, reject) => {
    child.once('message', (reply: { latencies: number[] }) => resolve(reply.latencies));
    child.once('exit', (code) => reject(new Error(`the alarm presser exited ${code} before its report`)));
    child.send(job);
  }).finally(forget);
}

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

/** The offered rate, plus one-key alarm presses timed from the MQTT publish to the SSE event. */
export const latency: Scenario = {
  fleet: gatewayFleet,
  reserved: pressedButtons,
  async run({ options, generated, services, rampMs, allConnected, planEndsAt, say }) {
    await sleep(rampMs);
    // Presses time the steady load, not the login storm: on a saturated machine 7,500 logins took ~50 s
    // instead of the planned 15, and presses in the storm measured it (up to 14 s, bench/README.md).
    const connected = await waitFor(allConnected, {
      what: 'every device connected',
      timeoutMs: Math.max(0, planEndsAt - Date.now() - MIN_PRESS_WINDOW_MS),
      intervalMs: 250,
    }).then(
      () => true,
      () => false,
    );
    if (!connected) say('not every device connected before the plan neared its end: pressing anyway');
    const latencies = await pressInOwnProcess({
      buttons: pressedButtons(generated.fleet, options),
      credentials: generated.credentials,
      mqttUrl: services.mqttUrl,
      pageUrls: services.pageUrls,
      presses: options.presses,
      // Spread over what is left of the plan, so that every press meets the full load.
      windowMs: Math.max(MIN_PRESS_WINDOW_MS, (planEndsAt - Date.now()) * 0.8),
    });
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
