/**
 * TLS as Liaison does it everywhere: the certificate is always verified, against the system store (Node's
 * `tls.rootCertificates`) plus the CAs of the profile (`trustedCaPem`), and the name checked is the host of the
 * URL even when `--resolve` sends the connection elsewhere.
 *
 * The socket is opened with Node's own rejection off so that, when verification fails, the certificate the server
 * presented can still be read to explain why (the issuer, the names it carries, its dates). The verdict is ours:
 * a socket that did not verify is destroyed on `secureConnect`, before a single byte of the request is written.
 */
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, createSecureContext, type DetailedPeerCertificate, rootCertificates, type SecureContext, type TLSSocket } from 'node:tls';
import type { HostOverrides } from './resolve.js';

export class TrustedCaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrustedCaError';
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** The certificates of a trustedCaPem, each checked to be an X.509 certificate; anything else is an error. */
export function parseTrustedCaPem(pem: string): X509Certificate[] {
  const certificates: X509Certificate[] = [];
  let index = 0;
  for (const match of pem.matchAll(PEM_BLOCK)) {
    index += 1;
    const label = match[1]!;
    if (label !== 'CERTIFICATE') {
      throw new TrustedCaError(
        label.includes('PRIVATE KEY')
          ? `The trusted CA PEM contains a private key (block ${index}); it must contain only CA certificates, and the key should be kept secret.`
          : `The trusted CA PEM contains a "${label}" block (block ${index}); it must contain only "CERTIFICATE" blocks.`,
      );
    }
    try {
      certificates.push(new X509Certificate(match[0]));
    } catch (error) {
      throw new TrustedCaError(`The trusted CA PEM's certificate ${index} cannot be read: ${(error as Error).message}.`);
    }
  }
  if (certificates.length === 0) {
    throw new TrustedCaError('The trusted CA PEM contains no certificate: expected one or more "-----BEGIN CERTIFICATE-----" blocks.');
  }
  return certificates;
}

/** The CA list to verify with: the system store and the profile's CAs. */
export function trustedCas(trustedCaPem?: string | null): string[] {
  const extra = trustedCaPem && trustedCaPem.trim() ? parseTrustedCaPem(trustedCaPem).map((c) => c.toString()) : [];
  return [...rootCertificates, ...extra];
}

/** One secure context for a transport: building one from ~150 roots per connection would be wasteful. */
export function trustContext(trustedCaPem?: string | null): SecureContext {
  return createSecureContext({ ca: trustedCas(trustedCaPem) });
}

/** What the diagnostics show of a certificate. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  subjectAltNames: string[];
  validFrom: string;
  validTo: string;
}

const oneLine = (dn: string) =>
  dn
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(', ');

const isoDate = (text: string) => {
  const time = Date.parse(text);
  return Number.isNaN(time) ? text : new Date(time).toISOString();
};

/** The DNS names and IP addresses of a certificate's subjectAltName (the CN when it has none). */
export function certificateNames(certificate: X509Certificate): string[] {
  const names = (certificate.subjectAltName ?? '')
    .split(/,\s*/)
    .map((s) => s.trim())
    .flatMap((s) => {
      const match = /^(DNS|IP Address):(.+)$/.exec(s);
      return match ? [match[2]!.replace(/^"|"$/g, '')] : [];
    });
  if (names.length > 0) return names;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
  return cn ? [cn] : [];
}

export function describeCertificate(certificate: X509Certificate): CertificateInfo {
  return {
    subject: oneLine(certificate.subject),
    issuer: oneLine(certificate.issuer),
    subjectAltNames: certificateNames(certificate),
    validFrom: isoDate(certificate.validFrom),
    validTo: isoDate(certificate.validTo),
  };
}

export interface TlsFailure {
  /** OpenSSL's code (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED…) or ERR_TLS_CERT_ALTNAME_INVALID. */
  code: string;
  issuer?: string;
  subject?: string;
  names?: string[];
  validFrom?: string;
  validTo?: string;
}

const UNKNOWN_ISSUER = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

/** A certificate that did not verify: the message says why and what to do; `failure` has the facts. */
export class TlsVerificationError extends Error {
  readonly code: string;
  constructor(
    message: string,
    readonly failure: TlsFailure,
    readonly certificate: CertificateInfo | null,
  ) {
    super(message);
    this.name = 'TlsVerificationError';
    this.code = failure.code;
  }
}

/** The presented chain, leaf first, as Node links it. */
function chainOf(peer: DetailedPeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let at: DetailedPeerCertificate | undefined = peer; at?.raw && !seen.has(at.fingerprint256); at = at.issuerCertificate) {
    seen.add(at.fingerprint256);
    chain.push(new X509Certificate(at.raw));
  }
  return chain;
}

