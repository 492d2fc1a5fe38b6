import type { DeviceKind } from '../protocol/fleet.ts';
import { BROKER_LEVEL, TOPIC_ROOT } from '../protocol/topics.ts';
import type { ServiceAccount } from './config.ts';

/** Who a connection is, once authenticated; the ACL decides from this alone. */
export type Principal =
  | { type: 'device'; id: string; center: string; kind: DeviceKind }
  | { type: 'service'; username: string; role: ServiceAccount['role']; center?: string | undefined }
  | { type: 'anonymous' };

const ROOT = `${TOPIC_ROOT}/`;

function split(topic: string): string[] {
  return topic.startsWith(ROOT) ? topic.slice(ROOT.length).split('/') : [];
}

/** `cw/v1/{center}/…` where {center} matches the principal's centre (or any, for all-centre roles). */
function centerOf(parts: string[], allowed: string | undefined): string | null {
  const center = parts[0];
  if (center === undefined) return null;
  if (allowed === undefined) return center;
  return center === allowed ? center : null;
}

export function canPublish(who: Principal, topic: string): boolean {
  const parts = split(topic);
  // What the broker says of itself is believed by the rules (a hold pauses whole-centre silence): no client
  // may say it, not even anonymously.
  if (parts[0] === BROKER_LEVEL) return false;
  // MQTT reserves only what the broker itself uses ($SYS) [MQTT-4.7.2-1]; other $ topics are open anonymously.
  if (who.type === 'anonymous') return !topic.startsWith('$SYS');
  if (topic.startsWith('$')) return false;
  if (parts.length === 0) return false;
  if (who.type === 'device') {
    const [center, section, id, channel, ...rest] = parts;
    if (center !== who.center || id !== who.id || rest.length > 0) return false;
    if (who.kind === 'gateway')
      return section === 'gateways' && (channel === 'telemetry' || channel === 'status');
    if (section !== 'devices') return false;
    if (channel === 'status') return true;
    if (who.kind === 'alarm') return channel === 'alarm';
    return channel === 'telemetry';
  }
  switch (who.role) {
    case 'ingest':
      return parts[0] === 'deadletter';
    case 'rules':
      // Alerts, and nap sessions the rules start from a room's schedule.
      return parts[1] === 'alerts' || (parts[1] === 'rooms' && parts[3] === 'nap');
    case 'caregiver':
    case 'supervisor': {
      if (centerOf(parts, who.role === 'caregiver' ? who.center : undefined) === null) return false;
      return (
        (parts[1] === 'alerts' && parts[3] === 'ack' && parts.length === 4) ||
        (parts[1] === 'rooms' && parts[3] === 'nap')
      );
    }
    case 'simulator':
      // Load generators and demo drivers publish as any device and drive nap sessions.
      return (
        parts[1] === 'devices' || parts[1] === 'gateways' || (parts[1] === 'rooms' && parts[3] === 'nap')
      );
  }
}

/**
 * A subscription filter is allowed only when every topic it can match is allowed, so `#` and `+` at the
 * centre level are refused to centre-scoped roles.
 */
export function canSubscribe(who: Principal, filter: string): boolean {
  if (filter.startsWith('$') || filter === '#') return who.type === 'anonymous' && !filter.startsWith('$SYS');
  if (who.type === 'anonymous') return true;
  const parts = split(filter);
  if (parts.length === 0) return false;
  if (who.type === 'device') return false;
  const [center, section, , channel] = parts;
  switch (who.role) {
    case 'ingest':
    case 'rules':
      // Trusted pipeline services read all device and alert traffic; dead letters are for operators.
      return center !== 'deadletter';
    case 'caregiver':
    case 'supervisor': {
      if (who.role === 'caregiver' && center !== who.center) return false;
      if (center === 'deadletter' || center === '#') return false;
      if (section === 'alerts') return channel === undefined || channel === 'ack' || channel === '#';
      return section === 'rooms' && channel === 'nap';
    }
    case 'simulator':
      return false;
  }
}
