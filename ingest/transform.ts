import { Point } from '@influxdata/influxdb-client';
import { type Device, type FleetIndex, checkPublisher, checkReading } from '../protocol/fleet.ts';
import { type Message, type Reading, parseMessage } from '../protocol/parse.ts';
import { parseTopic } from '../protocol/topics.ts';
import type { Reason } from '../protocol/reasons.ts';

/** A message or batch item that will not be written, with what the dead-letter record needs. */
export interface Refused {
  reason: Reason;
  detail: string;
  /** The bytes to keep: the whole message, or the JSON of one refused batch item. */
  payload: Uint8Array;
  center?: string | undefined;
  device?: string | undefined;
}

export interface Transformed {
  /** The centre and publisher the topic names, where it names them validly. */
  origin: { center?: string | undefined; device?: string | undefined };
  lines: string[];
  /** Device time of each line, for the lag metric. */
  times: number[];
  refused: Refused[];
}

const bool = (value: boolean) => (value ? 1 : 0);

/**
 * Remembers each device's recent (seq, ts) pairs. A repeat is refused as `duplicate`; a QoS 1 redelivery of
 * an identical point would have been harmless (same measurement, tags and time), so nothing is lost by it.
 */
export class SeqWindow {
  readonly #recent = new Map<string, Set<string>>();
  constructor(private readonly size: number) {}

  /** True when the pair was already seen; remembers it otherwise. */
  seen(device: string, seq: number, ts: number): boolean {
    if (this.size === 0) return false;
    let set = this.#recent.get(device);
    if (!set) {
      set = new Set();
      this.#recent.set(device, set);
    }
    const key = `${seq}:${ts}`;
    if (set.has(key)) return true;
    set.add(key);
    if (set.size > this.size) set.delete(set.values().next().value!);
    return false;
  }
}

export interface TransformOptions {
  maxSkewMs: number | null;
  now?: number;
}

/**
 * The line of a reading, built as a string: two thirds of the readings ingest writes go through here, and
 * building a Point per reading cost ingest a tenth of its time. Safe without escaping because every tag
 * value is an id (`[a-z0-9-]`), the one string field is an enum and every number is finite (protocol/
 * checked all three); tags and fields are in the sorted order Point writes, so both give the same line
 * (transform.test.ts proves it on generated readings).
 */
export function readingLine(center: string, device: Device, reading: Reading): string {
  if (reading.type === 'wearable') {
    const r = reading.reading;
    const infant = device.infant ? `,infant=${device.infant}` : '';
    const respRate = r.respRate !== undefined ? `,resp_rate=${r.respRate}` : '';
    const rssi = r.rssi !== undefined ? `,rssi=${r.rssi}i` : '';
    return (
      `wearable,center=${center},device=${device.id}${infant},room=${device.room} ` +
      `battery=${Math.round(r.battery)}i,motion=${r.motion},posture="${r.posture}",prone=${bool(r.posture === 'prone')}i` +
      `${respRate}${rssi},seq=${r.seq}i,skin_temp=${r.skinTempC},worn=${bool(r.worn)}i ${r.ts}`
    );
  }
  const r = reading.reading;
  const co2 = r.co2ppm !== undefined ? `co2=${r.co2ppm}i,` : '';
  return (
    `room_env,center=${center},device=${device.id},room=${device.room} ` +
    `${co2}humidity=${r.humidity},seq=${r.seq}i,temp=${r.tempC} ${r.ts}`
  );
}

const encoder = new TextEncoder();

/**
 * One MQTT message in, line protocol and refusals out: protocol/ parses and checks the registry, this adds
 * the registry's room and infant tags and the per-device duplicate window. Never throws on device input.
 */
export function transform(
  topic: string,
  payload: Uint8Array,
  fleet: FleetIndex,
  window: SeqWindow,
  options: TransformOptions,
): Transformed {
  const where = parseTopic(topic);
  const origin = {
    center: where && 'center' in where ? where.center : undefined,
    device: where?.kind === 'device' ? where.device : where?.kind === 'gateway' ? where.gateway : undefined,
  };
  const out: Transformed = { origin, lines: [], times: [], refused: [] };
  const refuseAll = (reason: Reason, detail: string) =>
    out.refused.push({ reason, detail, payload, ...origin });
  const parsed = parseMessage(topic, payload, {
    maxSkewMs: options.maxSkewMs,
    ...(options.now ? { now: options.now } : {}),
  });
  if (!parsed.ok) {
    refuseAll(parsed.reason, parsed.detail);
    return out;
  }
  const checked = checkPublisher(parsed.value, fleet);
  if (!checked.ok) {
    refuseAll(checked.reason, checked.detail);
    return out;
  }
  const message: Message = checked.value;
  const add = (line: string, ts: number) => {
    out.lines.push(line);
    out.times.push(ts);
  };
  switch (message.kind) {
    case 'telemetry': {
      const publisher = fleet.devices.get(message.source.id)!;
      for (const item of message.refused) {
        out.refused.push({
          reason: item.reason,
          detail: item.detail,
          payload: encoder.encode(JSON.stringify(item.item)),
          center: message.center,
          device: item.device ?? origin.device,
        });
      }
      for (const reading of message.readings) {
        const refuseItem = (reason: Reason, detail: string) =>
          out.refused.push({
            reason,
            detail,
            payload: encoder.encode(JSON.stringify({ device: reading.device, ...reading.reading })),
            center: message.center,
            device: reading.device,
          });
        const device = checkReading(reading, publisher, fleet);
        if (!device.ok) {
          refuseItem(device.reason, device.detail);
          continue;
        }
        if (window.seen(reading.device, reading.reading.seq, reading.reading.ts)) {
          refuseItem('duplicate', `seq ${reading.reading.seq} at ${reading.reading.ts} already received`);
          continue;
        }
        add(readingLine(message.center, device.value, reading), reading.reading.ts);
      }
      return out;
    }
    case 'alarm': {
      const device = fleet.devices.get(message.device)!;
      const { event } = message;
      if (window.seen(device.id, event.seq, event.ts)) {
        refuseAll('duplicate', `seq ${event.seq} at ${event.ts} already received`);
        return out;
      }
      add(
        new Point('alarm')
          .tag('center', message.center)
          .tag('room', device.room)
          .tag('device', device.id)
          .stringField('event', event.event)
          .intField('seq', event.seq)
          .timestamp(event.ts)
          .toLineProtocol()!,
        event.ts,
      );
      return out;
    }
    case 'status': {
      const device = fleet.devices.get(message.source.id)!;
      const { status } = message;
      const point = new Point('device_status')
        .tag('center', message.center)
        .tag('room', device.room)
        .tag('device', device.id)
        .tag('kind', device.kind)
        .intField('online', bool(status.state === 'online'))
        .timestamp(status.ts);
      if (status.battery !== undefined) point.intField('battery', Math.round(status.battery));
      add(point.toLineProtocol()!, status.ts);
      return out;
    }
    default:
      refuseAll('bad-topic', `${message.kind} messages are not ingested`);
      return out;
  }
}
