import { randomBytes, scrypt as scryptCb, scryptSync, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { passwordHashSchema } from '../protocol/fleet.ts';

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;

/**
 * N=2^14 keeps one verification near 25 ms on this 2-core machine: slow enough to make a stolen registry
 * expensive to crack, fast enough for 10,000 devices reconnecting after a broker restart (checks run on
 * libuv's thread pool, off the event loop).
 */
export const SCRYPT_DEFAULTS = { N: 16_384, r: 8, p: 1, keylen: 32 } as const;

export function hashPassword(password: string, params: { N?: number; salt?: Buffer } = {}): string {
  const N = params.N ?? SCRYPT_DEFAULTS.N;
  const salt = params.salt ?? randomBytes(16);
  const hash = scryptSync(password, salt, SCRYPT_DEFAULTS.keylen, {
    N,
    r: SCRYPT_DEFAULTS.r,
    p: SCRYPT_DEFAULTS.p,
  });
  return `scrypt$${N}$${SCRYPT_DEFAULTS.r}$${SCRYPT_DEFAULTS.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * False for a wrong password and for any hash it cannot read: a registry typo must lock the device out,
 * never let it in (an empty hash part would otherwise compare equal to an empty derived key) or throw.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  if (!passwordHashSchema.safeParse(encoded).success) return false;
  const [, n, r, p, salt, hash] = encoded.split('$') as [string, string, string, string, string, string];
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  const expected = Buffer.from(hash, 'base64');
  if (expected.length === 0) return false;
  try {
    const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
      N,
      r: R,
      p: P,
      maxmem: 256 * N * R,
    });
    return timingSafeEqual(actual, expected);
  } catch {
    // Parameters scrypt refuses (N not a power of two, zero): unreadable, so no match.
    return false;
  }
}
