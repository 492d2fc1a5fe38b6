import { randomBytes, scrypt as scryptCb, scryptSync, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/**
 * N=2^14 keeps one verification near 25 ms on this 2-core machine: slow enough to make a stolen registry
 * expensive to crack, fast enough for 10,000 devices reconnecting after a broker restart (checks run on
 * libuv's thread pool, off the event loop).
 */
export const SCRYPT_DEFAULTS = { N: 16_384, r: 8, p: 1, keylen: 32 } as const;

export function hashPassword(password: string, params: { N?: number; salt?: Buffer } = {}): string {
  const N = params.N ?? SCRYPT_DEFAULTS.N;
  const salt = params.salt ?? randomBytes(16);
  const hash = scryptSync(password, salt, SCRYPT_DEFAULTS.keylen, { N, r: SCRYPT_DEFAULTS.r, p: SCRYPT_DEFAULTS.p });
  return `scrypt$${N}$${SCRYPT_DEFAULTS.r}$${SCRYPT_DEFAULTS.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, hashB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hashB64, 'base64');
  const actual = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 256 * Number(n) * Number(r),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
