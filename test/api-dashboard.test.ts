/**
 * GET /api/v1/dashboard and the live GET /api/v1/events, over real HTTP connections: the first event at once,
 * a change made through the store (as a worker in another process would) as the next one, keep-alives, and the
 * stream ending when the client leaves, when the caller's session ends and when the server closes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { authenticate } from '../src/api/auth.js';
import { dashboardRoutes } from '../src/api/routes/dashboard.js';
import type { Dashboard } from '../src/store/dashboard.js';
import type { Store } from '../src/store/store.js';
import type { Lease } from '../src/sync/ports.js';
import { openApi, type TestApi } from './helpers/api.js';
import { sqlite } from './helpers/stores.js';

interface Message {
  event?: string;
  data?: string;
  comment?: string;
}

/** An EventSource-like reader of a text/event-stream over fetch. */
async function openStream(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queue: Message[] = [];
  let done = false;
  async function fill(deadline: number): Promise<void> {
    while (queue.length === 0 && !done) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no message from the stream in time');
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no message from the stream in time')), left);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) {
        done = true;
        break;
      }
      buffer += decoder.decode(chunk.value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message: Message = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) message.comment = line.slice(1).trim();
          else if (line.startsWith('event: ')) message.event = line.slice(7);
          else if (line.startsWith('data: ')) message.data = (message.data === undefined ? '' : `${message.data}\n`) + line.slice(6);
        }
        queue.push(message);
      }
    }
  }
  return {
    response,
    /** The next message, or null when the stream ended. */
    async next(timeoutMs = 5_000): Promise<Message | null> {
      await fill(Date.now() + timeoutMs);
      return queue.shift() ?? null;
    },
    /** The next `event: dashboard`, skipping keep-alives. */
    async dashboard(timeoutMs = 5_000): Promise<Dashboard> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const message = await this.next(Math.max(1, deadline - Date.now()));
        if (!message) throw new Error('the stream ended before a dashboard came');
        if (message.event === 'dashboard') return JSON.parse(message.data!) as Dashboard;
      }
    },
    close() {
      controller.abort();
    },
  };
}

