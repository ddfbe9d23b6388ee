/**
 * Sending through Graph: a draft marked with Liaison's identifier, then send; Exchange Online's own copy in Sent
 * Items, found again by findSent; a connection cut after the send left is uncertain and findSent says it went,
 * so the engine does not send it again; a send cut before it was carried out reuses the draft next time.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import type { GraphConnector } from '../../../src/connectors/graph/connector.js';
import { connectorFor, type GraphSandbox, mime, startGraphSandbox } from './support.js';

let s: GraphSandbox;
let connector: GraphConnector;
before(async () => {
  s = await startGraphSandbox();
  connector = connectorFor(s);
});
after(async () => {
  await connector.close();
  await s.close();
});
beforeEach(async () => {
  await s.control('DELETE', '/faults');
});

async function copies(address: string, folder: string, messageId: string): Promise<number> {
  const items = (await s.control<Array<{ internetMessageId: string }>>('GET', `/mailboxes/${address}/folders/${folder}/items`)).json;
  return items.filter((i) => i.internetMessageId === messageId).length;
}

const fresh = (tag: string) => `<${tag}-${Date.now()}-${Math.random().toString(36).slice(2)}@contoso.test>`;

test('send: delivered once to the recipient, one copy in the sender Sent Items, no draft left; findSent finds it and only it', async () => {
  const mid = fresh('send-once');
  const session = await connector.open('alice@contoso.test');
  assert.equal(await session.findSent(mid), false);
  await session.send({ mime: mime('alice@contoso.test', 'bob@contoso.test', 'Quote 1001', mid), saveCopy: true });
  assert.equal(await copies('bob@contoso.test', 'inbox', mid), 1);
  assert.equal(await copies('alice@contoso.test', 'sentitems', mid), 1);
  assert.equal(await copies('alice@contoso.test', 'drafts', mid), 0);
  assert.equal(await session.findSent(mid), true);
  assert.equal(await session.findSent(fresh('never-sent')), false);
});

test('a connection cut after send was carried out: classified uncertain, and findSent says it went (no second send)', async () => {
  const mid = fresh('send-drop-after');
  const session = await connector.open('alice@contoso.test');
  await s.control('POST', '/faults', { kind: 'dropAfter', operation: 'graph.send', times: 1 });
  const error = await session.send({ mime: mime('alice@contoso.test', 'carol@contoso.test', 'Quote 1002', mid), saveCopy: true }).then(
    () => assert.fail('the cut connection went unnoticed'),
    (e: unknown) => e,
  );
  const classified = connector.classify(error);
  assert.equal(classified.kind, 'uncertain');
  assert.match(classified.code, /^send\.uncertain\./);
  assert.equal(await session.findSent(mid), true);
  assert.equal(await copies('carol@contoso.test', 'inbox', mid), 1);
});

test('a connection cut before send was carried out: uncertain, findSent says no, and the next send uses the same draft', async () => {
  const mid = fresh('send-drop');
  const session = await connector.open('alice@contoso.test');
  await s.control('POST', '/faults', { kind: 'drop', operation: 'graph.send', times: 1 });
  const message = { mime: mime('alice@contoso.test', 'dave@contoso.test', 'Quote 1003', mid), saveCopy: true };
  const error = await session.send(message).then(
    () => assert.fail('the cut connection went unnoticed'),
    (e: unknown) => e,
  );
  assert.equal(connector.classify(error).kind, 'uncertain');
  assert.equal(await session.findSent(mid), false);
  assert.equal(await copies('alice@contoso.test', 'drafts', mid), 1);
  await session.send(message);
  assert.equal(await copies('dave@contoso.test', 'inbox', mid), 1);
  assert.equal(await copies('alice@contoso.test', 'sentitems', mid), 1);
  assert.equal(await copies('alice@contoso.test', 'drafts', mid), 0);
});

test('a 503 with a short Retry-After on send is waited out: sent once', async () => {
  const mid = fresh('send-503');
  const session = await connector.open('alice@contoso.test');
  await s.control('POST', '/faults', { kind: 'http503', operation: 'graph.send', times: 1, backOffMilliseconds: 500 });
  await session.send({ mime: mime('alice@contoso.test', 'bob@contoso.test', 'Quote 1004', mid), saveCopy: true });
  assert.equal(await copies('bob@contoso.test', 'inbox', mid), 1);
});

test('a message without a Message-ID is refused before anything is sent', async () => {
  const session = await connector.open('alice@contoso.test');
  const bare = Buffer.from('From: alice@contoso.test\r\nTo: bob@contoso.test\r\nSubject: none\r\n\r\nHi\r\n');
  await assert.rejects(session.send({ mime: bare, saveCopy: true }), /no Message-ID/);
});
