/** NTLM message signing with extended session security (MS-NLMP 3.4.4.2), which SPNEGO's mechListMIC uses on both sides. */
import { hmacMd5, md5, Rc4 } from './crypto.js';
import { FLAGS } from './messages.js';

export function sealKey(exportedSessionKey: Buffer, flags: number, direction: 'client-to-server' | 'server-to-client'): Buffer {
  const base = flags & FLAGS.N128 ? exportedSessionKey : flags & FLAGS.N56 ? exportedSessionKey.subarray(0, 7) : exportedSessionKey.subarray(0, 5);
  return md5(base, magic(`${direction} sealing`));
}

const magic = (text: string) => Buffer.from(`session key to ${text} key magic constant\0`, 'latin1');

/** MS-NLMP 3.4.4.2: the signature of a message with extended session security, sequence number 0 on a new key. */
export function sign(
  exportedSessionKey: Buffer,
  flags: number,
  direction: 'client-to-server' | 'server-to-client',
  message: Buffer,
  seq = 0,
  sealHandle?: Rc4,
): Buffer {
  const signKey = md5(exportedSessionKey, magic(`${direction} signing`));
  const seqBytes = Buffer.alloc(4);
  seqBytes.writeUInt32LE(seq);
  let checksum = hmacMd5(signKey, seqBytes, message).subarray(0, 8);
  if (flags & FLAGS.KEY_EXCH) checksum = (sealHandle ?? new Rc4(sealKey(exportedSessionKey, flags, direction))).update(checksum);
  return Buffer.concat([Buffer.from([1, 0, 0, 0]), checksum, seqBytes]);
}
