/**
 * The NTLM v2 client checked by the sandbox's server side (written apart from it, from MS-NLMP): the response
 * verifies for both user-name forms, the MIC and the channel bindings are what the server expects, the blob takes
 * the server's timestamp, and no LM response is sent.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { channelBindingsHash, endPointHash, tlsServerEndPoint } from '../../src/ntlm/bindings.js';
import { NtlmHandshake, readChallenge, splitUserName } from '../../src/ntlm/client.js';
import { AV, AV_FLAG_MIC, readAuthenticate, readAvPairs, type ServerIdentity } from '../../src/ntlm/messages.js';
import { startHandshake, verifyAuthenticate } from '../../src/sandbox/ntlm/server.js';
import { testLeaf } from '../helpers/certs.js';

const identity: ServerIdentity = { nbDomain: 'CONTOSO', nbComputer: 'MAIL', dnsDomain: 'contoso.test', dnsComputer: 'mail.contoso.test' };
const bindings = channelBindingsHash(Buffer.from('tls-server-end-point:0123456789abcdef0123456789abcdef'));

function run(username: string, password: string, options: { bindings?: Buffer | null; tamper?: (message: Buffer) => void; expected?: Buffer | null } = {}) {
  const client = new NtlmHandshake({ username, password });
  const pending = startHandshake(client.negotiate(), identity);
  const message = client.authenticate(pending.challenge.raw, { channelBindings: options.bindings === undefined ? bindings : options.bindings, targetName: 'HTTP/mail.contoso.test' });
  options.tamper?.(message);
  let seen: { user: string; domain: string } | null = null;
  const outcome = verifyAuthenticate(
    pending,
    message,
    (user, domain) => {
      seen = { user, domain };
      return [{ account: 'svc', password: 'Secret-1' }];
    },
    { mode: 'require', expected: options.expected === undefined ? bindings : options.expected },
  );
  return { outcome, message, pending, seen: seen as { user: string; domain: string } | null };
}

describe('NTLM v2 client', () => {
  test('user names: DOMAIN\\user apart, a UPN whole with an empty domain, a bare name as is', () => {
    assert.deepEqual(splitUserName('CONTOSO\\svc-liaison'), { domain: 'CONTOSO', user: 'svc-liaison' });
    assert.deepEqual(splitUserName('svc-liaison@contoso.test'), { domain: '', user: 'svc-liaison@contoso.test' });
    assert.deepEqual(splitUserName('svc'), { domain: '', user: 'svc' });
  });

  for (const [username, user, domain] of [
    ['CONTOSO\\svc-liaison', 'svc-liaison', 'CONTOSO'],
    ['svc-liaison@contoso.test', 'svc-liaison@contoso.test', ''],
  ] as const) {
    test(`${username}: the server verifies the response, the MIC and the channel bindings`, () => {
      const { outcome, seen } = run(username, 'Secret-1');
      assert.ok(outcome.ok, outcome.ok ? '' : outcome.reason);
      assert.deepEqual(seen, { user, domain });
    });
  }

  test('a wrong password does not verify', () => {
    const { outcome } = run('CONTOSO\\svc', 'wrong');
    assert.equal(outcome.ok, false);
  });

  test('a changed MIC is caught (the MIC covers all three messages)', () => {
    const { outcome } = run('CONTOSO\\svc', 'Secret-1', { tamper: (m) => void (m[72] = m[72]! ^ 1) });
    assert.deepEqual(outcome, { ok: false, reason: 'the MIC is wrong' });
  });

  test('bindings of another connection are refused; none at all too when required', () => {
    assert.equal(run('CONTOSO\\svc', 'Secret-1', { expected: channelBindingsHash(Buffer.from('tls-server-end-point:other')) }).outcome.ok, false);
    const none = run('CONTOSO\\svc', 'Secret-1', { bindings: null });
    assert.deepEqual(none.outcome, { ok: false, reason: 'Extended Protection requires channel bindings, and none were sent' });
  });

  test('the message: Z(24) LM response, the server timestamp, MsvAvFlags with the MIC bit, bindings and target name', () => {
    const { message, pending } = run('CONTOSO\\svc', 'Secret-1');
    const parsed = readAuthenticate(message);
    assert.deepEqual(parsed.lmResponse, Buffer.alloc(24));
    assert.equal(parsed.micOffset, 72);
    assert.equal(parsed.workstation, '');
    const blob = parsed.ntResponse.subarray(16);
    const serverTime = readChallenge(pending.challenge.raw).targetInfo.find((p) => p.id === AV.TIMESTAMP)!.value;
    assert.deepEqual(blob.subarray(8, 16), serverTime);
    const pairs = readAvPairs(blob.subarray(28));
    assert.equal(pairs.find((p) => p.id === AV.FLAGS)!.value.readUInt32LE(0) & AV_FLAG_MIC, AV_FLAG_MIC);
    assert.deepEqual(pairs.find((p) => p.id === AV.CHANNEL_BINDINGS)!.value, bindings);
    assert.equal(pairs.find((p) => p.id === AV.TARGET_NAME)!.value.toString('utf16le'), 'HTTP/mail.contoso.test');
    assert.equal(pairs.find((p) => p.id === AV.NB_DOMAIN_NAME)!.value.toString('utf16le'), 'CONTOSO', "the server's pairs are repeated");
  });

  test('tls-server-end-point: the hash of the signature (SHA-384 kept), SHA-256 otherwise', () => {
    for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
      const der = new X509Certificate(testLeaf({ names: ['mail.contoso.test'], hash }).pem).raw;
      assert.equal(endPointHash(der), hash);
      const appData = Buffer.concat([Buffer.from('tls-server-end-point:'), createHash(hash).update(der).digest()]);
      // gss_channel_bindings_struct: four zero address fields, then the length of the application data (RFC 2744 3.11).
      const struct = Buffer.concat([Buffer.alloc(16), Buffer.from([appData.length & 0xff, appData.length >> 8, 0, 0]), appData]);
      assert.deepEqual(tlsServerEndPoint(der), createHash('md5').update(struct).digest());
    }
  });
});
