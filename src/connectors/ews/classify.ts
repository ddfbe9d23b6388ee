/**
 * What an error of the EWS connector means for the engine (ClassifiedError). The kinds follow what Exchange's
 * documentation says of each answer (ms-docs ews-throttling-in-exchange.md, handling-synchronization-related-
 * errors-…, handling-notification-related-errors-…, responsecode.md; reference/exchange/PROTOCOL.md §2–§5):
 *
 * - throttled: ErrorServerBusy (SOAP fault or response message, BackOffMilliseconds in MessageXml),
 *   ErrorExceededConnectionCount / ErrorExceededSubscriptionCount, HTTP 503 or 429 with Retry-After.
 * - invalid-cursor: ErrorInvalidSyncStateData ("resync without a SyncState"), and ErrorInvalidWatermark.
 * - permanent: 401, 403, 404, impersonation refused, no such mailbox, access denied, no version in common, a
 *   certificate that does not verify, a URL that is not https. The `fix` is the diagnostics' own text.
 * - uncertain: a send (CreateItem) whose connection broke or timed out after the request left.
 * - transient: timeouts, resets, refused connections, 5xx, ErrorInternalServerError, and anything unknown.
 * - hostile answers (docs/EXCHANGE.md, Hostile servers): too large an answer (transport.too-large) and one that
 *   does not end in time (transport.timeout) are transient; XML that is unsafe or malformed (a DTD, entities,
 *   nesting too deep, cut short) is ews.protocol, transient; an HTML page with status 200 is ews.html-page,
 *   permanent when it asks for a password (a proxy's sign-in page), transient otherwise.
 */
import type { ClassifiedError, FailureKind } from '../connector.js';
import { AutodiscoverError } from './autodiscover/discover.js';
import { explain401, explainEwsError, explainHttpError, explainTransportError } from './explain.js';
import { EwsSendUncertainError } from './send-errors.js';
import { EwsFaultError, EwsHttpError, EwsProtocolError, EwsResponseError } from './soap/errors.js';
import { type AuthMethod, TransportError } from './transport/types.js';

/** Who and where, for the fix texts: the service account, the mailbox the call was for, the server's host. */
export interface ClassifyContext {
  username: string;
  method: AuthMethod;
  mailbox?: string;
  host?: string;
}

const THROTTLED_CODES = new Set(['ErrorServerBusy', 'ErrorExceededConnectionCount', 'ErrorExceededSubscriptionCount', 'ErrorTooManyObjectsOpened']);
const INVALID_CURSOR_CODES = new Set(['ErrorInvalidSyncStateData', 'ErrorInvalidWatermark']);
const PERMANENT_CODES = new Set([
  'ErrorImpersonateUserDenied',
  'ErrorImpersonationDenied',
  'ErrorInvalidExchangeImpersonationHeaderData',
  'ErrorNonExistentMailbox',
  'ErrorMailRecipientNotFound',
  'ErrorAccessDenied',
  'ErrorAccountDisabled',
  'ErrorInvalidServerVersion',
  'ErrorIncorrectSchemaVersion',
]);
const PERMANENT_TRANSPORT = new Set<TransportError['kind']>(['tls', 'insecure-url']);

const SERVER_RESPONSE_CHARS = 2000;

/** Retry-After as milliseconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function result(kind: FailureKind, code: string, message: string, rest: Partial<Omit<ClassifiedError, 'kind' | 'code' | 'message'>> = {}): ClassifiedError {
  return { kind, code, message, serverResponse: rest.serverResponse ?? null, fix: rest.fix ?? null, backOffMs: rest.backOffMs ?? null };
}

function ewsServerResponse(error: EwsFaultError | EwsResponseError): string {
  const { responseCode, messageText, messageXmlText, httpStatus } = error.details;
  return `HTTP ${httpStatus}: ${responseCode}: ${messageText}${messageXmlText ? ` ${messageXmlText}` : ''}`.slice(0, SERVER_RESPONSE_CHARS);
}

function httpServerResponse(error: EwsHttpError): string {
  const { httpStatus, headers, bodyExcerpt } = error.details;
  const shown = ['www-authenticate', 'retry-after'].filter((h) => headers[h] !== undefined).map((h) => `${h}: ${headers[h]}`);
  return [`HTTP ${httpStatus}`, ...shown, bodyExcerpt].filter(Boolean).join('\n').slice(0, SERVER_RESPONSE_CHARS);
}

function classifyEws(error: EwsFaultError | EwsResponseError, context: ClassifyContext): ClassifiedError {
  const code = error.responseCode;
  const serverResponse = ewsServerResponse(error);
  const where = { username: context.username, mailbox: context.mailbox ?? 'the mailbox', host: context.host ?? 'Exchange' };
  if (THROTTLED_CODES.has(code)) {
    return result('throttled', `ews.${code}`, `${where.host} asks Liaison to slow down (${code})`, { serverResponse, backOffMs: error.backOffMs, fix: explainEwsError(error, where).fix ?? null });
  }
  if (INVALID_CURSOR_CODES.has(code)) {
    return result('invalid-cursor', `ews.${code}`, `${where.host} no longer accepts the stored sync state of ${where.mailbox}: the folder is read again from the start`, { serverResponse });
  }
  if (PERMANENT_CODES.has(code)) {
    const diagnosis = explainEwsError(error, where);
    return result('permanent', `ews.${code}`, diagnosis.summary, { serverResponse, fix: diagnosis.fix ?? null });
  }
  return result('transient', `ews.${code}`, `${where.host} answered ${code}: ${error.details.messageText}`, { serverResponse, backOffMs: error.backOffMs });
}

/**
 * An HTML page with a 2xx status where SOAP was expected. A page that asks for a password is a reverse proxy's
 * sign-in (pre-authentication) page: retrying gets the same page until an administrator lets EWS through, so
 * it is permanent. Any other page (a maintenance or error page an appliance serves with 200) may go away: it is
 * transient, and the failure policy disables the mailbox after its consecutive failures if it does not.
 */
