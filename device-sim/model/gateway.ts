import type { Device } from '../../protocol/fleet.ts';
import { LIMITS } from '../../protocol/payloads.ts';
import { topics } from '../../protocol/topics.ts';
import type { SimRecord } from '../recording.ts';
import { type Item, Sim } from './sim.ts';
import type { World } from './world.ts';

export class GatewaySim extends Sim {
  buffer: Record<string, unknown>[] = [];
  readonly topic: string;

  constructor(device: Device, world: World, connectAt: number) {
    super(
      device,
      world,
      topics.gatewayStatus(device.center, device.id),
      world.plan.behaviour.gatewayFlushMs,
      connectAt,
    );
    this.topic = topics.gatewayTelemetry(device.center, device.id);
  }

  emit(t: number, out: Item[]): void {
    out.push({
      t,
      flush: { gateway: this, online: this.online(t, out, this.world.plan.behaviour.wifiDropsPerHour) },
    });
  }

  /** Sends what the room's wearables reported since the last flush, ≤ 100 readings a message. */
  flush(t: number, online: boolean, records: SimRecord[]): void {
    const pending = this.buffer;
    this.buffer = [];
    if (!online) return;
    for (let i = 0; i < pending.length; i += LIMITS.maxBatchReadings) {
      const batch = pending.slice(i, i + LIMITS.maxBatchReadings);
      const payload = JSON.stringify({ v: 1, batch });
      records.push(
        this.publish(t, this.topic, payload, this.world.plan.behaviour.qos.gateway, false, batch.length),
      );
    }
  }
}
