/**
 * An NTLM v2 client for the sandbox's own tests of the cases other clients do not produce: wrong channel
 * bindings, a changed MIC, SPNEGO with a mechListMIC, handshakes on chosen connections. It follows MS-NLMP 3.1.5
 * as a Windows client does (timestamp from the challenge, MIC, MsvAvFlags). The NTLM v1 case only has the
 * length of one (24 bytes): the sandbox refuses it before any computation.
 */
import { randomBytes } from 'node:crypto';
import { hmacMd5, ntowfv2, Rc4 } from '../../src/ntlm/crypto.js';
import { AV, FLAGS, readAvPairs, SIGNATURE, writeAvPairs } from '../../src/ntlm/messages.js';
import { sign } from '../../src/ntlm/signing.js';
import { encodeOid, OID_SPNEGO, tlv } from '../../src/ntlm/spnego.js';

export interface NtlmClientOptions {
  user: string;
  domain: string;
  password: string;
  /** MsvAvChannelBindings to send; null or absent: none. */
  bindings?: Buffer | null;
  /** Send a MIC (default true). */
  mic?: boolean;
  /** Flip a bit of the MIC after computing it. */
  breakMic?: boolean;
  /** Send a 24-byte response, as NTLM v1 does. */
  ntlmv1?: boolean;
}

const CLIENT_FLAGS =
  FLAGS.UNICODE | FLAGS.REQUEST_TARGET | FLAGS.SIGN | FLAGS.SEAL | FLAGS.NTLM | FLAGS.ALWAYS_SIGN | FLAGS.EXTENDED_SESSIONSECURITY |
  FLAGS.TARGET_INFO | FLAGS.VERSION | FLAGS.N128 | FLAGS.KEY_EXCH | FLAGS.N56;

function field(length: number, offset: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16LE(length, 0);
  out.writeUInt16LE(length, 2);
  out.writeUInt32LE(offset, 4);
  return out;
}

export function ntlmClient(options: NtlmClientOptions) {
  let negotiateRaw: Buffer | null = null;
  let exportedSessionKey: Buffer | null = null;
  let flags = 0;
  return {
    negotiate(): Buffer {
      const out = Buffer.alloc(40);
      SIGNATURE.copy(out);
      out.writeUInt32LE(1, 8);
      out.writeUInt32LE(CLIENT_FLAGS >>> 0, 12);
      field(0, 40).copy(out, 16);
      field(0, 40).copy(out, 24);
      Buffer.from([10, 0, 0x61, 0x4a, 0, 0, 0, 15]).copy(out, 32);
      negotiateRaw = out;
      return out;
    },
    authenticate(challenge: Buffer): Buffer {
      const serverChallenge = challenge.subarray(24, 32);
      flags = challenge.readUInt32LE(20) & CLIENT_FLAGS;
      const infoLength = challenge.readUInt16LE(40);
      const infoOffset = challenge.readUInt32LE(44);
      const serverPairs = readAvPairs(challenge.subarray(infoOffset, infoOffset + infoLength));
      const timestamp = serverPairs.find((p) => p.id === AV.TIMESTAMP)?.value ?? Buffer.alloc(8);
      const mic = options.mic ?? true;
      const pairs = [...serverPairs];
      if (mic) pairs.push({ id: AV.FLAGS, value: Buffer.from([2, 0, 0, 0]) });
      if (options.bindings) pairs.push({ id: AV.CHANNEL_BINDINGS, value: options.bindings });
      const blob = Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), timestamp, randomBytes(8), Buffer.alloc(4), writeAvPairs(pairs), Buffer.alloc(4)]);
      const key = ntowfv2(options.password, options.user, options.domain);
      const proof = hmacMd5(key, serverChallenge, blob);
      const nt = options.ntlmv1 ? randomBytes(24) : Buffer.concat([proof, blob]);
      const sessionBaseKey = hmacMd5(key, proof);
      exportedSessionKey = randomBytes(16);
      const encryptedKey = new Rc4(sessionBaseKey).update(exportedSessionKey);
      const unicode = (s: string) => Buffer.from(s, 'utf16le');
      const [lm, domain, user, workstation] = [Buffer.alloc(24), unicode(options.domain), unicode(options.user), unicode('WORKSTATION')];
      let offset = 88;
      const fields: Buffer[] = [];
      for (const part of [lm, nt, domain, user, workstation, encryptedKey]) {
        fields.push(field(part.length, offset));
        offset += part.length;
      }
      const head = Buffer.alloc(88);
      SIGNATURE.copy(head);
      head.writeUInt32LE(3, 8);
      Buffer.concat(fields).copy(head, 12);
      head.writeUInt32LE(flags >>> 0, 60);
      Buffer.from([10, 0, 0x61, 0x4a, 0, 0, 0, 15]).copy(head, 64);
      const message = Buffer.concat([head, lm, nt, domain, user, workstation, encryptedKey]);
      if (mic) {
        const value = hmacMd5(exportedSessionKey, negotiateRaw!, challenge, message);
        if (options.breakMic) value[0]! ^= 1;
        value.copy(message, 72);
      }
      return message;
    },
    /** The client's mechListMIC over the encoded mechanism list, after authenticate(). */
    mechListMic(mechTypesDer: Buffer): Buffer {
      return sign(exportedSessionKey!, flags, 'client-to-server', mechTypesDer);
    },
    /** What the server's mechListMIC must be. */
    serverMechListMic(mechTypesDer: Buffer): Buffer {
      return sign(exportedSessionKey!, flags, 'server-to-client', mechTypesDer);
    },
  };
}

export function mechTypesDer(mechs: string[]): Buffer {
  return tlv(0x30, Buffer.concat(mechs.map(encodeOid)));
}

/** The GSS-API InitialContextToken carrying a NegTokenInit, as a Windows client's first Negotiate token. */
export function spnegoInit(mechs: string[], mechToken: Buffer | null): Buffer {
  const fields = [tlv(0xa0, mechTypesDer(mechs))];
  if (mechToken) fields.push(tlv(0xa2, tlv(0x04, mechToken)));
  return tlv(0x60, Buffer.concat([encodeOid(OID_SPNEGO), tlv(0xa0, tlv(0x30, Buffer.concat(fields)))]));
}

/** A client NegTokenResp with the next mechanism token and, optionally, the mechListMIC. */
export function spnegoResp(responseToken: Buffer, mechListMic?: Buffer): Buffer {
  const fields = [tlv(0xa2, tlv(0x04, responseToken))];
  if (mechListMic) fields.push(tlv(0xa3, tlv(0x04, mechListMic)));
  return tlv(0xa1, tlv(0x30, Buffer.concat(fields)));
}
