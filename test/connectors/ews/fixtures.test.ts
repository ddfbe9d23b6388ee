/**
 * Every real Exchange answer in the reference folder (exchange/fixtures/), read with the connector's readers,
 * fixture by fixture and answer by answer: real captures (evolution-ews HTTP traces of Exchange 2007 SP1 and
 * 2010 SP2, KDE Akonadi's test server answers), Microsoft's documented examples, client-library test strings and
 * the synthesized faults.
 *
 * Each answer goes the way the connector reads one: the SOAP layer's readAnswer (fault, or the response element),
 * then the operation's reader by the response element's name (the registry below); an answer of an operation the
 * connector does not call is read generically (its response messages). What is asserted is checked against the
 * recording itself, read independently by local name (test/helpers/captures.ts): every response message's
 * outcome (success, or the error code the reader's EwsResponseError carries), the fault's code, and per operation
 * what the reader found (folders, items, events, resolutions, ids) against the elements in the recording.
 *
 * Requests are not answers: they are counted and named as skipped. Documents that are not well-formed, or not
 * what a server sends, are listed in REFUSED with the reason, and the test asserts the reader refuses them with
 * a typed error (never a crash, never a silent success).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readPoxResponse } from '../../../src/connectors/ews/autodiscover/pox.js';
import { readGetUserSettingsResponse } from '../../../src/connectors/ews/autodiscover/soap.js';
import { AutodiscoverReadError } from '../../../src/connectors/ews/autodiscover/answer.js';
import {
  CreateFolder,
  CreateItem,
  type EwsOperation,
  FindFolder,
  FindItem,
  GetFolder,
  GetItem,
  MoveItem,
  SendItem,
  SyncFolderHierarchy,
  SyncFolderItems,
  UpdateItem,
} from '../../../src/connectors/ews/operations/index.js';
import { ConvertId } from '../../../src/connectors/ews/operations/convert-id.js';
import { GetEvents } from '../../../src/connectors/ews/operations/get-events.js';
import { notificationIn, readNotification } from '../../../src/connectors/ews/operations/notifications.js';
import { ResolveNames } from '../../../src/connectors/ews/operations/resolve-names.js';
import { Subscribe } from '../../../src/connectors/ews/operations/subscribe.js';
import { Unsubscribe } from '../../../src/connectors/ews/operations/unsubscribe.js';
import { readAnswer } from '../../../src/connectors/ews/soap/answer.js';
import { EwsFaultError, EwsHttpError, EwsProtocolError, EwsResponseError } from '../../../src/connectors/ews/soap/errors.js';
import { responseMessages } from '../../../src/connectors/ews/soap/response.js';
import { EnvelopeSplitter, GetStreamingEvents, readStreamDocument, type StreamingItem } from '../../../src/connectors/ews/streaming.js';
import type { HttpResponse } from '../../../src/connectors/ews/transport/types.js';
import { ewsRequestElements } from '../../../src/xml/ews-schema.js';
import { NS } from '../../../src/xml/namespaces.js';
import { parseXml, type XmlElement } from '../../../src/xml/parse.js';
import { childNamed, findReferenceDir, outcome, parseTrace, payload, readFixture } from '../../helpers/captures.js';
import { find } from '../../helpers/sandbox.js';
import { requireService } from '../../helpers/services.js';

const REFERENCE = findReferenceDir();
const FIXTURES = REFERENCE ? path.join(REFERENCE, 'exchange', 'fixtures') : '';
const VERSION = 'Exchange2013_SP1' as const;

// ---- the registry: response element -> the connector's reader, and what to check it found ----

interface Registered {
  operation: EwsOperation<never, unknown>;
  /** What the reader found, checked against the recorded response element (read by local name). */
  check?: (result: unknown, recorded: XmlElement) => void;
}

const count = (e: XmlElement, local: string) => find(e, local).length;
/** Per successful response message of the recording, the Id of the first element named `local` in it. */
const firstIds = (e: XmlElement, local: string) =>
  (childNamed(e, 'ResponseMessages')?.children ?? [])
    .filter((m) => m.attributes.find((a) => a.local === 'ResponseClass')?.value !== 'Error')
    .map((m) => find(m, local)[0]?.attributes.find((a) => a.local === 'Id')?.value);
/** Elements of the recording that are items (Message, Item, CalendarItem, …) inside Items containers. */
const recordedItems = (e: XmlElement) => find(e, 'Items').flatMap((items) => items.children).length;
const recordedFolders = (e: XmlElement) => find(e, 'Folders').flatMap((folders) => folders.children).length;

