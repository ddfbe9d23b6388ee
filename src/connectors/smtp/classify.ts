/**
 * What an SMTP failure means for the engine (RFC 5321 §4.2.1: 5yz is permanent, 4yz transient). A connection lost
 * after the message's final dot and before the server's answer is uncertain: the server may have taken the
 * message, so it is never sent again blind.
 */
import type { ClassifiedError } from '../connector.js';
import { classifyMailCommon } from '../mail/classify.js';
import { NoRecipientsError } from '../mail/outgoing.js';

export type SmtpPhase = 'connect' | 'tls' | 'greeting' | 'ehlo' | 'starttls' | 'auth' | 'mail' | 'rcpt' | 'data' | 'after-data';

/** An SMTP send failed at `phase`; `response` is the server's reply verbatim, when it gave one. */
export class SmtpSendError extends Error {
  readonly response: string | null;
  readonly responseCode: number | null;
  readonly code: string | undefined;
  readonly cert: unknown;

  constructor(
    readonly phase: SmtpPhase,
    readonly original: Error & { code?: string; response?: string; responseCode?: number; cert?: unknown; cause?: unknown },
  ) {
    super(original.message);
    this.name = 'SmtpSendError';
    this.response = original.response?.trim() || null;
    this.responseCode = typeof original.responseCode === 'number' ? original.responseCode : null;
    // The TLS or socket error underneath, for the common classification of certificates and the network.
    const inner = (original.cause ?? original) as { code?: string; cert?: unknown };
    this.code = inner.code && inner.code !== 'ETLS' && inner.code !== 'ESOCKET' && inner.code !== 'ECONNECTION' ? inner.code : tlsCodeOf(original.message) ?? original.code;
    this.cert = inner.cert ?? original.cert;
  }
}

function tlsCodeOf(message: string): string | undefined {
  if (/altnames|Hostname\/IP does not match/i.test(message)) return 'ERR_TLS_CERT_ALTNAME_INVALID';
  if (/self[- ]signed/i.test(message)) return 'SELF_SIGNED_CERT_IN_CHAIN';
  if (/unable to verify|local issuer/i.test(message)) return 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
  if (/certificate has expired/i.test(message)) return 'CERT_HAS_EXPIRED';
  if (/ECONNREFUSED/.test(message)) return 'ECONNREFUSED';
  return undefined;
}

const FIX_BY_CODE: Record<number, string> = {
  550: 'Check the recipient address: the server says it does not exist or does not accept mail.',
  551: 'Check the recipient address: the server does not deliver for it.',
  552: 'The message is too big for the server, or the mailbox is full.',
  553: 'The server refuses the sender address: the login may not send as this mailbox (check the login and the server\'s sender rules).',
  554: 'The server refused the message; its reply says why.',
  535: 'Check the SMTP login and password (for a master user: that the server lets it log in for this mailbox).',
  530: 'The server asks for authentication or TLS first: check the port and the profile\'s SMTP login.',
};

/** null when the error is not an SMTP one (the connector's other classify reads it). */
export function classifySmtpError(error: unknown): ClassifiedError | null {
  if (error instanceof NoRecipientsError) {
    return { kind: 'permanent', code: 'smtp.no-recipients', message: error.message, serverResponse: null, fix: 'Add a recipient to the email.', backOffMs: null };
  }
  if (!(error instanceof SmtpSendError)) return null;
  const reply = error.responseCode;
  if (error.phase === 'after-data' && reply === null) {
    return {
      kind: 'uncertain',
      code: 'smtp.uncertain',
      message: `the connection to the SMTP server was lost after the message was sent, before the server answered (${error.message})`,
      serverResponse: null,
      fix: null,
      backOffMs: null,
    };
  }
  if (error.phase === 'starttls') {
    return { kind: 'permanent', code: 'smtp.starttls-missing', message: 'the SMTP server does not offer STARTTLS, and Liaison never logs in without TLS', serverResponse: error.response, fix: 'Enable STARTTLS on the server, or use port 465 (implicit TLS).', backOffMs: null };
  }
  if (reply === null) {
    const common = classifyMailCommon(error, null);
    if (common) return common;
    if (error.phase === 'auth') {
      return { kind: 'permanent', code: 'smtp.auth', message: `the SMTP server refused the login: ${error.message}`, serverResponse: error.response, fix: FIX_BY_CODE[535]!, backOffMs: null };
    }
    return { kind: 'transient', code: /timeout/i.test(error.message) || error.original.code === 'ETIMEDOUT' ? 'transport.timeout' : `smtp.${error.phase}`, message: `SMTP ${error.phase}: ${error.message}`, serverResponse: error.response, fix: null, backOffMs: null };
  }
  if (reply >= 500) {
    const auth = error.phase === 'auth' || reply === 535;
    return {
      kind: 'permanent',
      code: auth ? 'smtp.auth' : `smtp.${reply}`,
      message: auth ? 'the SMTP server refused the login' : `the SMTP server refused the email at ${error.phase.toUpperCase()}: ${error.response ?? reply}`,
      serverResponse: error.response,
      fix: FIX_BY_CODE[auth ? 535 : reply] ?? 'The server refused it for good; its reply says why.',
      backOffMs: null,
    };
  }
  return { kind: 'transient', code: `smtp.${reply}`, message: `the SMTP server answered ${error.response ?? reply} at ${error.phase.toUpperCase()}; it is tried again later`, serverResponse: error.response, fix: null, backOffMs: null };
}
