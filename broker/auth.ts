import { createHash } from 'node:crypto';
import { verifyPassword } from '../lib/credentials.ts';
import type { FleetIndex } from '../protocol/fleet.ts';
import type { Principal } from './acl.ts';
import type { ServiceAccount } from './config.ts';

export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; returnCode: 4 | 5; reason: string };

/**
 * Checks a username and password against the fleet registry and the service accounts. scrypt costs
 * ~25 ms, so a successful check is remembered (keyed by a SHA-256 of username, password and stored hash:
 * a changed hash or password misses the cache) and a reconnect storm costs one scrypt per device, not one
 * per attempt.
 */
export class Authenticator {
  readonly #verified = new Set<string>();
  #accounts: Map<string, ServiceAccount>;

  constructor(
    private fleet: () => FleetIndex | undefined,
    accounts: ServiceAccount[],
  ) {
    this.#accounts = new Map(accounts.map((a) => [a.username, a]));
  }

  /** Whether `name` is an account's username or a registered device's id: the names client ids are bound to. */
  isName(name: string): boolean {
    return this.#accounts.has(name) || (this.fleet()?.devices.has(name) ?? false);
  }

  /**
   * `expensive` runs the scrypt check (the caller's back-off and per-address gate); a remembered good
   * password, an unknown user or a missing credential never reach it.
   */
  async check(
    username: string | undefined,
    password: Buffer | undefined,
    expensive: (verify: () => Promise<boolean>) => Promise<boolean> = (verify) => verify(),
  ): Promise<AuthResult> {
    if (!username || !password) return { ok: false, returnCode: 4, reason: 'no username or password' };
    const account = this.#accounts.get(username);
    const device = account ? undefined : this.fleet()?.devices.get(username);
    const hash = account?.passwordHash ?? device?.passwordHash;
    if (!hash) {
      return {
        ok: false,
        returnCode: 4,
        reason: device ? 'device has no credential (gateway only)' : 'unknown user',
      };
    }
    const key = createHash('sha256')
      .update(username)
      .update('\0')
      .update(password)
      .update('\0')
      .update(hash)
      .digest('base64');
    if (!this.#verified.has(key)) {
      if (!(await expensive(() => verifyPassword(password.toString('utf8'), hash))))
        return { ok: false, returnCode: 4, reason: 'wrong password' };
      // Bounded: a fleet is finite, but a credential rotation must not grow the set forever.
      if (this.#verified.size > 200_000) this.#verified.clear();
      this.#verified.add(key);
    }
    if (account)
      return {
        ok: true,
        principal: { type: 'service', username, role: account.role, center: account.center },
      };
    return {
      ok: true,
      principal: { type: 'device', id: device!.id, center: device!.center, kind: device!.kind },
    };
  }
}

/** Counts failed logins per address; past the threshold, each attempt waits before it is answered. */
export class FailureThrottle {
  readonly #failures = new Map<string, { count: number; last: number }>();

  constructor(
    private readonly threshold: number,
    private readonly delayMs: number,
    private readonly forgetAfterMs = 10 * 60_000,
  ) {}

  delayFor(address: string, now = Date.now()): number {
    const entry = this.#failures.get(address);
    if (!entry) return 0;
    if (now - entry.last > this.forgetAfterMs) {
      this.#failures.delete(address);
      return 0;
    }
    return entry.count >= this.threshold ? this.delayMs * Math.min(8, entry.count - this.threshold + 1) : 0;
  }

  failed(address: string, now = Date.now()): void {
    const entry = this.#failures.get(address) ?? { count: 0, last: now };
    entry.count += 1;
    entry.last = now;
    this.#failures.set(address, entry);
  }

  succeeded(address: string): void {
    this.#failures.delete(address);
  }
}
