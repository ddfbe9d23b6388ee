/**
 * The sandbox's own certificate authority, and a certificate for each host name it answers for, signed by it.
 * Clients trust the CA file (a profile's trustedCaPem, or NODE_EXTRA_CA_CERTS) and verify names as usual.
 * One host serves a certificate for another name on purpose, to show how a name mismatch is reported.
 * Keys are RSA from Node's crypto; certificates are built with node-forge (Node cannot write X.509 itself).
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import forge from 'node-forge';

export interface HostCertificate {
  /** The name clients ask for (SNI). */
  host: string;
  /** The names the certificate carries (usually just the host). */
  names: string[];
}

export interface SandboxPki {
  caCertPath: string;
  caCertPem: string;
  /** The TLS context for a server name, or the default (127.0.0.1/localhost) one. */
  contextFor(serverName: string | undefined): SecureContext;
}

interface KeyPair {
  privatePem: string;
  forgePrivate: forge.pki.rsa.PrivateKey;
  forgePublic: forge.pki.rsa.PublicKey;
}

function newKey(): KeyPair {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  return keyFromPem(privateKey);
}

function keyFromPem(privatePem: string): KeyPair {
  const forgePrivate = forge.pki.privateKeyFromPem(privatePem) as forge.pki.rsa.PrivateKey;
  return { privatePem, forgePrivate, forgePublic: forge.pki.setRsaPublicKey(forgePrivate.n, forgePrivate.e) };
}

function serial(): string {
  // Positive, 16 bytes: the high bit clear so the DER integer is not read as negative.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

const DAY = 24 * 3600 * 1000;

function createCa(key: KeyPair, domain: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.forgePublic;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - DAY);
  cert.validity.notAfter = new Date(Date.now() + 3650 * DAY);
  const name = [
    { name: 'commonName', value: `Liaison Sandbox CA (${domain})` },
    { name: 'organizationName', value: 'Liaison sandbox' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key.forgePrivate, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function createLeaf(caPem: string, caKey: KeyPair, leafKey: KeyPair, names: string[]): string {
  const ca = forge.pki.certificateFromPem(caPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = leafKey.forgePublic;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - DAY);
  cert.validity.notAfter = new Date(Date.now() + 825 * DAY);
  cert.setSubject([{ name: 'commonName', value: names[0]! }]);
  cert.setIssuer(ca.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey.forgePrivate, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function writeSecret(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
}

/** Loads the CA and host certificates from the folder, making whatever is missing or no longer valid. */
export function loadPki(dir: string, domain: string, hosts: HostCertificate[]): SandboxPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caCertPath = path.join(dir, 'ca.pem');
  const caKeyPath = path.join(dir, 'ca.key');
  const leafKeyPath = path.join(dir, 'server.key');
  let caKey: KeyPair;
  let caPem: string;
  if (existsSync(caCertPath) && existsSync(caKeyPath)) {
    caKey = keyFromPem(readFileSync(caKeyPath, 'utf8'));
    caPem = readFileSync(caCertPath, 'utf8');
  } else {
    caKey = newKey();
    caPem = createCa(caKey, domain);
    writeSecret(caKeyPath, caKey.privatePem);
    writeFileSync(caCertPath, caPem);
  }
  let leafKey: KeyPair;
  if (existsSync(leafKeyPath)) leafKey = keyFromPem(readFileSync(leafKeyPath, 'utf8'));
  else {
    leafKey = newKey();
    writeSecret(leafKeyPath, leafKey.privatePem);
  }
  const ca = new X509Certificate(caPem);
  const contexts = new Map<string, SecureContext>();
  const all: HostCertificate[] = [...hosts, { host: 'localhost', names: ['localhost', '127.0.0.1'] }];
  for (const { host, names } of all) {
    const file = path.join(dir, `${host}.pem`);
    let pem = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const current = pem ? new X509Certificate(pem) : null;
    const stale =
      !current ||
      !current.checkIssued(ca) ||
      Date.parse(current.validTo) < Date.now() + 30 * DAY ||
      (current.subjectAltName ?? '') !== names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP Address:${n}` : `DNS:${n}`)).join(', ');
    if (stale) {
      pem = createLeaf(caPem, caKey, leafKey, names);
      writeFileSync(file, pem);
    }
    contexts.set(host, createSecureContext({ key: leafKey.privatePem, cert: pem }));
  }
  const fallback = contexts.get('localhost')!;
  return {
    caCertPath,
    caCertPem: caPem,
    contextFor: (serverName) => (serverName ? contexts.get(serverName.toLowerCase()) : undefined) ?? fallback,
  };
}
