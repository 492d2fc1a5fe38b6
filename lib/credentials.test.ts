import { describe, expect, it } from 'vitest';
import { SCRYPT_DEFAULTS, hashPassword, verifyPassword } from './credentials.ts';

// Low N keeps the suite fast; one test covers the production default.
const FAST = { N: 1024 };

describe('credentials', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const hash = hashPassword('correct horse', FAST);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsf', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
    expect(await verifyPassword('正确的马', hashPassword('正确的马', FAST))).toBe(true);
  });

  it('salts every hash, and a given salt reproduces the hash', () => {
    expect(hashPassword('pw', FAST)).not.toBe(hashPassword('pw', FAST));
    const salt = Buffer.alloc(16, 7);
    expect(hashPassword('pw', { ...FAST, salt })).toBe(hashPassword('pw', { ...FAST, salt }));
  });

  it('uses the production cost by default', async () => {
    const hash = hashPassword('device-secret');
    expect(hash.startsWith(`scrypt$${SCRYPT_DEFAULTS.N}$${SCRYPT_DEFAULTS.r}$${SCRYPT_DEFAULTS.p}$`)).toBe(
      true,
    );
    expect(await verifyPassword('device-secret', hash)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['another algorithm', 'bcrypt$10$8$1$c2FsdA==$aGFzaA=='],
    ['too few parts', 'scrypt$1024$8$1$c2FsdA=='],
    ['too many parts', 'scrypt$1024$8$1$c2FsdA==$aGFzaA==$x'],
    ['a non-numeric cost', 'scrypt$abc$8$1$c2FsdA==$aGFzaA=='],
    ['a cost that is not a power of two', 'scrypt$1023$8$1$c2FsdA==$aGFzaA=='],
    ['a zero cost', 'scrypt$0$8$1$c2FsdA==$aGFzaA=='],
    ['an empty hash', 'scrypt$1024$8$1$c2FsdA==$'],
    ['a hash of padding only', 'scrypt$1024$8$1$c2FsdA==$=='],
    ['a non-base64 hash', 'scrypt$1024$8$1$c2FsdA==$not*base64'],
  ])('a malformed hash (%s) verifies nothing and never throws', async (_what, encoded) => {
    await expect(verifyPassword('pw', encoded)).resolves.toBe(false);
    await expect(verifyPassword('', encoded)).resolves.toBe(false);
  });
});
