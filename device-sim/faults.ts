import type { Fleet } from '../protocol/fleet.ts';
import { LIMITS } from '../protocol/payloads.ts';
import { topics } from '../protocol/topics.ts';
import { Prng } from './prng.ts';
import type { FaultKind, SimRecord } from './recording.ts';
import type { FaultRates } from './scenario.ts';

/** Per-message faults in the order one uniform draw is matched against their rates. */
const MESSAGE_FAULTS: [keyof FaultRates, FaultKind][] = [
  ['malformedJson', 'malformed-json'],
  ['schemaViolation', 'schema-violation'],
  ['clockSkew', 'clock-skew'],
  ['oversized', 'oversized'],
  ['duplicate', 'duplicate'],
  ['spoofedTopic', 'spoofed-topic'],
  ['outOfOrder', 'out-of-order'],
];

/** Ten minutes: well past the ±5 min the pipeline accepts by default. */
const SKEW_MS = 10 * 60 * 1000;

type Json = Record<string, unknown>;

/**
 * Turns some telemetry publishes into bad input, each tagged with its fault and the dead-letter reason the
 * pipeline should give it. It draws from its own stream, so faults never change the readings themselves.
 */
export class FaultInjector {
  readonly #rng: Prng;
  readonly #cumulative: [number, FaultKind][] = [];
  readonly #held = new Map<string, SimRecord>();
  readonly #centerOf: Map<string, string>;
  #spoofs = 0;

  constructor(seed: number | string, rates: FaultRates, fleet: Fleet) {
    this.#rng = Prng.derive(seed, 'message-faults');
    let sum = 0;
    for (const [key, kind] of MESSAGE_FAULTS) {
      if (rates[key] <= 0) continue;
      sum += rates[key];
      this.#cumulative.push([sum, kind]);
    }
    if (sum > 1) throw new RangeError(`message fault rates add up to ${sum}; at most 1 per message`);
    this.#centerOf = new Map(fleet.devices.map((d) => [d.id, d.center]));
  }

  *process(record: SimRecord): Generator<SimRecord> {
    const held = this.#held.get(record.client);
    if (this.#cumulative.length === 0) {
      yield record;
      return;
    }
    const u = this.#rng.next();
    const kind = this.#cumulative.find(([limit]) => u < limit)?.[1];
    if (kind === 'out-of-order' && !held) {
      // Sent after the device's next message, keeping its old ts and seq.
      this.#held.set(record.client, { ...record, fault: 'out-of-order' });
      return;
    }
    yield kind ? this.#mutate(record, kind) : record;
    if (kind === 'duplicate') yield { ...record, fault: 'duplicate', expect: 'duplicate' };
    if (kind === 'spoofed-topic') yield this.#spoof(record);
    if (held) {
      this.#held.delete(record.client);
      yield { ...held, t: record.t };
    }
  }

  /** Messages still held back for reordering go out at the end. */
  *drain(t: number): Generator<SimRecord> {
    for (const held of this.#held.values()) yield { ...held, t: Math.max(t, held.t) };
    this.#held.clear();
  }

  #mutate(record: SimRecord, kind: FaultKind): SimRecord {
    const payload = record.payload ?? '';
    switch (kind) {
      case 'malformed-json':
        return {
          ...record,
          payload: payload.slice(0, Math.floor(payload.length / 2)),
          fault: kind,
          expect: 'not-json',
        };
      case 'schema-violation':
        return this.#edit(record, kind, 'schema', (reading) => {
          if ('posture' in reading) reading.skinTempC = 99;
          else reading.humidity = 150;
        });
      case 'clock-skew': {
        const shift = this.#rng.chance(0.5) ? SKEW_MS : -SKEW_MS;
        return this.#edit(record, kind, 'clock-skew', (reading) => {
          reading.ts = (reading.ts as number) + shift;
        });
      }
      case 'oversized': {
        const body = JSON.parse(payload) as Json;
        body.pad = 'x'.repeat(LIMITS.maxMessageBytes + 1024);
        return { ...record, payload: JSON.stringify(body), fault: kind, expect: 'too-large' };
      }
      default:
        return record;
    }
  }

  /** Applies `change` to every reading of a single message or a batch. */
  #edit(record: SimRecord, fault: FaultKind, expect: string, change: (reading: Json) => void): SimRecord {
    const body = JSON.parse(record.payload ?? '{}') as Json;
    const readings = Array.isArray(body.batch) ? (body.batch as Json[]) : [body];
    for (const reading of readings) change(reading);
    return { ...record, payload: JSON.stringify(body), fault, expect };
  }

  /** The same message under a device id nobody registered: the broker's ACL or ingest must refuse it. */
  #spoof(record: SimRecord): SimRecord {
    const center = this.#centerOf.get(record.client) ?? 'c1';
    const topic = topics.deviceTelemetry(center, `spoof-${this.#spoofs++}`);
    return { ...record, topic, fault: 'spoofed-topic', expect: 'unknown-device' };
  }
}
