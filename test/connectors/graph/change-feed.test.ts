/**
 * The Graph change feed against the sandbox: a subscription per watched mailbox delivered to a push endpoint
 * (here a small local stand-in for Liaison's POST /graph/notifications that reads the body with the route's own
 * reader and emits on graphLifecycle as the route does), notifications and `missed` → onChange, reauthorization →
 * renewal, a removed or vanished subscription made again, fewer mailboxes → their subscriptions deleted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { readNotifications } from '../../../src/api/routes/graph-notifications.js';
import type { ClassifiedError } from '../../../src/connectors/connector.js';
import type { HttpTransport } from '../../../src/connectors/ews/transport/types.js';
import type { GraphChangeFeed } from '../../../src/connectors/graph/change-feed.js';
import type { GraphConnector } from '../../../src/connectors/graph/connector.js';
import { clientStateFor, graphLifecycle, notificationPath } from '../../../src/connectors/graph/notifications.js';
import { sandboxTransport } from '../../helpers/sandbox-connect.js';
import { connectorFor, deliver, type GraphSandbox, startGraphSandbox } from './support.js';

let s: GraphSandbox;
let endpoint: Server;
let publicUrl: string;
const key = randomBytes(32);
const received: string[] = [];

before(async () => {
  s = await startGraphSandbox();
  endpoint = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (url.pathname !== notificationPath) return res.writeHead(404).end();
      const token = url.searchParams.get('validationToken');
      if (token !== null) return res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { value: unknown[] };
      res.writeHead(202).end();
      for (const event of readNotifications(key, body.value).events) {
        received.push(`${event.address} ${event.event}`);
        graphLifecycle.emit('event', event);
      }
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  publicUrl = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`;
});
after(async () => {
  await s.close();
  await new Promise((resolve) => endpoint.close(resolve));
});

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`never: ${what}`);
}

interface SandboxSubscription {
  id: string;
  resource: string;
  mailbox: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string;
  expirationDateTime: string;
  clientState?: string;
}

const subscriptions = async () => (await s.control<SandboxSubscription[]>('GET', '/graph/subscriptions')).json;

function recordingConnector(requests: string[], extra: Parameters<typeof connectorFor>[1] = {}): GraphConnector {
  const inner = sandboxTransport(s);
  const transport: HttpTransport = { ...inner, request: (r) => (requests.push(`${r.method} ${new URL(r.url).pathname}`), inner.request(r)) };
  return connectorFor(s, { transport, pushEndpoint: { publicUrl, key }, changeFeed: { checkIntervalMs: 3_600_000 }, ...extra });
}

test('without a public URL the connector has no change feed (its mailboxes are polled)', () => {
  const c = connectorFor(s);
  assert.equal(c.changeFeed, undefined);
  void c.close();
});

test('a subscription per mailbox; notifications and missed reach onChange; lifecycle events renew or remake; watch and close delete', async () => {
  const requests: string[] = [];
  const connector = recordingConnector(requests);
  const changes: string[] = [];
  const errors: ClassifiedError[] = [];
  const feed = connector.changeFeed!(['inbox'], { onChange: (a) => changes.push(a), onError: (_a, e) => errors.push(e) }) as GraphChangeFeed;
  try {
    feed.watch(['alice@contoso.test', 'bob@contoso.test']);
    await until('both subscribed', () => feed.covers('alice@contoso.test') && feed.covers('bob@contoso.test'));
    assert.equal(feed.covers('carol@contoso.test'), false);
    const made = await subscriptions();
    assert.equal(made.length, 2);
    for (const sub of made) {
      assert.equal(sub.changeType, 'created');
      assert.equal(sub.notificationUrl, `${publicUrl}${notificationPath}`);
      assert.equal(sub.lifecycleNotificationUrl, `${publicUrl}${notificationPath}`);
      assert.match(sub.resource, /mailFolders\('inbox'\)\/messages$/);
      if (sub.clientState) assert.equal(sub.clientState, clientStateFor(key, sub.mailbox));
      assert.ok(Date.parse(sub.expirationDateTime) > Date.now() + 60 * 3_600_000, 'asked for close to the 4230-minute maximum');
    }

    await deliver(s, 'alice@contoso.test', 'Pushed');
    await until('alice changed', () => changes.includes('alice@contoso.test'));
    assert.ok(received.includes('alice@contoso.test change'));

    // waitForChange of a session ends with the notification.
    const session = await connector.open('bob@contoso.test');
    const waiting = session.waitForChange(['inbox'], 20_000);
    await deliver(s, 'bob@contoso.test', 'Wake the wait');
    assert.equal(await waiting, true);
    assert.equal(await session.waitForChange(['inbox'], 10), false);

    const alice = feed.subscriptionOf('alice@contoso.test')!;
    changes.length = 0;
    await s.control('POST', `/graph/subscriptions/${alice}/lifecycle`, { event: 'missed' });
    await until('missed → onChange', () => changes.includes('alice@contoso.test'));

    requests.length = 0;
    await s.control('POST', `/graph/subscriptions/${alice}/lifecycle`, { event: 'reauthorizationRequired' });
    await until('renewed', () => requests.includes(`PATCH /v1.0/subscriptions/${alice}`));
    assert.equal(feed.subscriptionOf('alice@contoso.test'), alice);

    await s.control('POST', `/graph/subscriptions/${alice}/lifecycle`, { event: 'subscriptionRemoved' });
    await until('made again', () => feed.subscriptionOf('alice@contoso.test') !== null && feed.subscriptionOf('alice@contoso.test') !== alice);
    const remade = feed.subscriptionOf('alice@contoso.test')!;
    assert.ok((await subscriptions()).some((x) => x.id === remade));

    // Gone without a word (expired while no one listened): the periodic check makes it again.
    const bob = feed.subscriptionOf('bob@contoso.test')!;
    await s.control('DELETE', `/graph/subscriptions/${bob}`);
    await feed.check();
    const bobAgain = feed.subscriptionOf('bob@contoso.test');
    assert.ok(bobAgain && bobAgain !== bob);
    assert.ok((await subscriptions()).some((x) => x.id === bobAgain && x.mailbox === 'bob@contoso.test'));

    feed.watch(['alice@contoso.test']);
    await until('bob unsubscribed', async () => (await subscriptions()).every((x) => x.mailbox !== 'bob@contoso.test'));
    assert.equal(feed.covers('bob@contoso.test'), false);
    assert.deepEqual(errors, []);
  } finally {
    await feed.close();
    await connector.close();
  }
  assert.deepEqual(await subscriptions(), []);
});

test('the periodic check renews a subscription close to its expiry', async () => {
  const requests: string[] = [];
  const connector = recordingConnector(requests, { changeFeed: { checkIntervalMs: 3_600_000, renewBeforeMs: 100 * 3_600_000 } });
  const feed = connector.changeFeed!(['inbox'], { onChange: () => undefined }) as GraphChangeFeed;
  try {
    feed.watch(['carol@contoso.test']);
    await until('subscribed', () => feed.covers('carol@contoso.test'));
    const id = feed.subscriptionOf('carol@contoso.test')!;
    requests.length = 0;
    await feed.check();
    assert.deepEqual(requests, [`GET /v1.0/subscriptions/${id}`, `PATCH /v1.0/subscriptions/${id}`]);
  } finally {
    await feed.close();
    await connector.close();
  }
});

test('a notification endpoint that does not answer the validation: the failure goes to onError with a back-off, not a crash', async () => {
  const errors: Array<{ address: string | null; error: ClassifiedError }> = [];
  const connector = connectorFor(s, { pushEndpoint: { publicUrl: 'http://127.0.0.1:9', key }, changeFeed: { checkIntervalMs: 3_600_000 } });
  const feed = connector.changeFeed!(['inbox'], { onChange: () => undefined, onError: (address, error) => errors.push({ address, error }) }) as GraphChangeFeed;
  try {
    feed.watch(['dave@contoso.test']);
    await until('the failure reported', () => errors.length > 0);
    assert.equal(errors[0]!.address, 'dave@contoso.test');
    assert.match(errors[0]!.error.serverResponse ?? errors[0]!.error.message, /validation/i);
    assert.equal(feed.covers('dave@contoso.test'), false);
    // Backing off: an immediate check does not try again.
    await feed.check();
    assert.equal(errors.length, 1);
  } finally {
    await feed.close();
    await connector.close();
  }
});
