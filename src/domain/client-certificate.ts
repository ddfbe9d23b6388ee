/**
 * An Exchange Online profile's client certificate: one PEM text holding the app registration's certificate and its
 * private key (unencrypted), as `openssl pkcs12 -in app.pfx -nodes` writes it. Checked when it is saved, so Test
 * Connection does not find out later: both parts present and readable by node:crypto, an RSA key (Microsoft's
 * identity platform signs client assertions with RS256/PS256), the key the certificate's own, the certificate valid
 * now. The problems never quote the key, nor node's words about it.
 */
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/g;

export interface ClientCertificate {
  /** The certificate that goes with the key (the first of the PEM's certificates that matches it). */
  certificate: X509Certificate;
  /** The certificate alone, PEM (what is uploaded to the app registration). */
  certificatePem: string;
  /** The private key alone, PEM (PKCS#8). */
  privateKeyPem: string;
  privateKey: KeyObject;
  /** The thumbprints Microsoft's identity platform knows the certificate by (x5t: SHA-1, x5t#S256: SHA-256), hex upper case. */
  thumbprintSha1: string;
  thumbprintSha256: string;
  /** Every certificate of the PEM, the matching one first (a chain may follow). */
  chainPem: string[];
}

/** Reads a client certificate PEM; returns why it is unusable (a sentence without key material), or the parts. */
export function readClientCertificate(pem: string, now: Date = new Date()): ClientCertificate | string {
  const certificates = pem.match(CERTIFICATE_BLOCK) ?? [];
  const keys = [...pem.matchAll(KEY_BLOCK)];
  if (certificates.length === 0 && keys.length === 0) {
    return 'must be a PEM text holding the certificate (-----BEGIN CERTIFICATE-----) and its private key (-----BEGIN PRIVATE KEY-----), e.g. what openssl pkcs12 -in app.pfx -nodes writes';
  }
  if (keys.length === 0) return 'holds a certificate but no private key: add the key (-----BEGIN PRIVATE KEY----- … -----END PRIVATE KEY-----) to the same PEM text';
  if (certificates.length === 0) return 'holds a private key but no certificate: add the certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----) to the same PEM text';
  if (keys.length > 1) return `holds ${keys.length} private keys: keep only the one that belongs to the certificate`;
  const [keyBlock, keyKind] = [keys[0]![0], keys[0]![1]];
  if (keyKind === 'ENCRYPTED PRIVATE KEY') {
    return 'holds an encrypted private key: Liaison stores the key encrypted itself and needs it without a passphrase (openssl pkey -in key.pem -out plain-key.pem)';
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyBlock);
  } catch {
    return 'holds a private key that could not be read (it is damaged or in a format other than PEM PKCS#1, PKCS#8 or SEC1)';
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    return `holds a ${String(privateKey.asymmetricKeyType).toUpperCase()} private key: Microsoft's identity platform takes RSA certificates for client credentials; create an RSA certificate`;
  }
  const parsed: X509Certificate[] = [];
  for (const [index, block] of certificates.entries()) {
    try {
      parsed.push(new X509Certificate(block));
    } catch (error) {
      return `certificate ${index + 1} of ${certificates.length} could not be read: ${(error as Error).message}`;
    }
  }
  const match = parsed.findIndex((certificate) => certificate.checkPrivateKey(privateKey));
  if (match < 0) {
    return parsed.length === 1
      ? `the private key does not belong to the certificate (${parsed[0]!.subject.replace(/\n/g, ', ')}): give the key that was made with it`
      : `the private key belongs to none of the ${parsed.length} certificates: give the key that was made with the app's certificate`;
  }
  const certificate = parsed[match]!;
  if (Date.parse(certificate.validTo) <= now.getTime()) {
    return `the certificate expired on ${new Date(certificate.validTo).toISOString()}: create a new one, upload it to the app registration's "Certificates & secrets", and give it here`;
  }
  if (Date.parse(certificate.validFrom) > now.getTime()) {
    return `the certificate is not valid before ${new Date(certificate.validFrom).toISOString()}`;
  }
  const der = certificate.raw;
  return {
    certificate,
    certificatePem: certificates[match]!,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    privateKey,
    thumbprintSha1: createHash('sha1').update(der).digest('hex').toUpperCase(),
    thumbprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
    chainPem: [certificates[match]!, ...certificates.filter((_, index) => index !== match)],
  };
}

/** The problem with a client certificate PEM, or null when it is usable. */
export function clientCertificateProblem(pem: string, now: Date = new Date()): string | null {
  const result = readClientCertificate(pem, now);
  return typeof result === 'string' ? result : null;
}
