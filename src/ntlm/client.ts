/**
 * The client side of NTLM v2 (MS-NLMP 3.1.5): the NEGOTIATE message, then, from the server's CHALLENGE, the
 * AUTHENTICATE message with the NTLMv2 response (NTProofStr over the blob that repeats the server's target info),
 * the timestamp the server sent (MsvAvTimestamp), MsvAvFlags announcing a MIC, the MIC itself, and the channel
 * bindings of the TLS connection (MsvAvChannelBindings), which Exchange's Extended Protection requires.
 *
 * No LM or NTLM v1 response is ever produced: with MsvAvTimestamp in the challenge the LM response is Z(24)
 * (MS-NLMP 3.1.5.1.2), and without it the NTLMv2 response is still the only one sent.
 */
import { randomBytes } from 'node:crypto';
import { hmacMd5, ntowfv2, Rc4, utf16 } from './crypto.js';
import { AV, AV_FLAG_MIC, type AvPairs, fileTime, FLAGS, messageType, NtlmFormatError, readAvPairs, SIGNATURE, writeAvPairs } from './messages.js';

/** What the client asks for; the server's CHALLENGE says what is granted. */
export const CLIENT_FLAGS =
  (FLAGS.UNICODE |
    FLAGS.REQUEST_TARGET |
    FLAGS.SIGN |
    FLAGS.SEAL |
    FLAGS.NTLM |
    FLAGS.ALWAYS_SIGN |
    FLAGS.EXTENDED_SESSIONSECURITY |
    FLAGS.TARGET_INFO |
    FLAGS.VERSION |
    FLAGS.N128 |
    FLAGS.KEY_EXCH |
    FLAGS.N56) >>>
  0;

/** The VERSION field (MS-NLMP 2.2.2.10): for debugging only; product 10.0, NTLM revision 15 (NTLMSSP_REVISION_W2K3). */
const VERSION = Buffer.from([10, 0, 0, 0, 0, 0, 0, 15]);

/**
 * Splits a user name as NTLM carries it: `DOMAIN\user` gives the domain apart; a UPN (`user@domain`) is sent whole
 * as the user with an empty domain, as Windows does (MS-NLMP 3.1.5.1.2; the server looks the UPN up itself).
 */
export function splitUserName(username: string): { user: string; domain: string } {
  const slash = username.indexOf('\\');
  if (slash >= 0) return { domain: username.slice(0, slash), user: username.slice(slash + 1) };
  return { user: username, domain: '' };
}

export interface ChallengeInfo {
  flags: number;
  serverChallenge: Buffer;
  targetInfo: AvPairs;
  raw: Buffer;
}

/** Reads a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2). */
export function readChallenge(token: Buffer): ChallengeInfo {
  if (messageType(token) !== 2 || token.length < 48) throw new NtlmFormatError('not an NTLM CHALLENGE message');
  const flags = token.readUInt32LE(20);
  const serverChallenge = Buffer.from(token.subarray(24, 32));
  const infoLength = token.readUInt16LE(40);
  const infoOffset = token.readUInt32LE(44);
  if (infoLength > 0 && infoOffset + infoLength > token.length) throw new NtlmFormatError('the target info points past the end of the message');
  const targetInfo = infoLength > 0 ? readAvPairs(token.subarray(infoOffset, infoOffset + infoLength)) : [];
  return { flags, serverChallenge, targetInfo, raw: token };
}

function securityBuffer(length: number, offset: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16LE(length, 0);
  out.writeUInt16LE(length, 2);
  out.writeUInt32LE(offset, 4);
  return out;
}

export interface NtlmCredentials {
  username: string;
  password: string;
}

export interface AuthenticateOptions {
  /** MsvAvChannelBindings: the tls-server-end-point hash of the connection (ntlm/bindings.ts); null without TLS. */
  channelBindings: Buffer | null;
  /** MsvAvTargetName: the SPN of the service (HTTP/host), for service binding. */
  targetName?: string | null;
  /** For tests: the client challenge and the session key instead of random ones. */
  clientChallenge?: Buffer;
  exportedSessionKey?: Buffer;
  now?: Date;
}

/** One handshake: negotiate(), then authenticate(challenge). A new handshake needs a new object. */
export class NtlmHandshake {
  private negotiateMessage: Buffer | null = null;
  private readonly user: string;
  private readonly domain: string;

  constructor(private readonly credentials: NtlmCredentials) {
    ({ user: this.user, domain: this.domain } = splitUserName(credentials.username));
  }

