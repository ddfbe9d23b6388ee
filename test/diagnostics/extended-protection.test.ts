/**
 * Channel binding matters: behind a proxy that ends TLS with its own certificate (a load balancer that offloads
 * TLS), Liaison binds NTLM to the proxy's certificate, and an Exchange with Extended Protection refuses it. The
 * same sign-in straight to Exchange passes. Basic is not affected.
 */
import assert from 'node:assert/strict';
import { connect as tlsConnect, createServer as createTlsServer, type Server } from 'node:tls';
import { after, before, test } from 'node:test';
import { createExchangeDiagnostics } from '../../src/diagnostics/exchange.js';
import type { ExchangeTarget } from '../../src/diagnostics/service.js';
import { testCa, testLeaf } from '../helpers/certs.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let s: TestSandbox;
let proxy: Server;
let proxyPort = 0;
const proxyCa = testCa('Offloading Proxy CA');

before(async () => {
  s = await startTestSandbox();
  const leaf = testLeaf({ names: ['mail.contoso.test'], ca: proxyCa });
  // Ends the client's TLS with its own certificate and opens a new TLS connection to the sandbox for each one.
  proxy = createTlsServer({ key: leaf.key.pem, cert: leaf.pem }, (client) => {
    const upstream = tlsConnect({ host: '127.0.0.1', port: s.info.listen.port, servername: 'mail.contoso.test', ca: s.sandbox.pki.caCertPem });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyPort = (proxy.address() as { port: number }).port;
  await s.control('PATCH', '/settings', { extendedProtection: 'require' });
});
after(async () => {
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await s.close();
});

const target = (auth: 'basic' | 'ntlm', viaProxy: boolean): ExchangeTarget => {
  const port = s.info.listen.port;
  return {
    kind: 'exchange',
    email: 'alice@contoso.test',
    username: s.info.serviceAccount!.username,
    password: s.password,
    auth,
    url: `https://mail.contoso.test:${port}/EWS/Exchange.asmx`,
    autodiscover: false,
    trustedCaPem: `${s.sandbox.pki.caCertPem}\n${proxyCa.pem}`,
    resolve: [`mail.contoso.test:${port}:127.0.0.1:${viaProxy ? proxyPort : port}`],
    timeoutMs: 20_000,
    maxConcurrentConnections: 27,
  };
};

test('Extended Protection: NTLM straight to Exchange passes; through a TLS-ending proxy it is refused and Extended Protection is named', async () => {
  const diagnostics = createExchangeDiagnostics();
  assert.equal((await diagnostics.testConnection(target('ntlm', false))).status, 'success');
  const proxied = await diagnostics.testConnection(target('ntlm', true));
  assert.deepEqual(proxied.steps.map((step) => step.status), ['success', 'failure', 'skipped']);
  assert.equal(proxied.steps[1]!.code, 'ntlm-rejected');
  assert.match(proxied.steps[1]!.summary, /Extended Protection/);
  assert.match(proxied.steps[1]!.fix ?? '', /proxy or load balancer ends TLS/);
  // Basic carries no channel binding: the proxy makes no difference to it.
  assert.equal((await diagnostics.testConnection(target('basic', true))).status, 'success');
});
