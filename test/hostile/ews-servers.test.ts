/**
 * Hostile EWS and Autodiscover servers (issue 11): what such a server sends ends with a clear, classified error,
 * after a bounded read, in bounded time set by the client's own limits, and nothing an entity names is read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { discoverEwsUrl, AutodiscoverError } from '../../src/connectors/ews/autodiscover/index.js';
import { ewsConnectorFactory } from '../../src/connectors/ews/factory.js';
import { createHttpTransport } from '../../src/connectors/ews/transport/http.js';
import { TransportError } from '../../src/connectors/ews/transport/types.js';
import { defaultConnectors } from '../../src/connectors/index.js';
import type { ClassifiedError, Connector } from '../../src/connectors/connector.js';
import { createExchangeDiagnostics } from '../../src/diagnostics/exchange.js';
import { createSyncEngine } from '../../src/sync/engine.js';
import { waitFor } from '../helpers/engine-harness.js';
import { drip, heapAfterGc, hostileHttpsServer, hostileTls, plainHttpServer, stream, type HostileHandler, type Listening } from '../helpers/hostile-servers.js';
import { MemorySyncStore, testProfile } from '../helpers/memory-sync-store.js';

const MARKER = `LIAISON-XXE-MARKER-${process.pid}`;
const SOAP_HEAD = '<?xml version="1.0" encoding="utf-8"?>';
const ENVELOPE_OPEN = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>';
const ENVELOPE_CLOSE = '</s:Body></s:Envelope>';
const SYNC_RESPONSE =
  '<m:SyncFolderItemsResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">' +
  '<m:ResponseMessages><m:SyncFolderItemsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>' +
  '<m:SyncState>H4sIAAAAAAAEAGNgYGCAAAD/</m:SyncState><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange><m:Changes/>' +
  '</m:SyncFolderItemsResponseMessage></m:ResponseMessages></m:SyncFolderItemsResponse>';

let dir: string;
let markerFile: string;
let entityTarget: Listening;
const servers: Listening[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'liaison-hostile-'));
  markerFile = join(dir, 'secret.txt');
  writeFileSync(markerFile, `${MARKER}\n`);
  entityTarget = await plainHttpServer();
  hostileTls();
});

after(async () => {
  await Promise.all([entityTarget.close(), ...servers.map((s) => s.close())]);
  rmSync(dir, { recursive: true, force: true });
});

async function serve(handler: HostileHandler): Promise<Listening> {
  const server = await hostileHttpsServer(handler);
  servers.push(server);
  return server;
}

function xml(body: string, contentType = 'text/xml; charset=utf-8'): HostileHandler {
  return (_request, response) => {
    response.writeHead(200, { 'content-type': contentType });
    response.end(body);
  };
}

const xxeFile = () => `${SOAP_HEAD}<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file://${markerFile}">]>${ENVELOPE_OPEN}<m:X xmlns:m="urn:x">&xxe;</m:X>${ENVELOPE_CLOSE}`;
const xxeHttp = () => `${SOAP_HEAD}<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "${entityTarget.origin}/entity">]>${ENVELOPE_OPEN}<m:X xmlns:m="urn:x">&xxe;</m:X>${ENVELOPE_CLOSE}`;
const xxeParameter = () => `${SOAP_HEAD}<!DOCTYPE s:Envelope [<!ENTITY % remote SYSTEM "${entityTarget.origin}/dtd"> %remote;]>${ENVELOPE_OPEN}${ENVELOPE_CLOSE}`;
function billionLaughs(): string {
  const entities = ['<!ENTITY lol "lol">'];
  for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`);
  return `${SOAP_HEAD}<!DOCTYPE lolz [${entities.join('')}]>${ENVELOPE_OPEN}<m:X xmlns:m="urn:x">&lol9;</m:X>${ENVELOPE_CLOSE}`;
}

/** An EWS connector for a fixed URL on a hostile server, as a saved profile makes it. */
function connectorFor(server: Listening, over: { requestTimeoutSeconds?: number } = {}): Connector {
  return ewsConnectorFactory({
    profile: testProfile({ autodiscover: false, incomingServer: `${server.origin}/EWS/Exchange.asmx`, trustedCaPem: hostileTls().caPem, requestTimeoutSeconds: over.requestTimeoutSeconds ?? 10 }),
    secrets: { password: 'secret', outgoingPassword: null, clientSecret: null },
    resolve: [],
  });
}

