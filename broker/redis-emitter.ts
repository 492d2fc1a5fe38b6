import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { RedisOptions } from 'ioredis';
import type { Logger } from '../lib/logger.ts';
import { QUIT_GRACE_MS, quitWithin, type RedisConnection } from './redis-quit.ts';

const require = createRequire(import.meta.url);

type Done = (error?: Error) => void;
type Message = Record<string, unknown> & { topic: string };

/** What the broker uses of mqemitter-redis, and the internals a close of its own needs. */
interface MQEmitterRedis {
  closed: boolean;
  closing?: boolean;
  state: EventEmitter;
  subConn: RedisConnection;
  pubConn: RedisConnection;
  on(topic: string, listener: (message: Message, done: () => void) => void, subscribed?: () => void): this;
  emit(message: Message, done?: Done): void;
  close(callback: () => void): void;
  _onError: Done;
  /** mqemitter's own close, once both connections have ended. */
  _close(callback: () => void): void;
}

const MQEmitterRedisBase = require('mqemitter-redis') as new (options: RedisOptions) => MQEmitterRedis;

/** ioredis' rejection of a command whose connection closed before its answer. */
const CONNECTION_CLOSED = 'Connection is closed.';

/**
 * mqemitter-redis, closed without writing after QUIT. The package's close sends QUIT on both connections at
 * once, but its publishes are pipelined on the next turn of the event loop and it takes new ones until it
 * has closed: Aedes' close publishes each client's `$SYS/…/disconnect/clients` (and the broker a device's
 * offline status) while the emitter is quitting, so PUBLISHes followed QUIT. Redis executes nothing after
 * QUIT; it answers and closes, and a PUBLISH written after that close fails the socket (EPIPE) before
 * QUIT's answer is read. ioredis then rejects QUIT itself with "Connection is closed.", which the package
 * never handles: an unhandled rejection (two loaded CI runs; broker/redis-emitter.test.ts does it every
 * time). Here the close refuses new publishes, waits for those under way, and only then sends QUIT, whose
 * failure is logged. A connection already ended (cut while reconnecting) is not waited on: its 'end' has
 * passed, and the package's close then hung.
 */
export class RedisEmitter extends MQEmitterRedisBase {
  #sending = 0;
  /** The close's QUIT, once the last publish under way has its answer. */
  #sent: (() => void) | undefined;

  constructor(
    options: RedisOptions,
    private readonly log: Logger,
  ) {
    super(options);
  }

  override emit(message: Message, done: Done = this._onError): void {
    // What Redis would have dropped after QUIT, refused as the package refuses a publish once closed.
    if (this.closing) {
      done(new Error('mqemitter-redis is closing'));
      return;
    }
    this.#sending += 1;
    super.emit(message, (error) => {
      this.#sending -= 1;
      if (this.#sending === 0) this.#sent?.();
      done(error);
    });
  }

  override close(callback: () => void): void {
    if (this.closed || this.closing) {
      callback();
      return;
    }
    this.closing = true;
    // Called by the last publish's answer or by the grace's timer, whichever comes first: each unsets the other.
    const quit = () => {
      this.#sent = undefined;
      clearTimeout(waited);
      const ended = [this.#quit(this.subConn, 'sub'), this.#quit(this.pubConn, 'pub')];
      void Promise.all(ended).then(() => this._close(callback));
    };
    // A publish under way while Redis is gone is answered only if it comes back: wait for it a grace, no more.
    const waited = this.#sending === 0 ? undefined : setTimeout(quit, QUIT_GRACE_MS);
    if (waited) this.#sent = quit;
    else quit();
  }

  #quit(connection: RedisConnection, name: string): Promise<void> {
    return quitWithin(
      connection,
      (error) => {
        // Closed before the server's answer: ended all the same, which is what QUIT was for.
        if (error.message === CONNECTION_CLOSED)
          this.log.debug({ connection: name }, 'Redis closed before QUIT');
        else this.log.warn({ connection: name, err: error.message }, 'Redis pub/sub QUIT failed');
      },
      () =>
        this.log.warn(
          { connection: name, status: connection.status },
          'Redis pub/sub connection cut on close',
        ),
    );
  }
}
