import { Point } from '@influxdata/influxdb-client';
import { SeqWindow, transform } from '../ingest/transform.ts';
import type { InfluxConnection } from '../lib/influx/connection.ts';
import { createWriteApi } from '../lib/influx/writer.ts';
import type { AlertTransition, AlertTransitionKind } from '../protocol/alerts.ts';
import { FleetIndex, fleetSchema } from '../protocol/fleet.ts';
import type { Alert, AlertState, Posture, RuleId, Severity } from '../protocol/payloads.ts';
import { topics } from '../protocol/topics.ts';
import { alertPoint } from '../rules/channels/influx.ts';

/**
 * Two hours of history for the dashboard query test, shaped by the pipeline's own code wherever it exists:
 * device messages (valid protocol payloads on their real topics) go through ingest's `transform`, the
 * point builder ingest writes with, and alert transitions through the rules service's `alertPoint`. So a
 * change to what ingest or rules write breaks the dashboard test, not a supervisor's screen.
 *
 * Written directly, in DESIGN.md's data model, because no component writes them yet: `nap_session`,
 * `nap_check`, the `pipeline` points (ingest's are built inline in its service), and `ack_ms` on
 * acknowledgements (see README.md, "Data contract additions").
 *
 * Swap for the real thing once broker, ingest and rules run together in a test: a simulator scenario
 * through startBroker → startIngest → startRules, keeping SEED's ids.
 */
export const SEED = {
  center: 'sunflower',
  napRoom: 'nap-1',
  infants: ['inf-01', 'inf-02'],
} as const;

const MIN = 60_000;
const SPAN = 2 * 60 * MIN;

const FLEET = new FleetIndex(
  fleetSchema.parse({
    centers: [
      { id: 'sunflower', name: 'Sunflower' },
      { id: 'lotus', name: 'Lotus' },
    ],
    rooms: [
      { id: 'nap-1', center: 'sunflower', name: 'Nap room 1' },
      { id: 'play-1', center: 'sunflower', name: 'Play room 1' },
      { id: 'nap-a', center: 'lotus', name: 'Nap room A' },
    ],
    infants: [
      { id: 'inf-01', center: 'sunflower', room: 'nap-1', birthMonth: '2026-03', displayName: 'A' },
      { id: 'inf-02', center: 'sunflower', room: 'nap-1', birthMonth: '2026-05', displayName: 'B' },
      { id: 'inf-a1', center: 'lotus', room: 'nap-a', birthMonth: '2026-01', displayName: 'C' },
    ],
    devices: [
      { id: 'wb-01', kind: 'wearable', center: 'sunflower', room: 'nap-1', infant: 'inf-01' },
      { id: 'wb-02', kind: 'wearable', center: 'sunflower', room: 'nap-1', infant: 'inf-02' },
      { id: 'env-nap-1', kind: 'room', center: 'sunflower', room: 'nap-1' },
      { id: 'env-play-1', kind: 'room', center: 'sunflower', room: 'play-1' },
      { id: 'btn-nap-1', kind: 'alarm', center: 'sunflower', room: 'nap-1' },
      { id: 'wb-a1', kind: 'wearable', center: 'lotus', room: 'nap-a', infant: 'inf-a1' },
      { id: 'env-nap-a', kind: 'room', center: 'lotus', room: 'nap-a' },
    ],
  }),
);

interface Message {
  topic: string;
  payload: Record<string, unknown>;
}