/** Lists the Inbox through the connector; returns the error and how the connector classifies it. */
async function listFails(server: Listening, over: { requestTimeoutSeconds?: number } = {}): Promise<{ error: unknown; classified: ClassifiedError }> {
  const connector = connectorFor(server, over);
  try {
    const session = await connector.open('user@hostile.test');
    try {
      await session.listChanges('inbox', null, 10);
    } catch (error) {
      return { error, classified: connector.classify(error) };
    } finally {
      await session.close?.();
    }
    throw new Error('the listing succeeded against a hostile server');
  } finally {
    await connector.close();
  }
}

/** Test Connection of an Exchange profile with a fixed EWS URL on this hostile server. */
function testConnectionAt(origin: string) {
  return createExchangeDiagnostics().testConnection({
    kind: 'exchange',
    email: 'user@hostile.test',
    username: 'svc',
    password: 'secret',
    auth: 'basic',
    url: `${origin}/EWS/Exchange.asmx`,
    autodiscover: false,
    trustedCaPem: hostileTls().caPem,
    resolve: [],
    timeoutMs: 5000,
    maxConcurrentConnections: 2,
  });
}

function assertNoMarker(...things: unknown[]): void {
  for (const thing of things) {
    const text = thing instanceof Error ? `${thing.message} ${thing.stack ?? ''} ${JSON.stringify(thing)}` : JSON.stringify(thing);
    assert.ok(!text.includes(MARKER), `the local file's content leaked: ${text.slice(0, 300)}`);
  }
}

