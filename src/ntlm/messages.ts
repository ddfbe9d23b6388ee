/**
 * NTLM messages (MS-NLMP 2.2): reading NEGOTIATE and AUTHENTICATE, writing the CHALLENGE a Windows server sends.
 */

export const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

/** NegotiateFlags (MS-NLMP 2.2.2.5). */
export const FLAGS = {
  UNICODE: 0x00000001,
  OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  SIGN: 0x00000010,
  SEAL: 0x00000020,
  LM_KEY: 0x00000080,
  NTLM: 0x00000200,
  ANONYMOUS: 0x00000800,
  ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  IDENTIFY: 0x00100000,
  TARGET_INFO: 0x00800000,
  VERSION: 0x02000000,
  N128: 0x20000000,
  KEY_EXCH: 0x40000000,
  N56: 0x80000000,
} as const;

/** AV_PAIR ids (MS-NLMP 2.2.2.1). */
export const AV = {
  EOL: 0,
  NB_COMPUTER_NAME: 1,
  NB_DOMAIN_NAME: 2,
  DNS_COMPUTER_NAME: 3,
  DNS_DOMAIN_NAME: 4,
  DNS_TREE_NAME: 5,
  FLAGS: 6,
  TIMESTAMP: 7,
  SINGLE_HOST: 8,
  TARGET_NAME: 9,
  CHANNEL_BINDINGS: 10,
} as const;

/** MsvAvFlags bit: the AUTHENTICATE message carries a MIC. */
export const AV_FLAG_MIC = 0x2;

export class NtlmFormatError extends Error {}

export function messageType(token: Buffer): number | null {
  if (token.length < 12 || !token.subarray(0, 8).equals(SIGNATURE)) return null;
  return token.readUInt32LE(8);
}

function field(message: Buffer, at: number): Buffer {
  if (at + 8 > message.length) throw new NtlmFormatError('message too short');
  const length = message.readUInt16LE(at);
  const offset = message.readUInt32LE(at + 4);
  if (length === 0) return Buffer.alloc(0);
  if (offset + length > message.length) throw new NtlmFormatError('a field points past the end of the message');
  return message.subarray(offset, offset + length);
}

export interface NegotiateMessage {
  flags: number;
  raw: Buffer;
}

export function readNegotiate(token: Buffer): NegotiateMessage {
  if (messageType(token) !== 1 || token.length < 16) throw new NtlmFormatError('not an NTLM NEGOTIATE message');
  return { flags: token.readUInt32LE(12), raw: token };
}

export type AvPairs = Array<{ id: number; value: Buffer }>;

export function readAvPairs(data: Buffer): AvPairs {
  const pairs: AvPairs = [];
  let at = 0;
  while (at + 4 <= data.length) {
    const id = data.readUInt16LE(at);
    const length = data.readUInt16LE(at + 2);
    if (id === AV.EOL) return pairs;
    if (at + 4 + length > data.length) throw new NtlmFormatError('an AV pair runs past the end');
    pairs.push({ id, value: data.subarray(at + 4, at + 4 + length) });
    at += 4 + length;
  }
  throw new NtlmFormatError('AV pairs without MsvAvEOL');
}

export function writeAvPairs(pairs: AvPairs): Buffer {
  const parts = pairs.map(({ id, value }) => {
    const head = Buffer.alloc(4);
    head.writeUInt16LE(id, 0);
    head.writeUInt16LE(value.length, 2);
    return Buffer.concat([head, value]);
  });
  return Buffer.concat([...parts, Buffer.alloc(4)]);
}

/** Windows time: 100-nanosecond ticks since 1601-01-01, as 8 bytes little-endian. */
export function fileTime(date: Date): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE((BigInt(date.getTime()) + 11_644_473_600_000n) * 10_000n);
  return out;
}

export interface ServerIdentity {
  /** NetBIOS domain (CONTOSO): the TargetName and MsvAvNbDomainName. */
  nbDomain: string;
  /** NetBIOS computer name (MAIL). */
  nbComputer: string;
  dnsDomain: string;
  dnsComputer: string;
}

/** Windows Server 2016 (10.0 build 14393), NTLM revision 15: the VERSION field an Exchange 2016 server sends. */
const SERVER_VERSION = Buffer.from([10, 0, 0x39, 0x38, 0, 0, 0, 15]);

