/**
 * Notification affinity, after "Maintain affinity between a group of subscriptions and the Mailbox server in
 * Exchange" (ms-docs exchange-web-services/how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-
 * server.md): the subscription request with X-AnchorMailbox and `X-PreferServerAffinity: true` gets
 * `Set-Cookie: X-BackEndOverrideCookie=CO1PR06MB222.namprd06.prod.outlook.com~1941996295; path=/; secure;
 * HttpOnly` (the back end's FQDN, then its version as a number: 1941996295 is 15.0.775, the build of that answer's
 * ServerVersionInfo); later requests with the cookie and the header are routed by the cookie, "the X-AnchorMailbox
 * header … is ignored by the server if the other two values are valid"; without the cookie X-AnchorMailbox
 * routes; a request that reaches another server than the subscriptions' gets ErrorSubscriptionNotFound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { child, parseXml } from '../../src/xml/parse.js';
import { envelope, faultCode, find, M, ok, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test'; // on mail
const DAVE = 'dave@contoso.test'; // on mail2
const subscribe =
  '<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds>' +
  '<t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>';
const COOKIE = /^X-BackEndOverrideCookie=([a-z0-9.]+)~(\d+); path=\/; secure; HttpOnly$/;

function setCookie(headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = headers['set-cookie'];
  return Array.isArray(value) ? value.find((v) => v.startsWith('X-BackEndOverrideCookie=')) : value;
}

function streamRequest(ids: string[]): string {
  return (
    `<m:GetStreamingEvents><m:SubscriptionIds>${ids.map((id) => `<t:SubscriptionId>${id}</t:SubscriptionId>`).join('')}</m:SubscriptionIds>` +
    '<m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>'
  );
}

describe('sandbox EWS: notification affinity (X-PreferServerAffinity, X-BackEndOverrideCookie)', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox({ settings: { streamingKeepAliveSeconds: 1 } });
  });
  after(async () => {
    await s?.close();
  });

  test('the anchor mailbox’s subscription gets the cookie naming its back end; the group follows it to that server', async () => {
    const affinity = { 'X-AnchorMailbox': ALICE, 'X-PreferServerAffinity': 'true' };
    const first = await s.ews(subscribe, { as: ALICE, headers: affinity });
    const aliceId = child(ok(first), M, 'SubscriptionId')!.text;
    const cookie = setCookie(first.headers);
    const [, host, version] = COOKIE.exec(cookie ?? '') ?? [];
    assert.equal(host, 'mail.contoso.test', cookie);
    const number = Number(version);
    assert.deepEqual([(number >>> 22) & 0x3f, (number >>> 16) & 0x3f, number & 0x7fff], [15, 1, 2507], 'the version of the server, as Exchange writes it');
    const pair = cookie!.split(';')[0]!;

    // Dave lives on mail2: asked through mail without affinity, the front end refuses (the mailbox is elsewhere) …
    assert.equal(faultCode(await s.ews(subscribe, { as: DAVE, headers: { 'X-AnchorMailbox': ALICE } })), 'ErrorMailboxMoveInProgress');
    // … with the group's cookie, the server it names serves it, and no new cookie is set.
    const second = await s.ews(subscribe, { as: DAVE, host: 'mail2.contoso.test', headers: { ...affinity, Cookie: pair } });
    const daveId = child(ok(second), M, 'SubscriptionId')!.text;
    assert.equal(setCookie(second.headers), undefined);
    assert.equal(second.headers['x-calculatedbetarget'], 'mail.contoso.test');

    // The subscriptions are on mail: reached without the cookie, mail2 does not know them.
    const lost = await s.ews(streamRequest([aliceId, daveId]), { host: 'mail2.contoso.test' });
    assert.equal(responseCode(responseMessages(lost.doc())[0]!), 'ErrorSubscriptionNotFound');

    // One GetStreamingEvents for the group, sent anywhere with the cookie, is served by mail and streams both.
    const auth = `Basic ${Buffer.from(`${s.info.serviceAccount!.username}:${s.password}`).toString('base64')}`;
    const response = await request(`https://mail2.contoso.test:${s.info.listen.port}/EWS/Exchange.asmx`, {
      method: 'POST',
      body: envelope(streamRequest([aliceId, daveId])),
      headers: { authorization: auth, 'content-type': 'text/xml; charset=utf-8', 'x-preferserveraffinity': 'true', 'x-anchormailbox': ALICE, cookie: pair },
      dispatcher: s.agent,
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['x-calculatedbetarget'], 'mail.contoso.test');
    assert.equal(setCookie(response.headers), undefined, 'a request that carries the cookie is not given another');
    let buffer = '';
    const seen = new Set<string>();
    let delivered = false;
    for await (const chunk of response.body) {
      buffer += chunk.toString();
      let end: number;
      while ((end = buffer.indexOf('</Envelope>')) >= 0) {
        const doc = parseXml(buffer.slice(0, end + '</Envelope>'.length));
        buffer = buffer.slice(end + '</Envelope>'.length);
        assert.ok(responseMessages(doc).every((m) => responseCode(m) === 'NoError'), 'both subscriptions are found');
        for (const notification of find(doc, 'Notification')) seen.add(find(notification, 'SubscriptionId')[0]!.text);
      }
      if (!delivered) {
        delivered = true;
        await s.control('POST', `/mailboxes/${ALICE}/messages`, { from: 'x@fabrikam.test', to: [ALICE], subject: 'For the group' });
        await s.control('POST', `/mailboxes/${DAVE}/messages`, { from: 'x@fabrikam.test', to: [DAVE], subject: 'For the group' });
      }
      if (seen.size === 2) break;
    }
    response.body.destroy();
    assert.deepEqual([...seen].sort(), [aliceId, daveId].sort());
  });

  test('without the cookie X-AnchorMailbox routes, and the answer carries the cookie; an unknown cookie is ignored', async () => {
    const routed = await s.ews(subscribe, { as: DAVE, headers: { 'X-AnchorMailbox': DAVE, 'X-PreferServerAffinity': 'true' } });
    ok(routed);
    assert.equal(COOKIE.exec(setCookie(routed.headers) ?? '')?.[1], 'mail2.contoso.test');
    const stranger = await s.ews(subscribe, {
      as: DAVE,
      headers: { 'X-AnchorMailbox': DAVE, 'X-PreferServerAffinity': 'true', Cookie: 'X-BackEndOverrideCookie=elsewhere.fabrikam.test~1941996295' },
    });
    ok(stranger);
    assert.equal(COOKIE.exec(setCookie(stranger.headers) ?? '')?.[1], 'mail2.contoso.test');
    const streaming = await s.ews(streamRequest(['bm8tc3VjaA==']), { as: ALICE, headers: { 'X-PreferServerAffinity': 'true' } });
    assert.equal(COOKIE.exec(setCookie(streaming.headers) ?? '')?.[1], 'mail.contoso.test', 'GetStreamingEvents sets it too');
  });

  test('without X-PreferServerAffinity there is no cookie, and a cookie alone does not route', async () => {
    const plain = await s.ews(subscribe, { as: ALICE, headers: { 'X-AnchorMailbox': ALICE } });
    ok(plain);
    assert.equal(setCookie(plain.headers), undefined);
    const cookieOnly = await s.ews(subscribe, { as: DAVE, headers: { Cookie: 'X-BackEndOverrideCookie=mail.contoso.test~1942063563' } });
    assert.equal(faultCode(cookieOnly), 'ErrorMailboxMoveInProgress', 'the cookie counts only with X-PreferServerAffinity');
  });

  testTraffic(() => s.records, 8);
});