const REGISTRY: Record<string, Registered> = {
  GetFolderResponse: {
    operation: GetFolder as never,
    check: (r, e) => assert.deepEqual(successes(r).map((f) => (f as { folderId: { id: string } | null }).folderId?.id), firstIds(e, 'FolderId'), 'the folder of each message'),
  },
  FindFolderResponse: { operation: FindFolder as never, check: (r, e) => assert.equal((r as { folders: unknown[] }).folders.length, recordedFolders(e), 'folders read') },
  CreateFolderResponse: { operation: CreateFolder as never, check: (r, e) => assert.deepEqual(successes(r).map((f) => (f as { id: string }).id), firstIds(e, 'FolderId'), 'the id of each new folder') },
  SyncFolderHierarchyResponse: {
    operation: SyncFolderHierarchy as never,
    check: (r, e) => {
      const result = r as { syncState: string; changes: unknown[] };
      assert.equal(result.syncState, childText(e, 'SyncState'));
      assert.equal(result.changes.length, find(e, 'Changes').flatMap((c) => c.children).length, 'changes read');
    },
  },
  SyncFolderItemsResponse: {
    operation: SyncFolderItems as never,
    check: (r, e) => {
      const result = r as { syncState: string; changes: unknown[] };
      assert.equal(result.syncState, childText(e, 'SyncState'));
      assert.equal(result.changes.length, find(e, 'Changes').flatMap((c) => c.children).length, 'changes read');
    },
  },
  GetItemResponse: {
    operation: GetItem as never,
    check: (r, e) => assert.deepEqual(successes(r).map((i) => (i as { itemId: { id: string } | null }).itemId?.id), firstIds(e, 'ItemId'), 'the item of each message'),
  },
  FindItemResponse: { operation: FindItem as never, check: (r, e) => assert.equal((r as { items: unknown[] }).items.length, recordedItems(e), 'items read') },
  CreateItemResponse: { operation: CreateItem as never },
  SendItemResponse: { operation: SendItem as never },
  MoveItemResponse: { operation: MoveItem as never },
  UpdateItemResponse: { operation: UpdateItem as never },
  SubscribeResponse: { operation: Subscribe as never, check: (r, e) => assert.equal((r as { subscriptionId: string }).subscriptionId, childText(e, 'SubscriptionId')) },
  GetEventsResponse: {
    operation: GetEvents as never,
    check: (r, e) => {
      const result = r as { subscriptionId: string; events: unknown[] };
      assert.equal(result.subscriptionId, childText(e, 'SubscriptionId'));
      assert.equal(result.events.length, eventCount(e), 'events read');
    },
  },
  UnsubscribeResponse: { operation: Unsubscribe as never },
  ResolveNamesResponse: { operation: ResolveNames as never, check: (r, e) => assert.equal((r as { resolutions: unknown[] }).resolutions.length, count(e, 'Resolution'), 'resolutions read') },
  ConvertIdResponse: {
    operation: ConvertId as never,
    check: (r, e) => {
      const ids = successes(r) as Array<{ id?: string }>;
      assert.deepEqual(
        ids.map((i) => i.id),
        find(e, 'AlternateId').map((a) => a.attributes.find((x) => x.local === 'Id')?.value),
      );
    },
  },
  GetStreamingEventsResponse: {
    operation: GetStreamingEvents as never,
    check: (r, e) => {
      const items = r as StreamingItem[];
      assert.equal(items.filter((i) => i.kind === 'notification').length, count(e, 'Notification'), 'notifications read');
    },
  },
};

const EVENT_ELEMENTS = new Set(['CopiedEvent', 'CreatedEvent', 'DeletedEvent', 'ModifiedEvent', 'MovedEvent', 'NewMailEvent', 'StatusEvent', 'FreeBusyChangedEvent']);
const eventCount = (e: XmlElement) => find(e, 'Notification').flatMap((n) => n.children.filter((c) => EVENT_ELEMENTS.has(c.local))).length;
const childText = (e: XmlElement, local: string) => find(e, local)[0]?.text.trim() ?? '';
const successes = (r: unknown) => (Array.isArray(r) ? r.filter((x) => !(x instanceof EwsResponseError)) : [r]);

// ---- outcomes: what the connector read, in the words of captures.ts's outcome() ----

/** The recording's outcome per response message, independent of the connector: "ok" or "Error <code>". */
function recordedOutcomes(doc: XmlElement): string[] {
  return outcome(doc).map((line) => {
    const [, responseClass, code] = line.split(' ');
    return responseClass === 'Error' ? `Error ${code}` : 'ok';
  });
}

