/**
 * The SOAP layer and the operations' readers on real answers: Exchange 2007 SP1 and 2010 SP2 traces
 * (evolution-ews), Exchange 2013+ faults (KDE Akonadi, ews-rs, exchangelib), and the EWS reference's examples.
 * Each answer is read as the client would read it, and what it says is checked.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
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
import { readAnswer } from '../../../src/connectors/ews/soap/answer.js';
import { EwsFaultError, EwsHttpError, EwsProtocolError, EwsResponseError } from '../../../src/connectors/ews/soap/errors.js';
import type { HttpResponse } from '../../../src/connectors/ews/transport/types.js';
import { parseXml } from '../../../src/xml/parse.js';
import { findReferenceDir, parseTrace, readFixture } from '../../helpers/captures.js';

const REFERENCE = findReferenceDir();
const FIXTURES = REFERENCE ? path.join(REFERENCE, 'exchange', 'fixtures') : '';
const skip = REFERENCE ? false : 'the reference folder (../shared/reference) is not here';
if (!REFERENCE && process.env.CI === 'true') throw new Error('CI=true and the reference fixtures are missing');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const OPERATIONS: Record<string, EwsOperation<any, unknown>> = {
  CreateFolder,
  CreateItem,
  FindFolder,
  FindItem,
  GetFolder,
  GetItem,
  MoveItem,
  SendItem,
  SyncFolderHierarchy,
  SyncFolderItems,
  UpdateItem,
};

function http(body: string, status = 200, headers: Record<string, string> = { 'content-type': 'text/xml; charset=utf-8' }, headerLists: Record<string, string[]> = {}): HttpResponse {
  return { status, headers, headerLists, body: Buffer.from(body), elapsedMs: 0 };
}

/** Reads an answer as the client does: the fault thrown, else the operation's reader. */
function read(operation: string, body: string, status = 200): unknown {
  const answer = readAnswer(http(body, status), operation);
  if (answer.kind === 'fault') throw answer.fault;
  return OPERATIONS[operation]!.read(answer.response, { version: 'Exchange2013_SP1', operation, httpStatus: status });
}

function fixture(...parts: string[]): string {
  return readFixture(path.join(FIXTURES, ...parts));
}

describe('faults', { skip }, () => {
  test('ErrorImpersonateUserDenied and ErrorNonExistentMailbox (HTTP 500, faultcode with its own prefix)', () => {
    for (const code of ['ErrorImpersonateUserDenied', 'ErrorNonExistentMailbox']) {
      const answer = readAnswer(http(fixture('synthesized', `${code}.fault.xml`), 500), 'GetFolder');
      assert.equal(answer.kind, 'fault');
      assert.ok(answer.kind === 'fault');
      assert.equal(answer.fault.responseCode, code);
      assert.equal(answer.fault.details.faultCode, `a:${code}`);
      assert.equal(answer.fault.details.httpStatus, 500);
      assert.ok(answer.fault.details.messageText.length > 10);
    }
  });

  test('ErrorServerBusy from Exchange 2013 (KDE capture): MessageXml values, ServerVersionInfo with leading zeros', () => {
    const answer = readAnswer(http(fixture('real-captures', 'kde-akonadi-ews', 'errorserverbusy.xml'), 500), 'GetFolder');
    assert.ok(answer.kind === 'fault');
    assert.equal(answer.fault.responseCode, 'ErrorServerBusy');
    assert.equal(answer.fault.details.messageXml.Policy, 'MaxConcurrency');
    assert.equal(answer.fault.details.messageXml.MaxConcurrencyLimit, '27');
    assert.equal(answer.fault.backOffMs, null);
    assert.match(answer.fault.details.messageXmlText ?? '', /MaxConcurrency/);
    assert.deepEqual(answer.serverVersion, { majorVersion: 15, minorVersion: 1, majorBuildNumber: 225, minorBuildNumber: 42 });
  });

  test('ErrorSchemaValidation keeps the line and the violation; ErrorServerBusy its back-off (ews-rs fixtures)', () => {
    const schema = readAnswer(http(fixture('library-tests', 'thunderbird-ews-rs', 'soap_L306_deserialize_envelope_with_schema_fault.xml'), 500), 'CreateFolder');
    assert.ok(schema.kind === 'fault');
    assert.equal(schema.fault.responseCode, 'ErrorSchemaValidation');
    assert.equal(schema.fault.details.messageXml.LineNumber, '2');
    assert.match(schema.fault.details.messageXml.Violation ?? '', /DistinguishedFolderIdNameType/);
    assert.equal(schema.fault.details.messageText, 'The request failed schema validation.');
    const busy = readAnswer(http(fixture('library-tests', 'thunderbird-ews-rs', 'soap_L468_deserialize_envelope_with_server_busy_fault.xml'), 500), 'GetFolder');
    assert.ok(busy.kind === 'fault');
    assert.equal(busy.fault.backOffMs, 25);
    assert.ok(busy.fault instanceof EwsFaultError);
  });

  test('an empty Fault is still a fault; a broken envelope is a protocol error (exchangelib fixtures)', () => {
    const empty = readAnswer(http(fixture('library-tests', 'exchangelib', 'test_services_L259_test_soap_error.xml'), 500), 'GetFolder');
    assert.ok(empty.kind === 'fault');
    assert.equal(empty.fault.responseCode, 'SoapFault');
    assert.equal(empty.serverVersion?.majorVersion, 8);
    assert.throws(() => readAnswer(http(fixture('library-tests', 'exchangelib', 'test_services_L246_test_soap_error.xml')), 'GetFolder'), EwsProtocolError);
  });
});

