import type { IPublishPacket, MqttClient, Packet } from 'mqtt';
import type { Logger } from '../lib/logger.ts';
import { Backoff } from '../lib/backoff.ts';
import { connectSession } from '../lib/mqtt-connect.ts';
import { Subscriptions } from '../lib/mqtt-subscribe.ts';

/** One received QoS 1 message whose PUBACK waits until its batch is durable. */
export interface AckToken {
  release(): void;
}

const NO_ACK: AckToken = { release() {} };

type SendPacket = (packet: Packet, cb?: (error?: Error) => void, ...rest: unknown[]) => void;

interface Held {
  generation: number;
  released: boolean;
  send?: () => void;
}

/**
 * mqtt.js handles incoming packets one at a time and writes a QoS 1 PUBACK when `handleMessage` calls back,
 * so holding that callback until a batch is durable would take one message per flush. Instead
 * `handleMessage` calls back at once and the outgoing `puback` is caught in `_sendPacket` (the single
 * path every packet leaves by) and held until its batch is written or spooled.
 *
 * Held acks belong to one connection: after a disconnect the broker redelivers those messages itself, so
 * stale acks are dropped. A PUBACK must never leave while disconnected either: mqtt.js would queue it and
 * send it on the next connection, where its packet id names another message, which the broker would then
 * forget before ingest stored it. And one packet id may be held twice at once (the broker reuses ids once
 * 65,535 messages are in flight, or replays a session with its old ids): each message keeps its own entry,
 * so one's release never sends or drops the other's PUBACK.
 */
export class AckGate {
  #generation = 0;
  #client: MqttClient | undefined;
  /** Per packet id, the messages holding it, oldest first: mqtt.js sends PUBACKs in arrival order. */
  readonly #held = new Map<number, Held[]>();
  #count = 0;

  install(client: MqttClient): void {
    this.#client = client;
    const target = client as unknown as { _sendPacket: SendPacket };
    const send = target._sendPacket.bind(client);
    target._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd !== 'puback') return send(packet, cb, ...rest);
      const messageId = (packet as { messageId: number }).messageId;
      const held = this.#held.get(messageId)?.find((h) => !h.send);
      if (!held) {
        if (client.connected) send(packet, cb, ...rest);
        else cb?.();
        return;
      }
      held.send = () => send(packet);
      if (held.released) this.#send(messageId, held);
      cb?.();
    };
  }

  hold(messageId: number): AckToken {
    const held: Held = { generation: this.#generation, released: false };
    const list = this.#held.get(messageId);
    if (list) list.push(held);
    else this.#held.set(messageId, [held]);
    this.#count++;
    return {
      release: () => {
        if (held.generation !== this.#generation || held.released) return;
        held.released = true;
        if (held.send) this.#send(messageId, held);
      },
    };
  }

  #send(messageId: number, held: Held): void {
    const list = this.#held.get(messageId);
    const at = list?.indexOf(held) ?? -1;
    if (at < 0) return;
    list!.splice(at, 1);
    if (list!.length === 0) this.#held.delete(messageId);
    this.#count--;
    if (this.#client?.connected) held.send!();
  }

  get pending(): number {
    return this.#count;
  }

  disconnected(): void {
    this.#generation++;
    this.#held.clear();
    this.#count = 0;
  }
}

export interface IngestMqttOptions {
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  keepaliveS: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  subscriptions: string[];
  /**
   * One message in. Call `next` when ingest may take the next packet: at once normally, later under
   * back-pressure, which stops mqtt.js reading the socket and so pushes back on the broker.
   */
  onMessage(topic: string, payload: Buffer, ack: AckToken, next: () => void): void;
  /** Each CONNACK: a count that climbs without end is a reconnect loop. */
  onConnect?: () => void;
  /** Largest payload ingest publishes; the broker closes a connection that sends a packet past its limit. */
  maxPublishBytes: number;
}

export interface IngestMqtt {
  client: MqttClient;
  /** Starts with `options.subscriptions`; subscribes again on every connection. */
  subscriptions: Subscriptions;
  readonly pendingAcks: number;
  publish(topic: string, payload: string): void;
  /** Takes no more messages; those already taken keep their PUBACKs until released. */
  stopTaking(): void;
  close(): Promise<void>;
}

/**
 * A persistent-session (clean=false, fixed client id) MQTT 3.1.1 client with QoS 1 subscriptions and
 * deferred PUBACKs. mqtt.js reconnects on a fixed period; this one reconnects with jittered exponential
 * backoff so a fleet of ingest processes does not stampede a restarted broker.
 */
export function connectIngestMqtt(options: IngestMqttOptions, log: Logger): IngestMqtt {
  const gate = new AckGate();
  const backoff = new Backoff(options.reconnectMinMs, options.reconnectMaxMs);
  let closing = false;
  let timer: NodeJS.Timeout | undefined;
  const client = connectSession(options, { reconnectPeriod: 0, connectTimeout: 10_000 });
  gate.install(client);
  let refusing = false;
  /** The callback of the message ingest took last, until ingest lets mqtt.js hand over the next one. */
  let waiting: (() => void) | undefined;
  client.handleMessage = (packet: Packet, callback: (error?: Error) => void) => {
    const publish = packet as IPublishPacket;
    const ack = publish.qos === 1 && publish.messageId !== undefined ? gate.hold(publish.messageId) : NO_ACK;
    // Held and never released: the broker delivers it again on the next session.
    if (refusing) return callback();
    const payload =
      typeof publish.payload === 'string' ? Buffer.from(publish.payload) : Buffer.from(publish.payload);
    let called = false;
    const next = () => {
      if (called) return;
      called = true;
      if (waiting === next) waiting = undefined;
      callback();
    };
    waiting = next;
    options.onMessage(publish.topic, payload, ack, next);
  };
  /**
   * Stops handing messages to ingest. mqtt.js keeps reading the socket, refusing what comes: a disconnect
   * waits for the broker's end of the connection, which a socket nobody reads never delivers (a close
   * under back-pressure hung there for good).
   */
  const stopTaking = () => {
    refusing = true;
    waiting?.();
  };
  client.on('connect', (connack) => {
    backoff.reset();
    options.onConnect?.();
    log.info(
      { url: options.url, clientId: options.clientId, sessionPresent: connack.sessionPresent },
      'connected to broker',
    );
  });
  // Subscribes again on every connection: harmless on a present session, and covers a broker that lost its state.
  const subscriptions = new Subscriptions(client, log);
  void subscriptions.add(options.subscriptions);
  client.on('close', () => {
    gate.disconnected();
    if (closing || timer) return;
    const delay = backoff.next();
    log.warn({ delayMs: delay, attempt: backoff.attempt }, 'broker connection lost; reconnecting');
    timer = setTimeout(() => {
      timer = undefined;
      if (!closing) client.reconnect();
    }, delay);
  });
  client.on('error', (error) => log.warn({ err: error }, 'mqtt error'));
  return {
    client,
    subscriptions,
    get pendingAcks() {
      return gate.pending;
    },
    publish(topic, payload) {
      // Our own output must never cost the session: every message held for its PUBACK would be
      // delivered again, and the one that made this record with it.
      if (Buffer.byteLength(payload) > options.maxPublishBytes) {
        log.error({ topic, bytes: Buffer.byteLength(payload) }, 'not publishing an oversized message');
        return;
      }
      if (client.connected) client.publish(topic, payload, { qos: 0 });
    },
    stopTaking,
    async close() {
      stopTaking();
      closing = true;
      clearTimeout(timer);
      await client.endAsync();
    },
  };
}
