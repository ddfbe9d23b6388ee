/**
 * Channel bindings (Extended Protection for Authentication): the tls-server-end-point binding of RFC 5929 4.1,
 * carried in NTLM's MsvAvChannelBindings as the MD5 of a gss_channel_bindings_struct (RFC 2744 3.11) whose only
 * non-empty part is the application data. Both the client and the sandbox's server compute it.
 */
import { createHash } from 'node:crypto';
import { md5 } from './crypto.js';
import { decodeOid, DerError, readAll, readTlv } from './spnego.js';

/** The MD5 of the gss_channel_bindings_struct with only application data, as MsvAvChannelBindings holds it. */
export function channelBindingsHash(applicationData: Buffer): Buffer {
  // initiator addrtype + length, acceptor addrtype + length (all zero), then the application data's length.
  const header = Buffer.alloc(20);
  header.writeUInt32LE(applicationData.length, 16);
  return md5(header, applicationData);
}

/** Signature algorithms whose hash is not SHA-256 (RFC 5929 4.1: MD5 and SHA-1 become SHA-256; others keep theirs). */
const SIGNATURE_HASHES: Record<string, string> = {
  '1.2.840.113549.1.1.12': 'sha384', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13': 'sha512', // sha512WithRSAEncryption
  '1.2.840.10045.4.3.3': 'sha384', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4': 'sha512', // ecdsa-with-SHA512
};

/** The hash RFC 5929 uses for a certificate (DER): its signature's hash, SHA-256 for MD5, SHA-1 and SHA-256. */
export function endPointHash(certificate: Buffer): string {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue }
  try {
    const [, algorithm] = readAll(readTlv(certificate).value);
    const oid = readTlv(algorithm!.value);
    return SIGNATURE_HASHES[decodeOid(oid.value)] ?? 'sha256';
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
    return 'sha256';
  }
}

/** The tls-server-end-point channel binding of a server certificate (DER), as MsvAvChannelBindings holds it. */
export function tlsServerEndPoint(certificate: Buffer): Buffer {
  const digest = createHash(endPointHash(certificate)).update(certificate).digest();
  return channelBindingsHash(Buffer.concat([Buffer.from('tls-server-end-point:', 'latin1'), digest]));
}
