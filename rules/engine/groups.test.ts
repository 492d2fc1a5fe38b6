import { describe, expect, it } from 'vitest';
import { FleetIndex, fleetSchema } from '../../protocol/fleet.ts';
import { Harness, T0, fleetDoc } from '../../test/support/rules/engine.ts';

const S = 1000;

/** The test fleet plus room r4 with three more wearables: seven in use in the centre, three in r2. */
function harness() {
  const h = new Harness({
    rules: {
      defaults: {
        lifecycle: { reminderS: { critical: 0, warning: 0 }, escalateS: { critical: 0, warning: 0 } },
      },
    },
  });
  const doc = structuredClone(fleetDoc);
  doc.rooms.push({ id: 'r4', center: 'ca', name: 'nap room 4', nameZh: '4 号睡眠室' });
  for (const n of [1, 2, 3]) {
    doc.infants.push({
      id: `c-4${n}`,
      center: 'ca',
      room: 'r4',
      birthMonth: '2026-01',
      displayName: `C${n}`,
    });
    doc.devices.push({ id: `w-4${n}`, kind: 'wearable', center: 'ca', room: 'r4', infant: `c-4${n}` });
  }
  h.engine.setFleet(new FleetIndex(fleetSchema.parse(doc)));
  return h;
}

const R2 = ['w-07', 'w-08', 'w-09'];
const OTHERS = ['w-b1', 'w-41', 'w-42', 'w-43'];

describe('one cause, one alert', () => {
  it('a room gateway, then the whole centre, going silent during a nap: one alert per cause; recovery resolves', () => {
    const h = harness();
    h.nap('r2', 'started', T0);
    for (let t = T0; t <= T0 + 240 * S; t += S) {
      const up =
        t <= T0 + 20 * S
          ? [...R2, ...OTHERS]
          : t <= T0 + 100 * S
            ? OTHERS
            : t >= T0 + 200 * S
              ? [...R2, ...OTHERS]
              : [];
      for (const device of up) h.wearable(device, t);
      h.at(t);
    }
    const lost = h.transitions.filter(
      (t) => t.alert.rule !== 'no-movement' && t.alert.rule !== 'prone-sleep',
    );
    expect(
      lost.map(
        (t) =>
          `${t.kind}:${t.alert.rule}:${t.alert.severity}@${(t.at - T0) / 1000}:${t.alert.devices?.join(',')}`,
      ),
    ).toEqual([
      // r2's gateway: its three wearables, critical (the room naps), two seconds after their deadline.
      'raised:room-silent:critical@52:w-07,w-08,w-09',
      // Then the centre's uplink: one alert for all seven; the room's alert is folded into it.
      'resolved:room-silent:critical@132:w-07,w-08,w-09',
      'raised:center-silent:critical@132:w-07,w-08,w-09,w-41,w-42,w-43,w-b1',
      // Back at 200 s: members leave one by one while the rest still are most of the centre...
      'updated:center-silent:critical@200:w-08,w-09,w-41,w-42,w-43,w-b1',
      'updated:center-silent:critical@200:w-09,w-41,w-42,w-43,w-b1',
      'updated:center-silent:critical@200:w-41,w-42,w-43,w-b1',
      // ...and it resolves once they are not; the rest report within the gathering: no alert of their own.
      'resolved:center-silent:critical@200:w-41,w-42,w-43,w-b1',
    ]);
    expect(h.transitions.filter((t) => t.alert.rule === 'monitoring-lost')).toEqual([]);
  });

  it('one wearable silent among reporting peers still raises its own alert, and no group', () => {
    const h = harness();
    for (let t = T0; t <= T0 + 120 * S; t += S) {
      for (const device of [...R2, ...OTHERS])
        if (device !== 'w-41' || t <= T0 + 10 * S) h.wearable(device, t);
      h.at(t);
    }
    expect(h.of('monitoring-lost')).toEqual(['raised:warning@40']);
    expect(h.transitions.filter((t) => t.alert.rule.endsWith('-silent'))).toEqual([]);
  });
});
