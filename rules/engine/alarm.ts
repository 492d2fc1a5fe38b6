import type { AlarmEvent } from '../../protocol/payloads.ts';
import type { Alerts } from './alerts.ts';
import { type Core, alertKey } from './core.ts';

/** A redelivered press is recognised among the button's last presses by its own timestamp. */
const PRESSES_KEPT = 16;

/**
 * The one-key alarm: critical at once, never deduplicated away (a second press re-notifies and re-opens an
 * acknowledged alarm), resolved only by staff. Returns false for a redelivered press.
 */
export function press(
  core: Core,
  alerts: Alerts,
  center: string,
  deviceId: string,
  event: AlarmEvent,
  at: number,
): boolean {
  const device = core.fleet().devices.get(deviceId);
  if (!device) return true;
  const seen = core.store.state.presses[deviceId] ?? [];
  if (seen.includes(event.ts)) return false;
  core.store.set('presses', deviceId, [...seen, event.ts].slice(-PRESSES_KEPT));
  const key = alertKey('one-key-alarm', deviceId);
  const open = alerts.open(key);
  if (!open) {
    const subject = { kind: 'device' as const, id: deviceId };
    alerts.raise(key, { rule: 'one-key-alarm', center, room: device.room, subject }, 'critical', at);
    return true;
  }
  alerts.armTimers(open, open.alert.severity, at);
  alerts.update(key, open, 'renotified', at, {
    state: 'raised',
    acknowledgedBy: undefined,
    acknowledgedAt: undefined,
    notifications: open.alert.notifications + 1,
  });
  return true;
}
