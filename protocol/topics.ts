import { isCenterId, isId } from './ids.ts';

export const TOPIC_ROOT = 'cw/v1';

/**
 * The level under which a broker says what it does itself. `$` is outside the id alphabet, so no centre
 * can be named like it, and only the broker publishes there (broker/acl.ts refuses every client).
 */
export const BROKER_LEVEL = '$broker';

export type DeviceChannel = 'telemetry' | 'alarm' | 'status';

/** A topic taken apart. `kind` says which row of the docs/design.md topic table it is. */
export type ParsedTopic =
  | { kind: 'device'; center: string; device: string; channel: DeviceChannel }
  | { kind: 'gateway'; center: string; gateway: string; channel: 'telemetry' | 'status' }
  | { kind: 'nap'; center: string; room: string }
  | { kind: 'alert'; center: string; alertId: string }
  | { kind: 'alert-ack'; center: string; alertId: string }
  | { kind: 'alert-resolve'; center: string; alertId: string }
  | { kind: 'alert-transition'; center: string; alertId: string }
  | { kind: 'deadletter'; center: string; device: string }
  | { kind: 'broker-hold'; broker: string };

function assertIds(center: string, ...ids: string[]): void {
  for (const id of [center, ...ids]) {
    if (!isId(id)) throw new RangeError(`invalid id ${JSON.stringify(id)}: expected [a-z0-9-]{1,64}`);
  }
  if (!isCenterId(center))
    throw new RangeError(`invalid centre ${JSON.stringify(center)}: the name is reserved`);
}

export const topics = {
  deviceTelemetry(center: string, device: string): string {
    assertIds(center, device);
    return `${TOPIC_ROOT}/${center}/devices/${device}/telemetry`;
  },
  deviceAlarm(center: string, device: string): string {
    assertIds(center, device);
    return `${TOPIC_ROOT}/${center}/devices/${device}/alarm`;
  },
  deviceStatus(center: string, device: string): string {
    assertIds(center, device);
    return `${TOPIC_ROOT}/${center}/devices/${device}/status`;
  },
  gatewayTelemetry(center: string, gateway: string): string {
    assertIds(center, gateway);
    return `${TOPIC_ROOT}/${center}/gateways/${gateway}/telemetry`;
  },
  gatewayStatus(center: string, gateway: string): string {
    assertIds(center, gateway);
    return `${TOPIC_ROOT}/${center}/gateways/${gateway}/status`;
  },
  nap(center: string, room: string): string {
    assertIds(center, room);
    return `${TOPIC_ROOT}/${center}/rooms/${room}/nap`;
  },
  alert(center: string, alertId: string): string {
    assertIds(center, alertId);
    return `${TOPIC_ROOT}/${center}/alerts/${alertId}`;
  },
  alertAck(center: string, alertId: string): string {
    assertIds(center, alertId);
    return `${TOPIC_ROOT}/${center}/alerts/${alertId}/ack`;
  },
  /** Staff close an alert through a front end; the owning rules partition acts on it. */
  alertResolve(center: string, alertId: string): string {
    assertIds(center, alertId);
    return `${TOPIC_ROOT}/${center}/alerts/${alertId}/resolve`;
  },
  /** Every AlertTransition of the alert, as the rules emit it: what front ends stream to caregivers. */
  alertTransition(center: string, alertId: string): string {
    assertIds(center, alertId);
    return `${TOPIC_ROOT}/${center}/alerts/${alertId}/transition`;
  },
  brokerHold(broker: string): string {
    if (!isId(broker))
      throw new RangeError(`invalid broker id ${JSON.stringify(broker)}: expected [a-z0-9-]{1,64}`);
    return `${TOPIC_ROOT}/${BROKER_LEVEL}/${broker}/hold`;
  },
  deadletter(center: string, device: string): string {
    assertIds(center, device);
    return `${TOPIC_ROOT}/deadletter/${center}/${device}`;
  },
} as const;

const alarmsFilter = (center = '+') => `${TOPIC_ROOT}/${center}/devices/+/alarm`;
const statusFilter = (center = '+') => `${TOPIC_ROOT}/${center}/devices/+/status`;

