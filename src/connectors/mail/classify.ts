/**
 * What IMAP, POP3 and SMTP connections have in common when they fail: the network (refused, not found, reset,
 * timed out), TLS (a certificate that does not verify, said with its names), and a login the profile or the
 * mailbox lacks. Each protocol's classify() asks here first, then reads its own replies.
 */
import type { PeerCertificate } from 'node:tls';
import type { ClassifiedError } from '../connector.js';
import { MissingLoginError } from './credentials.js';
import { describeEndpoint, type MailEndpoint } from './endpoint.js';

const TRANSIENT_NETWORK = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ETIMEOUT', 'ESOCKET', 'NoConnection', 'ClosedAfterConnectTLS', 'ClosedAfterConnectText', 'CONNECT_TIMEOUT', 'GreetingTimeout', 'ConnectionTimeout']);
const TLS_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

function namesOf(cert: PeerCertificate | undefined): string | null {
  const alt = cert?.subjectaltname;
  if (!alt) return null;
  return alt
    .split(/,\s*/)
    .map((n) => n.replace(/^(DNS|IP Address):/, ''))
    .join(', ');
}

function codeOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return undefined;
}

/** The common part of classify(): null when the error is none of these, for the protocol to read. */
export function classifyMailCommon(error: unknown, endpoint: MailEndpoint | null): ClassifiedError | null {
  const where = endpoint ? describeEndpoint(endpoint) : 'the mail server';
  if (error instanceof MissingLoginError) {
    return { kind: 'permanent', code: 'mail.no-login', message: error.message, serverResponse: null, fix: error.fix, backOffMs: null };
  }
  const code = codeOf(error);
  const message = (error as Error | null)?.message ?? String(error);
  if (code && TLS_CODES.has(code)) {
    const cert = (error as { cert?: PeerCertificate }).cert;
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      const names = namesOf(cert);
      return {
        kind: 'permanent',
        code: 'tls.name-mismatch',
        message: `The TLS certificate of ${where} is not valid for the name ${endpoint?.host ?? 'asked for'}: it carries ${names ?? 'other names'}.`,
        serverResponse: null,
        fix: 'Use a server name the certificate carries in the profile, or install a certificate for this name on the server.',
        backOffMs: null,
      };
    }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
      return {
        kind: 'permanent',
        code: 'tls.not-tls',
        message: `${where} did not answer TLS: the port speaks plain text (or another protocol).`,
        serverResponse: null,
        fix: 'Check the port: implicit TLS is 993 (IMAP), 995 (POP3) and 465 (SMTP); 143, 110 and 587 use STARTTLS.',
        backOffMs: null,
      };
    }
    return {
      kind: 'permanent',
      code: `tls.${code}`,
      message: `The TLS certificate of ${where} could not be verified (${code}): ${message}`,
      serverResponse: null,
      fix: "Add the certificate authority that issued the server's certificate to the profile's trusted CA certificates (trustedCaPem), or renew the certificate.",
      backOffMs: null,
    };
  }
  if (code === 'ECONNREFUSED') {
    return { kind: 'transient', code: 'transport.refused', message: `${where} refused the connection: nothing listens on that port.`, serverResponse: null, fix: 'Check the server name and port in the profile, and that the server runs.', backOffMs: null };
  }
  if (code === 'ENOTFOUND') {
    return { kind: 'transient', code: 'transport.dns', message: `The server name of ${where} is not found in DNS.`, serverResponse: null, fix: 'Check the server name in the profile.', backOffMs: null };
  }
  if (code && TRANSIENT_NETWORK.has(code)) {
    return { kind: 'transient', code: code.includes('imeout') || code.includes('TIMEOUT') ? 'transport.timeout' : `transport.${code}`, message: `${where}: ${message}`, serverResponse: null, fix: null, backOffMs: null };
  }
  return null;
}
