/** Throw-away certificates for TLS tests: a CA and leaves with chosen names and dates (node-forge, as the sandbox's PKI). */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface TestKey {
  pem: string;
  forgePrivate: forge.pki.rsa.PrivateKey;
  forgePublic: forge.pki.rsa.PublicKey;
}

export function testKey(): TestKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const forgePrivate = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { pem: privateKey, forgePrivate, forgePublic: forge.pki.setRsaPublicKey(forgePrivate.n, forgePrivate.e) };
}

const serial = () => {
  const bytes = randomBytes(12);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
};

export interface TestCa {
  pem: string;
  key: TestKey;
  name: string;
}

export function testCa(name: string): TestCa {
  const key = testKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.forgePublic;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 86_400_000);
  const subject = [{ name: 'commonName', value: name }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  cert.sign(key.forgePrivate, forge.md.sha256.create());
  return { pem: forge.pki.certificateToPem(cert), key, name };
}

export interface LeafOptions {
  names: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Signed by this CA; absent: self-signed. */
  ca?: TestCa;
  /** The signature's hash (the channel binding follows it). */
  hash?: 'sha256' | 'sha384' | 'sha512';
}

export function testLeaf(options: LeafOptions): { pem: string; key: TestKey } {
  const key = testKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.forgePublic;
  cert.serialNumber = serial();
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 30 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: options.names[0]! }]);
  cert.setIssuer(options.ca ? [{ name: 'commonName', value: options.ca.name }] : [{ name: 'commonName', value: options.names[0]! }]);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: options.names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  cert.sign(options.ca ? options.ca.key.forgePrivate : key.forgePrivate, forge.md[options.hash ?? 'sha256'].create());
  return { pem: forge.pki.certificateToPem(cert), key };
}
