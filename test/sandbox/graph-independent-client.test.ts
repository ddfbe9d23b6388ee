/**
 * The sandbox's Graph side driven by clients it was not written with: Microsoft's own
 * @microsoft/microsoft-graph-client (3.x) with @azure/msal-node, in their default configuration.
 *
 * Default configuration means no custom fetch, agent or network client in either library. The client runs in a
 * child process (test/sandbox/clients/graph-client.mjs) started with NODE_EXTRA_CA_CERTS = the sandbox's CA
 * (Node then trusts it, verification stays on) and `--import test/sandbox/clients/resolve-sandbox.mjs`, a
 * test-harness preload that makes the names under the sandbox's domain resolve to 127.0.0.1, as /etc/hosts
 * entries would. It patches dns.lookup: msal-node's requests go through node:https, and graph-client's through
 * the global fetch (undici), and both connect with net.connect, which looks names up with dns.lookup when it is
 * given no lookup of its own (checked: the preload counts the names it answered, and without it the fetch fails
 * with ENOTFOUND).
 *
 * Two things the libraries need that are configuration, said plainly:
 *  - msal-node: `authority` = the sandbox's authority and `knownAuthorities` = [its host:port], the documented
 *    way to use an authority outside Microsoft's cloud list (instance discovery skipped, the authority trusted).
 *  - graph-client: `baseUrl` = the sandbox's Graph URL, and `customHosts` = [graph.<domain>]: its
 *    AuthenticationHandler adds the bearer token only for Microsoft's Graph hosts or the custom hosts it is given
 *    (the first step shows the 401 the sandbox answers without it).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startGraphSandbox, type GraphTestSandbox } from '../helpers/graph-sandbox.js';
import { startNotificationEndpoint, type NotificationEndpoint } from '../helpers/notification-endpoint.js';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';
const CLIENT = fileURLToPath(new URL('./clients/graph-client.mjs', import.meta.url));
const PRELOAD = fileURLToPath(new URL('./clients/resolve-sandbox.mjs', import.meta.url));

type Step = { ok: true; [fact: string]: unknown } | { ok: false; error: Record<string, unknown> };

function runClient(input: Record<string, unknown>, env: Record<string, string>): Promise<{ results: Record<string, Step>; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Asynchronous on purpose: the sandbox answers from this process's event loop.
    execFile(
      process.execPath,
      ['--import', PRELOAD, CLIENT],
      { env: { ...process.env, ...env, GRAPH_CLIENT_INPUT: JSON.stringify(input) }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && !stdout) return reject(new Error(`the client failed: ${error.message}\n${stderr}`));
        try {
          resolve({ results: JSON.parse(stdout) as Record<string, Step>, stderr });
        } catch {
          reject(new Error(`the client's output is not JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

describe('Graph sandbox driven by @microsoft/microsoft-graph-client with @azure/msal-node', () => {
  let g: GraphTestSandbox;
  let hook: NotificationEndpoint;
  let results: Record<string, Step>;
  let inboxBefore: Array<{ id: string; subject: string }>;
  let bobBefore: number;
  let faultsAfter: Array<{ kind: string; remaining: number | null }> = [];

  before(async () => {
    g = await startGraphSandbox();
    hook = await startNotificationEndpoint();
    const listing = await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$select=subject&$top=100`);
    inboxBefore = listing.json<{ value: Array<{ id: string; subject: string }> }>().value;
    bobBefore = (await g.call('GET', `/users/${BOB}/mailFolders/inbox/messages?$select=subject&$top=100`)).json<{ value: unknown[] }>().value.length;
    // Five messages more, so that top(5) and the iterator's pages have something to show.
    for (let i = 1; i <= 5; i++) {
      const d = await g.s.control('POST', `/mailboxes/${ALICE}/messages`, { from: 'jane.doe@fabrikam.test', to: ALICE, subject: `Independent ${i}`, body: `n${i}` });
      assert.equal(d.status, 201);
    }
    const listed = await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$select=subject&$top=100`);
    inboxBefore = listed.json<{ value: Array<{ id: string; subject: string }> }>().value;
    // One 429 (Retry-After 1 s) waits for the client's first Inbox listing: its default RetryHandler must obey it.
    assert.equal((await g.s.control('PATCH', '/settings', { graphRetryAfterSeconds: 1 })).status, 200);
    const fault = await g.s.control('POST', '/faults', { kind: 'http429', operation: 'graph.list', mailbox: ALICE, times: 1 });
    assert.ok(fault.status < 300, JSON.stringify(fault.json));
    const run = await runClient(
      { graphUrl: g.graph.url, authority: g.graph.authority, clientId: g.graph.clientId, clientSecret: g.graph.clientSecret, mailbox: ALICE, recipient: BOB, hookUrl: hook.url },
      { NODE_EXTRA_CA_CERTS: g.s.info.caCert, SANDBOX_DOMAIN: g.s.info.domain },
    );
    results = run.results;
    faultsAfter = (await g.s.control<Array<{ kind: string; remaining: number | null }>>('GET', '/faults')).json;
    if (process.env.GRAPH_CLIENT_DEBUG) process.stderr.write(`${JSON.stringify(results, null, 2)}\n${run.stderr}\n`);
  });
  after(async () => {
    await hook?.close();
    await g?.close();
  });

  function ok(name: string): Record<string, unknown> {
    const r = results[name];
    assert.ok(r, `the client ran step ${name}`);
    assert.ok(r.ok, `${name} failed in the client: ${JSON.stringify(r)}`);
    return r as Record<string, unknown>;
  }

  test('harness: both libraries reached the sandbox by name through the dns.lookup preload (msal-node via node:https, graph-client via global fetch)', () => {
    const r = ok('harness');
    assert.equal(r.globalFetch, true);
    assert.deepEqual(r.lookups, [`graph.${g.s.info.domain}`, `login.${g.s.info.domain}`]);
  });

  test('msal-node acquires a token from the sandbox authority with the demo secret; its roles are the consented ones', () => {
    const r = ok('token');
    assert.equal(r.tokenType, 'Bearer');
    assert.equal(r.expiresInFuture, true);
    assert.equal(r.tid, g.graph.tenantId);
    assert.equal(r.aud, 'https://graph.microsoft.com');
    assert.deepEqual([...(r.roles as string[])].sort(), ['Mail.ReadWrite', 'Mail.Send']);
  });

  test('msal-node reports a wrong secret as invalid_client with AADSTS7000215', () => {
    const r = ok('wrongSecret');
    assert.equal(r.refused, true);
    assert.equal(r.errorCode, 'invalid_client');
    assert.match(String(r.errorMessage), /AADSTS7000215/);
  });

  test('without customHosts the library sends no token to a host it does not know, and the sandbox answers 401 InvalidAuthenticationToken as a GraphError', () => {
    const r = ok('withoutCustomHosts');
    assert.equal(r.refused, true);
    const error = r.error as Record<string, unknown>;
    assert.equal(error.isGraphError, true);
    assert.equal(error.statusCode, 401);
    assert.equal(error.code, 'InvalidAuthenticationToken');
  });

  test('the default RetryHandler obeyed the 429 with Retry-After the sandbox answered the first Inbox listing, and then succeeded', () => {
    ok('inboxTop5');
    assert.deepEqual(faultsAfter.filter((f) => f.kind === 'http429' && f.remaining !== 0), [], 'the 429 was answered (the fault is used up)');
  });

  test('the Inbox through .select(...).top(5).get(): five messages, the selected properties, a nextLink for the rest', () => {
    const r = ok('inboxTop5');
    assert.equal(r.count, 5);
    assert.ok(inboxBefore.length > 5);
    const known = new Set(inboxBefore.map((m) => m.subject));
    for (const s of r.subjects as string[]) assert.ok(known.has(s), `${s} is an Inbox subject`);
    assert.deepEqual(r.keys, ['@odata.etag', 'from', 'id', 'receivedDateTime', 'subject']);
    assert.equal(typeof r.nextLink, 'string');
  });

  test('PageIterator walks every page (one message each) to the same messages the Inbox holds', () => {
    const r = ok('pageIterator');
    assert.equal(r.complete, true);
    assert.equal(r.count, inboxBefore.length);
    assert.deepEqual([...(r.ids as string[])].sort(), inboxBefore.map((m) => m.id).sort());
  });

  test('delta with Prefer odata.maxpagesize=2 pages by nextLink to a deltaLink; the next round with no change is empty', () => {
    const r = ok('delta');
    assert.equal(r.pages, Math.ceil(inboxBefore.length / 2));
    assert.deepEqual([...new Set(r.ids as string[])].sort(), inboxBefore.map((m) => m.id).sort());
    assert.equal(r.deltaLink, true);
    assert.equal(r.nextRoundCount, 0);
    assert.equal(r.nextRoundHasDeltaLink, true);
  });

  test('$value as text (responseType TEXT) and as a stream (getStream) is the message MIME, the same both ways', () => {
    const r = ok('mime');
    const message = inboxBefore.find((m) => m.id === r.id);
    assert.ok(message);
    assert.equal(r.subject, message.subject);
    assert.equal(r.sameThroughStream, true);
  });

  test('a draft created and sent, and a sendMail: both reach Bob once; Alice has a copy of each in Sent Items', async () => {
    const draft = ok('draftAndSend');
    assert.equal(draft.isDraft, true);
    assert.equal(draft.subject, 'Independent draft');
    ok('sendMail');
    const bob = (await g.call('GET', `/users/${BOB}/mailFolders/inbox/messages?$select=subject&$top=100`)).json<{ value: Array<{ subject: string }> }>().value;
    assert.equal(bob.length, bobBefore + 2);
    assert.equal(bob.filter((m) => m.subject === 'Independent draft').length, 1);
    assert.equal(bob.filter((m) => m.subject === 'Independent sendMail').length, 1);
    const sent = (await g.call('GET', `/users/${ALICE}/mailFolders/sentitems/messages?$select=subject&$top=100`)).json<{ value: Array<{ subject: string }> }>().value;
    assert.equal(sent.filter((m) => m.subject === 'Independent draft').length, 1);
    assert.equal(sent.filter((m) => m.subject === 'Independent sendMail').length, 1);
    const drafts = (await g.call('GET', `/users/${ALICE}/mailFolders/drafts/messages?$select=subject&$top=100`)).json<{ value: Array<{ subject: string }> }>().value;
    assert.equal(drafts.filter((m) => m.subject === 'Independent draft').length, 0, 'the sent draft left Drafts');
  });

  test('move puts the message in Deleted Items and answers it', () => {
    const r = ok('move');
    assert.equal(r.parentFolderId, r.deletedItemsId);
    assert.equal(r.subject, inboxBefore.find((m) => m.id === r.from)?.subject);
  });

  test('BatchRequestContent / BatchResponseContent: three requests in series (dependsOn), each answer read by id', () => {
    const r = ok('batch');
    assert.equal(r.upn, ALICE);
    assert.equal(r.twoCount, 2);
    assert.equal(r.threeStatus, 404);
    assert.match(String(r.threeCode), /^(ErrorItemNotFound|ErrorInvalidIdMalformed|ResourceNotFound)$/);
  });

  test('a subscription created (the local endpoint answered the validation handshake), read, and deleted; afterwards a 404 GraphError', () => {
    const r = ok('subscription');
    assert.equal(r.clientState, 'independent-state');
    assert.equal(r.fetchedId, r.id);
    assert.ok(hook.validations.some((v) => v.path === '/independent'), 'the sandbox validated the notification URL');
    const after = r.afterDelete as Record<string, unknown> | null;
    assert.ok(after, 'reading a deleted subscription fails');
    assert.equal(after.isGraphError, true);
    assert.equal(after.statusCode, 404);
  });

  test('errors surface as GraphError with the status and code', () => {
    const r = ok('errors');
    const thrown = r.thrown as Record<string, unknown> | null;
    assert.ok(thrown, 'reading an unknown message throws');
    assert.equal(thrown.isGraphError, true);
    assert.equal(thrown.statusCode, 404);
    assert.match(String(thrown.code), /^(ErrorItemNotFound|ErrorInvalidIdMalformed)$/);
  });
});
