import { Duplex } from 'node:stream';

/**
 * Reads only MQTT fixed headers (type byte + variable-length "remaining length") of a byte stream, so a
 * packet whose declared size passes the limit is refused before its body is buffered: mqtt-packet would
 * otherwise accept up to 256 MB per packet.
 */
export class PacketSizeScanner {
  /** Bytes of the current packet's body still to come; -1 while reading a fixed header. */
  #remaining = -1;
  #header: number[] = [];

  constructor(
    private readonly maxPacketBytes: number,
    /** Called with each packet's first byte (type and flags) once its header is read. */
    private readonly onPacket?: (firstByte: number) => void,
  ) {}

  /** Returns the declared size of the first packet in `chunk` that is too large, or 0. */
  scan(chunk: Buffer): number {
    let i = 0;
    while (i < chunk.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, chunk.length - i);
        this.#remaining -= take;
        i += take;
        if (this.#remaining === 0) this.#remaining = -1;
        continue;
      }
      this.#header.push(chunk[i]!);
      i += 1;
      if (this.#header.length === 1) continue;
      if (this.#header.at(-1)! & 0x80) {
        // The spec allows four length bytes; a fifth is malformed, refused like an oversized packet.
        if (this.#header.length > 4) return Number.MAX_SAFE_INTEGER;
        continue;
      }
      let length = 0;
      for (let b = this.#header.length - 1; b >= 1; b -= 1) length = length * 128 + (this.#header[b]! & 0x7f);
      const total = length + this.#header.length;
      this.onPacket?.(this.#header[0]!);
      this.#header = [];
      if (total > this.maxPacketBytes) return total;
      this.#remaining = length === 0 ? -1 : length;
    }
    return 0;
  }
}

/**
 * The stream Aedes reads a client from: the socket's bytes after the size check, with a `hold` switch
 * the overload guard uses to stop reading from a telemetry publisher (TCP then pushes back on the device).
 */
export class GuardedConnection extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  #held = false;
  #wantsData = true;
  readonly #scanner: PacketSizeScanner;
  readonly #outScanner: PacketSizeScanner | undefined;

  constructor(
    readonly socket: Duplex & { remoteAddress?: string; remotePort?: number },
    maxPacketBytes: number,
    onTooLarge: (declared: number) => void,
    /** Each PUBLISH written to the client, by QoS: the broker's "messages out", whatever path sent it. */
    onPublishOut?: (qos: number) => void,
  ) {
    super();
    if (onPublishOut) {
      this.#outScanner = new PacketSizeScanner(Number.MAX_SAFE_INTEGER, (first) => {
        if (first >> 4 === 3) onPublishOut((first >> 1) & 3);
      });
    }
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.#scanner = new PacketSizeScanner(maxPacketBytes);
    socket.on('data', (chunk: Buffer) => {
      const tooLarge = this.#scanner.scan(chunk);
      if (tooLarge > 0) {
        onTooLarge(tooLarge);
        this.destroy();
        return;
      }
      this.#wantsData = this.push(chunk);
      this.#flow();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  get held(): boolean {
    return this.#held;
  }

  hold(held: boolean): void {
    this.#held = held;
    this.#flow();
  }

  #flow(): void {
    if (this.#held || !this.#wantsData) this.socket.pause();
    else this.socket.resume();
  }

  override _read(): void {
    this.#wantsData = true;
    this.#flow();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#outScanner?.scan(chunk);
    this.socket.write(chunk, encoding, callback);
  }

  /**
   * What Aedes corked (a PUBLISH and the PUBACK beside it, a burst of deliveries) reaches the socket corked
   * too, as one writev: chunk by chunk, each was a syscall of its own, and the broker ran at half the bare
   * Aedes rate (bench/broker-pubsub.ts).
   */
  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    this.socket.cork();
    chunks.forEach(({ chunk, encoding }, i) => {
      this.#outScanner?.scan(chunk);
      // Writes complete in order, so the last one's callback stands for all of them.
      if (i === chunks.length - 1) this.socket.write(chunk, encoding, callback);
      else this.socket.write(chunk, encoding);
    });
    this.socket.uncork();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }

  /** Bytes waiting to go out to this client: the overload guard's measure of backlog. */
  get backlogBytes(): number {
    // Our own write buffer and the socket's: _write passes one chunk at a time down.
    return this.writableLength + this.socket.writableLength;
  }
}

/** A token bucket: `take()` is false once a client publishes faster than `rate`/s beyond `burst`. */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.#tokens = burst;
    this.#last = now;
  }

  take(now = Date.now()): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
