import { type Device, type Fleet, FleetIndex } from '../protocol/fleet.ts';
import { LIMITS, type Posture, type RoomReading, type WearableReading } from '../protocol/payloads.ts';
import { topics } from '../protocol/topics.ts';
import { Prng } from './prng.ts';
import type { SimRecord } from './recording.ts';
import { FaultInjector } from './faults.ts';
import type { Behaviour, FaultRates, Ramp, ScenarioEvent } from './scenario.ts';

/** Everything that decides the publish stream; the same plan always yields the same records. */
export interface SimulationPlan {
  fleet: Fleet;
  seed: number | string;
  /** Simulated t0 in ms since the epoch. */
  startTime: number;
  durationMs: number;
  behaviour: Behaviour;
  faults: FaultRates;
  events: ScenarioEvent[];
  /** The `by` of nap messages: the account the nap publisher logs in as. */
  napBy: string;
}

/** The client name of the nap publisher in recordings; the sender maps it to the configured account. */
export const NAP_CLIENT = '@nap';
const FIRMWARE = '1.4.2';
const HOUR = 3_600_000;
/** A window of simulated time is generated, sorted and handed out at once. */
const WINDOW_MS = 1000;

const round = (value: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};
const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** A value forced by a scenario: ramps from `from` to `to` over `overMs`, then holds until `until`. */
class Override {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly at: number,
    readonly overMs: number,
    readonly until: number,
  ) {}

  static of(ramp: Ramp, current: number, at: number, until: number): Override {
    const to = ramp.mode === 'to' ? ramp.value : current + ramp.value;
    return new Override(current, to, at, ramp.overMs, until);
  }

  valueAt(t: number): number {
    if (this.overMs === 0) return this.to;
    return this.from + (this.to - this.from) * clamp((t - this.at) / this.overMs, 0, 1);
  }
}

interface Item {
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
abstract class Sim {
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

class RoomSim extends Sim {
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

class WearableSim extends Sim {
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

class GatewaySim extends Sim {
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

class AlarmSim extends Sim {
  seq = 0;

  constructor(device: Device, world: World, connectAt: number) {
    // A button has nothing periodic to say; the interval only brings it back after a drop.
    super(device, world, topics.deviceStatus(device.center, device.id), 10_000, connectAt);
  }

  emit(t: number, out: Item[]): void {
    this.online(t, out, 0);
  }

  press(t: number, out: Item[]): void {
    if (this.poweredOff) return;
    if (!this.connected) this.connect(t, out);
    const payload = JSON.stringify({ v: 1, ts: t + this.clockOffset, seq: this.seq++, event: 'pressed' });
    out.push({
      t,
      record: this.publish(t, topics.deviceAlarm(this.device.center, this.id), payload, 1, false),
    });
  }
}

class World {
  readonly index: FleetIndex;
  readonly sims: Sim[] = [];
  readonly byDevice = new Map<string, Sim>();
  readonly rooms = new Map<string, RoomSim>();
  readonly alarms = new Map<string, AlarmSim>();
  readonly wearableOfInfant = new Map<string, WearableSim>();
  napConnected = false;

  constructor(readonly plan: SimulationPlan) {
    this.index = new FleetIndex(plan.fleet);
    let slot = 0;
    const connectAt = () => plan.startTime + Math.floor((slot++ * 1000) / plan.behaviour.connectRate);
    const add = <T extends Sim>(sim: T): T => {
      this.sims.push(sim);
      this.byDevice.set(sim.id, sim);
      return sim;
    };
    const devicesOfRoom = new Map<string, Device[]>();
    for (const device of plan.fleet.devices) {
      const list = devicesOfRoom.get(device.room);
      if (list) list.push(device);
      else devicesOfRoom.set(device.room, [device]);
    }
    for (const room of plan.fleet.rooms) {
      const devices = devicesOfRoom.get(room.id) ?? [];
      const sensor = devices.find((d) => d.kind === 'room');
      // A room without a sensor still has air: its wearables cool towards it when taken off.
      const roomSim = sensor
        ? add(new RoomSim(sensor, this, connectAt()))
        : new RoomSim({ id: `rs-${room.id}`, kind: 'room', center: room.center, room: room.id }, this, 0);
      this.rooms.set(room.id, roomSim);
      for (const alarm of devices.filter((d) => d.kind === 'alarm')) {
        this.alarms.set(room.id, add(new AlarmSim(alarm, this, connectAt())));
      }
      const gatewayDevice = devices.find((d) => d.kind === 'gateway');
      const gateway = gatewayDevice ? add(new GatewaySim(gatewayDevice, this, connectAt())) : null;
      for (const device of devices.filter((d) => d.kind === 'wearable')) {
        // A wearable without a password hash reaches MQTT only through its room's gateway.
        const relay = gateway && device.passwordHash === undefined ? gateway : null;
        const sim = add(new WearableSim(device, this, roomSim, relay, relay ? relay.nextAt : connectAt()));
        if (device.infant) this.wearableOfInfant.set(device.infant, sim);
      }
    }
  }

  napRecords(t: number, rooms: string[], state: 'start' | 'end', out: Item[]): void {
    if (!this.napConnected) {
      out.push({ t, record: { t, op: 'connect', client: NAP_CLIENT } });
      this.napConnected = true;
    }
    for (const roomId of rooms) {
      const room = this.rooms.get(roomId)!;
      room.napping = state === 'start';
      const center = this.index.rooms.get(roomId)!.center;
      const payload = JSON.stringify({
        v: 1,
        ts: t,
        state: state === 'start' ? 'started' : 'ended',
        by: this.plan.napBy,
      });
      out.push({
        t,
        record: {
          t,
          op: 'publish',
          client: NAP_CLIENT,
          topic: topics.nap(center, roomId),
          qos: 1,
          retain: true,
          payload,
        },
      });
      if (state === 'start') {
        // Caregivers lay infants down on their backs.
        for (const sim of this.wearableOfInfant.values()) if (sim.room === room) sim.posture = 'supine';
      }
    }
  }

