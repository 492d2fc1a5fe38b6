import type { MqttClient } from 'mqtt';
import { filters } from '../../protocol/topics.ts';
import type { Logger } from '../../lib/logger.ts';
import { connectSession } from '../../lib/mqtt-connect.ts';
import { Subscriptions } from '../../lib/mqtt-subscribe.ts';
import { type CheckOutcome, passing } from '../../lib/ops/index.ts';
import type { RulesServiceConfig } from '../config.ts';
import { turnBudget } from './turn-budget.ts';

/**
 * Telemetry read per event-loop turn before the priority socket gets its turn: what an alarm press can wait
 * in the rules behind a backlog (see turn-budget.ts).
 */
const TELEMETRY_MS_PER_TURN = 10;

/** Where a message goes once the service is ready for it; `arrivedAt` is the wall clock at its arrival. */
export type Receive = (topic: string, payload: Buffer, arrivedAt: number) => void;

/** Each session's filters for some centres (`+`: all of them). */
function subscriptions(centers: string[]) {
  return {
    telemetry: centers.flatMap((c) => [...filters.telemetry(c), filters.status(c)]),
    // A broker's hold is every partition's concern: it pauses whole-centre silence for all centres.
    priority: [
      filters.brokerHolds,
      ...centers.flatMap((c) => [
        filters.alarms(c),
        filters.nap(c),
        filters.alertAcks(c),
        filters.alertResolves(c),
      ]),
    ],
  };
}

/**
 * The rules' two persistent MQTT sessions: telemetry, and a priority lane for what people do (alarm presses,
 * naps, acknowledgements). On one connection a press waits behind every reading already queued for the rules
 * in the broker and the socket: seconds when the machine is saturated (bench latency at 17,000 readings/s).
 * Its own connection is read as soon as it has data, whatever the telemetry backlog.
 */
export class MqttSessions {
  /** Telemetry and device status; the alert channels and nap publishes go out on it too. */
  readonly telemetry: MqttClient;
  readonly priority: MqttClient;
  readonly #url: string;
  readonly #log: Logger;
  readonly #telemetrySubs: Subscriptions;
  readonly #prioritySubs: Subscriptions;
  // The broker sends a session's queued QoS 1 messages right after CONNACK: hold them until ready.
  #receive: Receive | undefined;
  readonly #early: [topic: string, payload: Buffer, arrivedAt: number][] = [];

  /** Both sessions connected; a broker that cannot be reached ends both and rejects. */
  static async open(config: RulesServiceConfig['mqtt'], log: Logger): Promise<MqttSessions> {
    const sessions = new MqttSessions(config, log);
    const clients = [sessions.telemetry, sessions.priority];
    try {
      await Promise.all(
        clients.map(
          (c) =>
            new Promise<void>((resolve, reject) => {
              c.once('connect', () => resolve());
              c.once('error', (error) => {
                if (!c.connected) reject(new Error(`cannot connect to MQTT ${config.url}: ${error.message}`));
              });
            }),
        ),
      );
    } catch (error) {
      for (const c of clients) c.end(true);
      throw error;
    }
    return sessions;
  }

  private constructor(config: RulesServiceConfig['mqtt'], log: Logger) {
    this.#url = config.url;
    this.#log = log;
    const session = (clientId: string, bulk: boolean): MqttClient => {
      const c = connectSession({ ...config, clientId });
      if (bulk) c.handleMessage = turnBudget(TELEMETRY_MS_PER_TURN);
      c.on('message', (topic, payload) => {
        if (this.#receive) this.#receive(topic, payload, Date.now());
        else this.#early.push([topic, payload, Date.now()]);
      });
      c.on('error', (error) => log.warn({ err: error, clientId }, 'mqtt error'));
      return c;
    };
    this.telemetry = session(config.clientId, true);
    this.priority = session(`${config.clientId}-priority`, false);
    this.#telemetrySubs = new Subscriptions(this.telemetry, log);
    this.#prioritySubs = new Subscriptions(this.priority, log);
  }

  /**
   * Hands every message to `receive`, those held since CONNACK first, and subscribes both sessions to the
   * filters of `centers()`; resolves once they are subscribed.
   */
  async listen(receive: Receive, centers: () => string[]): Promise<void> {
    this.#receive = receive;
    for (const [topic, payload, arrivedAt] of this.#early.splice(0)) receive(topic, payload, arrivedAt);
    const subscribeAll = () =>
      this.subscribe(centers()).catch((error: unknown) =>
        this.#log.warn({ err: error }, 'subscribe failed; repeated on the next connection'),
      );
    // A SUBSCRIBE cut off by a connection reset (seen on a broker cluster right after a restart), or a
    // session the broker lost, is made whole on every reconnect; subscribing again is harmless.
    for (const c of [this.telemetry, this.priority]) c.on('connect', () => void subscribeAll());
    await subscribeAll();
  }

  /** Resolves once both sessions are subscribed; through broker losses, however long that takes. */
  async subscribe(centers: string[]): Promise<void> {
    const wanted = subscriptions(centers);
    await Promise.all([this.#telemetrySubs.add(wanted.telemetry), this.#prioritySubs.add(wanted.priority)]);
  }

  /** The `/healthz` check `mqtt`: both sessions connected and subscribed. */
  health(): CheckOutcome {
    for (const [session, subs] of [
      ['telemetry', this.#telemetrySubs],
      ['priority', this.#prioritySubs],
    ] as const) {
      const outcome = subs.health(this.#url);
      if (!outcome.ok) return { ok: false, reason: `${outcome.reason} (${session} session)` };
    }
    return passing;
  }

  async end(force = false): Promise<void> {
    await Promise.all([this.telemetry.endAsync(force), this.priority.endAsync(force)]);
  }
}
