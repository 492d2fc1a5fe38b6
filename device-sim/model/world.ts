import { type Device, FleetIndex } from '../../protocol/fleet.ts';
import { topics } from '../../protocol/topics.ts';
import type { Prng } from '../prng.ts';
import type { ScenarioEvent } from '../scenario.ts';
import { AlarmSim } from './alarm.ts';
import { GatewaySim } from './gateway.ts';
import { Override } from './override.ts';
import { NAP_CLIENT, type SimulationPlan } from './plan.ts';
import { RoomSim } from './room.ts';
import type { Item, Sim } from './sim.ts';
import { WearableSim } from './wearable.ts';

export class World {
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