  apply(event: ScenarioEvent, t: number, out: Item[]): void {
    const until = 'for' in event && event.for !== undefined ? t + event.for : Number.POSITIVE_INFINITY;
    switch (event.type) {
      case 'infant': {
        const sim = this.wearableOfInfant.get(event.infant)!;
        if (event.posture) sim.forced = { posture: event.posture, until };
        if (event.worn !== undefined) sim.setWorn(event.worn, t, until);
        if (event.motion) sim.stillUntil = event.motion === 'still' ? until : 0;
        if (event.skinTempC) {
          // The ramp moves the infant's own baseline, so "to 38" means the settled skin reading.
          const { mode, value, overMs } = event.skinTempC;
          sim.fever = new Override(0, mode === 'to' ? value - sim.baselineC : value, t, overMs, until);
        }
        return;
      }
      case 'room': {
        const room = this.rooms.get(event.room)!;
        if (event.tempC) room.tempOverride = Override.of(event.tempC, room.temperatureAt(t), t, until);
        if (event.humidity) room.humidityOverride = Override.of(event.humidity, room.humidityAt(t), t, until);
        return;
      }
      case 'alarm':
        this.alarms.get(event.alarm)!.press(t, out);
        return;
      case 'nap':
        this.napRecords(t, event.nap === 'all' ? [...this.rooms.keys()] : [event.nap], event.state, out);
        return;
      case 'device': {
        const sim = this.byDevice.get(event.device)!;
        if (event.silent !== undefined) sim.silentUntil = t + event.silent;
        if (event.clockOffsetS !== undefined) sim.clockOffset = event.clockOffsetS * 1000;
        if (event.drop !== undefined) sim.drop(t, event.drop, out);
        if (event.power === 'off') sim.powerOff(t, out);
        if (event.power === 'on' && sim.poweredOff) {
          sim.poweredOff = false;
          sim.downUntil = t;
          if (sim.nextAt > t) sim.nextAt = t;
        }
        return;
      }
    }
  }

  /** Everything a centre has connected drops at once and comes back within a second. */
  storm(t: number, rng: Prng, out: Item[]): void {
    const centers = this.plan.fleet.centers;
    const center = centers[rng.int(0, centers.length - 1)]!.id;
    for (const sim of this.sims) {
      if (sim.device.center === center && sim.statusTopic !== null) {
        sim.drop(t, rng.int(100, 1000), out, 'connection-storm');
      }
    }
  }

  /** A device with a password of its own tries a wrong one. */
  wrongPassword(t: number, rng: Prng, out: Item[]): void {
    const candidates = this.sims.filter((s) => s.statusTopic !== null);
    const sim = candidates[rng.int(0, candidates.length - 1)];
    if (!sim) return;
    out.push({
      t,
      record: {
        t,
        op: 'connect',
        client: sim.id,
        badPassword: true,
        fault: 'wrong-password',
        expect: 'refused',
      },
    });
  }
}

/** Alarm presses after the first are spread three seconds apart, as a person presses a button. */
function expandEvents(events: ScenarioEvent[], startTime: number): { t: number; event: ScenarioEvent }[] {
  const out: { t: number; event: ScenarioEvent }[] = [];
  for (const event of events) {
    const presses = event.type === 'alarm' ? event.presses : 1;
    for (let k = 0; k < presses; k++) out.push({ t: startTime + event.at + k * 3000, event });
  }
  return out.sort((a, b) => a.t - b.t);
}

/**
 * The whole publish stream of a simulation, in simulated-time order, computed from the plan alone: no
 * network timing, wall clock or Math.random takes part, so a seed and a scenario give one recording.
 */
export function* simulate(plan: SimulationPlan): Generator<SimRecord> {
  const world = new World(plan);
  const faults = new FaultInjector(plan.seed, plan.faults, plan.fleet);
  const chaos = Prng.derive(plan.seed, 'connection-faults');
  const events = expandEvents(plan.events, plan.startTime);
  const end = plan.startTime + plan.durationMs;
  let next = 0;
  let lastT = plan.startTime;
  for (let t = plan.startTime; t < end; ) {
    const items: Item[] = [];
    while (next < events.length && events[next]!.t <= t) world.apply(events[next++]!.event, t, items);
    const windowEnd = Math.min(t + WINDOW_MS, end, events[next]?.t ?? end);
    const minutes = (windowEnd - t) / 60_000;
    if (plan.faults.connectionStorm > 0 && chaos.chance(plan.faults.connectionStorm * minutes)) {
      world.storm(t, chaos, items);
    }
    if (plan.faults.wrongPassword > 0 && chaos.chance(Math.min(1, plan.faults.wrongPassword * minutes))) {
      world.wrongPassword(t, chaos, items);
    }
    for (const sim of world.sims) {
      while (sim.nextAt < windowEnd) {
        sim.emit(sim.nextAt, items);
        sim.nextAt += sim.interval;
      }
    }
    // Stable sort: equal times keep fleet order, so the result never depends on anything but the plan.
    items.sort((a, b) => a.t - b.t);
    const records: SimRecord[] = [];
    for (const item of items) {
      if (item.record) records.push(item.record);
      else if (item.relay) item.relay.gateway.buffer.push(item.relay.item);
      else if (item.flush) item.flush.gateway.flush(item.t, item.flush.online, records);
    }
    for (const record of records) {
      lastT = record.t;
      if (record.readings) yield* faults.process(record);
      else yield record;
    }
    t = windowEnd;
  }
  yield* faults.drain(lastT);
}
