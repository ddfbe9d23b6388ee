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

export function classifyImapError(error: unknown, endpoint: MailEndpoint | null, login: string | null): ClassifiedError {
  if (error instanceof InvalidCursorError) {
    return { kind: 'invalid-cursor', code: 'imap.uidvalidity', message: error.message, serverResponse: null, fix: null, backOffMs: null };
  }
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
