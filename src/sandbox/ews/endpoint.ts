/**
 * /EWS/Exchange.asmx: one SOAP request in, one answer out, in the order Exchange works: read and check the XML
 * (no DTD, well-formed, valid against the schema), find the mailbox the request acts on (impersonation,
 * the server that holds it), apply throttling and injected faults, run the operation, answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { ewsRequestElements, validateEwsEnvelope } from '../../xml/ews-schema.js';
import { NS } from '../../xml/namespaces.js';
import { child, parseXml, textOf, XmlParseError, type XmlElement } from '../../xml/parse.js';
import { el, fragment } from '../../xml/write.js';
import type { FaultRule } from '../behaviour.js';
import { exchangeHeaders, type SandboxRuntime } from '../runtime.js';
import type { Mailbox } from '../state/mailbox.js';
import type { Account, ServerName } from '../state/model.js';
import type { EwsContext } from './context.js';
import { OPERATIONS, STREAMING_OPERATION } from './operations/index.js';
import { EwsError, EwsFault, envelope, failure, faultEnvelope, responseRoot, TEXT } from './soap.js';
import { AFFINITY_OPERATIONS, affinityCookie, cookieServer, prefersAffinity } from './affinity.js';
import { streamEvents } from './streaming.js';
import { assertVersionFor, type ExchangeVersion, requestVersionOf } from './versions.js';

const DTD_TEXT =
  'For security reasons DTD is prohibited in this XML document. To enable DTD processing set the DtdProcessing property on XmlReaderSettings to Parse and pass the settings into XmlReader.Create method.';

/** ErrorSchemaValidation as Exchange 2010+ writes it: the violation, and where in the request it is. */
function schemaFault(violation: string, line: number, column: number): EwsFault {
  return new EwsFault('ErrorSchemaValidation', `The request failed schema validation: ${violation}`, TEXT.schemaValidation, {
    xml: fragment(el('t:LineNumber', null, line), el('t:LinePosition', null, column), el('t:Violation', null, violation)),
  });
}

interface ParsedRequest {
  operation: string;
  body: XmlElement;
  header: XmlElement | undefined;
  version: ExchangeVersion;
}

/** "The request is invalid.": what Exchange answers for a request it cannot take as an EWS call. */
function invalidRequest(): EwsFault {
  return new EwsFault('ErrorInvalidRequest', 'The request is invalid.');
}

/**
 * Reads the envelope. XML that is not well-formed, or not a SOAP envelope, or breaks the schema is
 * ErrorSchemaValidation; a RequestServerVersion the server does not know, an empty Body, or a Body that holds
 * no EWS operation is ErrorInvalidRequest, as Exchange answers.
 */
function readEnvelope(text: string): ParsedRequest {
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (error) {
    if (error instanceof XmlParseError) {
      const violation = /DOCTYPE/.test(error.message) ? DTD_TEXT : error.message;
      throw schemaFault(violation, error.line, error.column);
    }
    throw error;
  }
  if (root.ns !== NS.soap || root.local !== 'Envelope') {
    throw schemaFault(`The root element must be a SOAP 1.1 Envelope (${NS.soap}), not {${root.ns}}${root.local}.`, root.line, root.column);
  }
  const body = child(root, NS.soap, 'Body');
  if (!body) throw schemaFault('The SOAP envelope has no Body.', root.line, root.column);
  const header = child(root, NS.soap, 'Header');
  const version = requestVersionOf(header);
  const operation = body.children[0];
  // EWS finds the method by the local name of the Body's first element: without one it has nothing to call.
  if (!operation || operation.ns !== NS.messages || !ewsRequestElements().has(operation.local)) throw invalidRequest();
  const violation = validateEwsEnvelope(text);
  if (violation) throw schemaFault(violation.message, violation.line, violation.column);
  return { operation: operation.local, body: operation, header, version };
}

/** The mailbox a request acts on: the impersonated one, or the caller's own. */
function effectiveMailbox(runtime: SandboxRuntime, account: Account, header: XmlElement | undefined): Mailbox | null {
  const impersonation = child(header, NS.types, 'ExchangeImpersonation');
  if (!impersonation) return account.mailbox ? (runtime.state.mailbox(account.mailbox) ?? null) : null;
  const sid = child(impersonation, NS.types, 'ConnectingSID');
  const principal = textOf(child(sid, NS.types, 'PrincipalName'));
  const smtp = textOf(child(sid, NS.types, 'PrimarySmtpAddress')) || textOf(child(sid, NS.types, 'SmtpAddress'));
  if (child(sid, NS.types, 'SID')) {
    throw new EwsFault('ErrorImpersonationFailed', 'Impersonation failed: the sandbox does not resolve SIDs; use PrincipalName, PrimarySmtpAddress or SmtpAddress.');
  }
  if (!principal && !smtp) {
    throw new EwsFault(
      'ErrorInvalidExchangeImpersonationHeaderData',
      'The impersonation header does not name a user: give a PrincipalName, PrimarySmtpAddress or SmtpAddress.',
    );
  }
  if (!account.impersonation) throw new EwsFault('ErrorImpersonateUserDenied', TEXT.impersonateUserDenied);
  let mailbox: Mailbox | undefined;
  if (principal) {
    const target = runtime.state.account(principal);
    mailbox = target?.mailbox ? runtime.state.mailbox(target.mailbox) : runtime.state.mailbox(principal);
  } else {
    mailbox = runtime.state.mailbox(smtp);
  }
  if (!mailbox) throw new EwsFault('ErrorNonExistentMailbox', TEXT.nonExistentMailbox);
  return mailbox;
}

