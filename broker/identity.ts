import type { Principal } from './acl.ts';
import { quitWithin, type RedisConnection } from './redis-quit.ts';

/**
 * Why a client id is refused for a principal, or null when it may use it. A device uses its own id; an
 * account uses its username or `<username>-<anything>`, unless a longer name that is itself an account or a
 * device claims the id (account `carer` may not use `carer-c2`, the client id of account `carer-c2`). A
 * zero-length id (the broker assigns a unique one) is allowed to accounts only: a device's status is tied
 * to its one client id, which is what makes a second connection of it a takeover of the first.
 */
export function clientIdRefusal(
  principal: Principal,
  clientId: string,
  isName: (name: string) => boolean,
): string | null {
  if (principal.type === 'anonymous') return null;
  if (principal.type === 'device') return clientId === principal.id ? null : 'device must use its own id';
  if (clientId === '') return null;
  const { username } = principal;
  if (clientId !== username && !clientId.startsWith(`${username}-`)) return 'not under the username';
  // The longest name that claims the id owns it: walk back from the id itself to the username.
  if (clientId !== username && isName(clientId)) return 'the client id of another principal';
  for (let i = clientId.lastIndexOf('-'); i > username.length; i = clientId.lastIndexOf('-', i - 1)) {
    if (isName(clientId.slice(0, i))) return 'under another principal';
  }
  return null;
}

/**
 * Who a stored session belongs to: a session made under one identity must not be resumed under another
 * (an account whose role or centre changed keeps its username, and its queue holds what the old identity
 * was entitled to).
 */
export function ownerKey(principal: Principal): string {
  switch (principal.type) {
    case 'device':
      return `device/${principal.id}/${principal.center}/${principal.kind}`;
    case 'service':
      return `account/${principal.username}/${principal.role}/${principal.center ?? '*'}`;
    case 'anonymous':
      return 'anonymous';
  }
}

/** Where session owners are kept: next to the sessions, so both survive (or vanish) together. */
export interface SessionOwners {
  /** Records `owner` for `clientId`; returns the owner recorded before, if any. */
  claim(clientId: string, owner: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export class MemorySessionOwners implements SessionOwners {
  readonly #owners = new Map<string, string>();

  async claim(clientId: string, owner: string): Promise<string | undefined> {
    const before = this.#owners.get(clientId);
    this.#owners.set(clientId, owner);
    return before;
  }

  async close(): Promise<void> {}
}

/** The subset of an ioredis client the Redis owner store uses. */
interface RedisHash extends RedisConnection {
  hget(key: string, field: string): Promise<string | null>;
  hset(key: string, field: string, value: string): Promise<number>;
}

export class RedisSessionOwners implements SessionOwners {
  static readonly KEY = 'cradlewatch:session-owner';

  constructor(private readonly redis: RedisHash) {}

  async claim(clientId: string, owner: string): Promise<string | undefined> {
    const before = await this.redis.hget(RedisSessionOwners.KEY, clientId);
    if (before !== owner) await this.redis.hset(RedisSessionOwners.KEY, clientId, owner);
    return before ?? undefined;
  }

  /** Never held up by a Redis that is gone (broker/redis-quit.ts): the owners are written as they change. */
  close(): Promise<void> {
    // A rejected QUIT means the connection closed first: ended all the same.
    return quitWithin(
      this.redis,
      () => {},
      () => {},
    );
  }
}
