import type { Device } from '../../protocol/fleet.ts';
import { topics } from '../../protocol/topics.ts';
import { type Item, Sim } from './sim.ts';
import type { World } from './world.ts';

export class AlarmSim extends Sim {
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
