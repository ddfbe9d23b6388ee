/**
 * A hostile Microsoft Graph (issue 11's hostile servers, for the Exchange Online connector of issue 12): what such
 * a server sends ends with a clear, classified error, after a bounded read, in bounded time set by the client's own
 * limits. The Graph client and the mailbox session are the connector's own, over its own transport; only the token
 * source is a stand-in, since the answers under test are Graph's, not Azure AD's.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { ClassifiedError, FetchedMessage, MessageFailure } from '../../src/connectors/connector.js';
import { createHttpTransport } from '../../src/connectors/ews/transport/http.js';
import { TransportError } from '../../src/connectors/ews/transport/types.js';
import { classifyGraphError } from '../../src/connectors/graph/classify.js';
import { GraphClient, MAX_JSON_BYTES, MAX_MIME_BYTES } from '../../src/connectors/graph/client.js';
import { GraphMailboxSession } from '../../src/connectors/graph/mailbox.js';
import { drip, heapAfterGc, hostileHttpsServer, hostileTls, stream, type HostileHandler, type Listening } from '../helpers/hostile-servers.js';

const servers: Listening[] = [];
const transports: Array<{ close(): Promise<void> }> = [];

after(async () => {
  await Promise.all([...transports.map((t) => t.close()), ...servers.map((s) => s.close())]);
});

async function serve(handler: HostileHandler): Promise<Listening> {
  const server = await hostileHttpsServer(handler);
  servers.push(server);
  return server;
}

function answer(body: string, contentType = 'application/json'): HostileHandler {
  return (_request, response) => {
    response.writeHead(200, { 'content-type': contentType });
    response.end(body);
  };
}

const DELTA_DONE = JSON.stringify({ value: [], '@odata.deltaLink': 'https://127.0.0.1/v1.0/users/x/mailFolders/inbox/messages/delta?$deltatoken=abc' });

/** A session of the connector's Graph client on this server, with the connector's transport limits. */
function sessionOn(server: Listening, options: { timeoutMs?: number } = {}) {
  const transport = createHttpTransport({ trustedCaPem: hostileTls().caPem, resolve: [], timeoutMs: options.timeoutMs ?? 30_000, maxResponseBytes: MAX_MIME_BYTES });
  transports.push(transport);
  const client = new GraphClient({
    graphUrl: server.origin,
    tokens: { token: async () => ({ accessToken: 'header.payload.signature', expiresAt: new Date(Date.now() + 3_600_000), roles: ['Mail.ReadWrite', 'Mail.Send'] }) },
    transport,
    maxRetries: 0,
  });
  return new GraphMailboxSession('user@hostile.test', client, async () => false);
}

async function deltaFails(server: Listening, options: { timeoutMs?: number } = {}): Promise<{ error: unknown; classified: ClassifiedError }> {
  const session = sessionOn(server, options);
  try {
    await session.listChanges('inbox', null, 10);
  } catch (error) {
    return { error, classified: classifyGraphError(error, { graphHost: '127.0.0.1', mailbox: session.address }) };
  }
  throw new Error('the delta listing succeeded against a hostile server');
}

