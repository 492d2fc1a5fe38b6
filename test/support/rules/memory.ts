import type {
  AlertService,
  AlertTransition,
  AlertTransitionKind,
  CommandResult,
} from '../../../protocol/alerts.ts';
import { FleetIndex, fleetSchema } from '../../../protocol/fleet.ts';
import type { Alert } from '../../../protocol/payloads.ts';
import type { BoardEvent, BoardService, NapCheckRecord, RoomBoard } from '../../../rules/contracts.ts';

/**
 * Test doubles of the rules service's AlertService and BoardService, to test the HTTP layer alone (fastify
 * inject and real sockets). The real service is exercised by the end-to-end and browser suites.
 */
export const testFleet = new FleetIndex(
  fleetSchema.parse({
    centers: [
      { id: 'ca', name: 'Centre A', nameZh: '甲园', timezone: 'Asia/Shanghai' },
      { id: 'cb', name: 'Centre B', timezone: 'Asia/Shanghai' },
    ],
    rooms: [
      { id: 'ca-r1', center: 'ca', name: 'Nap room 1', nameZh: '1 号睡眠室' },
      { id: 'cb-r1', center: 'cb', name: 'Nap room B1' },
    ],
    infants: [
      { id: 'inf-a1', center: 'ca', room: 'ca-r1', birthMonth: '2026-03', displayName: '王小明' },
      { id: 'inf-b1', center: 'cb', room: 'cb-r1', birthMonth: '2026-02', displayName: 'Lily' },
    ],
  }),
);

export class MemoryAlerts implements AlertService {
  private readonly alerts = new Map<string, Alert>();
  readonly log: AlertTransition[] = [];
  private readonly listeners = new Set<(t: AlertTransition) => void>();
  private seq = 0;

  emit(kind: AlertTransitionKind, alert: Alert): AlertTransition {
    this.alerts.set(alert.id, alert);
    const transition: AlertTransition = {
      seq: ++this.seq,
      kind,
      at: alert.updatedAt,
      alert,
      audience: kind === 'escalated' ? 'supervisors' : 'caregivers',
    };
    this.log.push(transition);
    for (const listener of this.listeners) listener(transition);
    return transition;
  }

  raise(id: string, center: string, overrides: Partial<Alert> = {}): Alert {
    const now = Date.now();
    const alert: Alert = {
      v: 1,
      id,
      center,
      room: center === 'ca' ? 'ca-r1' : 'cb-r1',
      rule: 'one-key-alarm',
      severity: 'critical',
      state: 'raised',
      subject: { kind: 'device', id: 'button-1' },
      raisedAt: now,
      updatedAt: now,
      escalated: false,
      notifications: 1,
      message: { 'zh-CN': '一键报警', en: 'One-key alarm' },
      ...overrides,
    };
    this.emit('raised', alert);
    return alert;
  }

  list(filter: { center?: string; includeResolved?: boolean } = {}): Alert[] {
    return [...this.alerts.values()].filter(
      (a) =>
        (filter.center === undefined || a.center === filter.center) &&
        (filter.includeResolved || a.state !== 'resolved'),
    );
  }

  get(id: string): Alert | undefined {
    return this.alerts.get(id);
  }

  acknowledge(id: string, by: string, at = Date.now()): CommandResult {
    const alert = this.alerts.get(id);
    if (!alert) return { ok: false, error: 'not-found', message: `no alert ${id}` };
    if (alert.state === 'resolved') return { ok: false, error: 'conflict', message: 'already resolved' };
    const next: Alert = {
      ...alert,
      state: 'acknowledged',
      acknowledgedBy: by,
      acknowledgedAt: at,
      updatedAt: at,
    };
    this.emit('acknowledged', next);
    return { ok: true, alert: next };
  }

  resolve(id: string, _by: string, at = Date.now()): CommandResult {
    const alert = this.alerts.get(id);
    if (!alert) return { ok: false, error: 'not-found', message: `no alert ${id}` };
    if (alert.rule !== 'one-key-alarm')
      return { ok: false, error: 'conflict', message: 'clears with its condition' };
    const next: Alert = { ...alert, state: 'resolved', resolvedAt: at, updatedAt: at };
    this.emit('resolved', next);
    return { ok: true, alert: next };
  }

  transitionsSince(afterSeq: number, center?: string): AlertTransition[] {
    return this.log.filter((t) => t.seq > afterSeq && (center === undefined || t.alert.center === center));
  }

  subscribe(listener: (t: AlertTransition) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export class MemoryBoard implements BoardService {
  readonly naps = new Map<string, { state: 'started' | 'ended'; by: string; at: number }>();
  readonly checks: NapCheckRecord[] = [];
  private readonly listeners = new Set<(e: BoardEvent) => void>();

  constructor(
    private readonly alerts: MemoryAlerts,
    private readonly fleet = testFleet,
  ) {}

  rooms(center: string): RoomBoard[] {
    return this.fleet.roomsOf(center).map((room) => {
      const nap = this.naps.get(room.id);
      return {
        center,
        room: room.id,
        name: room.name,
        nameZh: room.nameZh,
        napping: nap?.state === 'started',
        napStartedAt: nap?.state === 'started' ? nap.at : undefined,
        tempC: 22.5,
        humidity: 45,
        infants: this.fleet.infantsOf(room.id).map((i) => ({
          infant: i.id,
          displayName: i.displayName,
          posture: 'supine' as const,
          skinTempC: 36.4,
          worn: true,
          battery: 80,
          lastReadingAt: Date.now() - 2000,
        })),
        openAlerts: this.alerts.list({ center }).filter((a) => a.room === room.id),
      };
    });
  }

  async setNap(center: string, room: string, state: 'started' | 'ended', by: string): Promise<void> {
    this.naps.set(room, { state, by, at: Date.now() });
    this.emit({ type: 'board', center });
  }

  addCheck(record: NapCheckRecord): void {
    this.checks.push(record);
    this.emit({ type: 'nap-check', record });
  }

  napChecks(center: string, room: string, day: string): NapCheckRecord[] {
    const dayOf = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
    return this.checks.filter((c) => c.center === center && c.room === room && dayOf(c.at) === day);
  }

  confirmCheck(center: string, checkId: string, by: string): NapCheckRecord | undefined {
    const record = this.checks.find((c) => c.id === checkId && c.center === center);
    if (!record) return undefined;
    record.confirmedBy = by;
    record.confirmedAt = Date.now();
    this.emit({ type: 'nap-check', record });
    return record;
  }

  subscribe(listener: (e: BoardEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: BoardEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
