/**
 * The EWS connector's error classification: each answer Exchange gives (real and documented answers from the
 * reference fixtures where there are some) mapped to what the engine does with it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AutodiscoverError } from '../../../src/connectors/ews/autodiscover/discover.js';
import { classifyEwsError, type ClassifyContext, retryAfterMs } from '../../../src/connectors/ews/classify.js';
import { EwsConnector } from '../../../src/connectors/ews/connector.js';
import { EwsSendUncertainError, leavesSendUncertain } from '../../../src/connectors/ews/send-errors.js';
import { readAnswer } from '../../../src/connectors/ews/soap/answer.js';
import { EwsFaultError, EwsHttpError, EwsProtocolError, EwsResponseError } from '../../../src/connectors/ews/soap/errors.js';
import { responseMessages } from '../../../src/connectors/ews/soap/response.js';
import { TransportError } from '../../../src/connectors/ews/transport/types.js';
import { findReferenceDir, readFixture } from '../../helpers/captures.js';

const REFERENCE = findReferenceDir();
const FIXTURES = REFERENCE ? path.join(REFERENCE, 'exchange', 'fixtures') : '';
const skip = REFERENCE ? false : 'the reference folder (../shared/reference) is not here';
if (!REFERENCE && process.env.CI === 'true') throw new Error('CI=true and the reference fixtures are missing');

const CONTEXT: ClassifyContext = { username: 'svc-liaison@contoso.test', method: 'basic', mailbox: 'alice@contoso.test', host: 'mail.contoso.test' };

/** The error a fixture's answer is thrown as: its SOAP fault, or its first response message's error. */
function errorOf(file: string, operation: string, status: number): EwsFaultError | EwsResponseError {
  const answer = readAnswer({ status, headers: { 'content-type': 'text/xml' }, headerLists: {}, body: Buffer.from(readFixture(path.join(FIXTURES, file))), elapsedMs: 0 }, operation);
  if (answer.kind === 'fault') return answer.fault;
  const [first] = responseMessages(answer.response, { version: 'Exchange2013_SP1', operation, httpStatus: status });
  assert.ok(first && !first.ok, `${file} holds an error`);
  return first.error;
}

function fault(responseCode: string, messageXml: Record<string, string> = {}): EwsFaultError {
  return new EwsFaultError({ responseCode, messageText: `text of ${responseCode}`, messageXml, httpStatus: 500, operation: 'GetItem', faultCode: `a:${responseCode}`, faultString: 'x' });
}

function http(status: number, headers: Record<string, string> = {}, authenticate: string[] = []): EwsHttpError {
  return new EwsHttpError({ operation: 'SyncFolderItems', httpStatus: status, headers, authenticate, bodyExcerpt: '<html>error page</html>', reason: `HTTP ${status}` });
}

function transport(kind: TransportError['kind'], extra: Partial<TransportError['details']> = {}): TransportError {
  return new TransportError(kind, `a ${kind}`, { url: 'https://mail.contoso.test/EWS/Exchange.asmx', host: 'mail.contoso.test', port: 443, ...extra });
}

