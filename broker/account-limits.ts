import type { Principal } from './acl.ts';
import { TokenBucket } from './packet-guard.ts';

/** The account a limit counts against: a device id or a username. */
export function accountOf(principal: Principal): string {
  if (principal.type === 'device') return principal.id;
  return principal.type === 'service' ? principal.username : 'anonymous';
}

/**
 * Connections per account: how many are open and how fast new ones come. An account is a device id or a
 * username, so one account's reconnect storm is refused without touching any other account.
 */
export class AccountConnections<C> {
  readonly #open = new Map<string, Set<C>>();
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly maxPerAccount: number,
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {}

  /**
   * Why `account` may not open another connection now, or null (and then it is counted as open until
   * `closed`). `replaces` is the connection a takeover of the same client id will close: it does not count.
   */
  admit(
    account: string,
    connection: C,
    replaces: C | undefined,
    now = Date.now(),
  ): 'connections' | 'rate' | null {
    const open = this.#open.get(account) ?? new Set<C>();
    const others = open.size - (replaces !== undefined && open.has(replaces) ? 1 : 0);
    if (others >= this.maxPerAccount) return 'connections';
    let bucket = this.#buckets.get(account);
    if (!bucket) {
      bucket = new TokenBucket(this.ratePerSecond, this.burst, now);
      this.#buckets.set(account, bucket);
    }
    if (!bucket.take(now)) return 'rate';
    open.add(connection);
    this.#open.set(account, open);
    return null;
  }

  closed(account: string, connection: C): void {
    const open = this.#open.get(account);
    if (!open) return;
    open.delete(connection);
    if (open.size === 0) this.#open.delete(account);
  }
}

/**
 * Password checks in flight per address. scrypt runs on libuv's four threads: 200 parallel wrong passwords
 * from one address queued every other login behind them (4.7 s). Past `concurrent` checks an address waits
 * its turn (its own logins only), and past `queued` waiting it is refused outright.
 */
export class AddressGate {
  readonly #busy = new Map<string, { running: number; waiting: (() => void)[] }>();

  constructor(
    private readonly concurrent: number,
    private readonly queued: number,
  ) {}

  /** Resolves with a release function once `address` may run a check; null when its queue is full. */
  async enter(address: string): Promise<(() => void) | null> {
    let entry = this.#busy.get(address);
    if (!entry) {
      entry = { running: 0, waiting: [] };
      this.#busy.set(address, entry);
    }
    const slot = entry;
    if (slot.running >= this.concurrent) {
      if (slot.waiting.length >= this.queued) return null;
      await new Promise<void>((resolve) => slot.waiting.push(resolve));
    } else slot.running += 1;
    return () => {
      const next = slot.waiting.shift();
      if (next) next();
      else {
        slot.running -= 1;
        if (slot.running === 0) this.#busy.delete(address);
      }
    };
  }
}

/**
 * QoS 2 messages an account's sessions hold between PUBLISH and PUBREL, across its client ids and their
 * reconnects (a persistent session keeps them): Aedes bounds them per connection only, so 40 sessions of one
 * account withholding PUBREL grew the broker by 86 MB and more.
 */
export class Qos2Budget {
  /** Per client id: messages stored awaiting PUBREL, and those admitted but not stored yet. */
  readonly #byClient = new Map<string, { account: string; held: Set<number>; pending: Set<number> }>();
  readonly #byAccount = new Map<string, number>();
  #total = 0;

  constructor(
    private readonly maxPerAccount: number,
    private readonly onTotal: (total: number) => void = () => {},
  ) {}

  /**
   * Takes a place for `messageId` (a whole socket read is authorised before any of it is stored, so the
   * place is taken here); false when the account has none left. A DUP of a message held is let through.
   */
  admit(account: string, clientId: string, messageId: number): boolean {
    let entry = this.#byClient.get(clientId);
    if (entry?.held.has(messageId) || entry?.pending.has(messageId)) return true;
    if (this.held(account) >= this.maxPerAccount) return false;
    if (!entry) {
      entry = { account, held: new Set(), pending: new Set() };
      this.#byClient.set(clientId, entry);
    }
    entry.pending.add(messageId);
    this.#add(account, 1);
    return true;
  }

  stored(clientId: string, messageId: number): void {
    const entry = this.#byClient.get(clientId);
    if (entry?.pending.delete(messageId)) entry.held.add(messageId);
  }

  /** PUBREL (one message), a clean start (all), or a closed connection (what it never stored). */
  released(clientId: string, which: number | 'all' | 'pending'): void {
    const entry = this.#byClient.get(clientId);
    if (!entry) return;
    let freed = 0;
    if (typeof which === 'number') freed = Number(entry.held.delete(which) || entry.pending.delete(which));
    else {
      freed = entry.pending.size + (which === 'all' ? entry.held.size : 0);
      entry.pending.clear();
      if (which === 'all') entry.held.clear();
    }
    this.#add(entry.account, -freed);
    if (entry.held.size === 0 && entry.pending.size === 0) this.#byClient.delete(clientId);
  }

  /** Over all accounts. */
  get total(): number {
    return this.#total;
  }

  #add(account: string, n: number): void {
    this.#total += n;
    this.onTotal(this.#total);
    const now = (this.#byAccount.get(account) ?? 0) + n;
    if (now > 0) this.#byAccount.set(account, now);
    else this.#byAccount.delete(account);
  }

  held(account: string): number {
    return this.#byAccount.get(account) ?? 0;
  }
}