/** What the reader said, the same way: per result for operations that answer per item (an array), else the whole call. */
function readOutcomes(read: () => unknown, perItem: boolean): { outcomes: string[]; result: unknown } {
  try {
    const result = read();
    if (perItem && Array.isArray(result)) {
      return { outcomes: result.map((x) => (x instanceof EwsResponseError ? `Error ${x.responseCode}` : 'ok')), result };
    }
    return { outcomes: ['ok'], result };
  } catch (error) {
    if (error instanceof EwsResponseError) return { outcomes: [`Error ${error.responseCode}`], result: error };
    throw error;
  }
}

// ---- reading one answer ----

type Read =
  | { kind: 'request'; element: string }
  | { kind: 'not-an-answer'; why: string }
  | { kind: 'read'; what: string };

const EWS_REQUESTS = ewsRequestElements();

function httpResponse(body: string, status: number, headers: Array<[string, string]> = []): HttpResponse {
  const h: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    (lists[key] ??= []).push(value);
    h[key] = lists[key]!.join(', ');
  }
  return { status, headers: h, headerLists: lists, body: Buffer.from(body, 'utf8'), elapsedMs: 0 };
}

/** Reads an EWS answer document with the connector, asserting against the recording. */
function readEwsAnswer(text: string, status: number, headers: Array<[string, string]> = []): Read {
  const doc = parseXml(text);
  const body = payload(doc);
  const name = body?.local ?? '';
  // A request, whatever its namespace (the docs write some in none).
  if (body && EWS_REQUESTS.has(name)) return { kind: 'request', element: name };

  if (name === 'SendNotification') {
    // Exchange's push notification (a request it makes to a client): the same response messages and Notification.
    const messages = responseMessages(body!, { version: VERSION, operation: 'SendNotification', httpStatus: 200 });
    assert.deepEqual(messages.map((m) => (m.ok ? 'ok' : `Error ${m.error.responseCode}`)), recordedOutcomes(doc));
    const events = messages.flatMap((m) => (m.ok ? readNotification(notificationIn(m.element)!, 'SendNotification').events : []));
    assert.equal(events.length, eventCount(body!), 'events read');
    return { kind: 'read', what: `push notification, ${events.length} event(s)` };
  }

  if (!name.endsWith('Response') && name !== 'Fault') {
    // GetPersona answers GetPersonaResponseMessage: not `<Operation>Response`, read generically below.
    return readGeneric(doc, body!, name);
  }
  const operation = name === 'Fault' ? 'Unknown' : name.replace(/Response$/, '');
  const answer = readAnswer(httpResponse(text, status, headers), operation);
  if (answer.kind === 'fault') {
    const recordedCode = childNamed(childNamed(body, 'detail'), 'ResponseCode')?.text.trim() || (childNamed(body, 'faultcode')?.text.trim() ?? '').replace(/^.*:/, '');
    // A fault without any code is named SoapFault by the SOAP layer.
    assert.equal(answer.fault.responseCode, recordedCode || 'SoapFault', 'the fault code');
    assert.ok(answer.fault instanceof EwsFaultError);
    return { kind: 'read', what: `fault ${answer.fault.responseCode}` };
  }
  assert.notEqual(name, 'Fault', 'a Fault the SOAP layer did not read as one');
  const registered = REGISTRY[name];
  const context = { version: VERSION, operation, httpStatus: status };
  if (registered) {
    const perItem = name !== 'GetStreamingEventsResponse';
    const { outcomes, result } = readOutcomes(() => registered.operation.read(answer.response, context), perItem);
    const expected = recordedOutcomes(doc);
    // Operations on one thing read the first message; the rest of their answer is not theirs to read.
    assert.deepEqual(outcomes, perItem && Array.isArray(result) ? expected : expected.slice(0, 1), 'the outcome per response message');
    if (!(result instanceof EwsResponseError)) registered.check?.(result, answer.response);
    return { kind: 'read', what: `${name} by ${registered.operation.name}: ${outcomes.join(', ')}` };
  }
  return readGeneric(doc, answer.response, name);
}

/**
 * An operation the connector does not call: its response messages, generically. Some operations' response
 * element is itself the one response message (FindPeople, GetRooms, GetRoomLists, GetSearchableMailboxes,
 * GetPersona): its ResponseClass and ResponseCode are read there.
 */