function baseOf(app: FastifyInstance): string {
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** An enabled mailbox on a profile, and a new incoming email committed for it the way a sync worker does. */
async function trackIncoming(store: Store, mailboxId: string, tag: string): Promise<void> {
  let lease: Lease | null = null;
  for (let i = 0; i < 20 && !lease; i += 1) {
    const [granted] = await store.sync.claimDue(`test-${tag}`, 1, 60_000, new Date());
    if (!granted) break;
    if (granted.lease.mailboxId === mailboxId) lease = granted.lease;
    else await store.sync.release(granted.lease, new Date('2100-01-01T00:00:00.000Z'));
  }
  if (!lease) throw new Error('mailbox not claimable');
  await store.sync.commitIncoming(lease, {
    folder: 'inbox',
    cursor: null,
    outcomes: [
      {
        kind: 'tracked',
        serverId: `srv-${tag}`,
        activity: {
          internetMessageId: `<${tag}@fabrikam.test>`,
          subject: `Hello ${tag}`,
          bodyText: 'Hi',
          bodyHtml: null,
          parties: [{ role: 'from', address: 'customer@fabrikam.test', displayName: null, record: null }],
          inReplyTo: null,
          references: [],
          conversationId: null,
          trackingToken: null,
          regarding: null,
          correlatedActivityId: null,
          sentAt: null,
          receivedAt: new Date().toISOString(),
          attachments: [],
          notes: [],
        },
      },
    ],
  });
  await store.sync.release(lease, new Date());
}

describe('GET /api/v1/dashboard', () => {
  let api: TestApi;
  let userMailbox: string;
  before(async () => {
    api = await openApi(sqlite);
    const store = api.t.store;
    const profile = await store.profiles.create({ name: 'Contoso IMAP', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', ownerId: api.admin.id });
    userMailbox = api.user.mailboxId!;
    await store.mailboxes.update(userMailbox, { profileId: profile.id, approvalStatus: 'approved', enabled: true });
    await store.mailboxes.update(api.admin.mailboxId!, { profileId: profile.id, approvalStatus: 'approved', enabled: true });
    await store.database.db.updateTable('mailboxes').set({ incoming_status: 'failure', consecutive_failures: 2, last_error: 'login refused' }).where('id', '=', api.admin.mailboxId!).execute();
    await trackIncoming(store, userMailbox, 'first');
  });
  after(async () => api?.close());

  test('an administrator sees every mailbox; the answer follows the schema', async () => {
    const response = await api.call('GET', '/api/v1/dashboard');
    assert.equal(response.statusCode, 200);
    const d = response.json() as Dashboard;
    assert.equal(d.totals.mailboxes, 2);
    assert.equal(d.totals.failing, 1);
    assert.equal(d.failing[0]?.id, api.admin.mailboxId);
    assert.equal(d.failing[0]?.lastError, 'login refused');
    assert.equal(d.totals.trackedToday, 1);
    assert.equal(d.trackedPerHour.length, 24);
    assert.equal(d.trackedPerHour[23]!.count, 1);
    assert.ok(Math.abs(Date.parse(d.generatedAt) - Date.now()) < 60_000);
  });

  test("a user sees their own mailbox only, not the administrator's failure", async () => {
    const d = (await api.call('GET', '/api/v1/dashboard', { token: api.userToken })).json() as Dashboard;
    assert.equal(d.totals.mailboxes, 1);
    assert.deepEqual(d.failing, []);
    assert.equal(d.profiles.length, 1);
    assert.deepEqual(d.profiles[0]!.counts, { success: 0, failure: 0, notRun: 1, disabled: 0 });
    assert.equal(d.totals.trackedToday, 1);
  });

  test('needs a token or a session; takes no query parameters', async () => {
    assert.equal((await api.call('GET', '/api/v1/dashboard', { token: null })).statusCode, 401);
    assert.equal((await api.call('GET', '/api/v1/events', { token: null })).statusCode, 401);
    assert.equal((await api.call('GET', '/api/v1/dashboard', { token: 'lsn_not-a-token' })).statusCode, 401);
  });

  test('is in the OpenAPI document under the dashboard tag, the stream as text/event-stream', async () => {
    const doc = (await api.call('GET', '/api/v1/openapi.json')).json() as { paths: Record<string, Record<string, { tags: string[]; responses: Record<string, { content?: Record<string, unknown> }> }>> };
    assert.deepEqual(doc.paths['/api/v1/dashboard']?.get?.tags, ['dashboard']);
    assert.ok(doc.paths['/api/v1/events']?.get?.responses['200']?.content?.['text/event-stream']);
  });
});

describe('GET /api/v1/events over HTTP', () => {
  let api: TestApi;
  let base: string;
  before(async () => {
    api = await openApi(sqlite);
    const store = api.t.store;
    const profile = await store.profiles.create({ name: 'Contoso IMAP', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', ownerId: api.admin.id });
    await store.mailboxes.update(api.user.mailboxId!, { profileId: profile.id, approvalStatus: 'approved', enabled: true });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    base = baseOf(api.app);
  });
  after(async () => api?.close());

  test('the first dashboard comes at once; a change made through the store comes as the next event; an unchanged one is not sent again', async () => {
    const started = Date.now();
    const stream = await openStream(`${base}/api/v1/events`, { authorization: `Bearer ${api.adminToken}` });
    try {
      assert.equal(stream.response.status, 200);
      assert.match(stream.response.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(stream.response.headers.get('cache-control'), 'no-cache, no-transform');
      const first = await stream.dashboard(1_500);
      assert.ok(Date.now() - started < 1_500, 'the first event is not held back until a poll');
      assert.equal(first.totals.trackedToday, 0);
      await trackIncoming(api.t.store, api.user.mailboxId!, 'live-1');
      const second = await stream.dashboard(6_000);
      assert.equal(second.totals.trackedToday, 1);
      assert.equal(second.trackedPerHour[23]!.count, 1);
      // Nothing changes now: the next polls send nothing (only a keep-alive would come, after 15 s).
      await assert.rejects(stream.next(4_500), /in time/);
    } finally {
      stream.close();
    }
  });

  test('shows a user their own dashboard', async () => {
    const stream = await openStream(`${base}/api/v1/events`, { authorization: `Bearer ${api.userToken}` });
    try {
      const d = await stream.dashboard();
      assert.equal(d.totals.mailboxes, 1);
    } finally {
      stream.close();
    }
  });

  test('app.close() ends an open stream (event: end) instead of waiting for it', async () => {
    const other = await openApi(sqlite);
    await other.app.listen({ host: '127.0.0.1', port: 0 });
    const stream = await openStream(`${baseOf(other.app)}/api/v1/events`, { authorization: `Bearer ${other.adminToken}` });
    await stream.dashboard();
    const closing = Date.now();
    await other.close();
    assert.ok(Date.now() - closing < 3_000, 'app.close() did not wait for the stream');
    const end = await stream.next();
    assert.equal(end?.event, 'end');
    assert.match(JSON.parse(end.data!).reason as string, /server is stopping/);
    assert.equal(await stream.next(), null, 'and the stream is over');
  });
});

/** Counts the queries that read email_activities: the dashboard's polls. */
class QueryCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (JSON.stringify(args.node).includes('"email_activities"')) this.count += 1;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

describe('the event stream with short timings', () => {
  let api: TestApi;
  let store: Store;
  let app: FastifyInstance;
  let base: string;
  const counter = new QueryCounter();
  before(async () => {
    api = await openApi(sqlite);
    store = await api.t.reopen({ plugins: [counter] });
    app = Fastify();
    app.decorateRequest('user', null);
    app.decorateRequest('consoleSession', null);
    await app.register(cookie);
    await app.register(
      async (scoped) => {
        scoped.addHook('onRequest', authenticate(store));
        await scoped.register(dashboardRoutes(store, { pollMs: 50, keepAliveMs: 200 }));
      },
      { prefix: '/api/v1' },
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = baseOf(app);
  });
  after(async () => {
    await app?.close();
    await api?.close();
  });

  test('sends a keep-alive comment when nothing changes', async () => {
    const stream = await openStream(`${base}/api/v1/events`, { authorization: `Bearer ${api.adminToken}` });
    try {
      await stream.dashboard();
      const next = await stream.next(2_000);
      assert.equal(next?.comment, 'keep-alive');
    } finally {
      stream.close();
    }
  });

  test('stops polling once the client goes away: no timer is left behind', async () => {
    const stream = await openStream(`${base}/api/v1/events`, { authorization: `Bearer ${api.adminToken}` });
    await stream.dashboard();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(counter.count > 0);
    stream.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const atClose = counter.count;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(counter.count, atClose, 'the stream went on polling after its client left');
  });

  test("ends with event: end once the caller's console session ends", async () => {
    const session = await store.sessions.create(api.admin.id);
    const stream = await openStream(`${base}/api/v1/events`, { cookie: `liaison_session=${session.secret}` });
    assert.equal(stream.response.status, 200);
    await stream.dashboard();
    await store.sessions.revoke(session.secret);
    let message = await stream.next(2_000);
    while (message?.comment) message = await stream.next(2_000);
    assert.equal(message?.event, 'end');
    assert.match(JSON.parse(message.data!).reason as string, /session has ended/);
    assert.equal(await stream.next(), null);
  });

  test('an API token revoked meanwhile ends the stream too', async () => {
    const issued = await store.tokens.issue(api.user.id);
    const stream = await openStream(`${base}/api/v1/events`, { authorization: `Bearer ${issued.token}` });
    await stream.dashboard();
    await store.tokens.revoke(api.user.id, issued.id);
    let message = await stream.next(2_000);
    while (message?.comment) message = await stream.next(2_000);
    assert.equal(message?.event, 'end');
  });
});
