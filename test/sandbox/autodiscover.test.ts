import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { NS } from '../../src/xml/namespaces.js';
import { attr, child, children, type XmlElement } from '../../src/xml/parse.js';
import { find, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const POX_REQUEST = (address: string, schema: string = NS.poxOutlookResponse) =>
  `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="${NS.poxRequest}"><Request><EMailAddress>${address}</EMailAddress>` +
  `<AcceptableResponseSchema>${schema}</AcceptableResponseSchema></Request></Autodiscover>`;

const SOAP_REQUEST = (addresses: string[], settings: string[]) =>
  `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:a="${NS.autodiscoverSoap}" xmlns:wsa="${NS.wsa}" xmlns:xsi="${NS.xsi}" xmlns:soap="${NS.soap}">` +
  `<soap:Header><a:RequestedServerVersion>Exchange2013</a:RequestedServerVersion>` +
  `<wsa:Action>http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings</wsa:Action>` +
  `<wsa:To>https://autodiscover.contoso.test/autodiscover/autodiscover.svc</wsa:To></soap:Header>` +
  `<soap:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users>${addresses.map((a) => `<a:User><a:Mailbox>${a}</a:Mailbox></a:User>`).join('')}</a:Users>` +
  `<a:RequestedSettings>${settings.map((x) => `<a:Setting>${x}</a:Setting>`).join('')}</a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage></soap:Body></soap:Envelope>`;

function poxAccount(doc: XmlElement): XmlElement {
  return child(child(doc, NS.poxOutlookResponse, 'Response'), NS.poxOutlookResponse, 'Account')!;
}

function text(element: XmlElement | undefined, local: string): string | undefined {
  return element?.children.find((c) => c.local === local)?.text;
}

describe('sandbox Autodiscover', () => {
  let s: TestSandbox;
  let port: number;
  before(async () => {
    s = await startTestSandbox();
    port = s.info.listen.port;
  });
  after(async () => {
    await s?.close();
  });

  test('the ready line lists the POX and SOAP endpoints on the domain and on autodiscover.<domain>', () => {
    assert.deepEqual(s.info.autodiscover.pox, [`https://contoso.test:${port}/autodiscover/autodiscover.xml`, `https://autodiscover.contoso.test:${port}/autodiscover/autodiscover.xml`]);
    assert.deepEqual(s.info.autodiscover.soap, [`https://contoso.test:${port}/autodiscover/autodiscover.svc`, `https://autodiscover.contoso.test:${port}/autodiscover/autodiscover.svc`]);
  });

  test('POX answers the settings with the EWS URL of the server that holds the mailbox', async () => {
    for (const [address, server] of [
      ['alice@contoso.test', 'mail'],
      ['dave@contoso.test', 'mail2'],
    ] as const) {
      const answer = await s.post('autodiscover.contoso.test', '/autodiscover/autodiscover.xml', POX_REQUEST(address));
      assert.equal(answer.status, 200);
      const doc = answer.doc();
      assert.equal(doc.ns, NS.poxResponse);
      const account = poxAccount(doc);
      assert.equal(text(account, 'Action'), 'settings');
      const protocols = children(account, NS.poxOutlookResponse, 'Protocol');
      assert.deepEqual(protocols.map((p) => text(p, 'Type')), ['EXCH', 'EXPR', 'WEB'], 'one Protocol per type');
      for (const protocol of protocols.slice(0, 2)) assert.equal(text(protocol, 'EwsUrl'), `https://${server}.contoso.test:${port}/EWS/Exchange.asmx`);
      assert.equal(find(doc, 'AutoDiscoverSMTPAddress')[0]!.text, address);
    }
  });

  test('a mailbox moved to the other server is found there', async () => {
    await s.control('POST', '/mailboxes/bob@contoso.test/move', { server: 'mail2' });
    try {
      const doc = (await s.post('contoso.test', '/autodiscover/autodiscover.xml', POX_REQUEST('bob@contoso.test'))).doc();
      assert.equal(find(doc, 'EwsUrl')[0]!.text, `https://mail2.contoso.test:${port}/EWS/Exchange.asmx`);
      const soap = (await s.post('contoso.test', '/autodiscover/autodiscover.svc', SOAP_REQUEST(['bob@contoso.test'], ['ExternalEwsUrl']))).doc();
      assert.equal(find(soap, 'Value')[0]!.text, `https://mail2.contoso.test:${port}/EWS/Exchange.asmx`);
    } finally {
      await s.control('POST', '/mailboxes/bob@contoso.test/move', { server: 'mail' });
    }
  });

  test('POX redirects: redirectAddr and redirectUrl, as configured', async () => {
    const addr = poxAccount((await s.post('autodiscover.contoso.test', '/autodiscover/autodiscover.xml', POX_REQUEST('erin@contoso.test'))).doc());
    assert.deepEqual([text(addr, 'Action'), text(addr, 'RedirectAddr')], ['redirectAddr', 'erin@contoso-cloud.test']);
    const target = `https://autodiscover.contoso.test:${port}/autodiscover/autodiscover.xml`;
    assert.equal((await s.control('POST', '/redirects', { address: 'frank@contoso.test', kind: 'url', target })).status, 201);
    const url = poxAccount((await s.post('autodiscover.contoso.test', '/autodiscover/autodiscover.xml', POX_REQUEST('frank@contoso.test'))).doc());
    assert.deepEqual([text(url, 'Action'), text(url, 'RedirectUrl')], ['redirectUrl', target]);
  });

  test('POX errors travel in the payload with HTTP 200', async () => {
    const unknown = await s.post('autodiscover.contoso.test', '/autodiscover/autodiscover.xml', POX_REQUEST('nobody@contoso.test'));
    assert.equal(unknown.status, 200);
    const error = find(unknown.doc(), 'Error')[0]!;
    assert.equal(error.ns, NS.poxResponse, 'the error response uses the 2006 schema, not 2006a');
    assert.equal(text(error, 'ErrorCode'), '500');
    const schema = await s.post('autodiscover.contoso.test', '/autodiscover/autodiscover.xml', POX_REQUEST('alice@contoso.test', 'http://example.test/other'));
    assert.equal(text(find(schema.doc(), 'Error')[0], 'ErrorCode'), '601');
    const garbage = await s.post('autodiscover.contoso.test', '/autodiscover/autodiscover.xml', 'not xml');
    assert.equal(text(find(garbage.doc(), 'Error')[0], 'ErrorCode'), '600');
  });

  test('Autodiscover needs credentials', async () => {
    const answer = await s.post('autodiscover.contoso.test', '/autodiscover/autodiscover.xml', POX_REQUEST('alice@contoso.test'), { password: null });
    assert.equal(answer.status, 401);
    assert.match(String(answer.headers['www-authenticate']), /Basic realm="autodiscover.contoso.test"/);
  });

  test('SOAP GetUserSettings: settings, unknown settings, unknown users, redirects', async () => {
    const answer = await s.post(
      'autodiscover.contoso.test',
      '/autodiscover/autodiscover.svc',
      SOAP_REQUEST(['alice@contoso.test', 'dave@contoso.test', 'nobody@contoso.test', 'erin@contoso.test'], ['InternalEwsUrl', 'ExternalEwsUrl', 'UserDisplayName', 'NoSuchSetting']),
    );
    assert.equal(answer.status, 200);
    const doc = answer.doc();
    const version = find(doc, 'ServerVersionInfo')[0]!;
    assert.equal(version.ns, NS.autodiscoverSoap, 'Autodiscover writes its own ServerVersionInfo, as elements');
    const response = find(doc, 'Response')[0]!;
    assert.equal(text(response, 'ErrorCode'), 'NoError');
    const users = find(doc, 'UserResponse');
    assert.deepEqual(users.map((u) => text(u, 'ErrorCode')), ['NoError', 'NoError', 'InvalidUser', 'RedirectAddress']);
    const settings = (u: XmlElement) => Object.fromEntries(find(u, 'UserSetting').map((x) => [text(x, 'Name'), text(x, 'Value')]));
    assert.deepEqual(settings(users[0]!), {
      InternalEwsUrl: `https://mail.contoso.test:${port}/EWS/Exchange.asmx`,
      ExternalEwsUrl: `https://mail.contoso.test:${port}/EWS/Exchange.asmx`,
      UserDisplayName: 'Alice Adams',
    });
    assert.equal(settings(users[1]!).ExternalEwsUrl, `https://mail2.contoso.test:${port}/EWS/Exchange.asmx`);
    assert.deepEqual(find(users[0]!, 'UserSettingError').map((e) => [text(e, 'ErrorCode'), text(e, 'SettingName')]), [['InvalidSetting', 'NoSuchSetting']]);
    assert.equal(text(users[3]!, 'RedirectTarget'), 'erin@contoso-cloud.test');
    assert.equal(find(users[0]!, 'RedirectTarget')[0]!.attributes.find((a) => a.local === 'nil')?.value, 'true');
    for (const setting of find(users[0]!, 'UserSetting')) assert.equal(attr(setting, 'type', NS.xsi), 'StringSetting');
  });

  test('the unauthenticated HTTP redirect on http://autodiscover.<domain>, which can be switched off', async () => {
    const probe = () =>
      request(`http://autodiscover.contoso.test:${s.info.listen.httpPort}/autodiscover/autodiscover.xml`, { dispatcher: s.agent, maxRedirections: 0 } as never);
    const answer = await probe();
    await answer.body.dump();
    assert.equal(answer.statusCode, 302);
    assert.equal(answer.headers.location, `https://autodiscover.contoso.test:${port}/autodiscover/autodiscover.xml`);
    assert.equal(s.info.autodiscover.httpRedirect, `http://autodiscover.contoso.test:${s.info.listen.httpPort}/autodiscover/autodiscover.xml`);
    await s.control('PATCH', '/settings', { autodiscoverHttpRedirect: false });
    const off = await probe();
    await off.body.dump();
    assert.equal(off.statusCode, 404);
    await s.control('PATCH', '/settings', { autodiscoverHttpRedirect: true });
  });

  test('faults apply to Autodiscover too, per host: a failing candidate and a working one', async () => {
    await s.control('POST', '/faults', { kind: 'http503', operation: 'autodiscover', host: 'contoso.test', times: 1 });
    const root = await s.post('contoso.test', '/autodiscover/autodiscover.xml', POX_REQUEST('alice@contoso.test'));
    assert.equal(root.status, 503);
    const other = await s.post('autodiscover.contoso.test', '/autodiscover/autodiscover.xml', POX_REQUEST('alice@contoso.test'));
    assert.equal(other.status, 200);
  });
});