  /** The NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1), without domain or workstation. */
  negotiate(): Buffer {
    const out = Buffer.alloc(40);
    SIGNATURE.copy(out);
    out.writeUInt32LE(1, 8);
    out.writeUInt32LE(CLIENT_FLAGS, 12);
    securityBuffer(0, 40).copy(out, 16);
    securityBuffer(0, 40).copy(out, 24);
    VERSION.copy(out, 32);
    this.negotiateMessage = out;
    return out;
  }

  /** The AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) answering the server's CHALLENGE. */
  authenticate(challengeToken: Buffer, options: AuthenticateOptions): Buffer {
    if (!this.negotiateMessage) throw new Error('negotiate() first');
    const challenge = readChallenge(challengeToken);
    const flags = (challenge.flags & CLIENT_FLAGS) >>> 0;
    if (!(flags & FLAGS.UNICODE)) throw new NtlmFormatError('the server did not accept Unicode');

    const serverTimestamp = challenge.targetInfo.find((p) => p.id === AV.TIMESTAMP)?.value;
    const timestamp = serverTimestamp && serverTimestamp.length === 8 ? serverTimestamp : fileTime(options.now ?? new Date());
    // The server's pairs, then ours; MsvAvFlags keeps what the server set and adds "a MIC is present".
    const pairs: AvPairs = challenge.targetInfo.filter((p) => p.id !== AV.FLAGS && p.id !== AV.CHANNEL_BINDINGS && p.id !== AV.TARGET_NAME);
    const serverAvFlags = challenge.targetInfo.find((p) => p.id === AV.FLAGS)?.value;
    const avFlags = Buffer.alloc(4);
    avFlags.writeUInt32LE(((serverAvFlags && serverAvFlags.length === 4 ? serverAvFlags.readUInt32LE(0) : 0) | AV_FLAG_MIC) >>> 0);
    pairs.push({ id: AV.FLAGS, value: avFlags });
    // Without TLS, Windows sends sixteen zero bytes: "no bindings" (MS-NLMP 3.1.5.1.2).
    pairs.push({ id: AV.CHANNEL_BINDINGS, value: options.channelBindings ?? Buffer.alloc(16) });
    if (options.targetName) pairs.push({ id: AV.TARGET_NAME, value: utf16(options.targetName) });

    const clientChallenge = options.clientChallenge ?? randomBytes(8);
    // NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7): RespType, HiRespType, Z(6), TimeStamp, ChallengeFromClient, Z(4), AvPairs; then Z(4).
    const blob = Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), timestamp, clientChallenge, Buffer.alloc(4), writeAvPairs(pairs), Buffer.alloc(4)]);
    const responseKey = ntowfv2(this.credentials.password, this.user, this.domain);
    const ntProofStr = hmacMd5(responseKey, challenge.serverChallenge, blob);
    const ntResponse = Buffer.concat([ntProofStr, blob]);
    const lmResponse = serverTimestamp ? Buffer.alloc(24) : Buffer.concat([hmacMd5(responseKey, challenge.serverChallenge, clientChallenge), clientChallenge]);
    const sessionBaseKey = hmacMd5(responseKey, ntProofStr);
    let exportedSessionKey: Buffer = sessionBaseKey;
    let encryptedRandomSessionKey: Buffer = Buffer.alloc(0);
    if (flags & FLAGS.KEY_EXCH && flags & (FLAGS.SIGN | FLAGS.SEAL)) {
      exportedSessionKey = options.exportedSessionKey ?? randomBytes(16);
      encryptedRandomSessionKey = new Rc4(sessionBaseKey).update(exportedSessionKey);
    }

    const domain = utf16(this.domain);
    const user = utf16(this.user);
    const workstation = Buffer.alloc(0);
    const payload = [lmResponse, ntResponse, domain, user, workstation, encryptedRandomSessionKey];
    // Fixed part: signature, type, six security buffers, flags, version, MIC: 88 bytes.
    const head = Buffer.alloc(88);
    SIGNATURE.copy(head);
    head.writeUInt32LE(3, 8);
    let offset = 88;
    payload.forEach((part, i) => {
      securityBuffer(part.length, offset).copy(head, 12 + i * 8);
      offset += part.length;
    });
    head.writeUInt32LE(flags, 60);
    VERSION.copy(head, 64);
    const message = Buffer.concat([head, ...payload]);
    // MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE + CHALLENGE + AUTHENTICATE with the MIC zeroed) (MS-NLMP 3.1.5.1.2).
    hmacMd5(exportedSessionKey, this.negotiateMessage, challenge.raw, message).copy(message, 72);
    return message;
  }
}