function deviceMessages(start: number, now: number): Message[] {
  const out: Message[] = [];
  for (const device of FLEET.fleet.devices) {
    const { center, id } = device;
    let seq = 0;
    const telemetry = (reading: Record<string, unknown>, ts: number) =>
      out.push({ topic: topics.deviceTelemetry(center, id), payload: { v: 1, ts, seq: seq++, ...reading } });
    if (device.kind === 'wearable') {
      // inf-01 rolls onto their front for 2 minutes an hour ago and lies still for a minute later; inf-02's
      // patch warms 1.3 °C over the last 40 minutes.
      // lotus's only wearable goes silent 12 minutes ago (its last will follows).
      const until = id === 'wb-a1' ? now - 12 * MIN : now;
      for (let t = start; t <= until; t += 10_000) {
        const ago = (now - t) / MIN;
        const prone = device.infant === 'inf-01' && ago > 60 && ago < 62;
        const still = device.infant === 'inf-01' && ago > 20 && ago < 21;
        const posture: Posture = prone ? 'prone' : ago < 5 ? 'side' : 'supine';
        telemetry(
          {
            posture,
            skinTempC: Number((36.2 + (device.infant === 'inf-02' && ago < 40 ? 1.3 : 0)).toFixed(2)),
            motion: still ? 0.01 : Number((0.2 + 0.1 * Math.sin(t / MIN)).toFixed(3)),
            worn: true,
            battery: Math.max(5, 60 - Math.floor((t - start) / (3 * MIN))),
            rssi: -60,
          },
          t,
        );
      }
    }
    if (device.kind === 'room') {
      // nap-1 runs hot (25.2 °C) between 35 and 25 minutes ago; the play room is dry all along.
      for (let t = start; t <= now; t += 30_000) {
        const ago = (now - t) / MIN;
        const hot = device.room === 'nap-1' && ago > 25 && ago < 35;
        telemetry({ tempC: hot ? 25.2 : 21.5, humidity: device.room === 'play-1' ? 28 : 45, co2ppm: 650 }, t);
      }
    }
    if (device.kind === 'alarm') {
      for (const t of [now - 3 * MIN, now]) {
        out.push({
          topic: topics.deviceAlarm(center, id),
          payload: { v: 1, ts: t, seq: seq++, event: 'pressed' },
        });
      }
    }
    // Every device says hello at the start; wb-02 drops off for ten minutes, lotus's wearable for good.
    const status = (ts: number, state: 'online' | 'offline') =>
      out.push({ topic: topics.deviceStatus(center, id), payload: { v: 1, ts, state, battery: 80 } });
    status(start, 'online');
    if (id === 'wb-02') {
      status(now - 50 * MIN, 'offline');
      status(now - 40 * MIN, 'online');
    }
    if (id === 'wb-a1') status(now - 12 * MIN, 'offline');
  }
  return out;
}

const encoder = new TextEncoder();

function ingestLines(messages: Message[]): string[] {
  const window = new SeqWindow(0);
  const lines: string[] = [];
  for (const { topic, payload } of messages) {
    const out = transform(topic, encoder.encode(JSON.stringify(payload)), FLEET, window, { maxSkewMs: null });
    const [refused] = out.refused;
    if (refused)
      throw new Error(`seed message refused by ingest (${refused.reason}: ${refused.detail}) on ${topic}`);
    lines.push(...out.lines);
  }
  return lines;
}

interface Step {
  after: number;
  kind: AlertTransitionKind;
  state: AlertState;
  severity?: Severity;
  by?: string;
}

interface AlertStory {
  id: string;
  center: string;
  room?: string;
  rule: RuleId;
  severity: Severity;
  subject: Alert['subject'];
  raisedAgo: number;
  value?: number;
  steps: Step[];
}

const STORIES: AlertStory[] = [
  {
    id: 'al-prone-1',
    center: 'sunflower',
    room: 'nap-1',
    rule: 'prone-sleep',
    severity: 'critical',
    subject: { kind: 'infant', id: 'inf-01' },
    raisedAgo: 61.5 * MIN,
    value: 30,
    steps: [
      { after: 30_000, kind: 'acknowledged', state: 'acknowledged', by: 'carer-li' },
      { after: 96_000, kind: 'resolved', state: 'resolved' },
    ],
  },
  {
    id: 'al-hot-1',
    center: 'sunflower',
    room: 'nap-1',
    rule: 'room-hot',
    severity: 'warning',
    subject: { kind: 'room', id: 'nap-1' },
    raisedAgo: 30 * MIN,
    value: 25.2,
    steps: [
      { after: 5 * MIN, kind: 'escalated', state: 'escalated', severity: 'critical' },
      { after: 6 * MIN, kind: 'acknowledged', state: 'acknowledged', by: 'carer-wang' },
    ],
  },
  {
    id: 'al-batt-1',
    center: 'sunflower',
    rule: 'low-battery',
    severity: 'info',
    subject: { kind: 'device', id: 'wb-01' },
    raisedAgo: 10 * MIN,
    value: 14,
    steps: [],
  },
  {
    id: 'al-alarm-1',
    center: 'sunflower',
    room: 'nap-1',
    rule: 'one-key-alarm',
    severity: 'critical',
    subject: { kind: 'device', id: 'btn-nap-1' },
    raisedAgo: 3 * MIN,
    steps: [
      { after: MIN, kind: 'escalated', state: 'escalated' },
      { after: 90_000, kind: 'acknowledged', state: 'acknowledged', by: 'carer-li' },
    ],
  },
  {
    id: 'al-lost-a1',
    center: 'lotus',
    room: 'nap-a',
    rule: 'monitoring-lost',
    severity: 'warning',
    subject: { kind: 'infant', id: 'inf-a1' },
    raisedAgo: 14 * MIN,
    steps: [],
  },
];

