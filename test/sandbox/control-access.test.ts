/**
 * The control API holds every mailbox's password: only loopback callers may use it, unless the sandbox has a
 * control token, which callers from elsewhere must then send as a Bearer token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { controlAccess, isLoopback } from '../../src/sandbox/control/access.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const TOKEN = 'ctl-0123456789abcdef0123';

describe('sandbox control API: who may use it', () => {
  test('loopback is 127.0.0.0/8, ::1 and their IPv4-mapped form; nothing else', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(address), true, address);
    for (const address of ['192.0.2.7', '::ffff:192.0.2.7', '2001:db8::1', '0.0.0.0', '::', '128.0.0.1', undefined]) assert.equal(isLoopback(address), false, String(address));
  });

  test('without a token, callers from elsewhere get a 403 that says how to open it', () => {
    assert.equal(controlAccess('127.0.0.1', undefined, null), null);
    const refused = controlAccess('192.0.2.7', `Bearer ${TOKEN}`, null)!;
    assert.equal(refused.status, 403);
    assert.match(refused.error, /only on the loopback address/);
    assert.match(refused.error, /--control-token/);
    assert.match(refused.error, /Authorization: Bearer/);
  });

  test('with a token, callers from elsewhere need it; loopback callers do not', () => {
    assert.equal(controlAccess('::1', undefined, TOKEN), null);
    assert.equal(controlAccess('192.0.2.7', `Bearer ${TOKEN}`, TOKEN), null);
    assert.equal(controlAccess('2001:db8::1', `bearer ${TOKEN}`, TOKEN), null);
    for (const header of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN]) {
      const refused = controlAccess('192.0.2.7', header, TOKEN)!;
      assert.equal(refused?.status, 401, String(header));
      assert.match(refused.error, /Authorization: Bearer TOKEN/);
    }
  });
});

describe('sandbox control API with a control token, from loopback', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox({ controlToken: TOKEN });
  });
  after(() => s?.close());

  test('loopback callers need no token, on the control address and on a mail host alike', async () => {
    assert.equal((await s.control('GET', '/settings')).status, 200);
    assert.equal(s.info.controlAccess, 'loopback-or-token');
    const viaHost = await request(`https://mail.contoso.test:${s.info.listen.port}/_sandbox/mailboxes`, { dispatcher: s.agent });
    assert.equal(viaHost.statusCode, 200);
    await viaHost.body.dump();
  });
});

describe('sandbox control API without a token', () => {
  test('the ready line says it answers loopback only', async () => {
    const s = await startTestSandbox();
    try {
      assert.equal(s.info.controlAccess, 'loopback');
      assert.equal((await s.control('GET', '/accounts')).status, 200);
    } finally {
      await s.close();
    }
  });
});
