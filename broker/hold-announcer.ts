import { hostname } from 'node:os';
import type { Aedes, PublishPacket } from 'aedes';
import type { BrokerHold } from '../protocol/payloads.ts';
import { topics } from '../protocol/topics.ts';
import type { Load, OverloadGuard } from './overload-guard.ts';

/** How often a hold is said again while it lasts: well inside the rules' 15 s lease (rules/engine/progress.ts). */
const REPEAT_MS = 1_000;

/** A broker's default name: its host and port, in the id alphabet. */
export function defaultBrokerId(port: number): string {
  const host = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${host.slice(0, 50) || 'broker'}-${port}`;
}

/**
 * Tells subscribers (the rules) when the overload guard holds telemetry publishers, each second while it
 * does and once when it reads them again: every centre is then quiet for the broker's sake, and the rules
 * must not take that for every centre going silent.
 */
export function announceHolds(aedes: Aedes, guard: OverloadGuard, brokerId: string): () => void {
  const topic = topics.brokerHold(brokerId);
  let last: Load = { backlog: 0, busy: 0 };
  let repeat: NodeJS.Timeout | undefined;
  const say = (held: boolean) => {
    const hold: BrokerHold = { v: 1, ts: Date.now(), held, backlogBytes: last.backlog };
    const packet = {
      cmd: 'publish',
      topic,
      payload: Buffer.from(JSON.stringify(hold)),
      qos: 1,
      retain: false,
    };
    aedes.publish(packet as PublishPacket, () => {});
  };
  guard.onMeasure((load) => {
    last = load;
  });
  guard.onChange((held) => {
    clearInterval(repeat);
    say(held);
    if (!held) return;
    repeat = setInterval(() => say(true), REPEAT_MS);
    repeat.unref();
  });
  return () => clearInterval(repeat);
}
