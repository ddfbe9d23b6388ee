/**
 * The client's request version against servers that refuse it: a transport double that answers as an
 * Exchange 2010 SP2 would (ErrorInvalidServerVersion for anything newer, the fault's shape as real servers send
 * it), and as Exchange 2016 does for a version it does not know (ErrorInvalidRequest). The client steps down,
 * remembers, and retries nothing else.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EwsClient } from '../../../src/connectors/ews/client.js';
import { GetFolder } from '../../../src/connectors/ews/operations/index.js';
import { buildEnvelope } from '../../../src/connectors/ews/soap/envelope.js';
import { EwsFaultError } from '../../../src/connectors/ews/soap/errors.js';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../../src/connectors/ews/transport/types.js';
import { atLeast, type ExchangeVersion } from '../../../src/connectors/ews/versions.js';
import { validateEwsEnvelope } from '../../../src/xml/ews-schema.js';

const TYPES = 'http://schemas.microsoft.com/exchange/services/2006/types';

function fault(code: string, text: string, serverVersionHeader = ''): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">' +
    (serverVersionHeader ? `<s:Header>${serverVersionHeader}</s:Header>` : '') +
    `<s:Body><s:Fault><faultcode xmlns:a="${TYPES}">a:${code}</faultcode><faultstring xml:lang="en-US">${text}</faultstring>` +
    `<detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">${code}</e:ResponseCode>` +
    `<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">${text}</e:Message></detail></s:Fault></s:Body></s:Envelope>`
  );
}

const EX2010_INFO = `<h:ServerVersionInfo MajorVersion="14" MinorVersion="2" MajorBuildNumber="328" MinorBuildNumber="9" Version="Exchange2010_SP2" xmlns:h="${TYPES}" xmlns="${TYPES}"/>`;

const GET_FOLDER_OK =
  '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">' +
  `<s:Header>${EX2010_INFO}</s:Header>` +
  '<s:Body><m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">' +
  '<m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders>' +
  '<t:Folder><t:FolderId Id="AQMk" ChangeKey="AQAAAB"/><t:DisplayName>Inbox</t:DisplayName><t:TotalCount>3</t:TotalCount></t:Folder>' +
  '</m:Folders></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>';

function answer(status: number, body: string): HttpResponse {
  return { status, headers: { 'content-type': 'text/xml; charset=utf-8' }, headerLists: {}, body: Buffer.from(body), elapsedMs: 1 };
}

/** A server that takes versions up to `newest` and answers newer ones with `refuse`. */
class VersionedServer implements HttpTransport {
  readonly versions: string[] = [];
  readonly violations: string[] = [];
  constructor(
    private readonly newest: ExchangeVersion,
    private readonly refuse: (version: string) => HttpResponse,
    private readonly answerFor: (version: string, index: number) => HttpResponse = () => answer(200, GET_FOLDER_OK),
  ) {}
  async request(req: HttpRequest): Promise<HttpResponse> {
    const body = String(req.body);
    const violation = validateEwsEnvelope(body);
    if (violation) this.violations.push(violation.message);
    const version = /RequestServerVersion Version="(\w+)"/.exec(body)?.[1] ?? '';
    this.versions.push(version);
    const known = /^(Exchange\d{4}(_SP\d)?)$/.test(version) && atLeast(this.newest, version as ExchangeVersion);
    return known ? this.answerFor(version, this.versions.length - 1) : this.refuse(version);
  }
  stream(): never {
    throw new Error('not used');
  }
  async close(): Promise<void> {}
}

const invalidServerVersion = () => answer(500, fault('ErrorInvalidServerVersion', 'The specified server version is invalid.'));
const credentials = { username: 'svc@contoso.test', password: 'x', method: 'basic' as const };