describe('answers that are not SOAP', () => {
  test('a 401 keeps every WWW-Authenticate offer and names them', () => {
    const error = (() => {
      try {
        readAnswer(http('', 401, { 'www-authenticate': 'Negotiate, NTLM' }, { 'www-authenticate': ['Negotiate', 'NTLM'] }), 'GetFolder');
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(error instanceof EwsHttpError);
    assert.deepEqual(error.details.authenticate, ['Negotiate', 'NTLM']);
    assert.match(error.details.reason, /Negotiate, NTLM/);
  });

  test("IIS's 503 page and an HTML login page are HTTP errors with the body's start", () => {
    const html = '<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>HTTP Error 503. The service is unavailable.</body></html>';
    assert.throws(
      () => readAnswer(http(html, 503, { 'content-type': 'text/html', 'retry-after': '30' }), 'GetFolder'),
      (e: unknown) => e instanceof EwsHttpError && e.details.httpStatus === 503 && /Retry-After: 30/.test(e.details.reason) && e.details.bodyExcerpt.includes('Service Unavailable'),
    );
    assert.throws(() => readAnswer(http('<html><body>Sign in</body></html>', 200, { 'content-type': 'text/html' }), 'GetFolder'), EwsHttpError);
  });

  test('an answer with a DTD is refused, never expanded', () => {
    const evil = '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x "boom">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&x;</s:Body></s:Envelope>';
    assert.throws(() => readAnswer(http(evil), 'GetFolder'), (e: unknown) => e instanceof EwsProtocolError && /DTD/.test(e.message));
  });

  test('another operation\'s answer is a protocol error', () => {
    const body = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetItemResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><ResponseMessages/></GetItemResponse></s:Body></s:Envelope>';
    assert.throws(() => readAnswer(http(body), 'GetFolder'), EwsProtocolError);
  });
});

describe('Exchange 2007 SP1 and 2010 SP2 traces (evolution-ews)', { skip }, () => {
  for (const server of ['Exchange2007_SP1', 'Exchange2010_SP2']) {
    test(`${server}: every CreateFolder and GetFolder answer reads, errors with their codes and texts`, () => {
      const dir = path.join(FIXTURES, 'real-captures', 'evolution-ews-traces', server, 'camel', 'folder');
      const seen: string[] = [];
      for (const name of readdirSync(dir).sort()) {
        for (const exchange of parseTrace(readFixture(path.join(dir, name)))) {
          const operation = /<\w+:(\w+)Response\b/.exec(exchange.response.body)?.[1];
          if (!operation || !(operation in OPERATIONS)) continue;
          let results: unknown;
          try {
            results = read(operation, exchange.response.body.trim(), exchange.status);
          } catch (e) {
            assert.ok(e instanceof EwsFaultError || e instanceof EwsResponseError, `${name}: ${String(e)}`);
            seen.push(`${name} ${operation} ${e.responseCode}`);
            continue;
          }
          for (const r of results as unknown[]) {
            if (r instanceof EwsResponseError) {
              assert.ok(r.details.messageText, `${name}: an error without its text`);
              seen.push(`${name} ${operation} ${r.responseCode}`);
            } else if (operation === 'CreateFolder') {
              assert.ok((r as { id: string }).id, `${name}: created folder without id`);
              seen.push(`${name} ${operation} ok`);
            } else {
              assert.ok((r as { folderId: { id: string } | null }).folderId?.id, `${name}: folder without id`);
              seen.push(`${name} ${operation} ${(r as { displayName?: string }).displayName}`);
            }
          }
        }
      }
      assert.ok(seen.includes('create_existing_folder CreateFolder ErrorFolderExists'), seen.join('\n'));
      assert.ok(seen.includes('create_folder_with_malformed_parent_id CreateFolder ErrorInvalidIdMalformed'), seen.join('\n'));
      assert.ok(seen.includes('create_distinguished_folder_subfolder CreateFolder ok'), seen.join('\n'));
      assert.ok(seen.some((s) => / GetFolder (?!Error)/.test(s)), seen.join('\n'));
    });
  }
});

describe("the EWS reference's examples", { skip }, () => {
  const dir = path.join(FIXTURES, 'ms-docs-examples');
  const files = REFERENCE ? readdirSync(dir).filter((f) => f.endsWith('.xml') && statSync(path.join(dir, f)).isFile()).sort() : [];
  const responses = files.flatMap((f) => {
    const text = readFixture(path.join(dir, f));
    const operation = /<(?:\w+:)?(\w+)Response\s+xmlns/.exec(text)?.[1] ?? /<(?:\w+:)?(\w+)Response[\s>]/.exec(text)?.[1];
    return operation && operation in OPERATIONS && /ResponseMessages/.test(text) ? [{ f, operation, text }] : [];
  });

  test('there are examples for every operation read here', () => {
    const covered = new Set(responses.map((r) => r.operation));
    for (const op of ['GetFolder', 'FindFolder', 'CreateFolder', 'SyncFolderHierarchy', 'SyncFolderItems', 'GetItem', 'FindItem', 'CreateItem', 'SendItem', 'MoveItem', 'UpdateItem']) {
      assert.ok(covered.has(op), `no example answer for ${op}`);
    }
  });

  for (const { f, operation, text } of responses) {
    // Some examples in the reference are not well-formed (an HTML body pasted in unescaped): not answers any server sent.
    const wellFormed = (() => {
      try {
        parseXml(text);
        return true;
      } catch {
        return false;
      }
    })();
    if (!wellFormed) {
      test(`${f} (${operation}) is not well-formed XML, and is refused as such, not read`, () => {
        assert.throws(() => read(operation, text), (e: unknown) => e instanceof EwsProtocolError);
      });
      continue;
    }
    test(`${f} (${operation}) reads`, () => {
      try {
        const result = read(operation, text);
        assert.ok(result !== undefined);
      } catch (e) {
        // A documented error answer is read as the typed error, nothing else.
        assert.ok(e instanceof EwsResponseError || e instanceof EwsFaultError, `${f}: ${String(e)}`);
      }
    });
  }

  test('SyncFolderItems example: the changes with their ids, change keys and read flags', () => {
    const r = responses.find((x) => x.f === 'syncfolderitems-operation__02.xml');
    assert.ok(r);
    const result = read('SyncFolderItems', r.text) as { syncState: string; changes: Array<{ type: string; itemId: { id: string; changeKey?: string } }> };
    assert.ok(result.syncState.length > 0);
    assert.ok(result.changes.length > 0);
    for (const c of result.changes) assert.ok(c.itemId.id, `a ${c.type} change without an id`);
  });

  test('what the examples say is what the readers give', () => {
    const text = (f: string) => responses.find((x) => x.f === f)!.text;
    const [propertyError] = read('GetItem', text('getitem-operation-email-message__03.xml')) as unknown[];
    assert.ok(propertyError instanceof EwsResponseError);
    assert.equal(propertyError.responseCode, 'ErrorInvalidPropertyRequest');
    assert.equal(propertyError.details.messageXml.FieldURI, 'meeting:AssociatedCalendarItemId');

    const folders = read('FindFolder', text('how-to-work-with-folders-by-using-ews-in-exchange__05.xml')) as { folders: Array<{ kind: string; extendedProperties: Array<{ value?: string }> }>; indexedPagingOffset: number };
    assert.equal(folders.folders[0]!.kind, 'CalendarFolder');
    assert.equal(folders.folders[0]!.extendedProperties[0]!.value, 'false');
    assert.equal(folders.indexedPagingOffset, 16);

    const sync = read('SyncFolderItems', text('syncfolderitems-operation__02.xml')) as { changes: Array<{ type: string; item: { kind: string; subject: string } }> };
    assert.deepEqual(sync.changes.map((c) => [c.type, c.item.kind, c.item.subject]), [['create', 'MeetingRequest', 'Budget Q3']]);

    const sent = read('GetItem', text('how-to-send-email-messages-by-using-ews-in-exchange__03.xml')) as Array<{ subject: string; toRecipients: Array<{ emailAddress: string }> }>;
    assert.equal(sent[0]!.subject, 'Project priorities');
    assert.equal(sent[0]!.toRecipients[0]!.emailAddress, 'sadie@contoso.com');

    assert.deepEqual(read('MoveItem', text('moveitem-operation__02.xml')), [null]);
    assert.deepEqual(read('SendItem', text('senditem-operation__02.xml')), [true]);
    assert.throws(() => read('SyncFolderItems', text('syncfolderitems-operation__03.xml')), (e: unknown) => e instanceof EwsResponseError && e.responseCode === 'ErrorInvalidSyncStateData');
  });
});