function readGeneric(doc: XmlElement, response: XmlElement, name: string): Read {
  const context = { version: VERSION, operation: name, httpStatus: 200 };
  if (!childNamed(response, 'ResponseMessages')) {
    const responseClass = response.attributes.find((a) => a.local === 'ResponseClass')?.value;
    assert.ok(responseClass, `${name} has neither ResponseMessages nor a ResponseClass`);
    const code = childNamed(response, 'ResponseCode')?.text.trim();
    assert.ok(code, `${name} has no ResponseCode`);
    return { kind: 'read', what: `${name} (generic, itself a response message: ${responseClass} ${code})` };
  }
  const messages = responseMessages(response, context);
  assert.deepEqual(messages.map((m) => (m.ok ? 'ok' : `Error ${m.error.responseCode}`)), recordedOutcomes(doc));
  assert.ok(messages.length > 0);
  return { kind: 'read', what: `${name} (generic, ${messages.length} response message(s))` };
}

/**
 * The EWS URL an Autodiscover answer names, read by local name, in the order the connector prefers: SOAP's
 * ExternalEwsUrl then InternalEwsUrl; POX's EwsUrl of the EXPR (outside) protocol, then EXCH (inside).
 */
function recordedEwsUrl(doc: XmlElement): string | null {
  const setting = (name: string) => find(doc, 'UserSetting').find((u) => childNamed(u, 'Name')?.text.trim() === name);
  const protocol = (type: string) => find(doc, 'Protocol').find((p) => childNamed(p, 'Type')?.text.trim() === type);
  const candidates = [
    childNamed(setting('ExternalEwsUrl'), 'Value'),
    childNamed(setting('InternalEwsUrl'), 'Value'),
    childNamed(protocol('EXPR'), 'EwsUrl'),
    childNamed(protocol('EXCH'), 'EwsUrl'),
  ];
  return candidates.map((c) => c?.text.trim()).find((v) => !!v) ?? null;
}

/** Autodiscover answers (SOAP GetUserSettings, POX) with the Autodiscover readers; their requests are skipped. */
function readAutodiscover(text: string): Read | null {
  const isSoap = text.includes(NS.autodiscoverSoap);
  const isPox = text.includes(NS.poxResponse) || text.includes(NS.poxRequest);
  if (!isSoap && !isPox) return null;
  if (/<([\w-]+:)?Autodiscover[\s>]/.test(text) && text.includes(NS.poxRequest) && !text.includes(NS.poxResponse)) return { kind: 'request', element: 'POX Autodiscover request' };
  if (isSoap && /<([\w-]+:)?GetUserSettingsRequestMessage[\s>]|<([\w-]+:)?GetDomainSettingsRequestMessage[\s>]/.test(text)) return { kind: 'request', element: 'GetUserSettingsRequestMessage' };
  const answer = isSoap ? readGetUserSettingsResponse(text) : readPoxResponse(text);
  // The reader took it; the recording, read by local name (a prefix some strings use undeclared is bound here).
  const doc = parseXml(text, {}, { additionalNamespaces: { i: NS.xsi } });
  const codes = find(doc, 'ErrorCode').map((c) => c.text.trim());
  if (find(doc, 'RedirectAddr').length > 0 || codes.includes('RedirectAddress')) assert.equal(answer.kind, 'redirect-address', JSON.stringify(answer));
  else if (find(doc, 'RedirectUrl').length + find(doc, 'RedirectURL').length > 0 || codes.includes('RedirectUrl')) assert.equal(answer.kind, 'redirect-url', JSON.stringify(answer));
  else if (codes.some((c) => c !== 'NoError')) assert.ok(answer.kind === 'error' && codes.includes(answer.code), JSON.stringify(answer));
  else assert.ok(answer.kind === 'settings' && answer.ewsUrl === recordedEwsUrl(doc), `${JSON.stringify(answer)} (recorded EWS URL: ${recordedEwsUrl(doc)})`);
  return { kind: 'read', what: `${isSoap ? 'SOAP' : 'POX'} Autodiscover: ${answer.kind}` };
}

function readDocument(text: string, status: number, headers: Array<[string, string]> = []): Read {
  const autodiscover = readAutodiscover(text);
  if (autodiscover) return autodiscover;
  const doc = parseXml(text);
  if (doc.local !== 'Envelope' || doc.ns !== NS.soap) return { kind: 'not-an-answer', why: `<${doc.local}> in ${doc.ns || 'no namespace'}` };
  return readEwsAnswer(text, status, headers);
}