describe('Microsoft Graph answers too large, too deep, too slow, not JSON', () => {
  test('a well-formed answer is read (the stand-in is sound)', async () => {
    const server = await serve((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ value: [{ id: 'AAMk1', internetMessageId: '<a@hostile.test>' }], '@odata.deltaLink': `https://${request.headers.host}/v1.0/users/x/mailFolders/inbox/messages/delta?$deltatoken=abc` }));
    });
    const page = await sessionOn(server).listChanges('inbox', null, 10);
    assert.equal(page.complete, true);
    assert.deepEqual(page.changes.map((c) => [c.kind, c.serverId, c.internetMessageId]), [['created', 'AAMk1', '<a@hostile.test>']]);
  });

  test('a 1 GB JSON answer: the read stops at the JSON limit, the server could not write it all', async () => {
    const server = await serve(async (_request, response, stats) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"value":["');
      await stream(response, 1024 * 1024 * 1024, stats, 'a');
      response.end('"]}');
    });
    const heap = heapAfterGc();
    const { error, classified } = await deltaFails(server);
    assert.ok(error instanceof TransportError, String(error));
    assert.equal(error.kind, 'too-large');
    assert.equal(classified.code, 'transport.too-large');
    assert.equal(classified.kind, 'transient');
    assert.ok(server.stats.bytesWritten < MAX_JSON_BYTES + 64 * 1024 * 1024, `the server wrote ${server.stats.bytesWritten} bytes: the client kept reading`);
    assert.ok(heapAfterGc() - heap < 32 * 1024 * 1024, 'nothing of the answer is kept');
  });

  test("an endless message ($value): that message fails at the MIME limit, its neighbours are fetched", async () => {
    const mime = 'Message-ID: <ok@hostile.test>\r\nSubject: fine\r\n\r\nbody\r\n';
    const server = await serve(async (request, response, stats) => {
      if (request.url?.includes('/$value')) {
        response.writeHead(200, { 'content-type': 'text/plain' });
        if (request.url.includes('endless')) {
          await stream(response, 1024 * 1024 * 1024, stats, 'x');
          response.end();
        } else response.end(mime);
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ internetMessageId: '<ok@hostile.test>', receivedDateTime: '2026-12-01T10:00:00Z' }));
    });
    const session = sessionOn(server, { timeoutMs: 60_000 });
    // One id at a time: the session asks for the metadata and the $value of each on its own.
    const [endless] = await session.fetch(['endless']);
    const [fine] = await session.fetch(['fine']);
    const failure = endless as MessageFailure;
    assert.ok('error' in failure, 'the endless message is a failure of that message');
    assert.ok(failure.error instanceof TransportError && failure.error.kind === 'too-large', String(failure.error));
    assert.equal(classifyGraphError(failure.error).code, 'transport.too-large');
    assert.ok(server.stats.bytesWritten < MAX_MIME_BYTES + 128 * 1024 * 1024, `the server wrote ${server.stats.bytesWritten} bytes`);
    assert.equal((fine as FetchedMessage).mime.toString(), mime);
  });

  test('arrays nested 100,000 deep: a protocol error, no stack overflow', async () => {
    const depth = 100_000;
    const server = await serve(answer(`{"value":${'['.repeat(depth)}${']'.repeat(depth)}}`));
    const { classified } = await deltaFails(server);
    assert.equal(classified.code, 'graph.protocol');
    assert.equal(classified.kind, 'transient');
    assert.ok((classified.serverResponse ?? '').length <= 2000);
  });

  test('objects nested 100,000 deep in place of the page: a protocol error', async () => {
    const depth = 100_000;
    const server = await serve(answer(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));
    const { classified } = await deltaFails(server);
    assert.equal(classified.code, 'graph.protocol');
    assert.match(classified.message, /no "value" array/);
  });

  test('an answer dripped at one byte a second: ended by the total deadline', { timeout: 60_000 }, async () => {
    const server = await serve(async (_request, response, stats) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      await drip(response, DELTA_DONE, stats, 1000);
      response.end();
    });
    const { error, classified } = await deltaFails(server, { timeoutMs: 3000 });
    assert.ok(error instanceof TransportError, String(error));
    assert.equal(classified.code, 'transport.timeout');
    assert.ok(server.stats.bytesWritten >= 2, 'bytes kept coming');
  });

  test('an HTML sign-in page with status 200: graph.html-page, permanent, with its title and a fix', async () => {
    const page = '<!DOCTYPE html><html><head><title>Sign in to Contoso</title></head><body><form method="post"><input name="u"><input type="password" name="p"></form></body></html>';
    const server = await serve(answer(page, 'text/html; charset=utf-8'));
    const { classified } = await deltaFails(server);
    assert.equal(classified.code, 'graph.html-page');
    assert.equal(classified.kind, 'permanent');
    assert.match(classified.message, /HTML page, not Microsoft Graph: a proxy's sign-in page\?/);
    assert.match(classified.message, /Sign in to Contoso/);
    assert.match(classified.serverResponse ?? '', /<title>Sign in to Contoso/);
    assert.match(classified.fix ?? '', /proxy/);
  });

  test('an HTML error page labelled as JSON: still named an HTML page, transient', async () => {
    const server = await serve(answer('<html><head><title>Service Unavailable</title></head><body>Try later</body></html>', 'application/json'));
    const { classified } = await deltaFails(server);
    assert.equal(classified.code, 'graph.html-page');
    assert.equal(classified.kind, 'transient');
    assert.match(classified.message, /Service Unavailable/);
  });

  test('an answer cut short: not JSON, a protocol error with what came', async () => {
    const server = await serve(answer(DELTA_DONE.slice(0, 20)));
    const { classified } = await deltaFails(server);
    assert.equal(classified.code, 'graph.protocol');
    assert.match(classified.message, /not JSON/);
    assert.equal(classified.serverResponse, DELTA_DONE.slice(0, 20));
  });

  test('a server that keeps the connection and sends nothing more after the headers: the deadline ends it', { timeout: 60_000 }, async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"value":[');
    });
    const { classified } = await deltaFails(server, { timeoutMs: 2000 });
    assert.equal(classified.code, 'transport.timeout');
  });
});
