import { type AlertTransition, alertTransitionSchema } from '../protocol/alerts.ts';
import { napSessionSchema, type Alert, type NapSession, alertSchema } from '../protocol/payloads.ts';
import { parseTopic } from '../protocol/topics.ts';

export type ViewEvent = { type: 'transition'; transition: AlertTransition } | { type: 'nap'; center: string };

/**
 * What a front end knows, rebuilt from the bus alone: the open alerts (retained `alerts/{id}`), recent
 * transitions (`alerts/{id}/transition`) and room nap states (retained `rooms/{room}/nap`). Anything that
 * does not parse is counted and dropped: a front end never guesses an alert.
 */
export class BusView {
  readonly open = new Map<string, Alert>();
  readonly recent: AlertTransition[] = [];
  readonly naps = new Map<string, NapSession>();
  /** Alerts a transition has spoken for: from then on transitions, not retained states, are the truth. */
  readonly #followed = new Set<string>();
  readonly #seen = new Set<string>();
  refused = 0;

  constructor(
    private readonly keep: number,
    private readonly emit: (event: ViewEvent) => void,
  ) {}

  receive(topic: string, payload: Buffer): void {
    const where = parseTopic(topic);
    if (where?.kind === 'alert') this.#state(where.alertId, payload);
    else if (where?.kind === 'alert-transition') this.#transition(where.center, payload);
    else if (where?.kind === 'nap') this.#nap(where.center, where.room, payload);
    else this.refused++;
  }

  #json(payload: Buffer): unknown {
    try {
      return JSON.parse(payload.toString('utf8'));
    } catch {
      return undefined;
    }
  }

  /**
   * A retained state (or its clearing) fills in alerts raised before this front end subscribed. Across a
   * broker cluster it may arrive after a newer transition of the same alert, so it never overrides one.
   */
  #state(id: string, payload: Buffer): void {
    if (this.#followed.has(id)) return;
    if (payload.length === 0) {
      this.open.delete(id);
      return;
    }
    const alert = alertSchema.safeParse(this.#json(payload));
    if (!alert.success || alert.data.id !== id) {
      this.refused++;
      return;
    }
    this.open.set(id, alert.data);
  }

  #transition(center: string, payload: Buffer): void {
    const parsed = alertTransitionSchema.safeParse(this.#json(payload));
    if (!parsed.success || parsed.data.alert.center !== center) {
      this.refused++;
      return;
    }
    const t = parsed.data;
    // QoS 1 may deliver twice; a rules partition never reuses a seq.
    const key = `${center}:${t.seq}:${t.alert.id}:${t.kind}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#followed.add(t.alert.id);
    if (t.kind === 'resolved') this.open.delete(t.alert.id);
    else this.open.set(t.alert.id, t.alert);
    this.recent.push(t);
    if (this.recent.length > this.keep) {
      for (const old of this.recent.splice(0, this.recent.length - this.keep)) {
        this.#seen.delete(`${old.alert.center}:${old.seq}:${old.alert.id}:${old.kind}`);
        if (!this.open.has(old.alert.id)) this.#followed.delete(old.alert.id);
      }
    }
    this.emit({ type: 'transition', transition: t });
  }

  #nap(center: string, room: string, payload: Buffer): void {
    if (payload.length === 0) {
      this.naps.delete(room);
    } else {
      const nap = napSessionSchema.safeParse(this.#json(payload));
      if (!nap.success) {
        this.refused++;
        return;
      }
      this.naps.set(room, nap.data);
    }
    this.emit({ type: 'nap', center });
  }
}
