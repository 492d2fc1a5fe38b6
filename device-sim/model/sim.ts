import type { Device } from '../../protocol/fleet.ts';
import { Prng } from '../prng.ts';
import type { SimRecord } from '../recording.ts';
import type { GatewaySim } from './gateway.ts';
import { HOUR } from './numbers.ts';
import type { World } from './world.ts';

const FIRMWARE = '1.4.2';

/** What a device does at one moment; the window's items are sorted by time before they become records. */
export interface Item {
  t: number;
  record?: SimRecord;
  /** A wearable reading handed to its room gateway rather than published. */
  relay?: { gateway: GatewaySim; item: Record<string, unknown> };
  flush?: { gateway: GatewaySim; online: boolean };
}

/**
 * A device that logs in to the broker itself: connects during the start-up ramp, loses Wi-Fi now and then
 * (no goodbye, so the broker publishes its retained last will), reconnects, and can be silenced or powered
 * off by a scenario.
 */
export abstract class Sim {
  nextAt: number;
  connected = false;
  downUntil = 0;
  poweredOff = false;
  silentUntil = 0;
  /** How far this device's clock is off (ms): its readings and presses carry `t + clockOffset`. */
  clockOffset = 0;
  readonly rng: Prng;

  constructor(
    readonly device: Device,
    readonly world: World,
    /** Null for a BLE wearable behind a gateway: no MQTT connection of its own. */
    readonly statusTopic: string | null,
    readonly interval: number,
    connectAt: number,
  ) {
    this.rng = Prng.derive(world.plan.seed, device.id);
    this.nextAt = connectAt;
  }

  get id(): string {
    return this.device.id;
  }

  /** Battery for status messages, when the device has one worth reporting. */
  battery(_t: number): number | undefined {
    return undefined;
  }

  connect(t: number, out: Item[]): void {
    if (this.statusTopic === null) {
      this.connected = true;
      return;
    }
    const will = JSON.stringify({ v: 1, ts: t, state: 'offline' });
    out.push({
      t,
      record: {
        t,
        op: 'connect',
        client: this.id,
        will: { topic: this.statusTopic, payload: will, qos: 1, retain: true },
      },
    });
    const battery = this.battery(t);
    const status = {
      v: 1,
      ts: t,
      state: 'online',
      fw: FIRMWARE,
      ...(battery === undefined ? {} : { battery }),
    };
    out.push({ t, record: this.publish(t, this.statusTopic, JSON.stringify(status), 1, true) });
    this.connected = true;
  }

  drop(t: number, downMs: number, out: Item[], fault?: 'connection-storm'): void {
    if (!this.connected) return;
    this.connected = false;
    this.downUntil = t + downMs;
    if (this.statusTopic !== null) {
      out.push({ t, record: { t, op: 'drop', client: this.id, ...(fault ? { fault } : {}) } });
    }
  }

  powerOff(t: number, out: Item[]): void {
    this.poweredOff = true;
    if (!this.connected) return;
    this.connected = false;
    if (this.statusTopic === null) return;
    const status = JSON.stringify({ v: 1, ts: t, state: 'offline' });
    out.push({ t, record: this.publish(t, this.statusTopic, status, 1, true) });
    out.push({ t, record: { t, op: 'disconnect', client: this.id } });
  }

  publish(
    t: number,
    topic: string,
    payload: string,
    qos: 0 | 1,
    retain: boolean,
    readings?: number,
  ): SimRecord {
    return {
      t,
      op: 'publish',
      client: this.id,
      topic,
      qos,
      retain,
      payload,
      ...(readings ? { readings } : {}),
    };
  }

  /** Connects when due, maybe loses Wi-Fi; true when the device may publish at `t`. */
  online(t: number, out: Item[], dropsPerHour: number): boolean {
    if (this.poweredOff) return false;
    if (!this.connected) {
      if (t < this.downUntil) return false;
      this.connect(t, out);
    } else if (dropsPerHour > 0 && this.rng.chance((dropsPerHour * this.interval) / HOUR)) {
      const [min, max] = this.world.plan.behaviour.wifiDropSeconds;
      this.drop(t, Math.round(this.rng.range(min, max) * 1000), out);
      return false;
    }
    return t >= this.silentUntil;
  }

  abstract emit(t: number, out: Item[]): void;
}
