/** The NTLM v2 computations of MS-NLMP 3.3.2 and 3.4 that the server side needs. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { md4 } from './md4.js';

export const utf16 = (text: string) => Buffer.from(text, 'utf16le');

export function hmacMd5(key: Buffer, ...data: Buffer[]): Buffer {
  const mac = createHmac('md5', key);
  for (const part of data) mac.update(part);
  return mac.digest();
}

export const md5 = (...data: Buffer[]): Buffer => {
  const hash = createHash('md5');
  for (const part of data) hash.update(part);
  return hash.digest();
};

/** NTOWFv1: MD4 of the UTF-16LE password (the "NT hash"). */
export const ntHash = (password: string) => md4(utf16(password));

/** NTOWFv2 (= ResponseKeyNT): HMAC-MD5 keyed with the NT hash over UTF-16LE(uppercase(user) + domain). */
export const ntowfv2 = (password: string, user: string, domain: string) => hmacMd5(ntHash(password), utf16(user.toUpperCase() + domain));

/** RC4, for the key exchange and the signing of SPNEGO's mechListMIC; one object per key stream. */
export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Buffer) {
    for (let k = 0; k < 256; k++) this.s[k] = k;
    for (let k = 0, j = 0; k < 256; k++) {
      j = (j + this.s[k]! + key[k % key.length]!) & 0xff;
      [this.s[k], this.s[j]] = [this.s[j]!, this.s[k]!];
    }
  }

  update(data: Buffer): Buffer {
    const out = Buffer.alloc(data.length);
    for (let n = 0; n < data.length; n++) {
      this.i = (this.i + 1) & 0xff;
      this.j = (this.j + this.s[this.i]!) & 0xff;
      [this.s[this.i], this.s[this.j]] = [this.s[this.j]!, this.s[this.i]!];
      out[n] = data[n]! ^ this.s[(this.s[this.i]! + this.s[this.j]!) & 0xff]!;
    }
    return out;
  }
}

export const equal = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
