/**
 * graph.<domain>/v1.0: the Graph side. Every request shows a bearer token from login.<domain> (signature,
 * expiry, tenant, audience checked), and every mailbox request is checked against the token's roles, the
 * tenant's application access policies and the per-app-and-mailbox concurrency limit, then faults, then carried
 * out on the same mailboxes the EWS side serves.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultKind } from '../behaviour.js';
import { sendStored } from '../ews/operations/create-item.js';
import type { EwsContext } from '../ews/context.js';
import type { Mailbox } from '../state/mailbox.js';
import { readMime } from '../state/mime.js';
import type { Address, Folder, GraphApp, Item, MessageProps } from '../state/model.js';
import { readGraphAttachments } from './attachments.js';
import { delta } from './delta.js';
import { ACCESS_DENIED, badRequest, errorBody, GraphError, notFoundItem, RAOP_DENIED } from './errors.js';
import { decodeJwt, verifyRs256 } from './jwt.js';
import { GRAPH_RESOURCE } from './login.js';
import { filterMessages, parseFilter } from './filter.js';
import { findItem, folderIdFor, fromRest } from './ids.js';
import { MESSAGE_SELECTABLE, readExtendedProperties, renderFolder, renderMessage, type RenderOptions, renderUser, WELL_KNOWN_FOLDERS } from './messages.js';
import type { GraphService } from './service.js';
import { MAX_EXPIRATION_MINUTES, type GraphSubscription, type LifecycleEvent } from './subscriptions.js';

export interface GraphRequest {
  method: string;
  /** The path below /v1.0, e.g. /users/a@b/messages. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
}

export interface GraphAnswer {
  status: number;
  headers: Record<string, string>;
  /** JSON to send, or raw bytes/text with their Content-Type in headers. */
  json?: unknown;
  raw?: Buffer | string;
  /** Cut the connection: before carrying the request out, or after. */
  drop?: 'before' | 'after';
}

export interface Caller {
  app: GraphApp;
  roles: string[];
}

