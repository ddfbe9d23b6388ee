/**
 * Secrets at rest: AES-256-GCM with a key from LIAISON_SECRET_KEY or from a key file in the data folder
 * (created with mode 0600 on first start). Each ciphertext is bound to the place it is stored (the "context",
 * e.g. "email_server_profiles:<id>:password") so a ciphertext copied into another row does not decrypt.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SECRET_KEY_ENV = 'LIAISON_SECRET_KEY';
export const SECRET_KEY_FILE = 'secret.key';
const FORMAT = 'v1';

export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

export interface KeySource {
  key: Buffer;
  /** Where the key came from, for messages: never the key itself. */
  description: string;
  /** Set when the key file was created just now. */
  created: boolean;
  /** Set when the key file can be read by other users of the machine. */
  looseFilePermissions: boolean;
}

function decodeKey(text: string): Buffer | null {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return key;
  }
  return null;
}

/**
 * Finds the key: the environment first, then the data folder's key file, which is created if missing (unless
 * `create` is false: a store that exists already needs the key it was made with, not a new one).
 */
export function loadSecretKey(dataDir: string, env: NodeJS.ProcessEnv = process.env, create = true): KeySource {
  const fromEnv = env[SECRET_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const key = decodeKey(fromEnv);
    if (!key) {
      throw new SecretKeyError(
        `${SECRET_KEY_ENV} must be 32 random bytes written as base64 (44 characters) or hex (64 characters); generate one with: openssl rand -base64 32`,
      );
    }
    return { key, description: `the ${SECRET_KEY_ENV} environment variable`, created: false, looseFilePermissions: false };
  }
  const file = path.join(dataDir, SECRET_KEY_FILE);
  if (!create && !existsSync(file)) {
    throw new SecretKeyError(
      `There is no secret key: set ${SECRET_KEY_ENV} to the key this store's secrets were encrypted with, or restore the key file ${file}`,
    );
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let created = false;
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SecretKeyError(`Cannot create the secret key file ${file}: ${(error as Error).message}`);
    }
  }
  const key = decodeKey(readFileSync(file, 'utf8'));
  if (!key) throw new SecretKeyError(`The secret key file ${file} does not hold a 32-byte base64 or hex key`);
  const looseFilePermissions = (statSync(file).mode & 0o077) !== 0;
  return { key, description: `the key file ${file}`, created, looseFilePermissions };
}

export class SecretBox {
  private readonly keyId: string;
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new SecretKeyError('The secret key must be 32 bytes');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, this.keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(':');
  }

  /**
   * A 32-byte key for one purpose, derived from the store key (HMAC-SHA256 of the label under the store key): every
   * process of the store derives the same one, it says nothing of the store key, and each label gives another key.
   */
  derive(label: string): Buffer {
    if (label === '') throw new SecretKeyError('A derived key needs a label');
    return createHmac('sha256', this.key).update(label, 'utf8').digest();
  }

  decrypt(ciphertext: string, context: string): string {
    const [format, keyId, iv, tag, body] = ciphertext.split(':');
    if (format !== FORMAT || iv === undefined || tag === undefined || body === undefined) {
      throw new SecretKeyError('A stored secret is not in a format this version of Liaison reads');
    }
    if (keyId !== this.keyId) {
      throw new SecretKeyError(`A stored secret was encrypted with another key (key id ${keyId}; the current key's id is ${this.keyId})`);
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError(`A stored secret (${context}) failed its integrity check: it was altered or moved`);
    }
  }
}