function noMailbox(): never {
  throw new EwsFault('ErrorNonExistentMailbox', TEXT.nonExistentMailbox);
}

function send(res: ServerResponse, runtime: SandboxRuntime, server: ServerName | null, status: number, body: string): void {
  res.writeHead(status, { ...exchangeHeaders(runtime, server), 'Content-Type': 'text/xml; charset=utf-8' });
  res.end(body);
}

function busyFault(runtime: SandboxRuntime, backOff: number, policy: string, limit: number): EwsFault {
  return new EwsFault('ErrorServerBusy', TEXT.serverBusy, TEXT.serverBusy, {
    values: {
      BackOffMilliseconds: backOff,
      Policy: policy,
      MaxConcurrencyLimit: limit,
      ErrorMessage: `This operation exceeds the throttling budget for policy part '${policy}', policy value '${limit}',  Budget type: 'Ews'.  Suggested backoff time ${backOff} ms.`,
    },
  });
}

/** The in-body answer Exchange gives a sync call over the ConcurrentSyncCalls budget (HTTP 200). */
function syncBusy(operation: string, backOff: number, limit: number): string {
  const error = new EwsError(
    'ErrorServerBusy',
    `${TEXT.serverBusy}, This operation exceeds the throttling budget for policy part 'ConcurrentSyncCalls', policy value '${limit}',  Budget type: 'Ews'.  Suggested backoff time ${backOff} ms.`,
    { values: { BackOffMilliseconds: backOff } },
  );
  const last = operation === 'SyncFolderItems' ? 'm:IncludesLastItemInRange' : 'm:IncludesLastFolderInRange';
  return envelope(responseRoot(operation, [failure(operation, error, el('m:SyncState'), el(last, null, 'true'))]));
}

export async function applyFault(rule: FaultRule, res: ServerResponse, runtime: SandboxRuntime, server: ServerName | null): Promise<'handled' | 'continue'> {
  switch (rule.kind) {
    case 'http503':
      res.writeHead(503, { 'Content-Type': 'text/html', 'Retry-After': String(Math.ceil((rule.backOffMilliseconds ?? runtime.settings.backOffMilliseconds) / 1000)), Server: 'Microsoft-IIS/10.0' });
      res.end('<html><body><h1>Service Unavailable</h1><p>HTTP Error 503. The service is unavailable.</p></body></html>');
      return 'handled';
    case 'slow':
      await delay(rule.delayMs);
      return 'continue';
    case 'drop':
      res.writeHead(200, { ...exchangeHeaders(runtime, server), 'Content-Type': 'text/xml; charset=utf-8' });
      res.write('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>');
      // Let the first bytes leave, then cut the connection the way a failing proxy does.
      await delay(20);
      res.socket?.destroy();
      return 'handled';
    case 'malformed':
      send(res, runtime, server, 200, '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:Broken');
      return 'handled';
    default:
      return 'continue';
  }
}

