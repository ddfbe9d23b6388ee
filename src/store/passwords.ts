/**
 * Console passwords: the rules a new one must meet, and its scrypt hash. The stored form names its parameters,
 * `scrypt$32768$8$1$<salt, base64>$<key, base64>`, so stronger ones can be chosen later without breaking the
 * hashes already stored. The password itself is never stored, logged or returned.
 */
import { randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../domain/errors.js';

export const PASSWORD_LIMITS = { minLength: 12, maxLength: 1024 } as const;

/** N = 2^15, r = 8, p = 1: about 32 MiB and a tenth of a second per hash on a server. */
const PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** The largest N and r a stored hash may name: a tampered row must not make one verification eat the memory. */
const MAX_N = 2 ** 20;
const MAX_R = 32;

function scryptAsync(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** scrypt needs 128 * N * r bytes; Node's default ceiling (32 MiB) is just too low for N = 2^15, r = 8. */
const maxmemFor = (N: number, r: number): number => 128 * N * r * 2;

/** Throws a ValidationError on field `field` unless the password meets the rules. */
export function checkPasswordRules(password: string, field = 'password'): void {
  const length = [...password].length;
  if (length < PASSWORD_LIMITS.minLength || length > PASSWORD_LIMITS.maxLength) {
    throw new ValidationError([{ field, message: `must be ${PASSWORD_LIMITS.minLength} to ${PASSWORD_LIMITS.maxLength} characters` }]);
  }
  if (password.trim() === '') throw new ValidationError([{ field, message: 'must not be only spaces' }]);
}

/** The stored form of a password (which must already meet the rules). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, KEY_BYTES, { ...PARAMS, maxmem: maxmemFor(PARAMS.N, PARAMS.r) });
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const STORED = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** True when the password is the one the stored hash was made from; false for any other, and for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = STORED.exec(stored);
  if (!match) return false;
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const salt = Buffer.from(match[4]!, 'base64');
  const expected = Buffer.from(match[5]!, 'base64');
  // N a power of two above 1, sane r and p, a salt and a key of reasonable sizes: anything else is not ours.
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || r < 1 || r > MAX_R || p < 1 || p > 16) return false;
  if (salt.length < 8 || expected.length < 16 || expected.length > 64) return false;
  try {
    const key = await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: maxmemFor(N, r) });
    return timingSafeEqual(key, expected);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | null = null;

/**
 * A hash of no one's password, to verify against when the account does not exist (or has no password), so
 * that such an attempt costs the same scrypt as a wrong password and its timing does not tell accounts apart.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(24).toString('base64url'));
  return dummy;
}