/** Explains why the certificate of host:port did not verify. */
export function explainTlsFailure(host: string, port: number, code: string, peer: DetailedPeerCertificate | null): TlsVerificationError {
  const chain = peer?.raw ? chainOf(peer) : [];
  const leaf = chain[0];
  const info = leaf ? describeCertificate(leaf) : null;
  const base: TlsFailure = info ? { code, subject: info.subject, issuer: info.issuer, names: info.subjectAltNames, validFrom: info.validFrom, validTo: info.validTo } : { code };
  const where = `${host}:${port}`;
  if (!info) return new TlsVerificationError(`The TLS certificate of ${where} could not be verified (${code}).`, base, null);

  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    return new TlsVerificationError(
      `The TLS certificate of ${where} is not valid for the name ${host}: it carries ${info.subjectAltNames.length ? info.subjectAltNames.join(', ') : 'no names'}. ` +
        'Use a host name the certificate carries, or install a certificate for this name on the server.',
      base,
      info,
    );
  }
  if (code === 'CERT_HAS_EXPIRED') {
    return new TlsVerificationError(`The TLS certificate of ${where} expired on ${info.validTo} (valid from ${info.validFrom} to ${info.validTo}). Renew it on the server.`, base, info);
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return new TlsVerificationError(
      `The TLS certificate of ${where} is not valid yet: valid from ${info.validFrom} to ${info.validTo}. Check the clocks of this machine and of the server.`,
      base,
      info,
    );
  }
  if (UNKNOWN_ISSUER.has(code)) {
    // The top of what the server sent: its issuer (or itself, when self-signed) is the authority not trusted.
    const top = chain[chain.length - 1]!;
    const selfSigned = top.subject === top.issuer;
    const issuer = oneLine(selfSigned ? top.subject : top.issuer);
    return new TlsVerificationError(
      `The TLS certificate of ${where} (${info.subject}) was issued by ${selfSigned && chain.length === 1 ? 'itself (self-signed)' : `"${issuer}"`}, which is not a trusted certificate authority. ` +
        `Add that CA's certificate to the profile's trusted CA certificates (trustedCaPem), or have the server send its intermediate certificates.`,
      { ...base, issuer },
      info,
    );
  }
  return new TlsVerificationError(`The TLS certificate of ${where} could not be verified: ${code} (subject ${info.subject}, issuer ${info.issuer}).`, base, info);
}

export interface ConnectTarget {
  /** The host of the URL: SNI and the certificate check use it. */
  host: string;
  port: number;
  protocol: 'http:' | 'https:';
}

export interface ConnectOptions {
  overrides: HostOverrides;
  secureContext: SecureContext;
  connectTimeoutMs: number;
}

/** A connection that failed before TLS or HTTP started. `code` is Node's (ECONNREFUSED, ENOTFOUND…) or CONNECT_TIMEOUT. */
export class ConnectError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly host: string,
    readonly port: number,
    readonly dialed: { address: string; port: number; overridden: boolean },
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'ConnectError';
  }
}

export interface VerifiedSocket {
  socket: Socket | TLSSocket;
  /** The server's certificate (DER) and its description, on TLS connections. */
  certificateDer: Buffer | null;
  certificate: CertificateInfo | null;
}

function via(dialed: { address: string; port: number; overridden: boolean }): string {
  return dialed.overridden ? ` (dialled ${dialed.address.includes(':') ? `[${dialed.address}]` : dialed.address}:${dialed.port} per --resolve)` : '';
}

/**
 * Opens a connection to the target, through the host overrides, with TLS verified; resolves only once the
 * certificate is accepted. Nothing is ever written on a socket that did not verify.
 */
export function openConnection(target: ConnectTarget, options: ConnectOptions): Promise<VerifiedSocket> {
  const dialed = options.overrides.target(target.host, target.port);
  const host = target.host.replace(/^\[|\]$/g, '');
  return new Promise<VerifiedSocket>((resolve, reject) => {
    let settled = false;
    let socket: Socket | TLSSocket;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new ConnectError(`Connecting to ${host}:${target.port}${via(dialed)} timed out after ${options.connectTimeoutMs} ms.`, 'CONNECT_TIMEOUT', host, target.port, dialed)),
      options.connectTimeoutMs,
    );
    const onError = (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'ERROR';
      const text =
        code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NODATA' || code === 'EAI_NONAME'
          ? `The host name ${dialed.address} could not be resolved (DNS: ${code}).`
          : code === 'ECONNREFUSED'
            ? `The connection to ${host}:${target.port}${via(dialed)} was refused: nothing listens there, or a firewall rejects it.`
            : code === 'ECONNRESET' || code === 'EPIPE'
              ? `The connection to ${host}:${target.port}${via(dialed)} was reset by the server or a device on the way${settled ? '' : ' during the TLS handshake'}.`
              : `Connecting to ${host}:${target.port}${via(dialed)} failed: ${error.message}`;
      fail(new ConnectError(text, code, host, target.port, dialed, error));
    };

    if (target.protocol === 'http:') {
      socket = netConnect({ host: dialed.address, port: dialed.port });
      socket.on('error', onError);
      socket.once('connect', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('error', onError);
        socket.setKeepAlive(true, 60_000);
        resolve({ socket, certificateDer: null, certificate: null });
      });
      return;
    }

    const tlsSocket = tlsConnect({
      host: dialed.address,
      port: dialed.port,
      // SNI carries names only, never an IP address (RFC 6066 3).
      ...(isIP(host) ? {} : { servername: host }),
      secureContext: options.secureContext,
      // Checked below, by us, so that the refused certificate can be described; nothing is sent before.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    socket = tlsSocket;
    tlsSocket.on('error', onError);
    tlsSocket.once('secureConnect', () => {
      if (settled) return;
      const peer = tlsSocket.getPeerCertificate(true);
      let code: string | null = null;
      if (!tlsSocket.authorized) code = String(tlsSocket.authorizationError ?? 'UNKNOWN');
      else {
        const identity = checkServerIdentity(host, peer);
        if (identity) code = (identity as NodeJS.ErrnoException).code ?? 'ERR_TLS_CERT_ALTNAME_INVALID';
      }
      if (code !== null) return fail(explainTlsFailure(host, target.port, code, peer && peer.raw ? peer : null));
      settled = true;
      clearTimeout(timer);
      tlsSocket.off('error', onError);
      tlsSocket.setKeepAlive(true, 60_000);
      const certificate = peer?.raw ? describeCertificate(new X509Certificate(peer.raw)) : null;
      resolve({ socket: tlsSocket, certificateDer: peer?.raw ?? null, certificate });
    });
  });
}
