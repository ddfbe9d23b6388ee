/**
 * What an error of the Graph connector means for the engine (ClassifiedError), from what Microsoft documents of
 * each answer (Graph's errors and throttling pages, the delta query pages, Azure AD's AADSTS reference):
 *
 * - throttled: HTTP 429 (ApplicationThrottled, TooManyRequests) and 503 with Retry-After, ErrorServerBusy. Not a
 *   failure of the mailbox; `backOffMs` is the Retry-After.
 * - invalid-cursor: 410 Gone / SyncStateNotFound (any case), SyncStateInvalid, resyncRequired: the delta link is no
 *   longer valid; the engine lists the folder again, and the outcomes it recorded keep anything from being tracked
 *   twice.
 * - permanent: AADSTS codes from the token endpoint (a wrong or expired secret, an unknown tenant or app, a
 *   certificate not registered), a 401 that a new token did not cure, 403 ErrorAccessDenied (permissions, or an
 *   application access policy), 404 MailboxNotEnabledForRESTAPI, no such user, TLS refused.
 * - uncertain: a draft send whose connection broke after the request had left (GraphSendUncertainError).
 * - an HTML page where JSON was expected (a proxy's page) is graph.html-page: permanent when it asks for a
 *   password (a sign-in page stays until an administrator lets Graph through), transient otherwise.
 * - transient: timeouts, resets, 5xx, an answer that cannot be read, ErrorItemNotFound, anything unknown.
 */
import type { ClassifiedError, FailureKind } from '../connector.js';
import { explainTransportError } from '../ews/explain.js';
import { TransportError } from '../ews/transport/types.js';
import { GraphError, GraphProtocolError, GraphSendUncertainError, GraphTokenError, SERVER_RESPONSE_CHARS } from './errors.js';
import { explainAadsts, explainAccessDenied, explainInvalidToken, explainMailboxNotEnabled, explainNoMailbox, type GraphExplainContext } from './explain.js';

const THROTTLED_CODES = new Set(['applicationthrottled', 'toomanyrequests', 'errorserverbusy', 'errortoomanyobjectsopened', 'mailboxconcurrency']);
const INVALID_CURSOR_CODES = new Set(['syncstatenotfound', 'syncstateinvalid', 'resyncrequired']);
const NO_MAILBOX_CODES = new Set(['resourcenotfound', 'errorinvaliduser', 'mailboxnotfound', 'errornonexistentmailbox', 'request_resourcenotfound']);

function result(kind: FailureKind, code: string, message: string, rest: Partial<Omit<ClassifiedError, 'kind' | 'code' | 'message'>> = {}): ClassifiedError {
  return { kind, code, message, serverResponse: rest.serverResponse ?? null, fix: rest.fix ?? null, backOffMs: rest.backOffMs ?? null };
}

function classifyToken(error: GraphTokenError, context: GraphExplainContext): ClassifiedError {
  const cause = error.cause;
  if (cause instanceof TransportError) return classifyTransport(cause);
  // Azure AD throttles token requests with 429 (temporarily_unavailable, AADSTS50196 "client request loop"): the
  // mailbox waits like any throttled one; it is not a refusal an administrator has to fix.
  if (error.status === 429 || error.oauthError === 'temporarily_unavailable' || error.aadsts === 'AADSTS50196') {
    return result('throttled', error.aadsts ? `aad.${error.aadsts}` : 'aad.http.429', 'The Microsoft identity platform asked Liaison to slow down its token requests', {
      serverResponse: error.serverResponse,
      backOffMs: error.retryAfterMs,
    });
  }
  if (error.aadsts) {
    const explained = explainAadsts(error.aadsts, error.serverResponse, context);
    // Azure AD's own trouble (5xx) passes; a refusal (4xx) stays until an administrator changes something.
    const kind: FailureKind = error.status !== null && error.status >= 500 ? 'transient' : 'permanent';
    return result(kind, `aad.${error.aadsts}`, explained.summary, { serverResponse: error.serverResponse, fix: explained.fix });
  }
  if (error.status !== null && (error.status >= 500 || error.status === 429)) {
    return result('transient', `aad.http.${error.status}`, error.message, { serverResponse: error.serverResponse });
  }
  if (error.status === null && !error.serverResponse) {
    // Nothing came back from Azure AD: the profile itself is wrong (no secret, a PEM without its key, a bad URL).
    return result('permanent', 'aad.configuration', error.message, { fix: "Correct the profile's client secret or client certificate and its authority, then run Test Connection." });
  }
  return result('permanent', `aad.${error.oauthError ?? 'error'}`, error.message, { serverResponse: error.serverResponse });
}

