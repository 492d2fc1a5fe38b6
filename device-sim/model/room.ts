import type { Device } from '../../protocol/fleet.ts';
import type { RoomReading } from '../../protocol/payloads.ts';
import { topics } from '../../protocol/topics.ts';
import { clamp, round } from './numbers.ts';
import type { Override } from './override.ts';
import { type Item, Sim } from './sim.ts';
import type { World } from './world.ts';

export class RoomSim extends Sim {
  readonly setpoint: number;
  readonly hvacPeriod: number;
  readonly hvacPhase: number;
  readonly humidityBase: number;
  readonly humidityPeriod: number;
  napping = false;
  seq = 0;
  tempC: number;
  humidity: number;
  tempOverride: Override | null = null;
  humidityOverride: Override | null = null;

  constructor(device: Device, world: World, connectAt: number) {
    super(
      device,
      world,
      topics.deviceStatus(device.center, device.id),
      world.plan.behaviour.roomIntervalMs,
      connectAt,
    );
    this.setpoint = this.rng.range(20.5, 22);
    this.hvacPeriod = this.rng.range(18, 30) * 60_000;
    this.hvacPhase = this.rng.next();
    this.humidityBase = this.rng.range(40, 50);
    this.humidityPeriod = this.rng.range(40, 90) * 60_000;
    this.tempC = this.hvacTemp(world.plan.startTime);
    this.humidity = this.hvacHumidity(world.plan.startTime);
  }

  /** The thermostat cycles heating and cooling around its setpoint: a triangle wave of ±0.5 °C. */
  hvacTemp(t: number): number {
    const x = ((t - this.world.plan.startTime) / this.hvacPeriod + this.hvacPhase) % 1;
    return this.setpoint + 0.5 * (x < 0.5 ? 4 * x - 1 : 3 - 4 * x);
  }

  hvacHumidity(t: number): number {
    return (
      this.humidityBase + 4 * Math.sin((2 * Math.PI * (t - this.world.plan.startTime)) / this.humidityPeriod)
    );
  }

  temperatureAt(t: number): number {
    if (this.tempOverride && t >= this.tempOverride.until) this.tempOverride = null;
    return this.tempOverride ? this.tempOverride.valueAt(t) : this.hvacTemp(t);
  }

  humidityAt(t: number): number {
    if (this.humidityOverride && t >= this.humidityOverride.until) this.humidityOverride = null;
    return this.humidityOverride ? this.humidityOverride.valueAt(t) : this.hvacHumidity(t);
  }

  emit(t: number, out: Item[]): void {
    this.tempC = this.temperatureAt(t);
    this.humidity = this.humidityAt(t);
    if (!this.online(t, out, this.world.plan.behaviour.wifiDropsPerHour)) return;
    const reading: RoomReading & { v: 1 } = {
      v: 1,
      ts: t,
      seq: this.seq++,
      tempC: round(this.tempC + this.rng.gauss(0, 0.05), 2),
      humidity: round(clamp(this.humidity + this.rng.gauss(0, 0.3), 0, 100), 1),
      co2ppm: Math.round((this.napping ? 800 : 650) + this.rng.gauss(0, 25)),
    };
    const topic = topics.deviceTelemetry(this.device.center, this.id);
    out.push({
      t,
      record: this.publish(t, topic, JSON.stringify(reading), this.world.plan.behaviour.qos.room, false, 1),
    });
  }
}