describe('EWS error classification', () => {
  test('ErrorServerBusy is throttled with the BackOffMilliseconds of its MessageXml (exchangelib fixture)', { skip }, () => {
    const c = classifyEwsError(errorOf('library-tests/exchangelib/test_services_L111_test_error_server_busy.xml', 'FindItem', 500), CONTEXT);
    assert.equal(c.kind, 'throttled');
    assert.equal(c.code, 'ews.ErrorServerBusy');
    assert.equal(c.backOffMs, 297749);
    assert.match(c.serverResponse ?? '', /ErrorServerBusy/);
  });

  test('ErrorServerBusy in a response message (ConcurrentSyncCalls) and ErrorExceededConnectionCount are throttled too', () => {
    const inBody = new EwsResponseError({
      responseCode: 'ErrorServerBusy',
      messageText: 'The server cannot service this request right now.',
      messageXml: { BackOffMilliseconds: '5000' },
      httpStatus: 200,
      operation: 'SyncFolderItems',
      responseClass: 'Error',
      index: 0,
    });
    assert.deepEqual([classifyEwsError(inBody, CONTEXT).kind, classifyEwsError(inBody, CONTEXT).backOffMs], ['throttled', 5000]);
    const connections = classifyEwsError(fault('ErrorExceededConnectionCount'), CONTEXT);
    assert.deepEqual([connections.kind, connections.backOffMs], ['throttled', null]);
  });

  test('HTTP 503 and 429 with Retry-After are throttled for that long; without it a 503 is transient', () => {
    const busy = classifyEwsError(http(503, { 'retry-after': '7' }), CONTEXT);
    assert.deepEqual([busy.kind, busy.code, busy.backOffMs], ['throttled', 'http.503', 7000]);
    assert.match(busy.serverResponse ?? '', /retry-after: 7/);
    assert.equal(classifyEwsError(http(429, { 'retry-after': '2' }), CONTEXT).backOffMs, 2000);
    assert.equal(classifyEwsError(http(503), CONTEXT).kind, 'transient');
    assert.equal(classifyEwsError(http(502), CONTEXT).kind, 'transient');
    assert.equal(classifyEwsError(http(500), CONTEXT).kind, 'transient');
  });

  test('Retry-After is read as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryAfterMs('120', now), 120_000);
    assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMs('soon', now), null);
    assert.equal(retryAfterMs(undefined, now), null);
  });

  test('ErrorInvalidSyncStateData (the documented answer) and ErrorInvalidWatermark are invalid cursors', { skip }, () => {
    const c = classifyEwsError(errorOf('ms-docs-examples/syncfolderitems-operation__03.xml', 'SyncFolderItems', 200), CONTEXT);
    assert.deepEqual([c.kind, c.code], ['invalid-cursor', 'ews.ErrorInvalidSyncStateData']);
    assert.match(c.serverResponse ?? '', /corrupt or otherwise invalid/);
    assert.equal(classifyEwsError(fault('ErrorInvalidWatermark'), CONTEXT).kind, 'invalid-cursor');
  });

  test('a 401 is permanent with the fix of the diagnostics: bad credentials, or Basic switched off', () => {
    const wrong = classifyEwsError(http(401, {}, ['Basic realm="mail.contoso.test"', 'Negotiate', 'NTLM']), CONTEXT);
    assert.deepEqual([wrong.kind, wrong.code], ['permanent', 'http.401']);
    assert.match(wrong.fix ?? '', /user name .* and password/);
    const off = classifyEwsError(http(401, {}, ['Negotiate', 'NTLM']), CONTEXT);
    assert.equal(off.kind, 'permanent');
    assert.match(off.fix ?? '', /Enable Basic authentication|switch the profile to NTLM/);
  });

  test('impersonation refused is permanent and names the role to grant (synthesized fault after a real trace)', { skip }, () => {
    const c = classifyEwsError(errorOf('synthesized/ErrorImpersonateUserDenied.fault.xml', 'GetFolder', 500), CONTEXT);
    assert.deepEqual([c.kind, c.code], ['permanent', 'ews.ErrorImpersonateUserDenied']);
    assert.match(c.fix ?? '', /ApplicationImpersonation.*svc-liaison@contoso\.test/);
    assert.equal(classifyEwsError(fault('ErrorImpersonationDenied'), CONTEXT).kind, 'permanent');
  });

  test('a mailbox that does not exist and access denied are permanent, with their fixes', { skip }, () => {
    const missing = classifyEwsError(errorOf('synthesized/ErrorNonExistentMailbox.fault.xml', 'GetFolder', 500), CONTEXT);
    assert.deepEqual([missing.kind, missing.code], ['permanent', 'ews.ErrorNonExistentMailbox']);
    assert.match(missing.fix ?? '', /primary SMTP address/);
    const denied = classifyEwsError(errorOf('synthesized/ErrorAccessDenied.response.xml', 'GetFolder', 200), CONTEXT);
    assert.deepEqual([denied.kind, denied.code], ['permanent', 'ews.ErrorAccessDenied']);
    assert.match(denied.fix ?? '', /rights of svc-liaison@contoso\.test on alice@contoso\.test/);
  });

  test('a certificate that does not verify and a plain-http URL are permanent; the TLS fix says how to trust it', () => {
    const tls = classifyEwsError(transport('tls', { tls: { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } }), CONTEXT);
    assert.deepEqual([tls.kind, tls.code], ['permanent', 'transport.tls']);
    assert.match(tls.fix ?? '', /trustedCaPem/);
    const mismatch = classifyEwsError(transport('tls', { tls: { code: 'ERR_TLS_CERT_ALTNAME_INVALID', names: ['owa.contoso.test'] } }), CONTEXT);
    assert.match(mismatch.fix ?? '', /certificate that names mail\.contoso\.test/);
    assert.equal(classifyEwsError(transport('insecure-url'), CONTEXT).kind, 'permanent');
  });

  test('timeouts, resets, refused connections, DNS and 5xx-like EWS errors are transient', () => {
    for (const kind of ['timeout', 'reset', 'refused', 'connect-timeout', 'dns', 'aborted', 'other'] as const) {
      const c = classifyEwsError(transport(kind), CONTEXT);
      assert.deepEqual([c.kind, c.code], ['transient', `transport.${kind}`], kind);
    }
    assert.equal(classifyEwsError(fault('ErrorInternalServerError'), CONTEXT).kind, 'transient');
    assert.equal(classifyEwsError(fault('ErrorMailboxMoveInProgress'), CONTEXT).kind, 'transient');
    assert.equal(classifyEwsError(new EwsProtocolError('GetItem', 'the answer has no Items'), CONTEXT).kind, 'transient');
  });

  test('a send cut off after the request left is uncertain; one that never connected is not', () => {
    for (const kind of ['reset', 'timeout', 'aborted'] as const) {
      const cause = transport(kind);
      assert.equal(leavesSendUncertain(cause), true, kind);
      const c = classifyEwsError(new EwsSendUncertainError('alice@contoso.test', cause), CONTEXT);
      assert.deepEqual([c.kind, c.code], ['uncertain', `send.uncertain.${kind}`]);
    }
    assert.equal(leavesSendUncertain(transport('refused', { notSent: true })), false);
    assert.equal(leavesSendUncertain(transport('aborted', { notSent: true })), false, 'cancelled while waiting for a slot: never sent');
    assert.equal(leavesSendUncertain(transport('tls')), false);
    assert.equal(leavesSendUncertain(http(500)), false, 'an answer came: the outcome is known');
    assert.equal(leavesSendUncertain(http(503)), false, 'unavailable: the request was not taken');
  });

  test('a gateway that lost the upstream answer, or an answer that cannot be read, leaves a send uncertain', () => {
    for (const status of [502, 504]) {
      assert.equal(leavesSendUncertain(http(status)), true, String(status));
      const c = classifyEwsError(new EwsSendUncertainError('alice@contoso.test', http(status)), CONTEXT);
      assert.deepEqual([c.kind, c.code], ['uncertain', `send.uncertain.http-${status}`]);
    }
    const unreadable = new EwsProtocolError('CreateItem', 'the answer is not XML');
    assert.equal(leavesSendUncertain(unreadable), true);
    assert.deepEqual(
      [classifyEwsError(new EwsSendUncertainError('alice@contoso.test', unreadable), CONTEXT).code],
      ['send.uncertain.unreadable-answer'],
    );
  });

  test('Autodiscover that knows no such user is permanent; one that found nothing is transient', () => {
    const invalid = new AutodiscoverError('ghost@contoso.test', [{ url: 'https://autodiscover.contoso.test/autodiscover/autodiscover.svc', method: 'soap', outcome: 'error', code: 'InvalidUser', detail: 'Invalid user', headers: {} } as never], 'not-found');
    assert.equal(classifyEwsError(invalid, CONTEXT).kind, 'permanent');
    assert.equal(classifyEwsError(new AutodiscoverError('a@contoso.test', [], 'not-found'), CONTEXT).kind, 'transient');
  });

  test('unknown errors, and things that are not errors, are transient; classification never throws', () => {
    assert.deepEqual([classifyEwsError(new Error('boom'), CONTEXT).kind, classifyEwsError(new Error('boom'), CONTEXT).code], ['transient', 'unknown']);
    assert.equal(classifyEwsError('a string', CONTEXT).kind, 'transient');
    assert.equal(classifyEwsError(null, CONTEXT).kind, 'transient');
    assert.equal(classifyEwsError(fault('ErrorSomethingNew'), CONTEXT).kind, 'transient');
  });

  test('the connector classifies with its service account in the texts', () => {
    const connector = new EwsConnector({ credentials: { username: 'svc@contoso.test', password: 'x', method: 'basic' }, autodiscover: false, url: 'https://mail.contoso.test/EWS/Exchange.asmx' });
    const c = connector.classify(fault('ErrorImpersonateUserDenied'));
    assert.equal(c.kind, 'permanent');
    assert.match(c.fix ?? '', /-User "svc@contoso\.test"/);
    return connector.close();
  });
});
