/**
 * RequestServerVersion as Exchange 2016 answers it.
 *
 * - A value the server does not know is the SOAP fault ErrorInvalidRequest, "The request is invalid.", HTTP 500:
 *   Exchange 2019 (schema V2017_07_11, like 2016) answers so to "Exchange2019" (ecederstrand/exchangelib#927 and
 *   #605, the answers pasted there) and to "V2018_01_08" (gautamsi/ews-javascript-api#441); clients that guess the
 *   version step down on exactly that (exchangelib's services/common.py retries on ErrorInvalidRequest,
 *   ErrorInvalidServerVersion, ErrorIncorrectSchemaVersion and ErrorInvalidSchemaVersionForMailboxVersion).
 * - A request without the header is handled as Exchange 2007: Exchange Online answers a client that sends none
 *   "… The Current ExchangeVersion is Exchange2007." (thunderbird/ews-rs#41; the client sent no header then,
 *   ews-rs#32), as "Versioning Requests" (EWS reference for Exchange 2007 SP1) says: "Requests that do not
 *   include version headers are handled as requests from the initial release version of Exchange 2007".
 * - An operation newer than the requested version is the fault ErrorIncorrectSchemaVersion (the example answer of
 *   ms-docs getimitemlist-operation.md); the versions come from the table of ews-operations-in-exchange.md and
 *   the element pages (StreamingSubscriptionRequest: "introduced in Exchange Server 2010 SP1").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NS } from '../../src/xml/namespaces.js';
import { child } from '../../src/xml/parse.js';
import { EXCHANGE_VERSIONS } from '../../src/sandbox/ews/versions.js';
import { envelope, faultCode, find, M, ok, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const inbox = '<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>';
const convertId =
  '<m:ConvertId DestinationFormat="EntryId"><m:SourceIds><t:AlternateId Format="EwsId" Id="DUMMY" Mailbox="DUMMY"/></m:SourceIds></m:ConvertId>';
const streamingSubscribe =
  '<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds>' +
  '<t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>';

function faultString(text: string): string {
  return /<faultstring[^>]*>([^<]*)<\/faultstring>/.exec(text)?.[1] ?? '';
}

describe('sandbox EWS: RequestServerVersion', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  test('a version Exchange 2016 does not know is the fault ErrorInvalidRequest, "The request is invalid."', async () => {
    for (const version of ['Exchange2019', 'V2018_01_08', 'Exchange2007_SP2', 'Exchange2010_SP3', 'exchange2016', 'V2_22', '']) {
      const answer = await s.ews(inbox, { as: ALICE, version });
      assert.equal(answer.status, 500, version);
      assert.equal(faultCode(answer), 'ErrorInvalidRequest', version);
      assert.match(answer.text, /<faultcode xmlns:a="http:\/\/schemas\.microsoft\.com\/exchange\/services\/2006\/types">a:ErrorInvalidRequest<\/faultcode>/);
      assert.equal(faultString(answer.text), 'The request is invalid.', version);
    }
  });

  test('every version of the V2017_07_11 schema is accepted', async () => {
    assert.equal(EXCHANGE_VERSIONS.length, 19);
    for (const version of EXCHANGE_VERSIONS) ok(await s.ews(inbox, { as: ALICE, version }));
  });

  test('a client that guesses the version from the newest steps down once and learns the server version', async () => {
    // What exchangelib does (version.py guess: ConvertId with a dummy id, newest version first).
    const tried: Array<[string, number, string]> = [];
    let info: ReturnType<typeof find> = [];
    for (const version of ['Exchange2019', 'Exchange2016', 'Exchange2015']) {
      const answer = await s.ews(convertId, { as: ALICE, version });
      tried.push([version, answer.status, answer.status === 500 ? faultCode(answer) : 'answered']);
      if (answer.status === 200) {
        info = find(answer.doc(), 'ServerVersionInfo');
        break;
      }
    }
    assert.deepEqual(tried, [
      ['Exchange2019', 500, 'ErrorInvalidRequest'],
      ['Exchange2016', 200, 'answered'],
    ]);
    assert.equal(info[0]!.attributes.find((a) => a.local === 'Version')!.value, 'V2017_07_11');
  });

  test('without the header a request is Exchange 2007: 2007 operations work, newer ones are ErrorIncorrectSchemaVersion', async () => {
    ok(await s.ews(inbox, { as: ALICE, version: null }));
    const convert = await s.ews(convertId, { as: ALICE, version: null });
    assert.equal(convert.status, 500);
    assert.equal(faultCode(convert), 'ErrorIncorrectSchemaVersion');
    assert.match(faultString(convert.text), /^The request is valid but does not specify the correct server version in the RequestServerVersion SOAP header\./);
    assert.equal(faultCode(await s.ews(streamingSubscribe, { as: ALICE, version: null })), 'ErrorIncorrectSchemaVersion');
    assert.equal(faultCode(await s.ews(convertId, { as: ALICE, version: 'Exchange2007' })), 'ErrorIncorrectSchemaVersion');
    assert.equal((await s.ews(convertId, { as: ALICE, version: 'Exchange2007_SP1' })).status, 200, 'ConvertId came with Exchange 2007 SP1');
  });

  test('streaming notifications need Exchange2010_SP1: asked with an older version, ErrorIncorrectSchemaVersion', async () => {
    for (const version of ['Exchange2007_SP1', 'Exchange2010']) {
      assert.equal(faultCode(await s.ews(streamingSubscribe, { as: ALICE, version })), 'ErrorIncorrectSchemaVersion', version);
    }
    const subscribed = ok(await s.ews(streamingSubscribe, { as: ALICE, version: 'Exchange2010_SP1' }));
    const id = child(subscribed, M, 'SubscriptionId')!.text;
    const stream = `<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>`;
    assert.equal(faultCode(await s.ews(stream, { as: ALICE, version: 'Exchange2010' })), 'ErrorIncorrectSchemaVersion');
    // A pull subscription is as old as Subscribe itself.
    ok(
      await s.ews(
        '<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes><t:Timeout>5</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>',
        { as: ALICE, version: 'Exchange2007' },
      ),
    );
  });

  test('an operation of Exchange 2013 asked as Exchange 2010 is a version problem before anything else', async () => {
    const answer = await s.ews('<m:GetAppManifests/>', { as: ALICE, version: 'Exchange2010_SP2' });
    assert.equal(faultCode(answer), 'ErrorIncorrectSchemaVersion');
  });

  test('the version is judged before the schema: an unknown version with a broken body is still ErrorInvalidRequest', async () => {
    const text = envelope('<m:GetFolder><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>', { as: ALICE, version: 'Exchange2019' });
    const answer = await s.post('mail.contoso.test', '/EWS/Exchange.asmx', text);
    assert.equal(faultCode(answer), 'ErrorInvalidRequest');
    assert.equal(child(child(answer.doc(), NS.soap, 'Body'), NS.soap, 'Fault') !== undefined, true);
  });

  testTraffic(() => s.records, 20);
});