export async function handleEws(
  runtime: SandboxRuntime,
  req: IncomingMessage,
  res: ServerResponse,
  server: ServerName,
  account: Account,
  host: string,
  text: string,
): Promise<void> {
  const record = { surface: 'ews' as const, operation: '', host, status: 0, request: text, response: [] as string[], accepted: false };
  // The server that serves the request: the one that received it, unless it is routed to another.
  let backend: ServerName = server;
  const finish = (status: number, body: string) => {
    record.status = status;
    record.response.push(body);
    send(res, runtime, backend, status, body);
  };
  const key = account.username.toLowerCase();
  let counted = false;
  let syncCounted = false;
  try {
    const request = readEnvelope(text);
    record.operation = request.operation;
    // The request is well-formed and valid against the schema: from here on it counts as accepted.
    record.accepted = true;
    const mailbox = effectiveMailbox(runtime, account, request.header);
    const anchor = (req.headers['x-anchormailbox'] as string | undefined)?.trim();
    const affinity = prefersAffinity(req);
    const pinned = affinity ? cookieServer(runtime, req) : null;
    const anchorMailbox = affinity && anchor ? runtime.state.mailbox(anchor) : undefined;
    if (pinned) {
      // X-PreferServerAffinity with X-BackEndOverrideCookie: the server the cookie names serves it.
      backend = pinned;
    } else if (anchorMailbox) {
      // X-PreferServerAffinity without the cookie: X-AnchorMailbox routes it (the group's first mailbox).
      backend = anchorMailbox.server;
    } else if (mailbox && mailbox.server !== server) {
      // A front end that is told the mailbox (X-AnchorMailbox) routes the request to the server holding it,
      // unless the two servers do not proxy to each other (another site or forest).
      if (!runtime.settings.proxyBetweenServers || !anchor || !mailbox.owns(anchor)) {
        throw new EwsFault(
          'ErrorMailboxMoveInProgress',
          `The mailbox ${mailbox.address} is on another server (${runtime.serverHost(mailbox.server)}); find its EWS URL again with Autodiscover.`,
        );
      }
      backend = mailbox.server;
    }
    if (affinity && !pinned && AFFINITY_OPERATIONS.has(request.operation)) res.setHeader('Set-Cookie', affinityCookie(runtime, backend));
    const streaming = request.operation === STREAMING_OPERATION;
    const operation = OPERATIONS.get(request.operation);
    assertVersionFor(request.operation, request.body, request.version);
    // Not ErrorInvalidRequest: clients read that one as "the version is wrong" and retry with every older one.
    if (!operation && !streaming) throw new EwsFault('ErrorInvalidOperation', `The request is valid, but the sandbox does not implement ${request.operation}.`);

    // EWSMaxConcurrency: streaming connections have their own budget (HangingConnectionLimit, in streaming.ts).
    if (!streaming) {
      const inFlight = runtime.inFlight.get(key) ?? 0;
      if (inFlight >= runtime.settings.concurrencyLimit) {
        throw busyFault(runtime, runtime.settings.backOffMilliseconds, 'MaxConcurrency', runtime.settings.concurrencyLimit);
      }
      runtime.inFlight.set(key, inFlight + 1);
      counted = true;
    }
    if (operation?.sync && runtime.settings.concurrentSyncCallsLimit !== null) {
      const syncs = runtime.syncInFlight.get(key) ?? 0;
      if (syncs >= runtime.settings.concurrentSyncCallsLimit) {
        finish(200, syncBusy(request.operation, runtime.settings.backOffMilliseconds, runtime.settings.concurrentSyncCallsLimit));
        return;
      }
      runtime.syncInFlight.set(key, syncs + 1);
      syncCounted = true;
    }

    const rule = runtime.faults.take({ operation: request.operation, mailbox: mailbox?.address ?? null, host: record.host });
    const dropAfter = rule?.kind === 'dropAfter';
    if (rule && !dropAfter) {
      const backOff = rule.backOffMilliseconds ?? runtime.settings.backOffMilliseconds;
      if (rule.kind === 'serverBusy') throw busyFault(runtime, backOff, 'MaxConcurrency', runtime.settings.concurrencyLimit);
      if (rule.kind === 'concurrentSyncCalls') {
        if (operation?.sync) {
          finish(200, syncBusy(request.operation, backOff, runtime.settings.concurrentSyncCallsLimit ?? 5));
          return;
        }
      } else if ((await applyFault(rule, res, runtime, backend)) === 'handled') {
        record.status = res.statusCode;
        return;
      }
    }

    const context: EwsContext = {
      state: runtime.state,
      settings: runtime.settings,
      subscriptions: runtime.subscriptions,
      account,
      get mailbox() {
        return mailbox ?? noMailbox();
      },
      server: backend,
      requestVersion: request.version,
    };
    if (streaming) {
      // A streaming connection has no single answer to withhold: dropAfter opens it and cuts it after its first document.
      if (dropAfter) setTimeout(() => res.socket?.destroy(), 50).unref();
      await streamEvents(runtime, context, request.body, req, res, backend, (document) => record.response.push(document));
      record.status = res.statusCode;
      return;
    }
    const answer = await operation!.handle(context, request.body);
    if (dropAfter) {
      // Done, but the answer never leaves: the connection is cut the way a failing proxy or network does.
      record.status = 0;
      record.response.push('');
      res.socket?.destroy();
      return;
    }
    finish(200, envelope(answer));
  } catch (error) {
    if (error instanceof EwsFault) {
      finish(error.status, faultEnvelope(error));
    } else {
      runtime.log(`EWS ${record.operation || 'request'} failed inside the sandbox: ${(error as Error).stack ?? String(error)}`);
      finish(500, faultEnvelope(new EwsFault('ErrorInternalServerError', 'An internal server error occurred. The operation failed.')));
    }
  } finally {
    if (counted) runtime.inFlight.set(key, (runtime.inFlight.get(key) ?? 1) - 1);
    if (syncCounted) runtime.syncInFlight.set(key, (runtime.syncInFlight.get(key) ?? 1) - 1);
    runtime.onExchange?.(record);
  }
}
