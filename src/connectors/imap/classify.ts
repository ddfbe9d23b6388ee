/**
 * What an IMAP failure means for the engine. imapflow reports a refused login with `authenticationFailed` and the
 * server's text, a tagged NO or BAD with `responseStatus`, `responseText` and the RFC 5530 response code in
 * `serverResponseCode`; the network and TLS are read in mail/classify.ts.
 */
import type { ClassifiedError } from '../connector.js';
import { classifyMailCommon } from '../mail/classify.js';
import { describeEndpoint, type MailEndpoint } from '../mail/endpoint.js';
import { InvalidCursorError, MessageUnavailableError } from './session.js';

interface ImapFlowError {
  message?: string;
  code?: string;
  authenticationFailed?: boolean;
  responseStatus?: string;
  responseText?: string;
  serverResponseCode?: string;
  response?: string;
}

/** RFC 5530 codes that say "later", not "never". */
const TRANSIENT_CODES = new Set(['UNAVAILABLE', 'INUSE', 'LIMIT', 'EXPUNGEISSUED', 'SERVERBUG', 'CORRUPTION']);

interface ImapLimitError {
  code?: string;
  message?: string;
  literalSize?: number;
  lineLength?: number;
  maxSize?: number;
}

/**
 * A connection imapflow dropped because of what the server sent (docs/MAIL.md, Hostile servers): a literal, a
 * line or a response over Liaison's limits, or data that is not IMAP. Transient: the next cycle connects again
 * (a server that keeps doing it fails cycle after cycle, and the failure policy disables the mailbox).
 */
function hostileImapError(error: unknown, endpoint: MailEndpoint | null): ClassifiedError | null {
  const e = (error ?? {}) as ImapLimitError;
  const where = endpoint ? describeEndpoint(endpoint) : 'the IMAP server';
  const classified = (code: string, message: string): ClassifiedError => ({ kind: 'transient', code, message, serverResponse: e.message ?? null, fix: null, backOffMs: null });
  switch (e.code) {
    case 'LiteralTooLarge':
      return classified('imap.too-large', `${where} announced ${Number.isFinite(e.literalSize) ? `${e.literalSize} bytes of data` : 'data'}, larger than the ${e.maxSize ?? 'allowed'} bytes Liaison reads; the connection was closed before it was read`);
    case 'ResponseTooLarge':
      return classified('imap.too-large', `${where} sent a response larger than the ${e.maxSize ?? 'allowed'} bytes Liaison reads; the connection was closed`);
    case 'LineTooLarge':
      return classified('imap.line-too-long', `${where} sent a line longer than the ${e.maxSize ?? 'allowed'} bytes Liaison reads (no end of line came); the connection was closed`);
    case 'Deadline':
      return classified('imap.deadline', `${where}: ${e.message ?? 'the work did not finish in time'} (the server kept the answer going without finishing it)`);
    case 'TooManyTokens':
    case 'ProtocolError':
      return classified('imap.protocol', `${where} sent an answer that is not IMAP Liaison can read (${e.message ?? e.code}); the connection was closed`);
    default:
      if (e.code && /^ParserError/.test(e.code)) return classified('imap.protocol', `${where} sent an answer that is not IMAP: it cannot be parsed (${e.message ?? e.code})`);
      return null;
  }
}

export function classifyImapError(error: unknown, endpoint: MailEndpoint | null, login: string | null): ClassifiedError {
  if (error instanceof InvalidCursorError) {
    return { kind: 'invalid-cursor', code: 'imap.uidvalidity', message: error.message, serverResponse: null, fix: null, backOffMs: null };
  }
  if (error instanceof MessageUnavailableError && error.reason === 'too-large') {
    // Fetched again, it is as large again: a message's failure (retried and given up by the engine), not the mailbox's.
    return { kind: 'transient', code: 'imap.too-large', message: error.message, serverResponse: error.serverResponse, fix: null, backOffMs: null };
  }
  const hostile = hostileImapError(error, endpoint);
  if (hostile) return hostile;
  if (error instanceof MessageUnavailableError) {
    return { kind: 'transient', code: 'imap.message-unavailable', message: error.message, serverResponse: error.serverResponse, fix: null, backOffMs: null };
  }
  const common = classifyMailCommon(error, endpoint);
  if (common) return common;
  const e = (error ?? {}) as ImapFlowError;
  const where = endpoint ? describeEndpoint(endpoint) : 'the IMAP server';
  const server = e.responseText ? `${e.responseStatus ?? 'NO'} ${e.serverResponseCode ? `[${e.serverResponseCode}] ` : ''}${e.responseText}` : (e.response ?? null);
  if (e.authenticationFailed || e.serverResponseCode === 'AUTHENTICATIONFAILED' || e.serverResponseCode === 'AUTHORIZATIONFAILED') {
    const master = login?.includes('*') ?? false;
    return {
      kind: 'permanent',
      code: 'imap.auth',
      message: `${where} refused the login${login ? ` of ${login}` : ''}.`,
      serverResponse: server,
      fix: master
        ? 'Check the master user and its password on the profile, that the server allows master users (Dovecot: a passdb with master = yes and auth_master_user_separator matching the profile), and that the mailbox exists.'
        : "Check the mailbox's user name and password.",
      backOffMs: null,
    };
  }
  if (e.code === 'NoSTARTTLS' || /STARTTLS/i.test(e.message ?? '')) {
    return { kind: 'permanent', code: 'imap.starttls-missing', message: `${where} does not offer STARTTLS, and Liaison never logs in without TLS.`, serverResponse: server, fix: 'Enable STARTTLS on the server, or use implicit TLS (imaps, port 993).', backOffMs: null };
  }
  if (e.serverResponseCode === 'PRIVACYREQUIRED' || /LOGINDISABLED|Plaintext authentication disallowed/i.test(`${e.responseText ?? ''} ${e.message ?? ''}`)) {
    return { kind: 'permanent', code: 'imap.plaintext-refused', message: `${where} refuses to log in over this connection.`, serverResponse: server, fix: 'Use TLS (imaps on port 993, or STARTTLS on 143).', backOffMs: null };
  }
  if (e.serverResponseCode === 'OVERQUOTA') {
    return { kind: 'permanent', code: 'imap.overquota', message: `The mailbox on ${where} is over its quota.`, serverResponse: server, fix: 'Free space in the mailbox or raise its quota.', backOffMs: null };
  }
  if (e.responseStatus === 'BYE' || (e.serverResponseCode && TRANSIENT_CODES.has(e.serverResponseCode))) {
    return { kind: 'transient', code: `imap.${e.serverResponseCode ?? 'bye'}`, message: `${where}: ${e.responseText ?? e.message ?? 'the server closed the connection'}`, serverResponse: server, fix: null, backOffMs: null };
  }
  return { kind: 'transient', code: e.responseStatus ? `imap.${e.responseStatus.toLowerCase()}` : 'imap.error', message: `${where}: ${e.message ?? String(error)}`, serverResponse: server, fix: null, backOffMs: null };
}