/** A streamed answer (several envelopes on one HTTP answer): cut and read as GetStreamingEvents reads it. */
function readStream(text: string): StreamingItem[] {
  const splitter = new EnvelopeSplitter('GetStreamingEvents');
  const items = splitter.push(Buffer.from(text, 'utf8')).flatMap((d) => readStreamDocument(d, { version: VERSION, operation: 'GetStreamingEvents', httpStatus: 200 }));
  splitter.end();
  return items;
}

// ---- what is refused, and why ----

type Refusal = { error: 'protocol' | 'http' | 'autodiscover' | 'not-an-answer'; why: string };
const REFUSED: Array<[RegExp, Refusal]> = [
  [/^ms-docs-examples\/getitem-operation-email-message__02\.xml$/, { error: 'protocol', why: 'not well-formed as published (VALIDATION.md)' }],
  [/^ms-docs-examples\/getstreamingevents-operation__02\.xml$/, { error: 'protocol', why: 'not well-formed as published: a GetStreamingEventsResponseMessage never closed (VALIDATION.md)' }],
  [/^ms-docs-examples\/how-to-stream-notifications-about-mailbox-events-by-using-ews-in-exchange__04\.xml$/, { error: 'protocol', why: 'cut short in the docs: no closing Envelope (VALIDATION.md)' }],
  [/^ms-docs-examples\/how-to-get-user-settings-from-exchange-by-using-autodiscover__03\.xml$/, { error: 'autodiscover', why: 'cut short in the docs (VALIDATION.md)' }],
  [/^library-tests\/thunderbird-ews-rs\/soap_L265_/, { error: 'protocol', why: 'a placeholder foo:Foo body with an undeclared prefix' }],
  [/^library-tests\/exchangelib\/test_services_L246_/, { error: 'protocol', why: 'a client\'s broken-XML input (a Body closed that was never opened)' }],
  [/^library-tests\/exchangelib\/test_sync_L542_/, { error: 'protocol', why: 'a deliberately broken streaming answer (undeclared prefix)' }],
  [/^library-tests\/exchangelib\/test_field_/, { error: 'not-an-answer', why: 'field-parsing inputs: an Envelope in no namespace around a bare item' }],
  [/^library-tests\/exchangelib\/test_properties_L111_/, { error: 'not-an-answer', why: 'a bare InternetMessageHeaders fragment' }],
  [/^library-tests\/exchangelib\/test_(account_L242|protocol_L732)_/, { error: 'protocol', why: 'not well-formed as recorded (the library\'s authors abridged it: a close tag without its open tag)' }],
];

/** Fixtures that are not recordings of a server's answer at all. */
const NOT_RECORDINGS: Array<[RegExp, string]> = [
  [/^library-tests\/exchangelib\/test_services_L(355|392)_/, 'requests built by the client (its envelope wrapper around a placeholder), not answers; a request is skipped'],
  [/^library-tests\/exchangelib\/test_sync_L(485|501)_/, 'SendNotificationResult: what a push client answers Exchange, a request to Exchange; skipped'],
  [/\.md$/, 'notes, not a recording'],
  [/^ms-docs-examples\/how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server__0[1-5]\.xml$/, 'HTTP request text about affinity headers, not XML'],
  [/^ms-docs-examples\/how-to-get-user-settings-from-exchange-by-using-autodiscover__01\.xml$/, 'C# code, not XML'],
];

function refusalOf(file: string): Refusal | undefined {
  return REFUSED.find(([pattern]) => pattern.test(file))?.[1];
}

function assertRefused(file: string, refusal: Refusal, read: () => unknown): void {
  try {
    read();
  } catch (error) {
    const expected = { protocol: EwsProtocolError, http: EwsHttpError, autodiscover: AutodiscoverReadError, 'not-an-answer': Error }[refusal.error];
    if (refusal.error === 'protocol' && error instanceof Error && error.name === 'XmlParseError') return; // parse errors below the SOAP layer (streams, push notifications)
    assert.ok(error instanceof expected, `${file}: expected a ${expected.name}, got ${String(error)}`);
    return;
  }
  assert.fail(`${file}: listed as refused (${refusal.why}) but it was read`);
}

// ---- the fixtures ----

function allFiles(): string[] {
  const out: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(FIXTURES, relative), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out;
}