function classifyHtmlPage(error: EwsHttpError, page: { title: string | null; signIn: boolean }, context: ClassifyContext): ClassifiedError {
  const host = context.host ?? 'Exchange';
  const diagnosis = explainHttpError(error, { username: context.username, method: context.method, host });
  return result(page.signIn ? 'permanent' : 'transient', 'ews.html-page', diagnosis.summary, { serverResponse: httpServerResponse(error), fix: diagnosis.fix ?? null });
}

function classifyHttp(error: EwsHttpError, context: ClassifyContext): ClassifiedError {
  const status = error.details.httpStatus;
  const host = context.host ?? 'Exchange';
  if (error.details.htmlPage) return classifyHtmlPage(error, error.details.htmlPage, context);
  const serverResponse = httpServerResponse(error);
  const code = `http.${status}`;
  const backOffMs = retryAfterMs(error.details.headers['retry-after']);
  if ((status === 503 || status === 429) && backOffMs !== null) {
    return result('throttled', code, `${host} is unavailable for now and asks to come back later (HTTP ${status}, Retry-After)`, { serverResponse, backOffMs });
  }
  if (status === 401) {
    const diagnosis = explain401(error.details.authenticate, context.method, context.username, host);
    return result('permanent', code, diagnosis.summary, { serverResponse, fix: diagnosis.fix ?? null });
  }
  if (status === 403 || status === 404) {
    const diagnosis = explainHttpError(error, { username: context.username, method: context.method, host });
    return result('permanent', code, diagnosis.summary, { serverResponse, fix: diagnosis.fix ?? null });
  }
  return result('transient', code, `${host} answered HTTP ${status}: ${error.details.reason}`, { serverResponse, backOffMs });
}

function classifyTransport(error: TransportError): ClassifiedError {
  const diagnosis = explainTransportError(error);
  const kind: FailureKind = PERMANENT_TRANSPORT.has(error.kind) ? 'permanent' : 'transient';
  return result(kind, `transport.${error.kind}`, diagnosis.summary, { fix: kind === 'permanent' ? (diagnosis.fix ?? null) : null });
}

/** Classifies any error the EWS connector or its sessions throw. Never throws. */
export function classifyEwsError(error: unknown, context: ClassifyContext): ClassifiedError {
  try {
    if (error instanceof EwsSendUncertainError) {
      return result('uncertain', `send.uncertain.${error.reason}`, `${error.message}; Sent Items is checked for its Message-ID before it is sent again`);
    }
    if (error instanceof EwsFaultError || error instanceof EwsResponseError) return classifyEws(error, context);
    if (error instanceof EwsHttpError) return classifyHttp(error, context);
    if (error instanceof TransportError) return classifyTransport(error);
    if (error instanceof EwsProtocolError) {
      return result('transient', 'ews.protocol', error.message, { serverResponse: error.excerpt ? error.excerpt.slice(0, SERVER_RESPONSE_CHARS) : null });
    }
    if (error instanceof AutodiscoverError) {
      // Autodiscover said the address is no user it knows: only an administrator can change that.
      const invalidUser = error.attempts.some((a) => a.outcome === 'error' && a.code === 'InvalidUser');
      return invalidUser
        ? result('permanent', 'autodiscover.InvalidUser', `Autodiscover knows no mailbox ${error.email}`, {
            fix: `Check the address (the mailbox's primary SMTP address) and that the mailbox is in this Exchange organization`,
          })
        : result('transient', `autodiscover.${error.reason}`, error.message);
    }
    const message = error instanceof Error ? error.message : String(error);
    return result('transient', 'unknown', message || 'an unknown error');
  } catch (failure) {
    return result('transient', 'unknown', `an error that could not be read (${(failure as Error)?.message ?? String(failure)})`);
  }
}
