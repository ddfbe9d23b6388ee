/**
 * TLS verification explained: expired and not-yet-valid certificates give their dates, an unknown or self-signed
 * issuer is named, a mismatch lists the names; a connection that did not verify never carries a byte of the
 * request. The trusted CA PEM is checked to hold certificates only.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createServer, type Server } from 'node:tls';
import { createHttpTransport } from '../../src/connectors/ews/transport/http.js';
import { TransportError } from '../../src/connectors/ews/transport/types.js';
import { HostOverrides } from '../../src/net/resolve.js';
import { openConnection, parseTrustedCaPem, TlsVerificationError, TrustedCaError, trustContext } from '../../src/net/tls.js';
import { testCa, testLeaf } from '../helpers/certs.js';

const DAY = 86_400_000;

interface TestServer {
  port: number;
  /** Bytes of application data the server received. */
  received(): number;
  close(): Promise<void>;
}

/** A TLS server answering every request with 200 "ok", counting what it is sent. */
async function serve(cert: { pem: string; key: { pem: string } }, chain: string[] = []): Promise<TestServer> {
  let bytes = 0;
  const server: Server = createServer({ key: cert.key.pem, cert: [cert.pem, ...chain].join('') }, (socket) => {
    socket.on('data', (data: Buffer) => {
      bytes += data.length;
      if (data.includes('\r\n\r\n')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok');
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => bytes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('TLS verification and its explanations', () => {
  const ca = testCa('Fabrikam Test Root CA');
  const servers: TestServer[] = [];
  let good: TestServer;
  let expired: TestServer;
  let future: TestServer;
  let selfSigned: TestServer;
  let ipHost: TestServer;
  const expiredFrom = new Date(Date.UTC(2020, 0, 1));
  const expiredTo = new Date(Date.UTC(2021, 0, 1));
  const futureFrom = new Date(Date.now() + 10 * DAY);

  before(async () => {
    good = await serve(testLeaf({ names: ['mail.fabrikam.test'], ca }));
    expired = await serve(testLeaf({ names: ['mail.fabrikam.test'], ca, notBefore: expiredFrom, notAfter: expiredTo }));
    future = await serve(testLeaf({ names: ['mail.fabrikam.test'], ca, notBefore: futureFrom, notAfter: new Date(Date.now() + 40 * DAY) }));
    selfSigned = await serve(testLeaf({ names: ['mail.fabrikam.test'] }));
    ipHost = await serve(testLeaf({ names: ['127.0.0.1'], ca }));
    servers.push(good, expired, future, selfSigned, ipHost);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  const get = async (server: TestServer, trustedCaPem: string | null = ca.pem, host = 'mail.fabrikam.test') => {
    const transport = createHttpTransport({ trustedCaPem, resolve: [`${host}:443:127.0.0.1:${server.port}`], timeoutMs: 5000 });
    try {
      return await transport.request({ method: 'GET', url: `https://${host}/` });
    } finally {
      await transport.close();
    }
  };
  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => assert.fail('expected a TLS failure'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TransportError, String(error));
    assert.equal(error.kind, 'tls');
    return error;
  };

  test('a certificate from a trusted CA, reached through --resolve: verified against the real name', async () => {
    const answer = await get(good);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.toString(), 'ok');
    assert.deepEqual(answer.peerCertificate?.subjectAltNames, ['mail.fabrikam.test']);
    assert.equal(answer.peerCertificate?.issuer, 'CN=Fabrikam Test Root CA');
  });

  test('an expired certificate: its dates, and nothing sent', async () => {
    const error = await failure(get(expired));
    assert.equal(error.details.tls?.code, 'CERT_HAS_EXPIRED');
    assert.equal(error.details.tls?.validFrom, expiredFrom.toISOString());
    assert.equal(error.details.tls?.validTo, expiredTo.toISOString());
    assert.match(error.message, /expired on 2021-01-01T00:00:00\.000Z \(valid from 2020-01-01T00:00:00\.000Z/);
    assert.match(error.message, /mail\.fabrikam\.test:443/);
    assert.equal(expired.received(), 0);
  });

  test('a certificate not valid yet: its dates', async () => {
    const error = await failure(get(future));
    assert.equal(error.details.tls?.code, 'CERT_NOT_YET_VALID');
    assert.equal(error.details.tls?.validFrom, new Date(Math.floor(futureFrom.getTime() / 1000) * 1000).toISOString());
    assert.match(error.message, /not valid yet/);
    assert.equal(future.received(), 0);
  });

  test('an issuer the trust store does not hold is named; trusting its CA fixes it', async () => {
    const error = await failure(get(good, null));
    assert.equal(error.details.tls?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.equal(error.details.tls?.issuer, 'CN=Fabrikam Test Root CA');
    assert.match(error.message, /issued by "CN=Fabrikam Test Root CA", which is not a trusted certificate authority/);
    assert.match(error.message, /trustedCaPem/);
    // Another CA trusted instead does not help.
    const other = testCa('Someone Else CA').pem;
    await failure(get(good, other));
    assert.equal((await get(good, `${other}${ca.pem}`)).status, 200);
  });

  test('a self-signed certificate is called so', async () => {
    const error = await failure(get(selfSigned));
    assert.equal(error.details.tls?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.match(error.message, /self-signed/);
    assert.equal(selfSigned.received(), 0);
  });

  test('a name mismatch lists the names the certificate carries, and nothing is sent', async () => {
    const before = good.received();
    const error = await failure(get(good, ca.pem, 'autodiscover.contoso.test'));
    assert.equal(error.details.tls?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.deepEqual(error.details.tls?.names, ['mail.fabrikam.test']);
    assert.match(error.message, /not valid for the name autodiscover\.contoso\.test: it carries mail\.fabrikam\.test/);
    assert.equal(good.received(), before);
  });

  test('an IP address as host: checked against the IP names, no SNI', async () => {
    const transport = createHttpTransport({ trustedCaPem: ca.pem, timeoutMs: 5000 });
    try {
      const answer = await transport.request({ method: 'GET', url: `https://127.0.0.1:${ipHost.port}/` });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.peerCertificate?.subjectAltNames, ['127.0.0.1']);
    } finally {
      await transport.close();
    }
  });

  test('openConnection refuses with a TlsVerificationError before resolving', async () => {
    await assert.rejects(
      openConnection(
        { host: 'mail.fabrikam.test', port: 443, protocol: 'https:' },
        { overrides: new HostOverrides([`mail.fabrikam.test:443:127.0.0.1:${expired.port}`]), secureContext: trustContext(ca.pem), connectTimeoutMs: 2000 },
      ),
      (error: unknown) => error instanceof TlsVerificationError && error.code === 'CERT_HAS_EXPIRED' && error.certificate?.subject === 'CN=mail.fabrikam.test',
    );
  });
});

describe('the trusted CA PEM', () => {
  const ca = testCa('Corporate Root');
  test('certificates are read, with text around them', () => {
    assert.equal(parseTrustedCaPem(`subject=CN=Corporate Root\n${ca.pem}\n${testCa('Second').pem}`).length, 2);
  });
  for (const [what, pem, reason] of [
    ['empty', '', /no certificate/],
    ['not PEM', 'hello', /no certificate/],
    ['a private key', `${ca.pem}${ca.key.pem}`, /private key/],
    ['another block', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', /"PUBLIC KEY" block/],
    ['a broken certificate', '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n', /certificate 1 cannot be read/],
  ] as const) {
    test(`refused: ${what}`, () => {
      assert.throws(() => parseTrustedCaPem(pem), (error: unknown) => error instanceof TrustedCaError && reason.test(error.message));
    });
  }
  test('the transport refuses a bad trustedCaPem when it is created', () => {
    assert.throws(() => createHttpTransport({ trustedCaPem: 'not a certificate' }), TrustedCaError);
  });
});