/** Subscription filters used by the services. `center` narrows to one centre, `+` otherwise. */
export const filters = {
  telemetry: (center = '+') => [
    `${TOPIC_ROOT}/${center}/devices/+/telemetry`,
    `${TOPIC_ROOT}/${center}/gateways/+/telemetry`,
  ],
  alarms: alarmsFilter,
  status: statusFilter,
  deviceEvents: (center = '+') => [alarmsFilter(center), statusFilter(center)],
  nap: (center = '+') => `${TOPIC_ROOT}/${center}/rooms/+/nap`,
  alerts: (center = '+') => `${TOPIC_ROOT}/${center}/alerts/+`,
  alertAcks: (center = '+') => `${TOPIC_ROOT}/${center}/alerts/+/ack`,
  alertResolves: (center = '+') => `${TOPIC_ROOT}/${center}/alerts/+/resolve`,
  alertTransitions: (center = '+') => `${TOPIC_ROOT}/${center}/alerts/+/transition`,
  brokerHolds: `${TOPIC_ROOT}/${BROKER_LEVEL}/+/hold`,
} as const;

/** Takes a topic apart; null for anything outside the layout (wrong root, bad id, unknown channel). */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts[0] !== 'cw' || parts[1] !== 'v1') return null;
  const rest = parts.slice(2);
  if (rest[0] === BROKER_LEVEL) {
    const [, broker, what] = rest;
    return rest.length === 3 && broker && isId(broker) && what === 'hold'
      ? { kind: 'broker-hold', broker }
      : null;
  }
  if (rest[0] === 'deadletter') {
    const [, center, device] = rest;
    if (rest.length !== 3 || !center || !device || !isCenterId(center) || !isId(device)) return null;
    return { kind: 'deadletter', center, device };
  }
  const [center, section, id, channel, extra] = rest;
  if (!center || !section || !id || !isId(center) || !isId(id)) return null;
  if (section === 'devices' && rest.length === 4) {
    if (channel === 'telemetry' || channel === 'alarm' || channel === 'status') {
      return { kind: 'device', center, device: id, channel };
    }
    return null;
  }
  if (section === 'gateways' && rest.length === 4) {
    if (channel === 'telemetry' || channel === 'status')
      return { kind: 'gateway', center, gateway: id, channel };
    return null;
  }
  if (section === 'rooms' && rest.length === 4 && channel === 'nap') return { kind: 'nap', center, room: id };
  if (section === 'alerts' && rest.length === 3) return { kind: 'alert', center, alertId: id };
  if (section === 'alerts' && rest.length === 4 && extra === undefined) {
    if (channel === 'ack') return { kind: 'alert-ack', center, alertId: id };
    if (channel === 'resolve') return { kind: 'alert-resolve', center, alertId: id };
    if (channel === 'transition') return { kind: 'alert-transition', center, alertId: id };
  }
  return null;
}

const PRIORITY_KINDS = new Set<ParsedTopic['kind']>(['nap', 'alert-ack', 'alert-resolve', 'broker-hold']);

/**
 * What people do (alarm presses, naps, acknowledgements, resolutions) and the broker's holds: read before
 * telemetry wherever the path has a queue.
 */
export function isPriorityTopic(topic: string): boolean {
  const parsed = parseTopic(topic);
  if (!parsed) return false;
  return parsed.kind === 'device' ? parsed.channel === 'alarm' : PRIORITY_KINDS.has(parsed.kind);
}

/**
 * Whether every topic a subscription filter can match is a priority topic. A `+` stands for an id: the
 * layout tells kinds apart by their fixed levels, so a filter whose fixed levels make a priority topic
 * matches only priority topics; `#` can match anything.
 */
export function isPriorityFilter(filter: string): boolean {
  const levels = filter.split('/');
  if (levels.includes('#')) return false;
  const id = levels.map((level, i) => (level === '+' ? `x${i}` : level)).join('/');
  return isPriorityTopic(id);
}