const READ_ROLES = ['Mail.Read', 'Mail.ReadWrite', 'Mail.ReadBasic', 'Mail.ReadBasic.All'];
const WRITE_ROLES = ['Mail.ReadWrite'];
const SEND_ROLES = ['Mail.Send'];

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function invalidToken(graph: GraphService, message: string): GraphError {
  return new GraphError(401, 'InvalidAuthenticationToken', message, {
    'WWW-Authenticate': `Bearer realm="", authorization_uri="${graph.loginUrl()}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
  });
}

/** Checks the bearer token: signed by the sandbox's key, for Graph, of this tenant, not expired. */
export function authenticate(graph: GraphService, authorization: string | undefined): Caller {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!match) throw invalidToken(graph, 'Access token is empty.');
  const jwt = decodeJwt(match[1]!);
  if (!jwt) throw invalidToken(graph, 'IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format.');
  if (!verifyRs256(jwt, graph.directory.key())) throw invalidToken(graph, 'Access token validation failure. Invalid signature.');
  const claims = jwt.payload;
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number' || claims.exp <= now) throw invalidToken(graph, 'Lifetime validation failed, the token is expired.');
  if (typeof claims.nbf === 'number' && claims.nbf > now + 300) throw invalidToken(graph, 'Lifetime validation failed, the token is not yet valid.');
  if (claims.aud !== GRAPH_RESOURCE && claims.aud !== graph.graphUrl()) throw invalidToken(graph, 'Access token validation failure. Invalid audience.');
  if (claims.tid !== graph.directory.tenantId) throw invalidToken(graph, 'Access token validation failure. Invalid issuer.');
  const app = graph.directory.app(String(claims.appid ?? ''));
  // An app deleted since its token was issued: Graph refuses the token.
  if (!app) throw invalidToken(graph, 'Access token validation failure. The application was not found.');
  return { app, roles: Array.isArray(claims.roles) ? (claims.roles as string[]) : [] };
}

interface Scope {
  graph: GraphService;
  caller: Caller;
  req: GraphRequest;
  immutable: boolean;
  /** What goes into Preference-Applied. */
  applied: string[];
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): GraphAnswer {
  return { status, headers, json: value };
}

function need(scope: Scope, roles: string[]): void {
  if (!scope.caller.roles.some((r) => roles.includes(r))) throw new GraphError(403, 'ErrorAccessDenied', ACCESS_DENIED);
}

function body(scope: Scope): Record<string, unknown> {
  if (scope.req.body.length === 0) return {};
  try {
    const value = JSON.parse(scope.req.body.toString('utf8')) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw badRequest('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.');
  }
}

/** A path segment as name and key: `mailFolders('inbox')` → [mailFolders, inbox]. */
function splitSegment(segment: string): [string, string | null] {
  const m = /^([^(]+)\('?(.*?)'?\)$/.exec(segment);
  return m ? [m[1]!, m[2]!] : [segment, null];
}

function segmentsOf(path: string): string[] {
  const out: string[] = [];
  for (const raw of path.split('/').filter(Boolean)) {
    const [name, key] = splitSegment(decodeURIComponent(raw));
    out.push(name);
    if (key !== null) out.push(key);
  }
  return out;
}

function userMailbox(graph: GraphService, id: string): Mailbox {
  const state = graph.runtime.state;
  const mailbox = state.mailbox(id) ?? state.mailboxByGuid(id.toLowerCase());
  if (mailbox) return mailbox;
  // An account of the directory without a mailbox here (a service account), as a user whose mailbox is elsewhere.
  if (state.account(id)) throw new GraphError(404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
  throw new GraphError(404, 'ErrorInvalidUser', `The requested user '${id}' is invalid.`);
}

function folderOf(mailbox: Mailbox, id: string): Folder {
  const known = WELL_KNOWN_FOLDERS[id.toLowerCase()];
  const folder = known ? mailbox.distinguishedFolder(known) : mailbox.folder(fromRest(id));
  if (!folder) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  return folder;
}

function itemOf(mailbox: Mailbox, id: string): Item {
  const item = findItem(mailbox, id);
  if (!item) throw notFoundItem();
  return item;
}

function selectOf(query: URLSearchParams, selectable: Set<string>): Set<string> | null {
  const value = query.get('$select');
  if (value === null) return null;
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!selectable.has(name) && name !== 'singleValueExtendedProperties') throw badRequest(`Could not find a property named '${name}' on type 'microsoft.graph.message'.`, 'RequestBroker--ParseUri');
  }
  return new Set(names);
}

/** `$expand=singleValueExtendedProperties($filter=id eq '…')` (or without the filter): the ids asked for, or null. */
function expandOf(query: URLSearchParams): string[] | null {
  const value = query.get('$expand');
  if (value === null) return null;
  const m = /^singleValueExtendedProperties(?:\(\$filter=(.*)\))?$/i.exec(value.trim());
  if (!m) throw badRequest(`Parsing OData Select and Expand failed: Could not find a property named '${value.split('(')[0]}' on type 'microsoft.graph.message'.`);
  if (!m[1]) return [];
  const ids = [...m[1].matchAll(/id\s+eq\s+'((?:[^']|'')*)'/gi)].map((x) => x[1]!.replace(/''/g, "'"));
  if (ids.length === 0) throw badRequest('Invalid filter clause', 'BadRequest');
  return ids;
}

function renderOptions(scope: Scope, withQuery = true): RenderOptions {
  return {
    immutable: scope.immutable,
    select: withQuery ? selectOf(scope.req.query, MESSAGE_SELECTABLE) : null,
    expandExtended: withQuery ? expandOf(scope.req.query) : null,
    owaHost: 'outlook.office365.com',
  };
}

function contextUrl(scope: Scope, fragment: string): string {
  return `${scope.graph.graphUrl()}/v1.0/$metadata#${fragment}`;
}

/** One page of a list, with an @odata.nextLink carrying $skip when there is more. */
function page(scope: Scope, all: unknown[], fragment: string, defaultTop: number): GraphAnswer {
  const q = scope.req.query;
  const topText = q.get('$top');
  const skipText = q.get('$skip');
  // Without $top, Prefer: odata.maxpagesize sets the page size (and is said to be applied).
  const preferred = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(scope.req.headers.prefer ?? '');
  let top = topText === null ? defaultTop : Number(topText);
  if (topText === null && preferred) {
    top = Math.max(1, Math.min(1000, Number(preferred[1])));
    scope.applied.push(`odata.maxpagesize=${top}`);
  }
  const skip = skipText === null ? 0 : Number(skipText);
  if (!Number.isInteger(top) || top < 0 || top > 1000) throw badRequest(`Invalid value '${topText}' for $top query option found. The $top query option requires a non-negative integer value.`, 'ErrorInvalidUrlQuery');
  if (!Number.isInteger(skip) || skip < 0) throw badRequest(`Invalid value '${skipText}' for $skip query option found. The $skip query option requires a non-negative integer value.`, 'ErrorInvalidUrlQuery');
  const value = all.slice(skip, skip + top);
  const out: Record<string, unknown> = { '@odata.context': contextUrl(scope, fragment), value };
  if (skip + top < all.length) {
    const next = new URLSearchParams(q);
    next.set('$top', String(top));
    next.set('$skip', String(skip + top));
    out['@odata.nextLink'] = `${scope.graph.graphUrl()}/v1.0${scope.req.path}?${next.toString().replace(/%24/g, '$')}`;
  }
  return json(200, out);
}

const address = (value: unknown, what: string): Address => {
  const email = (value as { emailAddress?: { address?: unknown; name?: unknown } } | null)?.emailAddress;
  if (!email || typeof email.address !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(email.address)) throw badRequest(`At least one recipient is not valid., Recipient '${JSON.stringify(value)}' in ${what} is not resolved.`, 'ErrorInvalidRecipients');
  return { name: typeof email.name === 'string' && email.name ? email.name : email.address, address: email.address };
};
const addressList = (value: unknown, what: string): Address[] => {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest(`${what} must be a collection.`);
  return value.map((v) => address(v, what));
};

/** Reads a JSON message (Graph's message resource) into MIME and properties, from the mailbox's owner. */
async function composeJson(scope: Scope, mailbox: Mailbox, message: Record<string, unknown>): Promise<{ mime: Buffer; recipients: Address[]; given: Partial<MessageProps> }> {
  const headers = message.internetMessageHeaders;
  const custom: Array<{ name: string; value: string }> = [];
  if (headers !== undefined && headers !== null) {
    if (!Array.isArray(headers)) throw badRequest('internetMessageHeaders must be a collection.');
    for (const h of headers as Array<{ name?: unknown; value?: unknown }>) {
      if (typeof h?.name !== 'string' || typeof h.value !== 'string') throw badRequest('Each internetMessageHeader needs a string "name" and "value".');
      if (!/^x-/i.test(h.name)) {
        throw new GraphError(400, 'InvalidInternetMessageHeader', `The internet message header name '${h.name}' should start with 'x-' or 'X-'.`);
      }
      custom.push({ name: h.name, value: h.value });
    }
  }
  const extended = readExtendedProperties(message.singleValueExtendedProperties);
  // Read (and refused when the sandbox cannot carry them) before anything is sent or stored.
  const attachments = readGraphAttachments(message.attachments);
  const to = addressList(message.toRecipients, 'toRecipients');
  const cc = addressList(message.ccRecipients, 'ccRecipients');
  const bcc = addressList(message.bccRecipients, 'bccRecipients');
  const replyTo = addressList(message.replyTo, 'replyTo');
  const from = message.from ? address(message.from, 'from') : null;
  if (from && !mailbox.owns(from.address)) {
    throw new GraphError(403, 'ErrorSendAsDenied', 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.');
  }
  const b = (message.body ?? {}) as { contentType?: unknown; content?: unknown };
  const html = typeof b.contentType === 'string' && b.contentType.toLowerCase() === 'html';
  const content = typeof b.content === 'string' ? b.content : '';
  const subject = typeof message.subject === 'string' ? message.subject : '';
  const importance = typeof message.importance === 'string' ? (({ low: 'Low', high: 'High' }) as Record<string, 'Low' | 'High'>)[message.importance.toLowerCase()] ?? 'Normal' : 'Normal';
  const mime = await scope.graph.runtime.state.compose(
    {
      from: { name: mailbox.displayName, address: mailbox.address },
      to,
      cc,
      bcc,
      replyTo,
      subject,
      ...(html ? { html: content } : { text: content }),
      importance,
      headers: custom,
      messageId: typeof message.internetMessageId === 'string' ? message.internetMessageId : undefined,
      readReceipt: message.isReadReceiptRequested === true,
      deliveryReceipt: message.isDeliveryReceiptRequested === true,
      attachments,
    },
    true,
  );
  return { mime, recipients: [...to, ...cc, ...bcc], given: { extended, ...(Array.isArray(message.categories) ? { categories: message.categories.map(String) } : {}) } };
}

/** Reads a base64 MIME body (Content-Type: text/plain), as Graph's MIME send and create take. */
function mimeBody(scope: Scope): Buffer | null {
  const type = scope.req.headers['content-type'] ?? '';
  if (!/^text\/plain/i.test(type)) return null;
  const text = scope.req.body.toString('ascii').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length === 0) throw badRequest('Invalid base64 string for MIME content.', 'ErrorMimeContentInvalidBase64String');
  const mime = Buffer.from(text, 'base64');
  if (!/^[!-9;-~]+:/m.test(mime.toString('latin1', 0, Math.min(mime.length, 2000)))) throw badRequest('Invalid MIME content.', 'ErrorMimeContentInvalid');
  return mime;
}

async function storeDraft(scope: Scope, mailbox: Mailbox, folder: Folder): Promise<Item> {
  const state = scope.graph.runtime.state;
  const raw = mimeBody(scope);
  let mime: Buffer;
  let given: Partial<MessageProps> = {};
  if (raw) mime = raw;
  else ({ mime, given } = await composeJson(scope, mailbox, body(scope)));
  const props: MessageProps = { ...(await readMime(mime, new Date())), ...given };
  props.isRead = true;
  props.isDraft = true;
  props.isSubmitted = false;
  return mailbox.addItem(folder, state.putMime(mime), props, false);
}

/** The EWS context the shared send code needs: the state and the mailbox. */
function ewsContext(scope: Scope, mailbox: Mailbox): EwsContext {
  return { state: scope.graph.runtime.state, mailbox } as unknown as EwsContext;
}

/** Runs one request (a top-level one, or one inside $batch) and gives its answer. */
export async function dispatch(graph: GraphService, caller: Caller, req: GraphRequest): Promise<GraphAnswer> {
  const preferenceApplied: string[] = [];
  const scope: Scope = { graph, caller, req, immutable: /IdType\s*=\s*"?ImmutableId"?/i.test(req.headers.prefer ?? ''), applied: preferenceApplied };
  if (scope.immutable) preferenceApplied.push('IdType="ImmutableId"');
  try {
    const answer = await route(scope, preferenceApplied);
    if (preferenceApplied.length) answer.headers['Preference-Applied'] = preferenceApplied.join(', ');
    return answer;
  } catch (error) {
    if (error instanceof GraphError) return json(error.status, errorBody(error, req.headers['client-request-id']), { ...error.headers });
    throw error;
  }
}

interface Guarded {
  operation: string;
  mailbox: Mailbox | null;
}

/** Access policy, concurrency limit and faults for a mailbox request, then the work; the slot is freed after. */
async function guarded(scope: Scope, guard: Guarded, work: () => Promise<GraphAnswer> | GraphAnswer): Promise<GraphAnswer> {
  const { graph, caller } = scope;
  const settings = graph.runtime.settings;
  let key: string | null = null;
  if (guard.mailbox) {
    if (!graph.directory.policyAllows(caller.app.clientId, guard.mailbox)) throw new GraphError(403, 'ErrorAccessDenied', RAOP_DENIED);
    key = `${caller.app.clientId}|${guard.mailbox.address.toLowerCase()}`;
    const count = graph.inFlight.get(key) ?? 0;
    if (count >= settings.graphConcurrencyLimit) {
      throw new GraphError(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'Retry-After': String(settings.graphRetryAfterSeconds) });
    }
    graph.inFlight.set(key, count + 1);
  }
  try {
    const kinds: FaultKind[] = ['http503', 'http429', 'slow', 'drop', 'dropAfter', 'malformed'];
    const rule = graph.runtime.faults.take({ operation: guard.operation, mailbox: guard.mailbox?.address ?? null, host: graph.hosts.graph }, kinds);
    let dropAfter = false;
    if (rule) {
      const retry = String(rule.backOffMilliseconds !== null ? Math.ceil(rule.backOffMilliseconds / 1000) : settings.graphRetryAfterSeconds);
      switch (rule.kind) {
        case 'http429':
          throw new GraphError(429, 'TooManyRequests', 'Please retry again later.', { 'Retry-After': retry });
        case 'http503':
          throw new GraphError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry later.', { 'Retry-After': retry });
        case 'slow':
          await new Promise((r) => setTimeout(r, rule.delayMs));
          break;
        case 'drop':
          return { status: 0, headers: {}, drop: 'before' };
        case 'dropAfter':
          dropAfter = true;
          break;
        case 'malformed':
          return { status: 200, headers: { 'Content-Type': 'application/json; odata.metadata=minimal; charset=utf-8' }, raw: '{"@odata.context":"' };
        default:
          break;
      }
    }
    const answer = await work();
    if (dropAfter) return { ...answer, drop: 'after' };
    return answer;
  } finally {
    if (key) {
      const left = (graph.inFlight.get(key) ?? 1) - 1;
      if (left <= 0) graph.inFlight.delete(key);
      else graph.inFlight.set(key, left);
    }
  }
}

async function route(scope: Scope, preferenceApplied: string[]): Promise<GraphAnswer> {
  const { req } = scope;
  const s = segmentsOf(req.path);
  const method = req.method.toUpperCase();
  const lower = s.map((x, i) => (i % 2 === 0 ? x.toLowerCase() : x));
  const unknown = () => new GraphError(400, 'BadRequest', `Resource not found for the segment '${s.at(-1) ?? ''}'.`);
  const noMethod = () => new GraphError(405, 'ErrorInvalidRequest', `The OData request is not supported.`);

  if (lower[0] === 'subscriptions') {
    if (s.length > 3 || (s.length === 3 && lower[2] !== 'reauthorize')) throw unknown();
    return subscriptionsRoute(scope, s[1] ?? null, method, s.length === 3 ? 'reauthorize' : null);
  }
  if (lower[0] === 'me') throw badRequest('/me request is only valid with delegated authentication flow.');
  if (lower[0] !== 'users' || s.length < 2) throw unknown();
  const userId = s[1]!;

  // users/{u}
  if (s.length === 2) {
    if (method !== 'GET') throw noMethod();
    const state = scope.graph.runtime.state;
    const mailbox = state.mailbox(userId) ?? state.mailboxByGuid(userId.toLowerCase());
    if (!mailbox) throw new GraphError(404, 'Request_ResourceNotFound', `Resource '${userId}' does not exist or one of its queried reference-property objects are not present.`);
    return guarded(scope, { operation: 'graph.get', mailbox: null }, () => json(200, { '@odata.context': contextUrl(scope, 'users/$entity'), ...renderUser(mailbox) }));
  }
  const mailbox = userMailbox(scope.graph, userId);
  const rest = lower.slice(2);

  if (rest[0] === 'sendmail' && rest.length === 1) {
    if (method !== 'POST') throw noMethod();
    need(scope, SEND_ROLES);
    return guarded(scope, { operation: 'graph.sendMail', mailbox }, async () => {
      const state = scope.graph.runtime.state;
      const raw = mimeBody(scope);
      if (raw) {
        const props = await readMime(raw, new Date());
        const recipients = [...props.toRecipients, ...props.ccRecipients, ...props.bccRecipients];
        if (recipients.length === 0) throw badRequest('At least one recipient is required, but none were found.', 'ErrorInvalidRecipients');
        await state.send(mailbox, raw, recipients);
        await saveSent(scope, mailbox, raw, {});
        return { status: 202, headers: {} };
      }
      const b = body(scope);
      if (!b.message || typeof b.message !== 'object') throw badRequest('Empty Payload. JSON content expected.', 'ErrorInvalidArgument');
      const message = await composeJson(scope, mailbox, b.message as Record<string, unknown>);
      if (message.recipients.length === 0) throw badRequest('At least one recipient is required, but none were found.', 'ErrorInvalidRecipients');
      await state.send(mailbox, message.mime, message.recipients);
      if (b.saveToSentItems !== false && b.saveToSentItems !== 'false') await saveSent(scope, mailbox, message.mime, message.given);
      return { status: 202, headers: {} };
    });
  }

  if (rest[0] === 'mailfolders') {
    // users/{u}/mailFolders
    if (rest.length === 1) {
      if (method === 'GET') {
        need(scope, READ_ROLES);
        return guarded(scope, { operation: 'graph.list', mailbox }, () => {
          const root = mailbox.distinguishedFolder('msgfolderroot')!;
          const list = mailbox.childFolders(root.id).filter((f) => (f.folderClass === 'IPF.Note' || f.folderClass === '' || f.folderClass.startsWith('IPF.Note')) && shown(scope, f));
          return page(scope, list.map((f) => renderFolder(mailbox, f)), `users('${userId}')/mailFolders`, 10);
        });
      }
      if (method === 'POST') return createFolder(scope, mailbox, mailbox.distinguishedFolder('msgfolderroot')!, userId);
      throw noMethod();
    }
    const folder = folderOf(mailbox, s[3]!);
    const tail = rest.slice(2);
    if (tail.length === 0) {
      if (method !== 'GET') throw noMethod();
      need(scope, READ_ROLES);
      return guarded(scope, { operation: 'graph.get', mailbox }, () => json(200, { '@odata.context': contextUrl(scope, `users('${userId}')/mailFolders/$entity`), ...renderFolder(mailbox, folder) }));
    }
    if (tail[0] === 'childfolders' && tail.length === 1) {
      if (method === 'GET') {
        need(scope, READ_ROLES);
        return guarded(scope, { operation: 'graph.list', mailbox }, () =>
          page(scope, mailbox.childFolders(folder.id).filter((f) => shown(scope, f)).map((f) => renderFolder(mailbox, f)), `users('${userId}')/mailFolders('${folderIdFor(folder)}')/childFolders`, 10),
        );
      }
      if (method === 'POST') return createFolder(scope, mailbox, folder, userId);
      throw noMethod();
    }
    if (tail[0] === 'messages') {
      if (tail.length === 1) {
        if (method === 'GET') return listMessages(scope, mailbox, [folder], `users('${userId}')/mailFolders('${s[3]}')/messages`);
        if (method === 'POST') {
          need(scope, WRITE_ROLES);
          return guarded(scope, { operation: 'graph.createMessage', mailbox }, async () => {
            const item = await storeDraft(scope, mailbox, folder);
            return json(201, { '@odata.context': contextUrl(scope, `users('${userId}')/messages/$entity`), ...renderMessage(mailbox, item, renderOptions(scope, false)) });
          });
        }
        throw noMethod();
      }
      if (tail[1] === 'delta' && tail.length === 2) {
        if (method !== 'GET') throw noMethod();
        need(scope, READ_ROLES);
        return guarded(scope, { operation: 'graph.delta', mailbox }, () => delta(scope.graph, mailbox, folder, userId, scope.req, renderOptions(scope), preferenceApplied));
      }
      return messageRoute(scope, mailbox, userId, s.slice(5), method);
    }
    throw unknown();
  }

  if (rest[0] === 'messages') {
    if (rest.length === 1) {
      if (method === 'GET') {
        const root = mailbox.distinguishedFolder('msgfolderroot')!;
        return listMessages(scope, mailbox, mailbox.subtree(root.id), `users('${userId}')/messages`);
      }
      if (method === 'POST') {
        need(scope, WRITE_ROLES);
        return guarded(scope, { operation: 'graph.createMessage', mailbox }, async () => {
          const item = await storeDraft(scope, mailbox, mailbox.distinguishedFolder('drafts')!);
          return json(201, { '@odata.context': contextUrl(scope, `users('${userId}')/messages/$entity`), ...renderMessage(mailbox, item, renderOptions(scope, false)) });
        });
      }
      throw noMethod();
    }
    return messageRoute(scope, mailbox, userId, s.slice(3), method);
  }
  throw unknown();
}

async function saveSent(scope: Scope, mailbox: Mailbox, mime: Buffer, given: Partial<MessageProps>): Promise<void> {
  const props: MessageProps = { ...(await readMime(mime, new Date())), ...given, isRead: true, isDraft: false, isSubmitted: false };
  mailbox.addItem(mailbox.distinguishedFolder('sentitems')!, scope.graph.runtime.state.putMime(mime), props, false);
}

/** Hidden folders are listed only with includeHiddenFolders=true (mailFolder resource, "Hidden mail folders"). */
function shown(scope: Scope, folder: Folder): boolean {
  return folder.isHidden !== true || (scope.req.query.get('includeHiddenFolders') ?? '').toLowerCase() === 'true';
}

function createFolder(scope: Scope, mailbox: Mailbox, parent: Folder, userId: string): Promise<GraphAnswer> {
  need(scope, WRITE_ROLES);
  return guarded(scope, { operation: 'graph.createFolder', mailbox }, () => {
    const b = body(scope);
    if (typeof b.displayName !== 'string' || !b.displayName.trim()) throw badRequest('The displayName property is required.', 'ErrorInvalidParameter');
    if (b.isHidden !== undefined && b.isHidden !== null && typeof b.isHidden !== 'boolean') throw badRequest("Cannot convert the literal to the expected type 'Edm.Boolean'.", 'RequestBodyRead');
    let folder: Folder;
    try {
      folder = mailbox.addFolder(parent.id, b.displayName, 'IPF.Note', null, true, { isHidden: b.isHidden === true });
    } catch (error) {
      if ((error as { code?: string }).code === 'ErrorFolderExists') throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
      throw error;
    }
    return json(201, { '@odata.context': contextUrl(scope, `users('${userId}')/mailFolders/$entity`), ...renderFolder(mailbox, folder) });
  });
}

function listMessages(scope: Scope, mailbox: Mailbox, folders: Folder[], fragment: string): Promise<GraphAnswer> {
  need(scope, READ_ROLES);
  return guarded(scope, { operation: 'graph.list', mailbox }, () => {
    const q = scope.req.query;
    const options = renderOptions(scope);
    const filterText = q.get('$filter');
    let items = folders.flatMap((f) => mailbox.liveItems(f));
    if (filterText !== null) items = filterMessages(items, parseFilter(filterText));
    const order = (q.get('$orderby') ?? 'receivedDateTime desc').trim();
    const m = /^receivedDateTime(?:\s+(asc|desc))?$/i.exec(order);
    if (!m) throw badRequest(`The query specified in the URI is not valid. Could not find a property named '${order.split(/\s+/)[0]}' on type 'microsoft.graph.message'.`, 'ErrorInvalidUrlQuery');
    const desc = (m[1] ?? 'asc').toLowerCase() === 'desc' || q.get('$orderby') === null;
    items.sort((a, b) => (a.props.dateTimeReceived < b.props.dateTimeReceived ? -1 : a.props.dateTimeReceived > b.props.dateTimeReceived ? 1 : a.createdSeq - b.createdSeq) * (desc ? -1 : 1));
    const selected = q.get('$select');
    return page(scope, items.map((i) => renderMessage(mailbox, i, options)), selected ? `${fragment}(${selected})` : fragment, 10);
  });
}

async function messageRoute(scope: Scope, mailbox: Mailbox, userId: string, s: string[], method: string): Promise<GraphAnswer> {
  const id = s[0];
  if (!id) throw new GraphError(400, 'BadRequest', 'Resource not found for the segment.');
  const action = (s[1] ?? '').toLowerCase();
  if (s.length === 1) {
    if (method === 'GET') {
      need(scope, READ_ROLES);
      return guarded(scope, { operation: 'graph.get', mailbox }, () => {
        const item = itemOf(mailbox, id);
        return json(200, { '@odata.context': contextUrl(scope, `users('${userId}')/messages/$entity`), ...renderMessage(mailbox, item, renderOptions(scope)) });
      });
    }
    if (method === 'PATCH') {
      need(scope, WRITE_ROLES);
      return guarded(scope, { operation: 'graph.update', mailbox }, () => {
        const item = itemOf(mailbox, id);
        const b = body(scope);
        const change: Partial<MessageProps> = {};
        if (typeof b.isRead === 'boolean') change.isRead = b.isRead;
        if (Array.isArray(b.categories)) change.categories = b.categories.map(String);
        if (b.singleValueExtendedProperties !== undefined) {
          const incoming = readExtendedProperties(b.singleValueExtendedProperties);
          change.extended = [...item.props.extended.filter((e) => !incoming.some((n) => n.key === e.key)), ...incoming];
        }
        if (item.props.isDraft && typeof b.subject === 'string') change.subject = b.subject;
        mailbox.updateItem(item, change);
        return json(200, { '@odata.context': contextUrl(scope, `users('${userId}')/messages/$entity`), ...renderMessage(mailbox, item, renderOptions(scope, false)) });
      });
    }
    if (method === 'DELETE') {
      need(scope, WRITE_ROLES);
      return guarded(scope, { operation: 'graph.delete', mailbox }, () => {
        const item = itemOf(mailbox, id);
        mailbox.disposeItem(item, 'MoveToDeletedItems');
        return { status: 204, headers: {} };
      });
    }
    throw new GraphError(405, 'ErrorInvalidRequest', 'The OData request is not supported.');
  }
  if (action === '$value' && s.length === 2) {
    if (method !== 'GET') throw new GraphError(405, 'ErrorInvalidRequest', 'The OData request is not supported.');
    need(scope, READ_ROLES);
    return guarded(scope, { operation: 'graph.value', mailbox }, () => {
      const item = itemOf(mailbox, id);
      if (item.corrupt) throw new GraphError(500, 'ErrorMimeContentConversionFailed', 'MIME content conversion failed.');
      return { status: 200, headers: { 'Content-Type': 'text/plain' }, raw: scope.graph.runtime.state.mime(item.mimeRef) };
    });
  }
  if (action === 'send' && s.length === 2) {
    if (method !== 'POST') throw new GraphError(405, 'ErrorInvalidRequest', 'The OData request is not supported.');
    need(scope, SEND_ROLES);
    return guarded(scope, { operation: 'graph.send', mailbox }, async () => {
      const item = itemOf(mailbox, id);
      if (!item.props.isDraft) throw badRequest('The item has already been sent.', 'ErrorInvalidOperation');
      const props = await readMime(scope.graph.runtime.state.mime(item.mimeRef), new Date());
      if (props.toRecipients.length + props.ccRecipients.length + props.bccRecipients.length === 0) {
        throw badRequest('At least one recipient is required, but none were found.', 'ErrorInvalidRecipients');
      }
      await sendStored(ewsContext(scope, mailbox), item, mailbox.distinguishedFolder('sentitems')!);
      return { status: 202, headers: {} };
    });
  }
  if ((action === 'move' || action === 'copy') && s.length === 2) {
    if (method !== 'POST') throw new GraphError(405, 'ErrorInvalidRequest', 'The OData request is not supported.');
    need(scope, WRITE_ROLES);
    return guarded(scope, { operation: 'graph.move', mailbox }, () => {
      const item = itemOf(mailbox, id);
      const b = body(scope);
      if (typeof b.destinationId !== 'string') throw badRequest('The destinationId parameter is required.', 'ErrorInvalidParameter');
      const target = folderOf(mailbox, b.destinationId);
      const moved = action === 'move' ? mailbox.moveItem(item, target) : mailbox.copyItem(item, target);
      // An action's answer names its type (message-move's documented answer does, as delta items do); answers of
      // the messages entity set (GET, POST, PATCH) do not.
      return json(201, {
        '@odata.context': contextUrl(scope, `users('${userId}')/messages/$entity`),
        '@odata.type': '#microsoft.graph.message',
        ...renderMessage(mailbox, moved, renderOptions(scope, false)),
      });
    });
  }
  throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${s[1]}'.`);
}

// ---- subscriptions ----

const RESOURCE = /^\/?users\/([^/]+)\/mailFolders(?:\('([^']+)'\)|\/([^/]+))\/messages$/i;
/** All of a user's messages (webhooks-lifecycle__01's resource). */
const ALL_MESSAGES = /^\/?users\/([^/]+)\/messages$/i;
/** The change types the sandbox notifies for messages; Graph also has deleted, which the sandbox refuses. */
const CHANGE_TYPES = new Set(['created', 'updated']);

function changeTypeOf(value: unknown): string {
  const text = typeof value === 'string' ? value : '';
  const list = text.split(',').map((t) => t.trim());
  if (!text.trim() || list.some((t) => !t)) throw badRequest('changeType is required: one or more of created, updated, deleted, separated by commas.', 'ValidationError');
  const refused = list.filter((t) => !CHANGE_TYPES.has(t));
  if (refused.length > 0) {
    // Refusing says so, rather than accepting and never notifying (docs/SANDBOX.md lists the difference).
    throw badRequest(`changeType '${refused.join(',')}' is not supported by the sandbox: only 'created' and 'updated' are.`, 'ValidationError');
  }
  if (new Set(list).size !== list.length) throw badRequest(`changeType '${text}' names a change type twice.`, 'ValidationError');
  return list.join(',');
}

function renderSubscription(scope: Scope, sub: GraphSubscription, entity = true): Record<string, unknown> {
  return {
    ...(entity ? { '@odata.context': contextUrl(scope, 'subscriptions/$entity') } : {}),
    id: sub.id,
    resource: sub.resource,
    applicationId: sub.applicationId,
    changeType: sub.changeType,
    clientState: sub.clientState,
    notificationUrl: sub.notificationUrl,
    notificationQueryOptions: null,
    lifecycleNotificationUrl: sub.lifecycleNotificationUrl,
    expirationDateTime: sub.expirationDateTime,
    creatorId: sub.creatorId,
    includeResourceData: null,
    latestSupportedTlsVersion: sub.latestSupportedTlsVersion,
    encryptionCertificate: null,
    encryptionCertificateId: null,
    notificationUrlAppId: null,
  };
}

function expiration(value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw badRequest('expirationDateTime is required and must be a date-time.', 'ValidationError');
  const at = Date.parse(value);
  if (at <= Date.now()) throw badRequest('Subscription expiration can only be in the future.', 'ExtensionError');
  if (at > Date.now() + MAX_EXPIRATION_MINUTES * 60_000) {
    throw badRequest(`Subscription expiration can only be ${MAX_EXPIRATION_MINUTES} minutes in the future.`, 'ExtensionError');
  }
  return new Date(at).toISOString().replace('Z', '0000Z');
}

async function subscriptionsRoute(scope: Scope, id: string | null, method: string, action: 'reauthorize' | null): Promise<GraphAnswer> {
  const subs = scope.graph.subscriptions;
  const own = (sub: GraphSubscription | undefined) => (sub && sub.applicationId === scope.caller.app.clientId ? sub : undefined);
  if (id === null) {
    if (method === 'GET') {
      return guarded(scope, { operation: 'graph.subscriptions', mailbox: null }, () =>
        json(200, { '@odata.context': contextUrl(scope, 'subscriptions'), value: subs.list().filter((s) => own(s)).map((s) => renderSubscription(scope, s, false)) }),
      );
    }
    if (method !== 'POST') throw new GraphError(405, 'ErrorInvalidRequest', 'The OData request is not supported.');
    const b = body(scope);
    const resource = typeof b.resource === 'string' ? b.resource : '';
    if (/^\/?me\//i.test(resource)) throw badRequest('/me request is only valid with delegated authentication flow.');
    const m = RESOURCE.exec(resource);
    const all = m ? null : ALL_MESSAGES.exec(resource);
    if (!m && !all) throw badRequest(`Resource '${resource}' is not supported.`, 'ExtensionError');
    const mailbox = userMailbox(scope.graph, decodeURIComponent((m ?? all)![1]!));
    need(scope, READ_ROLES);
    return guarded(scope, { operation: 'graph.subscriptions', mailbox }, async () => {
      const folder = m ? folderOf(mailbox, decodeURIComponent(m[2] ?? m[3]!)) : null;
      const changeType = changeTypeOf(b.changeType);
      if (b.clientState !== undefined && b.clientState !== null && (typeof b.clientState !== 'string' || b.clientState.length > 128)) {
        throw badRequest('clientState must be a string of at most 128 characters.', 'ValidationError');
      }
      const notificationUrl = subs.checkUrl(b.notificationUrl, 'notificationUrl');
      const lifecycleNotificationUrl = b.lifecycleNotificationUrl ? subs.checkUrl(b.lifecycleNotificationUrl, 'lifecycleNotificationUrl') : null;
      const expirationDateTime = expiration(b.expirationDateTime);
      await subs.validate(notificationUrl);
      if (lifecycleNotificationUrl) await subs.validate(lifecycleNotificationUrl);
      const sub: GraphSubscription = {
        id: randomUUID(),
        resource,
        applicationId: scope.caller.app.clientId,
        changeType,
        clientState: typeof b.clientState === 'string' ? b.clientState : null,
        notificationUrl,
        lifecycleNotificationUrl,
        expirationDateTime,
        creatorId: scope.caller.app.servicePrincipalId,
        latestSupportedTlsVersion: typeof b.latestSupportedTlsVersion === 'string' ? b.latestSupportedTlsVersion : 'v1_2',
        mailbox,
        folderId: folder ? folder.id : null,
        immutable: scope.immutable,
        reauthorizationRequired: false,
        delivered: 0,
        failed: 0,
      };
      subs.add(sub);
      return json(201, renderSubscription(scope, sub));
    });
  }
  subs.expire();
  const sub = own(subs.all.get(id));
  if (!sub) throw new GraphError(404, 'ResourceNotFound', `The object was not found.`);
  if (action === 'reauthorize') {
    // The bound action reauthorize (v1.0 CSDL; 204 No Content): the app must still hold a role that reads the
    // mailbox and be let in by the access policies; then the pending reauthorization is answered.
    if (method !== 'POST') throw new GraphError(405, 'ErrorInvalidRequest', 'The OData request is not supported.');
    need(scope, READ_ROLES);
    return guarded(scope, { operation: 'graph.subscriptions', mailbox: sub.mailbox }, () => {
      sub.reauthorizationRequired = false;
      return { status: 204, headers: {} };
    });
  }
  return guarded(scope, { operation: 'graph.subscriptions', mailbox: null }, async () => {
    if (method === 'GET') return json(200, renderSubscription(scope, sub));
    if (method === 'DELETE') {
      subs.remove(sub.id);
      return { status: 204, headers: {} };
    }
    if (method === 'PATCH') {
      const b = body(scope);
      if (b.expirationDateTime !== undefined) {
        sub.expirationDateTime = expiration(b.expirationDateTime);
        // Renewing answers a reauthorizationRequired event as reauthorize does (lifecycle notifications docs).
        sub.reauthorizationRequired = false;
      }
      if (typeof b.notificationUrl === 'string') {
        const url = subs.checkUrl(b.notificationUrl, 'notificationUrl');
        await subs.validate(url);
        sub.notificationUrl = url;
      }
      return json(200, renderSubscription(scope, sub));
    }
    throw new GraphError(405, 'ErrorInvalidRequest', 'The OData request is not supported.');
  });
}

export async function lifecycleFromControl(graph: GraphService, id: string, event: LifecycleEvent): Promise<boolean> {
  const sub = graph.subscriptions.all.get(id);
  if (!sub) return false;
  await graph.subscriptions.lifecycle(sub, event);
  return true;
}

// ---- $batch ----

const MAX_BATCH = 20;

interface BatchRequest {
  id: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}

export async function batch(graph: GraphService, caller: Caller, outer: GraphRequest): Promise<GraphAnswer> {
  let parsed: { requests?: unknown };
  try {
    parsed = JSON.parse(outer.body.toString('utf8')) as { requests?: unknown };
  } catch {
    return json(400, errorBody({ code: 'BadRequest', message: 'Invalid JSON batch request.' }));
  }
  const requests = parsed?.requests;
  if (!Array.isArray(requests) || requests.length === 0) return json(400, errorBody({ code: 'BadRequest', message: 'Invalid batch payload format.' }));
  if (requests.length > MAX_BATCH) return json(400, errorBody({ code: 'BadRequest', message: `Invalid batch payload format. The number of requests in a batch is limited to ${MAX_BATCH}.` }));
  const list = requests as BatchRequest[];
  const ids = new Set<string>();
  for (const r of list) {
    if (!r || typeof r.id !== 'string' || typeof r.method !== 'string' || typeof r.url !== 'string') return json(400, errorBody({ code: 'BadRequest', message: 'Each request needs an id, a method and a url.' }));
    if (ids.has(r.id)) return json(400, errorBody({ code: 'BadRequest', message: `Request Id '${r.id}' is duplicated.` }));
    ids.add(r.id);
    if (r.dependsOn && (!Array.isArray(r.dependsOn) || r.dependsOn.some((d) => !list.some((o) => o.id === d)))) {
      return json(400, errorBody({ code: 'BadRequest', message: `Request '${r.id}' depends on a request that is not in the batch.` }));
    }
  }
  const results = new Map<string, Promise<{ id: string; status: number; headers: Record<string, string>; body?: unknown }>>();
  let dropped: 'before' | 'after' | undefined;
  const run = (r: BatchRequest): Promise<{ id: string; status: number; headers: Record<string, string>; body?: unknown }> => {
    const existing = results.get(r.id);
    if (existing) return existing;
    const promise = (async () => {
      for (const d of r.dependsOn ?? []) {
        const dep = await run(list.find((o) => o.id === d)!);
        if (dep.status >= 400) return { id: r.id, status: 424, headers: {}, body: errorBody({ code: 'FailedDependency', message: 'Failed Dependency' }) };
      }
      const url = new URL(r.url.replace(/^\/?(v1\.0\/)?/i, '/'), 'https://graph.invalid');
      const headers: Record<string, string> = { ...Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)])) };
      if (outer.headers.prefer && !headers.prefer) headers.prefer = outer.headers.prefer;
      let bodyBytes = Buffer.alloc(0);
      if (r.body !== undefined && r.body !== null) {
        if (typeof r.body === 'string') bodyBytes = Buffer.from(r.body, /^text\/plain/i.test(headers['content-type'] ?? '') ? 'utf8' : 'utf8');
        else {
          bodyBytes = Buffer.from(JSON.stringify(r.body));
          headers['content-type'] ??= 'application/json';
        }
      }
      const answer = await dispatch(graph, caller, { method: r.method.toUpperCase(), path: url.pathname, query: url.searchParams, headers, body: bodyBytes });
      if (answer.drop) dropped = answer.drop;
      const out: { id: string; status: number; headers: Record<string, string>; body?: unknown } = { id: r.id, status: answer.status, headers: { ...answer.headers } };
      if (answer.json !== undefined) {
        out.headers['Content-Type'] ??= 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';
        out.body = answer.json;
      } else if (answer.raw !== undefined) {
        out.body = Buffer.from(answer.raw).toString('base64');
      }
      return out;
    })();
    results.set(r.id, promise);
    return promise;
  };
  const responses = await Promise.all(list.map(run));
  return { status: 200, headers: {}, json: { responses }, ...(dropped ? { drop: dropped } : {}) };
}