describe('EWS answers with DTDs and entities', () => {
  test('a DTD is refused: a protocol error that names it', async () => {
    const server = await serve(xml(`${SOAP_HEAD}<!DOCTYPE s:Envelope []>${ENVELOPE_OPEN}${SYNC_RESPONSE}${ENVELOPE_CLOSE}`));
    const { classified } = await listFails(server);
    assert.equal(classified.code, 'ews.protocol');
    assert.match(classified.message, /DOCTYPE|DTD/);
  });

  for (const [name, body] of [
    ['a SYSTEM entity naming a local file', xxeFile],
    ['a SYSTEM entity naming an http URL', xxeHttp],
    ['a parameter entity naming an http URL', xxeParameter],
  ] as const) {
    test(`${name}: nothing is read, nothing leaks`, async () => {
      const before = entityTarget.stats.connections;
      const server = await serve(xml(body()));
      const { error, classified } = await listFails(server);
      assert.equal(classified.code, 'ews.protocol');
      assertNoMarker(error, classified);
      assert.equal(entityTarget.stats.connections, before, 'the URL an entity names was never dialled');
    });
  }

  test('billion laughs: refused before any expansion', async () => {
    const server = await serve(xml(billionLaughs()));
    const heap = heapAfterGc();
    const { classified } = await listFails(server);
    assert.equal(classified.code, 'ews.protocol');
    assert.doesNotMatch(classified.serverResponse ?? '', /(lol){20}/, 'no expanded text is shown');
    assert.ok(heapAfterGc() - heap < 32 * 1024 * 1024, 'no expansion kept in memory');
  });

  test('Autodiscover answering with entities: no URL found, nothing read, nothing leaks', async () => {
    const server = await serve(xml(xxeFile()));
    const before = entityTarget.stats.connections;
    const transport = createHttpTransport({ trustedCaPem: hostileTls().caPem, resolve: [`hostile.test:443:127.0.0.1:${server.port}`, `autodiscover.hostile.test:443:127.0.0.1:${server.port}`], timeoutMs: 5000 });
    try {
      const error = await discoverEwsUrl('user@hostile.test', { transport, credentials: { username: 'svc', password: 'secret', method: 'basic' }, httpRedirectProbe: false, srvLookup: false }).then(
        () => assert.fail('Autodiscover found a URL in a hostile answer'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof AutodiscoverError, String(error));
      assert.ok(error.attempts.some((a) => a.outcome === 'error' && /DOCTYPE|DTD/.test(JSON.stringify(a))), JSON.stringify(error.attempts));
      assertNoMarker(error, error.attempts);
      assert.equal(entityTarget.stats.connections, before);
    } finally {
      await transport.close();
    }
  });

  test('Test Connection against entities: a failed step, nothing read, nothing leaks', async () => {
    const server = await serve(xml(xxeHttp()));
    const fileServer = await serve(xml(xxeFile()));
    const before = entityTarget.stats.connections;
    for (const s of [server, fileServer]) {
      const result = await testConnectionAt(s.origin);
      assert.equal(result.status, 'failure');
      assert.ok(result.steps.some((step) => step.status === 'failure'));
      assertNoMarker(result);
    }
    assert.equal(entityTarget.stats.connections, before);
  });
});

describe('EWS answers too large, too deep, too slow, cut short', () => {
  test('a 1 GB answer: the transport stops at its limit, the server could not write it all', async () => {
    let written = 0;
    const server = await serve(async (_request, response, stats) => {
      response.writeHead(200, { 'content-type': 'text/xml' });
      written = await stream(response, 1024 * 1024 * 1024, stats, '<');
      response.end();
    });
    const transport = createHttpTransport({ trustedCaPem: hostileTls().caPem, maxResponseBytes: 1024 * 1024, timeoutMs: 60_000 });
    const heap = heapAfterGc();
    try {
      const error = await transport.request({ method: 'POST', url: `${server.origin}/EWS/Exchange.asmx`, body: '<x/>' }).then(
        () => assert.fail('a 1 GB answer was accepted'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof TransportError);
      assert.equal(error.kind, 'too-large');
      await waitFor('the server to notice the client went away', () => server.stats.bytesWritten === written || written > 0, 10_000);
      assert.ok(server.stats.bytesWritten < 64 * 1024 * 1024, `the server wrote ${server.stats.bytesWritten} bytes: the client kept reading`);
      assert.ok(heapAfterGc() - heap < 32 * 1024 * 1024, 'nothing of the answer is kept');
    } finally {
      await transport.close();
    }
  });

  test('a 1 GB answer through the connector: transport.too-large at the default limit', async () => {
    const server = await serve(async (_request, response, stats) => {
      response.writeHead(200, { 'content-type': 'text/xml' });
      await stream(response, 1024 * 1024 * 1024, stats, ' ');
      response.end();
    });
    const { classified } = await listFails(server, { requestTimeoutSeconds: 60 });
    assert.equal(classified.code, 'transport.too-large');
    assert.equal(classified.kind, 'transient');
    assert.ok(server.stats.bytesWritten < 256 * 1024 * 1024, `the server wrote ${server.stats.bytesWritten} bytes`);
  });

  test('a 1 GB Content-Length: refused from the headers', async () => {
    const server = await serve(async (_request, response, stats) => {
      response.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(1024 * 1024 * 1024) });
      await stream(response, 1024 * 1024 * 1024, stats, ' ');
    });
    const { classified } = await listFails(server);
    assert.equal(classified.code, 'transport.too-large');
    assert.ok(server.stats.bytesWritten < 64 * 1024 * 1024);
  });

  test('an Autodiscover answer is bounded much lower than an EWS one', async () => {
    const server = await serve(async (_request, response, stats) => {
      response.writeHead(200, { 'content-type': 'text/xml' });
      await stream(response, 1024 * 1024 * 1024, stats, ' ');
      response.end();
    });
    const transport = createHttpTransport({ trustedCaPem: hostileTls().caPem, resolve: [`hostile.test:443:127.0.0.1:${server.port}`, `autodiscover.hostile.test:443:127.0.0.1:${server.port}`], timeoutMs: 30_000 });
    try {
      const error = await discoverEwsUrl('user@hostile.test', { transport, credentials: { username: 'svc', password: 'secret', method: 'basic' }, httpRedirectProbe: false, srvLookup: false }).then(
        () => assert.fail('found'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof AutodiscoverError);
      assert.ok(error.attempts.every((a) => a.outcome !== 'found'));
      assert.ok(error.attempts.some((a) => /more than/.test(JSON.stringify(a))), JSON.stringify(error.attempts).slice(0, 500));
      // Four URLs, each stopped at the Autodiscover limit (1 MiB) plus what the sockets held.
      assert.ok(server.stats.bytesWritten < 4 * 16 * 1024 * 1024, `the server wrote ${server.stats.bytesWritten} bytes`);
    } finally {
      await transport.close();
    }
  });

  test('elements nested 100,000 deep: refused at the depth limit', async () => {
    const depth = 100_000;
    const server = await serve(xml(`${SOAP_HEAD}${ENVELOPE_OPEN}${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}${ENVELOPE_CLOSE}`));
    const { classified } = await listFails(server);
    assert.equal(classified.code, 'ews.protocol');
    assert.match(classified.message, /nested deeper than \d+/);
  });

  test('an answer dripped at one byte a second: ended by the total deadline, not an idle timeout', { timeout: 60_000 }, async () => {
    const server = await serve(async (_request, response, stats) => {
      response.writeHead(200, { 'content-type': 'text/xml' });
      await drip(response, `${SOAP_HEAD}${ENVELOPE_OPEN}${SYNC_RESPONSE}${ENVELOPE_CLOSE}`, stats, 1000);
      response.end();
    });
    const { error, classified } = await listFails(server, { requestTimeoutSeconds: 3 });
    assert.equal(classified.code, 'transport.timeout');
    assert.ok(error instanceof TransportError);
    assert.notEqual((error.details.cause as { code?: string } | undefined)?.code, 'UND_ERR_BODY_TIMEOUT', 'no idle gap was long enough for the idle timeout');
    assert.ok(server.stats.bytesWritten >= 2, 'bytes kept coming');
  });

  test('an HTML sign-in page with status 200: a clear error naming it, not retried at once', async () => {
    const page = '<!DOCTYPE html><html><head><title>Sign in</title></head><body><form method="post" action="/my.policy"><input name="username"><input type="password" name="password"></form></body></html>';
    const server = await serve(xml(page, 'text/html; charset=utf-8'));
    const { classified } = await listFails(server);
    assert.equal(classified.code, 'ews.html-page');
    assert.equal(classified.kind, 'permanent');
    assert.match(classified.message, /HTML page, not EWS/);
    assert.match(classified.message, /sign-in page/);
    assert.match(classified.serverResponse ?? '', /Sign in/);
    assert.ok(classified.fix);
  });

  test('Test Connection against an HTML sign-in page: the EWS step names it', async () => {
    const server = await serve(xml('<!DOCTYPE html><html><head><title>Sign in</title></head><body><form><input type="password" name="p"></form></body></html>', 'text/html'));
    const result = await testConnectionAt(server.origin);
    const failed = result.steps.find((step) => step.status === 'failure');
    assert.ok(failed, JSON.stringify(result).slice(0, 500));
    assert.match(JSON.stringify(failed), /HTML page, not EWS: a proxy's sign-in page\?/);
    assert.match(JSON.stringify(failed), /pre-authentication/);
  });

  test('an HTML page sent as text/xml, or with no content type, is still named an HTML page', async () => {
    for (const type of ['text/xml', 'application/octet-stream']) {
      const server = await serve(xml('<html><head><title>Login</title></head><body><p>Please sign in<br></p></body></html>', type));
      const { classified } = await listFails(server);
      assert.equal(classified.code, 'ews.html-page', type);
    }
  });

  test('a truncated SOAP envelope: a protocol error saying the XML is incomplete', async () => {
    const whole = `${SOAP_HEAD}${ENVELOPE_OPEN}${SYNC_RESPONSE}${ENVELOPE_CLOSE}`;
    const server = await serve(xml(whole.slice(0, Math.floor(whole.length / 2))));
    const { classified } = await listFails(server);
    assert.equal(classified.code, 'ews.protocol');
    assert.match(classified.message, /well-formed/);
  });
});

describe('a hostile EWS server through the sync engine', () => {
  test('each mailbox ends its cycle with lastError saying what happened; the worker keeps running', async () => {
    const html = await serve(xml('<!DOCTYPE html><html><body><form><input type="password"></form></body></html>', 'text/html'));
    const xxe = await serve(xml(xxeFile()));
    const sync = new MemorySyncStore();
    const first = sync.addProfile(testProfile({ autodiscover: false, incomingServer: `${html.origin}/EWS/Exchange.asmx`, trustedCaPem: hostileTls().caPem, requestTimeoutSeconds: 5 }), { password: 'secret' });
    const second = sync.addProfile(testProfile({ autodiscover: false, incomingServer: `${xxe.origin}/EWS/Exchange.asmx`, trustedCaPem: hostileTls().caPem, requestTimeoutSeconds: 5 }), { password: 'secret' });
    const a = sync.addMailbox('a@hostile.test', first.id, { outgoing: false });
    const engine = createSyncEngine({ sync, connectors: defaultConnectors(), resolve: [], pollFloorMs: 100, leaseMs: 10_000, push: false });
    engine.start();
    try {
      const failed = (id: string) => sync.cycles.find((c) => c.mailboxId === id && c.record.status !== 'success');
      await waitFor('the first mailbox to fail its cycle', () => failed(a.id) !== undefined);
      assert.match(failed(a.id)!.record.lastError ?? '', /HTML page, not EWS/);
      // A mailbox added afterwards is still served by the same worker.
      const b = sync.addMailbox('b@hostile.test', second.id, { outgoing: false });
      await waitFor('the second mailbox to fail its cycle', () => failed(b.id) !== undefined);
      assert.match(failed(b.id)!.record.lastError ?? '', /DOCTYPE|DTD/);
      assertNoMarker(sync.cycles, sync.alerts);
    } finally {
      await engine.stop();
    }
  });
});
