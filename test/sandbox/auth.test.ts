import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { child } from '../../src/xml/parse.js';
import { NS } from '../../src/xml/namespaces.js';
import { body, envelope, faultCode, find, ok, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const inbox = '<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>';

function impersonating(kind: 'PrimarySmtpAddress' | 'SmtpAddress' | 'PrincipalName' | 'SID', value: string): string {
  return `<t:ExchangeImpersonation><t:ConnectingSID><t:${kind}>${value}</t:${kind}></t:ConnectingSID></t:ExchangeImpersonation>`;
}

describe('sandbox EWS: authentication, impersonation, request checks', () => {
  let s: TestSandbox;
  let alicePassword: string;
  before(async () => {
    s = await startTestSandbox();
    const accounts = await s.control<Array<{ username: string; password: string }>>('GET', '/accounts');
    alicePassword = accounts.json.find((a) => a.username === 'alice@contoso.test')!.password;
  });
  after(async () => {
    await s?.close();
  });

  test('no credentials, or wrong ones: 401 offering Negotiate, NTLM and Basic, with an empty body', async () => {
    for (const password of [null, 'wrong']) {
      const answer = await s.ews(inbox, { as: 'alice@contoso.test', password });
      assert.equal(answer.status, 401);
      assert.equal(answer.text, '');
      assert.deepEqual(answer.headers['www-authenticate'], ['Negotiate', 'NTLM', 'Basic realm="mail.contoso.test"']);
    }
  });

  test('with Basic switched off, only Negotiate and NTLM are offered and Basic credentials are refused', async () => {
    assert.equal((await s.control('PATCH', '/settings', { basicAuth: false })).status, 200);
    try {
      const answer = await s.ews(inbox, { as: 'alice@contoso.test' });
      assert.equal(answer.status, 401);
      assert.deepEqual(answer.headers['www-authenticate'], ['Negotiate', 'NTLM']);
    } finally {
      await s.control('PATCH', '/settings', { basicAuth: true });
    }
    ok(await s.ews(inbox, { as: 'alice@contoso.test' }));
  });

  test('a user reaches their own mailbox without impersonation; the account may sign in as DOMAIN\\user too', async () => {
    ok(await s.ews(inbox, { user: 'alice@contoso.test', password: alicePassword }));
    ok(await s.ews(inbox, { user: 'CONTOSO\\alice', password: alicePassword }));
  });

  test('impersonation by PrimarySmtpAddress, SmtpAddress or PrincipalName', async () => {
    for (const [kind, value] of [
      ['PrimarySmtpAddress', 'bob@contoso.test'],
      ['SmtpAddress', 'BOB@contoso.test'],
      ['PrincipalName', 'bob@contoso.test'],
    ] as const) {
      ok(await s.ews(inbox, { soapHeader: impersonating(kind, value) }));
    }
  });

  test('the service account has no mailbox of its own: without impersonation it gets ErrorNonExistentMailbox', async () => {
    const answer = await s.ews(inbox);
    assert.equal(answer.status, 500);
    assert.equal(faultCode(answer), 'ErrorNonExistentMailbox');
    assert.match(answer.text, /The SMTP address has no mailbox associated with it\./);
  });

  test('impersonating an unknown address is ErrorNonExistentMailbox; a SID is ErrorImpersonationFailed', async () => {
    const unknown = await s.ews(inbox, { as: 'nobody@contoso.test' });
    assert.deepEqual([unknown.status, faultCode(unknown)], [500, 'ErrorNonExistentMailbox']);
    const sid = await s.ews(inbox, { soapHeader: impersonating('SID', 'S-1-5-21-1-2-3-1001') });
    assert.deepEqual([sid.status, faultCode(sid)], [500, 'ErrorImpersonationFailed']);
  });

  test('an account without the ApplicationImpersonation role gets ErrorImpersonateUserDenied, and the role can be granted', async () => {
    const denied = await s.ews(inbox, { user: 'alice@contoso.test', password: alicePassword, as: 'bob@contoso.test' });
    assert.equal(denied.status, 500);
    assert.equal(faultCode(denied), 'ErrorImpersonateUserDenied');
    const fault = child(child(denied.doc(), NS.soap, 'Body'), NS.soap, 'Fault')!;
    assert.equal(child(fault, '', 'faultstring')!.text, 'The account does not have permission to impersonate the requested user.');
    assert.equal(child(fault, '', 'faultcode')!.text, 'a:ErrorImpersonateUserDenied');

    await s.control('PATCH', '/accounts/alice@contoso.test', { impersonation: true });
    ok(await s.ews(inbox, { user: 'alice@contoso.test', password: alicePassword, as: 'bob@contoso.test' }));
    await s.control('PATCH', '/accounts/alice@contoso.test', { impersonation: false });
    const revoked = await s.ews(inbox, { user: 'alice@contoso.test', password: alicePassword, as: 'bob@contoso.test' });
    assert.equal(faultCode(revoked), 'ErrorImpersonateUserDenied');
  });

  test('a mailbox on the other server: refused there unless X-AnchorMailbox names it, served on its own server', async () => {
    const wrongServer = await s.ews(inbox, { as: 'dave@contoso.test' });
    assert.equal(wrongServer.status, 500);
    assert.equal(faultCode(wrongServer), 'ErrorMailboxMoveInProgress');
    ok(await s.ews(inbox, { as: 'dave@contoso.test', headers: { 'X-AnchorMailbox': 'dave@contoso.test' } }));
    ok(await s.ews(inbox, { as: 'dave@contoso.test', host: 'mail2.contoso.test' }));
    const otherAnchor = await s.ews(inbox, { as: 'dave@contoso.test', headers: { 'X-AnchorMailbox': 'alice@contoso.test' } });
    assert.equal(faultCode(otherAnchor), 'ErrorMailboxMoveInProgress');
  });

  test('every answer names the server version, and carries the headers of Exchange on IIS', async () => {
    const answer = await s.ews(inbox, { as: 'alice@contoso.test' });
    const info = find(answer.doc(), 'ServerVersionInfo')[0]!;
    assert.deepEqual(
      ['MajorVersion', 'MinorVersion', 'MajorBuildNumber', 'MinorBuildNumber', 'Version'].map((a) => info.attributes.find((x) => x.local === a)?.value),
      ['15', '1', '2507', '57', 'V2017_07_11'],
    );
    assert.equal(answer.headers['content-type'], 'text/xml; charset=utf-8');
    assert.equal(answer.headers.server, 'Microsoft-IIS/10.0');
    assert.ok(answer.headers['request-id']);
  });

  test('a request that breaks the schema is ErrorSchemaValidation with the line and the violation', async () => {
    const answer = await s.ews('<m:GetFolder><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>', { as: 'alice@contoso.test' });
    assert.equal(answer.status, 500);
    assert.equal(faultCode(answer), 'ErrorSchemaValidation');
    assert.match(find(answer.doc(), 'Violation')[0]!.text, /FolderIds/, 'FolderShape is missing: FolderIds came first');
    assert.ok(Number(find(answer.doc(), 'LineNumber')[0]!.text) >= 1);
  });

  test('a DTD, an entity, or XML that is not well-formed is refused before anything else', async () => {
    const host = 'mail.contoso.test';
    const withDtd = envelope(inbox, { as: 'alice@contoso.test' }).replace('<soap:Envelope', '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><soap:Envelope');
    const dtd = await s.post(host, '/EWS/Exchange.asmx', withDtd);
    assert.equal(dtd.status, 500);
    assert.equal(faultCode(dtd), 'ErrorSchemaValidation');
    assert.match(dtd.text, /DTD is prohibited/);
    assert.doesNotMatch(dtd.text, /root:/, 'nothing of the file leaks');
    const entity = await s.post(host, '/EWS/Exchange.asmx', envelope(inbox, { as: 'alice@contoso.test' }).replace('inbox', '&bogus;'));
    assert.equal(faultCode(entity), 'ErrorSchemaValidation');
    const broken = await s.post(host, '/EWS/Exchange.asmx', '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>');
    assert.equal(faultCode(broken), 'ErrorSchemaValidation');
    const notSoap = await s.post(host, '/EWS/Exchange.asmx', '<hello/>');
    assert.equal(faultCode(notSoap), 'ErrorSchemaValidation');
  });

  test('a delegate-style folder of another mailbox is ErrorAccessDenied', async () => {
    const answer = await s.ews(
      '<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>bob@contoso.test</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>',
      { as: 'alice@contoso.test' },
    );
    assert.equal(responseCode(responseMessages(answer.doc())[0]!), 'ErrorAccessDenied');
    assert.ok(body(answer.doc()));
  });

  test('the EWS schemas are served as Exchange serves them', async () => {
    const { request } = await import('undici');
    const auth = `Basic ${Buffer.from(`${s.info.serviceAccount!.username}:${s.password}`).toString('base64')}`;
    for (const file of ['Services.wsdl', 'messages.xsd', 'types.xsd']) {
      const response = await request(`https://mail.contoso.test:${s.info.listen.port}/EWS/${file}`, { dispatcher: s.agent, headers: { authorization: auth } });
      assert.equal(response.statusCode, 200, file);
      assert.match(await response.body.text(), /schemas\.microsoft\.com\/exchange\/services\/2006/);
    }
  });

  testTraffic(() => s.records, 10);
});