function classifyGraph(error: GraphError, context: GraphExplainContext): ClassifiedError {
  const lower = error.code.toLowerCase();
  const serverResponse = error.serverResponse;
  const host = context.graphHost ?? 'Microsoft Graph';
  if (error.status === 429 || (error.status === 503 && error.retryAfterMs !== null) || THROTTLED_CODES.has(lower)) {
    const code = error.status === 429 || error.status === 503 ? `http.${error.status}` : `graph.${error.code}`;
    return result('throttled', code, `${host} asks Liaison to slow down for ${context.mailbox ?? 'this app'} (${error.code}${error.retryAfterMs !== null ? `, Retry-After ${Math.ceil(error.retryAfterMs / 1000)} s` : ''})`, {
      serverResponse,
      backOffMs: error.retryAfterMs,
    });
  }
  if (error.status === 410 || INVALID_CURSOR_CODES.has(lower)) {
    return result('invalid-cursor', 'graph.SyncStateNotFound', `${host} no longer accepts the stored delta link of ${context.mailbox ?? 'the mailbox'}: the folder is read again from the start`, { serverResponse });
  }
  if (lower === 'mailboxnotenabledforrestapi') {
    const e = explainMailboxNotEnabled(context);
    return result('permanent', 'graph.MailboxNotEnabledForRESTAPI', e.summary, { serverResponse, fix: e.fix });
  }
  if (lower === 'erroraccessdenied' || lower === 'accessdenied' || lower === 'authorization_requestdenied' || (error.status === 403 && !lower.startsWith('http.'))) {
    const e = explainAccessDenied(error.serverResponse ?? error.message, context);
    return result('permanent', `graph.${error.code}`, e.summary, { serverResponse, fix: e.fix });
  }
  if (error.status === 403) {
    const e = explainAccessDenied(error.serverResponse ?? '', context);
    return result('permanent', 'http.403', e.summary, { serverResponse, fix: e.fix });
  }
  if (error.status === 401) {
    const e = explainInvalidToken(context);
    return result('permanent', lower.startsWith('http.') ? 'http.401' : `graph.${error.code}`, e.summary, { serverResponse, fix: e.fix });
  }
  if (lower === 'erroritemnotfound') {
    return result('transient', 'graph.ErrorItemNotFound', `${host} no longer has the item or folder ${error.operation} asked for (ErrorItemNotFound)`, { serverResponse });
  }
  if (NO_MAILBOX_CODES.has(lower) && error.status === 404) {
    const e = explainNoMailbox(context);
    return result('permanent', `graph.${error.code}`, e.summary, { serverResponse, fix: e.fix });
  }
  const code = lower.startsWith('http.') ? error.code : `graph.${error.code}`;
  return result('transient', code, error.message, { serverResponse, backOffMs: error.retryAfterMs });
}

function classifyTransport(error: TransportError): ClassifiedError {
  const diagnosis = explainTransportError(error);
  const kind: FailureKind = error.kind === 'tls' || error.kind === 'insecure-url' ? 'permanent' : 'transient';
  return result(kind, `transport.${error.kind}`, diagnosis.summary, { fix: kind === 'permanent' ? (diagnosis.fix ?? null) : null });
}

/** Classifies any error the Graph connector or its sessions throw. Never throws. */
export function classifyGraphError(error: unknown, context: GraphExplainContext = {}): ClassifiedError {
  try {
    if (error instanceof GraphSendUncertainError) {
      return result('uncertain', `send.uncertain.${error.reason}`, `${error.message}; Sent Items is searched for its identifier before it is sent again`);
    }
    if (error instanceof GraphTokenError) return classifyToken(error, context);
    if (error instanceof GraphError) return classifyGraph(error, context);
    if (error instanceof TransportError) return classifyTransport(error);
    if (error instanceof GraphProtocolError && error.htmlPage) {
      // As for EWS: a page that asks for a password stays until an administrator lets Graph through; another page may pass.
      return result(error.htmlPage.signIn ? 'permanent' : 'transient', 'graph.html-page', `${context.graphHost ?? 'Microsoft Graph'} answered ${error.message.slice(error.operation.length + 2)}`, {
        serverResponse: error.excerpt,
        fix: `The Graph URL reaches a web page, not Microsoft Graph. If a proxy or gateway stands between Liaison and ${context.graphHost ?? 'graph.microsoft.com'}, let Liaison's requests to it and to the sign-in authority through without its own sign-in page, or correct the profile's Graph URL (https://graph.microsoft.com for the global cloud).`,
      });
    }
    if (error instanceof GraphProtocolError) {
      return result('transient', 'graph.protocol', error.message, { serverResponse: error.excerpt ? error.excerpt.slice(0, SERVER_RESPONSE_CHARS) : null });
    }
    const message = error instanceof Error ? error.message : String(error);
    return result('transient', 'unknown', message || 'an unknown error');
  } catch (failure) {
    return result('transient', 'unknown', `an error that could not be read (${(failure as Error)?.message ?? String(failure)})`);
  }
}