/** KDE's fake-server templates: XQuery whose answer is the element constructor, namespaces from the prolog. */
function xqueryAnswer(text: string): string {
  const prefixes = [...text.matchAll(/declare namespace (\w+) = "([^"]+)";/g)].map((m) => `xmlns:${m[1]}="${m[2]}"`).join(' ');
  const start = text.search(/<soap:Envelope>/);
  const end = text.lastIndexOf('</soap:Envelope>');
  assert.ok(start >= 0 && end > start, 'no Envelope in the template');
  return text.slice(start, end + '</soap:Envelope>'.length).replace('<soap:Envelope>', `<soap:Envelope ${prefixes}>`);
}

const tally = { answers: 0, requests: 0, refused: 0, notRecordings: 0, autodiscover: 0, generic: 0 };

describe('the connector reads every Exchange answer in the reference fixtures', REFERENCE ? {} : requireService('EWS reference fixtures', 'no reference folder (set LIAISON_REFERENCE_DIR)'), () => {
  const files = REFERENCE ? allFiles() : [];

  for (const file of files) {
    const full = path.join(FIXTURES, file);
    const notRecording = NOT_RECORDINGS.find(([pattern]) => pattern.test(file));
    if (notRecording) {
      test(`${file}: skipped, ${notRecording[1]}`, () => {
        tally.notRecordings += 1;
      });
      continue;
    }
    const refusal = refusalOf(file);

    if (file.startsWith('real-captures/evolution-ews-traces/')) {
      describe(`${file} (HTTP trace)`, () => {
        const exchanges = parseTrace(readFileSync(full, 'utf8'));
        test('the trace holds exchanges', () => assert.ok(exchanges.length > 0));
        for (const [index, exchange] of exchanges.entries()) {
          const operation = payload(parseXml(exchange.request.body))?.local ?? '?';
          test(`#${index + 1} ${operation}: request skipped; HTTP ${exchange.status} answer read`, () => {
            tally.requests += 1;
            if (exchange.status === 401 || exchange.response.body.trim() === '') {
              // Sign-in legs (401 with the offers, IIS's HTML page or no body): what the SOAP layer makes of them.
              assert.throws(
                () => readAnswer(httpResponse(exchange.response.body, exchange.status, exchange.response.headers), operation),
                (e: unknown) => e instanceof EwsHttpError && e.details.httpStatus === exchange.status && (exchange.status !== 401 || e.details.authenticate.length > 0),
              );
              tally.answers += 1;
              return;
            }
            const read = readDocument(exchange.response.body, exchange.status, exchange.response.headers);
            assert.equal(read.kind, 'read', JSON.stringify(read));
            tally.answers += 1;
          });
        }
      });
      continue;
    }

    test(file, (t) => {
      const raw = readFileSync(full, 'utf8');
      const text = file.endsWith('.xq') ? xqueryAnswer(raw) : readFixture(full);
      if (refusal) {
        assertRefused(file, refusal, () => {
          if (/<([\w-]+:)?GetStreamingEventsResponse/.test(text)) return readStream(text);
          const read = readDocument(text, 200);
          if (read.kind === 'not-an-answer') throw new Error(read.why);
          return read;
        });
        tally.refused += 1;
        t.diagnostic(`refused as expected: ${refusal.why}`);
        return;
      }
      // Exchange sends a fault with HTTP 500, anything else with 200 (as in the real captures).
      const read = readDocument(text, /<([\w-]+:)?Fault[\s>]/.test(text) ? 500 : 200);
      if (read.kind === 'request') {
        tally.requests += 1;
        t.diagnostic(`a request (${read.element}): skipped`);
        return;
      }
      assert.equal(read.kind, 'read', `${file}: ${JSON.stringify(read)}`);
      if (read.what.includes('generic')) tally.generic += 1;
      if (read.what.includes('Autodiscover')) tally.autodiscover += 1;
      // A streaming answer is also read the way the stream is.
      if (/GetStreamingEventsResponse/.test(read.what)) assert.ok(readStream(text).length > 0);
      tally.answers += 1;
      t.diagnostic(read.what);
    });
  }

  test('inventory: every fixture was read, skipped as a request or not a recording, or refused as listed', (t) => {
    assert.deepEqual(
      REFUSED.filter(([pattern]) => !files.some((f) => pattern.test(f))).map(([p]) => String(p)),
      [],
      'REFUSED entries that match no fixture',
    );
    assert.ok(tally.answers > 150, `${tally.answers} answers read`);
    t.diagnostic(
      `${files.length} files: ${tally.answers} answers read (${tally.generic} generically, ${tally.autodiscover} Autodiscover), ${tally.requests} requests skipped, ` +
        `${tally.refused} refused as listed, ${tally.notRecordings} not recordings`,
    );
  });
});