function alertLines(now: number): string[] {
  const lines: string[] = [];
  let seq = 0;
  for (const story of STORIES) {
    const raisedAt = now - story.raisedAgo;
    let alert: Alert = {
      v: 1,
      id: story.id,
      center: story.center,
      ...(story.room ? { room: story.room } : {}),
      rule: story.rule,
      severity: story.severity,
      state: 'raised',
      subject: story.subject,
      ...(story.value !== undefined ? { value: story.value } : {}),
      raisedAt,
      updatedAt: raisedAt,
      escalated: false,
      notifications: 1,
      message: {
        en: `${story.rule} ${story.subject.kind} ${story.subject.id}`,
        'zh-CN': `${story.rule} ${story.subject.id}`,
      },
    };
    const emit = (kind: AlertTransitionKind, at: number) => {
      const transition: AlertTransition = {
        seq: seq++,
        kind,
        at,
        alert,
        audience: kind === 'escalated' ? 'supervisors' : 'caregivers',
      };
      const point = alertPoint(transition, 'en');
      if (kind === 'acknowledged') point.intField('ack_ms', at - raisedAt);
      lines.push(point.toLineProtocol()!);
    };
    emit('raised', raisedAt);
    for (const step of story.steps) {
      const at = raisedAt + step.after;
      alert = {
        ...alert,
        state: step.state,
        severity: step.severity ?? alert.severity,
        updatedAt: at,
        escalated: alert.escalated || step.kind === 'escalated',
        ...(step.by ? { acknowledgedBy: step.by, acknowledgedAt: at } : {}),
        ...(step.kind === 'resolved' ? { resolvedAt: at } : {}),
      };
      emit(step.kind, at);
    }
  }
  return lines;
}

/** nap_session and nap_check as DESIGN.md lays them out: one nap that ended, one under way. */
function napPoints(now: number): Point[] {
  const room = (measurement: string) =>
    new Point(measurement).tag('center', 'sunflower').tag('room', 'nap-1');
  const nap = (t: number, state: 'started' | 'ended', by: string) =>
    room('nap_session').stringField('state', state).stringField('by', by).timestamp(t);
  const points = [
    nap(now - 90 * MIN, 'started', 'schedule'),
    nap(now - 30 * MIN, 'ended', 'carer-li'),
    nap(now - 10 * MIN, 'started', 'carer-wang'),
  ];
  for (const [from, to] of [
    [now - 90 * MIN, now - 30 * MIN],
    [now - 10 * MIN, now],
  ] as const) {
    for (let t = from + 5 * MIN; t <= to; t += 5 * MIN) {
      for (const infant of SEED.infants) {
        const check = room('nap_check')
          .tag('infant', infant)
          .stringField('posture', 'supine')
          .floatField('motion', 0.2)
          .floatField('skin_temp', 36.3)
          .intField('open_alerts', t > now - 62 * MIN && t < now - 59 * MIN ? 1 : 0)
          .timestamp(t);
        if (t < now - 5 * MIN) check.stringField('confirmed_by', 'carer-li');
        points.push(check);
      }
    }
  }
  return points;
}

/** Ingest's pipeline point every 10 s (cumulative counters) with the `invalid_<reason>` fields and an outage. */
function pipelinePoints(start: number, now: number): Point[] {
  const points: Point[] = [];
  let received = 0;
  let schema = 0;
  let skew = 0;
  for (let t = start; t <= now; t += 10_000) {
    const ago = (now - t) / MIN;
    const outage = ago > 45 && ago < 50;
    received += 250;
    if (Math.floor(t / 10_000) % 6 === 0) schema += 2;
    if (ago < 30) skew += 1;
    points.push(
      new Point('pipeline')
        .tag('service', 'ingest')
        .tag('instance', 'ingest-0')
        .intField('received', received)
        .intField('written', received - schema - skew)
        .intField('invalid', schema + skew)
        .intField('spooled', outage ? 1_000 : 0)
        .intField('spool_bytes', outage ? 180_000 : 0)
        .intField('lag_ms', outage ? 240_000 : 120)
        .intField('invalid_schema', schema)
        .intField('invalid_clock-skew', skew)
        .timestamp(t),
    );
  }
  return points;
}

/** Writes the history ending at `now`; resolves once InfluxDB has taken every line. Returns the line count. */
export async function seedDashboardData(conn: InfluxConnection, now = Date.now()): Promise<number> {
  const start = now - SPAN;
  const lines = [
    ...ingestLines(deviceMessages(start, now)),
    ...alertLines(now),
    ...[...napPoints(now), ...pipelinePoints(start, now)].map((p) => p.toLineProtocol()!),
  ];
  const writeApi = createWriteApi(conn, { batchSize: 5_000, maxRetries: 2 });
  writeApi.writeRecords(lines);
  await writeApi.close();
  return lines.length;
}
