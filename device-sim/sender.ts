import { setImmediate as yieldToIo } from 'node:timers/promises';
import type { Logger } from '../lib/logger.ts';
import { brokerUrls } from '../lib/mqtt-connect.ts';
import { LeanClient } from './lean-client.ts';
import { NAP_CLIENT } from './model/plan.ts';
import type { SimRecord } from './recording.ts';

export interface Account {
  username: string;
  password: string;
}

export interface SenderOptions {
  /**
   * The broker, or a cluster's brokers comma-separated: each new connection goes to the next one, as a TCP
   * balancer in front of them would spread them (the compose cluster's HAProxy, leastconn: the same counts
   * while connections only open).
   */
  url: string;
  /** Device id → password; null connects anonymously (a private mosquitto in tests). */
  credentials: Record<string, string> | null;
  /** The account nap messages go out under (a caregiver or supervisor service account on our broker). */
  napAccount: Account | null;
  /** Simulated milliseconds per wall millisecond; `max` sends as fast as acknowledgements allow. */
  speed: number | 'max';
  /** Publishes waiting for their acknowledgement (or socket write, for QoS 0) before the stream pauses. */
  window: number;
  /** New connections per wall second, whatever the speed, so a big fleet never storms the broker by accident. */
  connectRate: number;
  logger: Logger;
}

export interface SenderStats {
  connected: number;
  published: number;
  acked: number;
  readingsSent: number;
  readingsAcked: number;
  inflight: number;
  errors: number;
  refusedConnects: number;
  /** Simulated time of the last record sent. */
  simTime: number;
}

/** The counters of a run that has sent nothing yet (a dry run never starts a Sender). */
export function noSenderStats(simTime = 0): SenderStats {
  return {
    connected: 0,
    published: 0,
    acked: 0,
    readingsSent: 0,
    readingsAcked: 0,
    inflight: 0,
    errors: 0,
    refusedConnects: 0,
    simTime,
  };
}

interface Conn {
  client: LeanClient;
  inflight: number;
  idle: (() => void)[];
  closed: Promise<void>;
}

/** Turns a record stream into MQTT traffic at the record's simulated pace. */
export class Sender {
  readonly stats: SenderStats = noSenderStats();
  readonly #conns = new Map<string, Conn>();
  readonly #closing = new Map<string, Promise<void>>();
  readonly #windowWaiters: (() => void)[] = [];
  /** Wrong-password attempts still waiting for the broker's answer. */
  readonly #probes = new Map<LeanClient, Promise<void>>();
  readonly #brokers: { host: string; port: number }[];
  #nextBroker = 0;
  #stopped = false;
  #tokens: number;
  #tokensAt = performance.now();
  #lastError = '';

