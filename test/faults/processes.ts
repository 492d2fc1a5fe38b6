import { type ChildProcess, spawn } from 'node:child_process';
import { type Socket, connect, createServer } from 'node:net';
import { freePort, waitFor } from '../../lib/net.ts';
import { reachable } from '../support/mosquitto.ts';

/** One JSON log line of a service. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/**
 * A `cradlewatch` command as its own process, as an operator runs it, so a fault can really kill it (or a
 * bug really end it) and its JSON log lines and exit code are what the test reads.
 */
export class Service {
  readonly lines: LogLine[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #stderr = '';

  constructor(args: string[]) {
    this.#child = spawn(process.execPath, ['bin/cradlewatch.mjs', ...args], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CW_LOG_LEVEL: 'info', CW_LOG_FORMAT: 'json' },
    });
    let partial = '';
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const whole = text.split('\n');
      partial = whole.pop()!;
      for (const line of whole) {
        if (line.startsWith('{')) this.lines.push(JSON.parse(line) as LogLine);
      }
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  /** Null while it runs. */
  get exitCode(): number | null {
    return this.#child.exitCode;
  }

  get stderr(): string {
    return this.#stderr;
  }

  async kill9(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGKILL');
    await this.#exited;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    await this.#exited;
  }
}

/**
 * `cradlewatch broker` on `port`, anonymous, with the test registry: its default persistence, or with
 * `redis` a node of a cluster sharing sessions there.
 */
export async function brokerProcess(port: number, fleetFile: string, redis?: string): Promise<Service> {
  const broker = new Service([
    'broker',
    ...['--port', String(port), '--fleet', fleetFile, '--allow-anonymous'],
    ...(redis ? ['--redis', redis] : []),
  ]);
  await waitFor(
    async () => {
      if (broker.exitCode !== null) throw new Error(`broker exited: ${broker.stderr}`);
      return reachable(port);
    },
    { what: `broker on ${port}`, timeoutMs: 30_000 },
  );
  return broker;
}

export interface MqttRelay {
  port: number;
  /** While true, SUBSCRIBE packets from clients are swallowed: the broker never sees them, so never answers. */
  holdSubscribes: boolean;
  /** SUBSCRIBE packets swallowed so far. */
  held: number;
  close(): Promise<void>;
}

/**
 * A loopback TCP relay in front of a broker that can swallow SUBSCRIBE packets, so "a subscription in flight
 * when the broker dies" is certain instead of a race. A client's connection ends with the broker's.
 */
export async function mqttRelay(targetPort: number): Promise<MqttRelay> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((inbound) => {
    track(inbound);
    const outbound = connect(targetPort, '127.0.0.1');
    track(outbound);
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
    let pending = Buffer.alloc(0);
    inbound.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const packet = nextPacket(pending);
        if (!packet) return;
        pending = pending.subarray(packet.length);
        // Packet type 8 is SUBSCRIBE.
        if (relay.holdSubscribes && packet[0]! >> 4 === 8) relay.held++;
        else outbound.write(packet);
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const relay: MqttRelay = {
    port,
    holdSubscribes: false,
    held: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return relay;
}

/** The first whole MQTT packet of `data` (fixed header byte, remaining length varint, body), if there is one. */
function nextPacket(data: Buffer): Buffer | undefined {
  let length = 0;
  let at = 1;
  for (let shift = 0; ; shift += 7) {
    const byte = data[at++];
    if (byte === undefined) return undefined;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  return data.length >= at + length ? data.subarray(0, at + length) : undefined;
}