describe('request version step-down', () => {
  test('refused Exchange2013_SP1 with ErrorInvalidServerVersion, the client steps down to what the server takes and remembers it', async () => {
    const server = new VersionedServer('Exchange2010_SP2', invalidServerVersion);
    const remembered: Array<[string, string]> = [];
    const client = new EwsClient({ transport: server, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials, onVersion: (v, p) => remembered.push([v, p]) });
    assert.equal(client.version, 'Exchange2013_SP1');
    const [inbox] = await client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: 'alice@contoso.test' });
    assert.equal((inbox as { displayName?: string }).displayName, 'Inbox');
    assert.deepEqual(server.versions, ['Exchange2013_SP1', 'Exchange2013', 'Exchange2010_SP2']);
    assert.equal(client.version, 'Exchange2010_SP2');
    assert.deepEqual(remembered, [['Exchange2010_SP2', 'Exchange2013_SP1']]);
    assert.equal(client.serverVersion?.majorVersion, 14);
    assert.equal(client.serverVersion?.version, 'Exchange2010_SP2');

    await client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] });
    assert.deepEqual(server.versions.slice(3), ['Exchange2010_SP2'], 'the next call starts at the remembered version');
    assert.equal(remembered.length, 1);
    assert.deepEqual(server.violations, []);
  });

  test('a remembered version is where a new client starts', async () => {
    const server = new VersionedServer('Exchange2010_SP2', invalidServerVersion);
    const client = new EwsClient({ transport: server, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials, version: 'Exchange2010_SP2' });
    await client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] });
    assert.deepEqual(server.versions, ['Exchange2010_SP2']);
  });

  test('a fault that names the server\'s version in ServerVersionInfo is followed straight to it', async () => {
    const server = new VersionedServer('Exchange2010_SP2', () => answer(500, fault('ErrorInvalidServerVersion', 'The specified server version is invalid.', EX2010_INFO)));
    const client = new EwsClient({ transport: server, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials });
    await client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] });
    assert.deepEqual(server.versions, ['Exchange2013_SP1', 'Exchange2010_SP2']);
  });

  test('Exchange 2016\'s ErrorInvalidRequest for a version it does not know steps down too; ErrorIncorrectSchemaVersion as well', async () => {
    const server = new VersionedServer('Exchange2013_SP1', () => answer(500, fault('ErrorInvalidRequest', 'The request is invalid.')));
    const client = new EwsClient({ transport: server, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials, version: 'Exchange2016' });
    await client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] });
    assert.deepEqual(server.versions, ['Exchange2016', 'Exchange2015', 'Exchange2013_SP1']);
    assert.equal(client.version, 'Exchange2013_SP1');

    const schema = new VersionedServer('Exchange2013', () => answer(500, fault('ErrorIncorrectSchemaVersion', 'The request is valid but does not specify the correct server version in the RequestServerVersion SOAP header.')));
    const other = new EwsClient({ transport: schema, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials });
    await other.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] });
    assert.equal(other.version, 'Exchange2013');
  });

  test('once the server has taken the version, an ErrorInvalidRequest is about the request and is thrown at once', async () => {
    const server = new VersionedServer('Exchange2013_SP1', invalidServerVersion, (_v, index) =>
      index === 0 ? answer(200, GET_FOLDER_OK) : answer(500, fault('ErrorInvalidRequest', 'The request is invalid.')),
    );
    const client = new EwsClient({ transport: server, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials });
    await client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] });
    await assert.rejects(client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }), (e: unknown) => e instanceof EwsFaultError && e.responseCode === 'ErrorInvalidRequest');
    assert.deepEqual(server.versions, ['Exchange2013_SP1', 'Exchange2013_SP1']);
    assert.equal(client.version, 'Exchange2013_SP1');
  });

  test('a new client whose first request is itself invalid: one request, the fault thrown, no version remembered', async () => {
    const invalid = () => answer(500, fault('ErrorInvalidRequest', 'The request is invalid.'));
    const server = new VersionedServer('Exchange2016', invalid, invalid);
    let remembered: string | null = null;
    const client = new EwsClient({ transport: server, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials, onVersion: (v) => (remembered = v) });
    await assert.rejects(client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }), (e: unknown) => e instanceof EwsFaultError && e.responseCode === 'ErrorInvalidRequest');
    assert.deepEqual(server.versions, ['Exchange2013_SP1'], 'the default version is known to every supported Exchange: no step-down');
    assert.equal(remembered, null);

    // Started above the default, it steps down; a refusal for something else there is not taken as the version's.
    const schema = () => answer(500, fault('ErrorSchemaValidation', 'The request failed schema validation.'));
    const above = new VersionedServer('Exchange2013_SP1', invalid, schema);
    const started = new EwsClient({ transport: above, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials, version: 'Exchange2016', onVersion: (v) => (remembered = v) });
    await assert.rejects(started.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }), (e: unknown) => e instanceof EwsFaultError && e.responseCode === 'ErrorInvalidRequest');
    assert.equal(started.version, 'Exchange2016');
    assert.equal(remembered, null);
  });

  test('refused at every version: the first fault is thrown and nothing is remembered', async () => {
    const server = new VersionedServer('Exchange2007_SP1', invalidServerVersion, () => invalidServerVersion());
    let called = false;
    const client = new EwsClient({ transport: server, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials, onVersion: () => (called = true) });
    await assert.rejects(client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }), (e: unknown) => e instanceof EwsFaultError && e.responseCode === 'ErrorInvalidServerVersion');
    assert.deepEqual(server.versions, ['Exchange2013_SP1', 'Exchange2013', 'Exchange2010_SP2', 'Exchange2010_SP1', 'Exchange2010', 'Exchange2007_SP1']);
    assert.equal(client.version, 'Exchange2013_SP1');
    assert.equal(called, false);
  });

  test('other faults are not retried: ErrorServerBusy comes back once, with its back-off', async () => {
    const busy =
      '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>' +
      `<faultcode xmlns:a="${TYPES}">a:ErrorServerBusy</faultcode><faultstring>The server cannot service this request right now. Try again later.</faultstring>` +
      '<detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>' +
      `<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message>` +
      `<t:MessageXml xmlns:t="${TYPES}"><t:Value Name="BackOffMilliseconds">30000</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>`;
    const server = new VersionedServer('Exchange2016', invalidServerVersion, () => answer(500, busy));
    const client = new EwsClient({ transport: server, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials });
    await assert.rejects(client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }), (e: unknown) => e instanceof EwsFaultError && e.backOffMs === 30000);
    assert.equal(server.versions.length, 1);
  });

  test('the schema check the tests rely on does catch a request out of order', () => {
    const body = '<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId><m:MaxChangesReturned>5</m:MaxChangesReturned></m:SyncFolderItems>';
    assert.equal(validateEwsEnvelope(buildEnvelope({ version: 'Exchange2013_SP1', impersonate: 'alice@contoso.test', body })), null);
    const swapped = body.replace('<m:MaxChangesReturned>5</m:MaxChangesReturned>', '').replace('<m:SyncFolderId>', '<m:MaxChangesReturned>5</m:MaxChangesReturned><m:SyncFolderId>');
    assert.notEqual(validateEwsEnvelope(buildEnvelope({ version: 'Exchange2013_SP1', body: swapped })), null);
  });
});
