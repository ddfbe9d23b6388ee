/**
 * NTLM through the transport against a server that is not the sandbox: one that offers only Negotiate (carrying
 * raw NTLM, or its CHALLENGE wrapped in SPNEGO), requires channel bindings, and can forget a connection's sign-in
 * while keeping the socket, to show the one retry with a fresh handshake.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttpTransport } from '../../../src/connectors/ews/transport/http.js';
import { tlsServerEndPoint } from '../../../src/ntlm/bindings.js';
import { messageType } from '../../../src/ntlm/messages.js';
import { NEG_STATE, OID_NTLM, writeServerToken } from '../../../src/ntlm/spnego.js';
import { type Pending, startHandshake, verifyAuthenticate } from '../../../src/sandbox/ntlm/server.js';
import { testCa, testLeaf } from '../../helpers/certs.js';

describe('transport NTLM against a Negotiate-only server', () => {
  const ca = testCa('Negotiate Test CA');
  const leaf = testLeaf({ names: ['ews.fabrikam.test'], ca });
  const expected = tlsServerEndPoint(new X509Certificate(leaf.pem).raw);
  const sockets = new WeakMap<Socket, { pending?: Pending; account?: string }>();
  const settings = { wrap: false, forget: false };
  let negotiates = 0;
  let server: Server;
  let port: number;

  before(async () => {
    server = createServer({ key: leaf.key.pem, cert: leaf.pem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const state = sockets.get(req.socket) ?? {};
        sockets.set(req.socket, state);
        const refuse = () => {
          delete state.account;
          res.writeHead(401, { 'WWW-Authenticate': 'Negotiate', 'Content-Length': '0' }).end();
        };
        if (settings.forget) {
          settings.forget = false;
          delete state.account;
        }
        const header = req.headers.authorization ?? '';
        const match = /^Negotiate (\S+)$/.exec(header);
        if (!match) {
          if (state.account && !header) return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`ok:${Buffer.concat(chunks).toString()}`);
          return refuse();
        }
        const token = Buffer.from(match[1]!, 'base64');
        if (messageType(token) === 1) {
          negotiates += 1;
          state.pending = startHandshake(token, { nbDomain: 'FABRIKAM', nbComputer: 'EWS', dnsDomain: 'fabrikam.test', dnsComputer: 'ews.fabrikam.test' });
          const challenge = settings.wrap
            ? writeServerToken(NEG_STATE.acceptIncomplete, { supportedMech: OID_NTLM, responseToken: state.pending.challenge.raw })
            : state.pending.challenge.raw;
          return void res.writeHead(401, { 'WWW-Authenticate': `Negotiate ${challenge.toString('base64')}`, 'Content-Length': '0' }).end();
        }
        if (messageType(token) === 3 && state.pending) {
          const outcome = verifyAuthenticate(state.pending, token, () => [{ account: 'svc', password: 'Pa55' }], { mode: 'require', expected });
          delete state.pending;
          if (!outcome.ok) return refuse();
          state.account = 'svc';
          return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`ok:${Buffer.concat(chunks).toString()}`);
        }
        refuse();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const transport = () => createHttpTransport({ trustedCaPem: ca.pem, resolve: [`ews.fabrikam.test:443:127.0.0.1:${port}`], timeoutMs: 5000 });
  const call = (t: ReturnType<typeof transport>, body: string, password = 'Pa55') =>
    t.request({ method: 'POST', url: 'https://ews.fabrikam.test/EWS/Exchange.asmx', body, credentials: { username: 'FABRIKAM\\svc', password, method: 'ntlm' } });

  for (const wrap of [false, true]) {
    test(`Negotiate with raw NTLM, the CHALLENGE ${wrap ? 'wrapped in SPNEGO' : 'raw'}: signed in, the body sent with the AUTHENTICATE`, async () => {
      settings.wrap = wrap;
      negotiates = 0;
      const t = transport();
      try {
        const answer = await call(t, '<first/>');
        assert.equal(answer.status, 200);
        assert.equal(answer.body.toString(), 'ok:<first/>');
        assert.equal((await call(t, '<second/>')).body.toString(), 'ok:<second/>');
        assert.equal(negotiates, 1);
        assert.equal(t.stats().ntlmHandshakes, 1);
      } finally {
        await t.close();
      }
    });
  }

  test('a 401 on an authenticated connection: one fresh handshake, and the call succeeds', async () => {
    settings.wrap = false;
    negotiates = 0;
    const t = transport();
    try {
      assert.equal((await call(t, '<one/>')).status, 200);
      settings.forget = true;
      const answer = await call(t, '<two/>');
      assert.equal(answer.status, 200);
      assert.equal(answer.body.toString(), 'ok:<two/>');
      assert.equal(negotiates, 2);
      assert.equal(t.stats().connections, 1, 'on the same connection');
    } finally {
      await t.close();
    }
  });

  test('a wrong password: the 401 is the answer, with the offer', async () => {
    const t = transport();
    try {
      const answer = await call(t, '<x/>', 'wrong');
      assert.equal(answer.status, 401);
      assert.deepEqual(answer.headerLists['www-authenticate'], ['Negotiate']);
    } finally {
      await t.close();
    }
  });
});