/**
 * The flags a Windows server answers with: what the client asked for among what the server supports, plus
 * what the server always sets (MS-NLMP 3.2.5.1.1; UNICODE over OEM, extended session security over LM_KEY):
 * the target type, TARGET_INFO and VERSION, as in the CHALLENGE of a real Exchange 2010 SP2 (0x02818205 to a
 * client that asked for no more than Unicode, NTLM and always-sign; evolution-ews's recorded traces).
 */
export function challengeFlags(clientFlags: number): number {
  const supported =
    FLAGS.UNICODE | FLAGS.REQUEST_TARGET | FLAGS.SIGN | FLAGS.SEAL | FLAGS.NTLM | FLAGS.ALWAYS_SIGN | FLAGS.EXTENDED_SESSIONSECURITY |
    FLAGS.IDENTIFY | FLAGS.N128 | FLAGS.KEY_EXCH | FLAGS.N56;
  let flags = (clientFlags & supported) | FLAGS.TARGET_TYPE_DOMAIN | FLAGS.TARGET_INFO | FLAGS.VERSION | FLAGS.NTLM | FLAGS.REQUEST_TARGET;
  if (!(clientFlags & FLAGS.UNICODE) && clientFlags & FLAGS.OEM) flags = (flags & ~FLAGS.UNICODE) | FLAGS.OEM;
  else flags |= FLAGS.UNICODE;
  return flags >>> 0;
}

export interface ChallengeMessage {
  raw: Buffer;
  flags: number;
  serverChallenge: Buffer;
  targetInfo: Buffer;
}

/** The CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2), with target info in the order Windows writes it. */
export function writeChallenge(clientFlags: number, serverChallenge: Buffer, identity: ServerIdentity, now = new Date()): ChallengeMessage {
  const flags = challengeFlags(clientFlags);
  const text = (s: string) => (flags & FLAGS.UNICODE ? Buffer.from(s, 'utf16le') : Buffer.from(s, 'latin1'));
  const u = (s: string) => Buffer.from(s, 'utf16le');
  const targetName = text(identity.nbDomain);
  const targetInfo = writeAvPairs([
    { id: AV.NB_DOMAIN_NAME, value: u(identity.nbDomain) },
    { id: AV.NB_COMPUTER_NAME, value: u(identity.nbComputer) },
    { id: AV.DNS_DOMAIN_NAME, value: u(identity.dnsDomain) },
    { id: AV.DNS_COMPUTER_NAME, value: u(identity.dnsComputer) },
    { id: AV.DNS_TREE_NAME, value: u(identity.dnsDomain) },
    { id: AV.TIMESTAMP, value: fileTime(now) },
  ]);
  const header = Buffer.alloc(56);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(2, 8);
  header.writeUInt16LE(targetName.length, 12);
  header.writeUInt16LE(targetName.length, 14);
  header.writeUInt32LE(56, 16);
  header.writeUInt32LE(flags, 20);
  serverChallenge.copy(header, 24);
  header.writeUInt16LE(targetInfo.length, 40);
  header.writeUInt16LE(targetInfo.length, 42);
  header.writeUInt32LE(56 + targetName.length, 44);
  SERVER_VERSION.copy(header, 48);
  return { raw: Buffer.concat([header, targetName, targetInfo]), flags, serverChallenge, targetInfo };
}

export interface AuthenticateMessage {
  raw: Buffer;
  flags: number;
  lmResponse: Buffer;
  ntResponse: Buffer;
  domain: string;
  user: string;
  workstation: string;
  encryptedRandomSessionKey: Buffer;
  /** Where the MIC would be, if the message has room for one (offset 72). */
  micOffset: number | null;
}

export function readAuthenticate(token: Buffer): AuthenticateMessage {
  if (messageType(token) !== 3 || token.length < 64) throw new NtlmFormatError('not an NTLM AUTHENTICATE message');
  const flags = token.readUInt32LE(60);
  const text = (b: Buffer) => (flags & FLAGS.UNICODE ? b.toString('utf16le') : b.toString('latin1'));
  // The payload starts after the fixed part; where the lowest field offset leaves room for Version and MIC, they are there.
  const offsets = [12, 20, 28, 36, 44, 52].map((at) => (token.readUInt16LE(at) > 0 ? token.readUInt32LE(at + 4) : token.length));
  const payloadStart = Math.min(...offsets);
  return {
    raw: token,
    flags,
    lmResponse: field(token, 12),
    ntResponse: field(token, 20),
    domain: text(field(token, 28)),
    user: text(field(token, 36)),
    workstation: text(field(token, 44)),
    encryptedRandomSessionKey: field(token, 52),
    micOffset: payloadStart >= 88 ? 72 : null,
  };
}
