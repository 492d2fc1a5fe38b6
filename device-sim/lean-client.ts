import { connect as tcpConnect, type Socket } from 'node:net';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';

export interface LeanClientOptions {
  host: string;
  port: number;
  clientId: string;
  username?: string;
  password?: string;
  will?: { topic: string; payload: string; qos: 0 | 1 | 2; retain: boolean };
  keepaliveSeconds: number;
  /** Wait before reconnecting after the broker or the network closed the socket; 0 never reconnects. */
  reconnectMs: number;
}

export type PublishCallback = (error?: Error) => void;

interface Pending {
  packet: Packet;
  cb: PublishCallback;
}

const CONNACK_CODES: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad username or password',
  5: 'not authorized',
};

/**
 * The least an MQTT 3.1.1 device needs: CONNECT with a will, QoS 0/1 PUBLISH, PINGREQ, DISCONNECT. One
 * socket and one parser per connection; mqtt.js costs ~80 KB a client, which 10,000 devices in one
 * process cannot afford. Unacknowledged QoS 1 publishes are sent again (DUP) after a reconnect.
 */
export class LeanClient {
  connected = false;
  onConnect: () => void = () => {};
  onClose: () => void = () => {};
  onError: (error: Error) => void = () => {};
  #socket: Socket | null = null;
  #nextId = 1;
  readonly #awaitingAck = new Map<number, Pending>();
  /** Publishes made before CONNACK, sent once the session is up. */
  #queue: Pending[] = [];
  #ending = false;
  #ping: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(readonly options: LeanClientOptions) {
    this.#open();
  }

  #open(): void {
    const socket = tcpConnect({ host: this.options.host, port: this.options.port });
    socket.setNoDelay(true);
    this.#socket = socket;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet: Packet) => this.#onPacket(packet));
    parser.on('error', (error: Error) => {
      this.onError(error);
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', (error) => this.onError(error));
    socket.on('close', () => this.#onSocketClose(socket));
    const { clientId, username, password, will, keepaliveSeconds } = this.options;
    const connect: IConnectPacket = {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId,
      keepalive: keepaliveSeconds,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password: Buffer.from(password) } : {}),
      ...(will ? { will: { ...will, payload: Buffer.from(will.payload) } } : {}),
    };
    socket.write(mqttPacket.generate(connect));
  }

  #onPacket(packet: Packet): void {
    switch (packet.cmd) {
      case 'connack': {
        if (packet.returnCode !== 0) {
          const code = packet.returnCode ?? -1;
          this.onError(new Error(`connection refused: ${CONNACK_CODES[code] ?? `code ${code}`}`));
          this.#socket?.destroy();
          return;
        }
        this.connected = true;
        this.#ping = setInterval(
          () => this.#write({ cmd: 'pingreq' }),
          (this.options.keepaliveSeconds * 1000) / 2,
        );
        this.#ping.unref();
        // Unacknowledged messages of the last connection go first, marked as possible duplicates.
        for (const pending of this.#awaitingAck.values())
          this.#write({ ...pending.packet, dup: true } as Packet);
        const queued = this.#queue;
        this.#queue = [];
        for (const pending of queued) this.#send(pending);
        this.onConnect();
        return;
      }
      case 'puback': {
        const pending = this.#awaitingAck.get(packet.messageId ?? -1);
        if (!pending) return;
        this.#awaitingAck.delete(packet.messageId!);
        pending.cb();
        return;
      }
      default:
        return;
    }
  }

  #onSocketClose(socket: Socket): void {
    if (socket !== this.#socket) return;
    clearInterval(this.#ping);
    const was = this.connected;
    this.connected = false;
    if (was) this.onClose();
    if (this.#ending || this.options.reconnectMs === 0) {
      this.#failAll(new Error('connection closed'));
      return;
    }
    this.#retry = setTimeout(() => this.#open(), this.options.reconnectMs);
  }

  #failAll(error: Error): void {
    const pending = [...this.#awaitingAck.values(), ...this.#queue];
    this.#awaitingAck.clear();
    this.#queue = [];
    for (const p of pending) p.cb(error);
  }

  #write(packet: Packet, cb?: () => void): void {
    const socket = this.#socket;
    if (!socket || socket.destroyed) return;
    socket.write(mqttPacket.generate(packet), cb);
  }

  #send(pending: Pending): void {
    const packet = pending.packet;
    if (packet.cmd === 'publish' && packet.qos === 1) {
      this.#awaitingAck.set(packet.messageId!, pending);
      this.#write(packet);
    } else {
      this.#write(packet, () => pending.cb());
    }
  }

  publish(topic: string, payload: string, qos: 0 | 1, retain: boolean, cb: PublishCallback): void {
    if (this.#ending) {
      cb(new Error('client is closing'));
      return;
    }
    let messageId: number | undefined;
    if (qos === 1) {
      messageId = this.#nextId;
      this.#nextId = this.#nextId === 65_535 ? 1 : this.#nextId + 1;
    }
    const packet: Packet = {
      cmd: 'publish',
      topic,
      payload: Buffer.from(payload),
      qos,
      retain,
      dup: false,
      ...(messageId ? { messageId } : {}),
    };
    const pending = { packet, cb };
    if (this.connected) this.#send(pending);
    else this.#queue.push(pending);
  }

  /** `abrupt` drops the socket without DISCONNECT, so the broker publishes the will. */
  end(abrupt: boolean): Promise<void> {
    this.#ending = true;
    clearTimeout(this.#retry);
    clearInterval(this.#ping);
    const socket = this.#socket;
    if (!socket || socket.destroyed) {
      this.#failAll(new Error('connection closed'));
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      if (abrupt || !this.connected) socket.destroy();
      else socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
    });
  }
}
