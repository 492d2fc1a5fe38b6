import type { Device } from '../../protocol/fleet.ts';
import type { Posture, WearableReading } from '../../protocol/payloads.ts';
import { topics } from '../../protocol/topics.ts';
import type { GatewaySim } from './gateway.ts';
import { clamp, HOUR, round } from './numbers.ts';
import type { Override } from './override.ts';
import type { RoomSim } from './room.ts';
import { type Item, Sim } from './sim.ts';
import type { World } from './world.ts';

export class WearableSim extends Sim {
  readonly baselineC: number;
  readonly rssiBase: number;
  readonly batteryStart: number;
  seq = 0;
  posture: Posture = 'upright';
  postureUntil = 0;
  putOnAt: number;
  worn = true;
  unwornUntil = 0;
  skinC: number;
  forced: { posture: Posture; until: number } | null = null;
  stillUntil = 0;
  fever: Override | null = null;

  constructor(
    device: Device,
    world: World,
    readonly room: RoomSim,
    readonly gateway: GatewaySim | null,
    connectAt: number,
  ) {
    super(
      device,
      world,
      gateway ? null : topics.deviceStatus(device.center, device.id),
      world.plan.behaviour.wearableIntervalMs,
      connectAt,
    );
    this.baselineC = this.rng.range(35.3, 36.3);
    this.rssiBase = this.rng.int(-75, -45);
    this.batteryStart = this.rng.range(55, 100);
    // Put on as it connects, so every run shows the skin sensor warming up.
    this.putOnAt = connectAt;
    this.skinC = room.tempC;
  }

  override battery(t: number): number {
    const drained = (this.world.plan.behaviour.batteryDrainPerHour * (t - this.world.plan.startTime)) / HOUR;
    return Math.max(0, Math.floor(this.batteryStart - drained));
  }

  setWorn(worn: boolean, t: number, until: number): void {
    if (worn && !this.worn) this.putOnAt = t;
    this.worn = worn;
    this.unwornUntil = worn ? 0 : until;
  }

  /** Asleep: mostly on the back, sometimes on a side, rarely rolled onto the front and mostly back again soon. */
  nextNapPosture(): Posture {
    const { proneRollsPerHour, sideTurnsPerHour } = this.world.plan.behaviour;
    const dt = this.interval;
    const u = this.rng.next();
    switch (this.posture) {
      case 'supine':
        if (u < (proneRollsPerHour * dt) / HOUR) return 'prone';
        if (u < ((proneRollsPerHour + sideTurnsPerHour) * dt) / HOUR) return 'side';
        return 'supine';
      case 'side':
        if (u < (proneRollsPerHour * dt) / HOUR) return 'prone';
        if (u < dt / 480_000) return 'supine';
        return 'side';
      case 'prone':
        return u < dt / 15_000 ? 'supine' : 'prone';
      default:
        return 'supine';
    }
  }

  /** Awake: sitting up, playing, tummy time; a new position every half minute to two minutes. */
  nextAwakePosture(t: number): Posture {
    if (t < this.postureUntil) return this.posture;
    this.postureUntil = t + this.rng.int(30_000, 120_000);
    const u = this.rng.next();
    return u < 0.45 ? 'upright' : u < 0.65 ? 'supine' : u < 0.75 ? 'side' : 'prone';
  }

  reading(t: number): WearableReading {
    if (!this.worn && t >= this.unwornUntil) this.setWorn(true, t, 0);
    const ambient = this.room.tempC;
    const asleep = this.room.napping;
    this.posture = asleep ? this.nextNapPosture() : this.nextAwakePosture(t);
    if (this.forced && t >= this.forced.until) this.forced = null;
    if (this.fever && t >= this.fever.until) this.fever = null;
    const battery = this.battery(t);
    const rssi = clamp(this.rssiBase + this.rng.int(-3, 3), -127, 0);
    if (!this.worn) {
      // Off the skin the sensor cools towards the room.
      this.skinC = ambient + (this.skinC - ambient) * Math.exp(-this.interval / 120_000);
      return {
        ts: t + this.clockOffset,
        seq: this.seq++,
        posture: 'unknown',
        skinTempC: round(clamp(this.skinC, 20, 45), 2),
        motion: 0,
        worn: false,
        battery,
        rssi,
      };
    }
    const target = this.baselineC + (this.fever ? this.fever.valueAt(t) : 0);
    const warm = 1 - Math.exp(-(t - this.putOnAt) / 180_000);
    this.skinC = ambient + (target - ambient) * warm + this.rng.gauss(0, 0.03);
    const still = t < this.stillUntil;
    const twitch = this.rng.next();
    const motion = still
      ? this.rng.range(0, 0.01)
      : asleep
        ? twitch < 0.01
          ? this.rng.range(0.15, 0.35)
          : this.rng.range(0.03, 0.06)
        : this.rng.range(0.2, 0.8);
    const respRate = asleep ? this.rng.range(24, 34) : this.rng.range(30, 45);
    return {
      ts: t + this.clockOffset,
      seq: this.seq++,
      posture: this.forced ? this.forced.posture : this.posture,
      skinTempC: round(clamp(this.skinC, 20, 45), 2),
      motion: round(motion, 3),
      worn: true,
      battery,
      rssi,
      respRate: round(respRate, 1),
    };
  }

  emit(t: number, out: Item[]): void {
    const { wifiDropsPerHour, qos } = this.world.plan.behaviour;
    // Behind a gateway a "drop" is the BLE link: readings go missing without any MQTT trace.
    if (!this.online(t, out, wifiDropsPerHour)) return;
    const reading = this.reading(t);
    if (this.gateway) {
      out.push({ t, relay: { gateway: this.gateway, item: { device: this.id, ...reading } } });
      return;
    }
    const topic = topics.deviceTelemetry(this.device.center, this.id);
    out.push({
      t,
      record: this.publish(t, topic, JSON.stringify({ v: 1, ...reading }), qos.wearable, false, 1),
    });
  }
}
