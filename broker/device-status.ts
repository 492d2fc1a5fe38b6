import type { PublishPacket } from 'aedes';
import { statusSchema } from '../protocol/payloads.ts';
import { parseTopic } from '../protocol/topics.ts';

export function statusPayload(state: 'online' | 'offline'): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ts: Date.now(), state }));
}

/**
 * A device's own status will at the moment of loss: its fields (fw, battery) kept, `state` offline and `ts`
 * now. A will that is not a status payload is replaced by the plain one, so the topic never carries junk.
 */
export function offlineStatusFrom(will: Buffer): Buffer {
  let fields: unknown;
  try {
    fields = JSON.parse(will.toString('utf8'));
  } catch {
    return statusPayload('offline');
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return statusPayload('offline');
  const status = statusSchema.safeParse({ ...fields, v: 1, ts: Date.now(), state: 'offline' });
  return status.success ? Buffer.from(JSON.stringify(status.data)) : statusPayload('offline');
}

/**
 * A will is composed at connect time; the status it announces is the moment of loss, with the fields (fw,
 * battery) the device put in it.
 */
export function refreshStatusWill(packet: PublishPacket): void {
  const where = parseTopic(packet.topic);
  if (where && (where.kind === 'device' || where.kind === 'gateway') && where.channel === 'status') {
    packet.payload = offlineStatusFrom(packet.payload as Buffer);
  }
}