/** Answers a request to graph.<domain>. */
export async function handleGraph(graph: GraphService, req: IncomingMessage, res: ServerResponse, bodyBytes: Buffer): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://graph');
  const headers = lowerHeaders(req);
  const requestId = randomUUID();
  const base: Record<string, string> = {
    'request-id': requestId,
    'client-request-id': headers['client-request-id'] ?? requestId,
    'x-ms-ags-diagnostic': JSON.stringify({ ServerInfo: { DataCenter: 'Sandbox', Slice: 'E', Ring: '5', ScaleUnit: '000', RoleInstance: 'SANDBOX', ADSiteName: 'SBX' } }),
    'Cache-Control': 'private',
    'Strict-Transport-Security': 'max-age=31536000',
  };
  const write = (answer: GraphAnswer) => {
    if (answer.drop === 'before' || answer.drop === 'after') {
      res.socket?.destroy();
      return;
    }
    const h = { ...base, ...answer.headers };
    if (answer.json !== undefined) {
      res.writeHead(answer.status, { 'Content-Type': 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8', ...h });
      res.end(JSON.stringify(answer.json));
    } else {
      res.writeHead(answer.status, h);
      res.end(answer.raw ?? undefined);
    }
  };
  if (!/^\/v1\.0(\/|$)/i.test(url.pathname)) {
    return write(json(400, errorBody({ code: 'BadRequest', message: `Invalid version: ${url.pathname.split('/')[1] ?? ''}` })));
  }
  let caller: Caller;
  try {
    caller = authenticate(graph, headers.authorization);
  } catch (error) {
    if (error instanceof GraphError) return write(json(error.status, errorBody(error, headers['client-request-id']), error.headers));
    throw error;
  }
  const path = url.pathname.replace(/^\/v1\.0/i, '') || '/';
  const request: GraphRequest = { method: (req.method ?? 'GET').toUpperCase(), path, query: url.searchParams, headers, body: bodyBytes };
  if (path.toLowerCase() === '/$batch') {
    if (request.method !== 'POST') return write(json(405, errorBody({ code: 'BadRequest', message: 'The $batch endpoint only accepts POST.' })));
    const rule = graph.runtime.faults.take({ operation: 'graph.batch', mailbox: null, host: graph.hosts.graph }, ['http503', 'http429', 'drop', 'slow']);
    if (rule) {
      if (rule.kind === 'drop') return write({ status: 0, headers: {}, drop: 'before' });
      if (rule.kind === 'slow') await new Promise((r) => setTimeout(r, rule.delayMs));
      else {
        const retry = String(graph.runtime.settings.graphRetryAfterSeconds);
        return write(json(rule.kind === 'http429' ? 429 : 503, errorBody({ code: rule.kind === 'http429' ? 'TooManyRequests' : 'ServiceUnavailable', message: 'Please retry again later.' }), { 'Retry-After': retry }));
      }
    }
    return write(await batch(graph, caller, request));
  }
  write(await dispatch(graph, caller, request));
}