  constructor(private readonly options: SenderOptions) {
    this.#tokens = Math.min(options.connectRate, 50);
    this.#brokers = brokerUrls(options.url).map((u) => {
      const url = new URL(u);
      if (url.protocol !== 'mqtt:' && url.protocol !== 'tcp:') {
        throw new RangeError(`the simulator speaks plain MQTT over TCP: expected mqtt://host:port, got ${u}`);
      }
      return { host: url.hostname, port: url.port ? Number(url.port) : 1883 };
    });
    if (this.#brokers.length === 0) throw new RangeError('the simulator needs a broker URL');
  }

  /** Where the next connection goes: the brokers in turn. */
  #broker(): { host: string; port: number } {
    const broker = this.#brokers[this.#nextBroker % this.#brokers.length]!;
    this.#nextBroker += 1;
    return broker;
  }

  stop(): void {
    this.#stopped = true;
    for (const resolve of this.#windowWaiters.splice(0)) resolve();
  }

  get lastError(): string {
    return this.#lastError;
  }

  async send(
    records: Iterable<SimRecord> | AsyncIterable<SimRecord>,
    onRecord?: (r: SimRecord) => Promise<void> | void,
  ) {
    const { speed } = this.options;
    let t0: number | undefined;
    const wall0 = performance.now();
    let sinceYield = 0;
    for await (const record of records) {
      if (this.#stopped) break;
      t0 ??= record.t;
      if (speed !== 'max') {
        const due = wall0 + (record.t - t0) / speed - performance.now();
        if (due > 1) await new Promise((r) => setTimeout(r, due));
      } else if (++sinceYield >= 200) {
        // At full speed the loop must still let sockets read acknowledgements.
        sinceYield = 0;
        await yieldToIo();
      }
      if (this.#stopped) break;
      await onRecord?.(record);
      this.stats.simTime = record.t;
      await this.#apply(record);
    }
  }

  async #apply(record: SimRecord): Promise<void> {
    switch (record.op) {
      case 'connect':
        await this.#throttleConnect();
        if (record.badPassword) this.#probeWrongPassword(record.client);
        else await this.#connect(record);
        return;
      case 'publish':
        while (this.stats.inflight >= this.options.window && !this.#stopped) {
          await new Promise<void>((r) => this.#windowWaiters.push(r));
        }
        if (!this.#stopped) this.#publish(record);
        return;
      case 'drop':
      case 'disconnect':
        this.#close(record.client, record.op === 'drop');
        return;
    }
  }

  async #throttleConnect(): Promise<void> {
    const rate = this.options.connectRate;
    for (;;) {
      const now = performance.now();
      this.#tokens = Math.min(rate, this.#tokens + ((now - this.#tokensAt) * rate) / 1000);
      this.#tokensAt = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.#tokens) * 1000) / rate)));
    }
  }

  #account(client: string): Account | null {
    if (client === NAP_CLIENT) return this.options.napAccount;
    const password = this.options.credentials?.[client];
    if (this.options.credentials && password === undefined) {
      throw new Error(`no password for ${client} in the credentials file`);
    }
    return password === undefined ? null : { username: client, password };
  }

  async #connect(record: SimRecord): Promise<void> {
    // A reconnect waits for the old socket to close, so its last will cannot land after the new birth message.
    await this.#closing.get(record.client);
    const account = this.#account(record.client);
    const clientId = record.client === NAP_CLIENT ? (account?.username ?? 'device-sim-nap') : record.client;
    const client = new LeanClient({
      ...this.#broker(),
      clientId,
      ...(account ? { username: account.username, password: account.password } : {}),
      ...(record.will ? { will: record.will } : {}),
      keepaliveSeconds: 60,
      reconnectMs: 1000,
    });
    client.onConnect = () => this.stats.connected++;
    client.onClose = () => this.stats.connected--;
    client.onError = (error) => this.#error(`${record.client}: ${error.message}`);
    this.#conns.set(record.client, { client, inflight: 0, idle: [], closed: Promise.resolve() });
  }

  #probeWrongPassword(device: string): void {
    const client = new LeanClient({
      ...this.#broker(),
      clientId: `${device}-badpw`,
      username: device,
      password: 'not-the-password',
      keepaliveSeconds: 60,
      reconnectMs: 0,
    });
    const answered = new Promise<void>((resolve) => {
      const finish = (refused: boolean) => {
        if (refused) this.stats.refusedConnects++;
        else this.#error(`${device}: a wrong password was accepted`);
        client.onConnect = () => {};
        client.onError = () => {};
        this.#probes.delete(client);
        void client.end(true).then(resolve);
      };
      client.onConnect = () => finish(false);
      client.onError = () => finish(true);
    });
    this.#probes.set(client, answered);
  }

  #publish(record: SimRecord): void {
    const conn = this.#conns.get(record.client);
    if (!conn) {
      this.#error(`${record.client} publishes without a connection (record at t=${record.t})`);
      return;
    }
    const readings = record.readings ?? 0;
    conn.inflight++;
    this.stats.inflight++;
    this.stats.published++;
    this.stats.readingsSent += readings;
    let settled = false;
    const qos = record.qos === 0 ? 0 : 1;
    conn.client.publish(record.topic ?? '', record.payload ?? '', qos, record.retain ?? false, (error) => {
      if (settled) return;
      settled = true;
      if (error) this.#error(`publish ${record.topic}: ${error.message}`);
      else {
        this.stats.acked++;
        this.stats.readingsAcked += readings;
      }
      this.#settle(conn);
    });
  }

  #settle(conn: Conn): void {
    conn.inflight--;
    this.stats.inflight--;
    if (conn.inflight === 0) for (const resolve of conn.idle.splice(0)) resolve();
    if (this.stats.inflight < this.options.window)
      for (const resolve of this.#windowWaiters.splice(0)) resolve();
  }

  #whenIdle(conn: Conn, timeoutMs: number): Promise<void> {
    if (conn.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      conn.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** A drop closes the socket without DISCONNECT (the broker then publishes the will); what was sent before it is delivered first. */
  #close(client: string, abrupt: boolean): void {
    const conn = this.#conns.get(client);
    if (!conn) return;
    this.#conns.delete(client);
    const closing = this.#whenIdle(conn, 10_000).then(() => conn.client.end(abrupt));
    this.#closing.set(client, closing);
    void closing.then(() => {
      if (this.#closing.get(client) === closing) this.#closing.delete(client);
    });
  }

  #error(message: string): void {
    this.stats.errors++;
    if (this.stats.errors <= 10 || this.stats.errors % 1000 === 0) {
      this.options.logger.warn({ errors: this.stats.errors }, message);
    }
    this.#lastError = message;
  }

  /** Waits for every acknowledgement (bounded), then says goodbye on every connection. */
  async close(drainMs = 30_000): Promise<void> {
    const deadline = Date.now() + drainMs;
    while (this.stats.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const ends = [...this.#conns.values()].map((conn) => conn.client.end(this.stats.inflight > 0));
    const answers = Promise.all(this.#probes.values());
    await Promise.race([answers, new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const probe of this.#probes.keys()) void probe.end(true);
    this.#conns.clear();
    await Promise.all([...ends, ...this.#closing.values()]);
  }
}
