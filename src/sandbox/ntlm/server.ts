/**
 * The server side of NTLM v2 (MS-NLMP 3.2.5): the challenge for a NEGOTIATE, the check of an AUTHENTICATE, and
 * the signing keys SPNEGO's mechListMIC needs. LM and NTLM v1 responses are refused, as a server with
 * LmCompatibilityLevel 5 refuses them.
 *
 * The NTLMv2 blob's timestamp is not compared with the clock: the challenge is random, used once and bound to one
 * connection, which is what stops a replay. The MIC is checked when the client says it sent one.
 */
import { randomBytes } from 'node:crypto';
import { equal, hmacMd5, ntowfv2, Rc4 } from '../../ntlm/crypto.js';
import {
  AV,
  AV_FLAG_MIC,
  type ChallengeMessage,
  FLAGS,
  type NegotiateMessage,
  readAuthenticate,
  readAvPairs,
  readNegotiate,
  type ServerIdentity,
  writeChallenge,
} from '../../ntlm/messages.js';

export type ExtendedProtection = 'none' | 'allow' | 'require';

export interface Pending {
  negotiate: NegotiateMessage;
  challenge: ChallengeMessage;
}

export function startHandshake(negotiateToken: Buffer, identity: ServerIdentity): Pending {
  const negotiate = readNegotiate(negotiateToken);
  return { negotiate, challenge: writeChallenge(negotiate.flags, randomBytes(8), identity) };
}

export interface Verified<T> {
  account: T;
  user: string;
  domain: string;
  flags: number;
  exportedSessionKey: Buffer;
}

export type Outcome<T> = { ok: true; value: Verified<T> } | { ok: false; reason: string };

/**
 * Checks an AUTHENTICATE message against the pending challenge. `candidates` gives the accounts the user and
 * domain of the message may name, each with its password; `bindings` is the MD5 the client must have sent.
 */
export function verifyAuthenticate<T>(
  pending: Pending,
  token: Buffer,
  candidates: (user: string, domain: string) => Array<{ account: T; password: string }>,
  protection: { mode: ExtendedProtection; expected: Buffer | null },
): Outcome<T> {
  const message = readAuthenticate(token);
  const nt = message.ntResponse;
  if (nt.length === 0) return { ok: false, reason: message.user ? 'an LM response without an NT response is refused' : 'anonymous sign-in is refused' };
  if (nt.length === 24) return { ok: false, reason: 'an NTLM v1 response is refused (LmCompatibilityLevel 5)' };
  if (nt.length < 16 + 28 + 4) return { ok: false, reason: 'the NTLM v2 response is too short' };
  const proof = nt.subarray(0, 16);
  const blob = nt.subarray(16);
  if (blob[0] !== 1 || blob[1] !== 1) return { ok: false, reason: 'the NTLM v2 response has an unknown version' };
  let pairs;
  try {
    pairs = readAvPairs(blob.subarray(28));
  } catch {
    return { ok: false, reason: 'the NTLM v2 response has broken AV pairs' };
  }

  let key: Buffer | null = null;
  let account: T | null = null;
  for (const candidate of candidates(message.user, message.domain)) {
    const responseKey = ntowfv2(candidate.password, message.user, message.domain);
    if (equal(hmacMd5(responseKey, pending.challenge.serverChallenge, blob), proof)) {
      key = responseKey;
      account = candidate.account;
      break;
    }
  }
  if (!key || account === null) return { ok: false, reason: `unknown user or wrong password for ${message.domain ? `${message.domain}\\` : ''}${message.user}` };

  const sessionBaseKey = hmacMd5(key, proof);
  const flags = message.flags;
  const exportedSessionKey =
    flags & FLAGS.KEY_EXCH && flags & (FLAGS.SIGN | FLAGS.SEAL) && message.encryptedRandomSessionKey.length === 16
      ? new Rc4(sessionBaseKey).update(message.encryptedRandomSessionKey)
      : sessionBaseKey;

  const avFlags = pairs.find((p) => p.id === AV.FLAGS)?.value;
  if (avFlags && avFlags.length === 4 && avFlags.readUInt32LE(0) & AV_FLAG_MIC) {
    if (message.micOffset === null) return { ok: false, reason: 'the MIC is announced but missing' };
    const mic = Buffer.from(token.subarray(message.micOffset, message.micOffset + 16));
    const zeroed = Buffer.from(token);
    zeroed.fill(0, message.micOffset, message.micOffset + 16);
    if (!equal(hmacMd5(exportedSessionKey, pending.negotiate.raw, pending.challenge.raw, zeroed), mic)) return { ok: false, reason: 'the MIC is wrong' };
  }

  if (protection.mode !== 'none') {
    const sent = pairs.find((p) => p.id === AV.CHANNEL_BINDINGS)?.value;
    const present = sent !== undefined && sent.some((b) => b !== 0);
    if (!present && protection.mode === 'require') return { ok: false, reason: 'Extended Protection requires channel bindings, and none were sent' };
    if (present && (!protection.expected || !equal(sent, protection.expected))) return { ok: false, reason: 'the channel bindings do not match this TLS connection' };
  }
  return { ok: true, value: { account, user: message.user, domain: message.domain, flags, exportedSessionKey } };
}
