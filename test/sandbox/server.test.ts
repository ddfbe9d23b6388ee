import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import tls from 'node:tls';
import { child } from '../../src/xml/parse.js';
import { start } from '../helpers/cli.js';
import type { ExchangeRecord } from '../../src/sandbox/runtime.js';
import { M, ok, startTestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const dirs: string[] = [];
/** Every exchange of every sandbox this file starts, for the schema check at the end. */
const records: ExchangeRecord[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'liaison-sandbox-data-'));
  dirs.push(dir);
  return dir;
}

/** Opens a TLS connection by host name (mapped to the loopback address) and returns the verification result. */
function handshake(port: number, servername: string, ca: string): Promise<{ ok: boolean; error?: string; names?: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca });
    socket.once('secureConnect', () => {
      const names = socket.getPeerX509Certificate()?.subjectAltName;
      socket.end();
      resolve({ ok: true, ...(names ? { names } : {}) });
    });
    socket.once('error', (error) => {
      socket.destroy();
      resolve({ ok: false, error: error.message });
    });
  });
}

describe('sandbox server: hosts, certificates, persistence, the command', () => {
  test('each host name gets a certificate for its own name, signed by the sandbox CA; wrong-name gets another name', async () => {
    const s = await startTestSandbox({ onExchange: (r) => records.push(r) });
    try {
      const ca = readFileSync(s.info.caCert, 'utf8');
      assert.match(new X509Certificate(ca).subject, /Liaison Sandbox CA/);
      for (const host of ['contoso.test', 'autodiscover.contoso.test', 'mail.contoso.test', 'mail2.contoso.test']) {
        const result = await handshake(s.info.listen.port, host, ca);
        assert.equal(result.ok, true, `${host}: ${result.error}`);
        assert.equal(result.names, `DNS:${host}`);
      }
      const wrong = await handshake(s.info.listen.port, 'wrong-name.contoso.test', ca);
      assert.equal(wrong.ok, false);
      assert.match(wrong.error!, /mail\.fabrikam\.test/, 'the error names what the certificate does carry');
      const untrusted = await handshake(s.info.listen.port, 'mail.contoso.test', tls.rootCertificates.join('\n'));
      assert.equal(untrusted.ok, false, 'without the sandbox CA, nothing verifies');
      assert.equal(statSync(path.join(s.dataDir, 'pki', 'ca.key')).mode & 0o777, 0o600);
      const control = await s.control<{ domain: string; hosts: string[] }>('GET', '');
      assert.equal(control.status, 200, 'the control API answers on 127.0.0.1, verified against the CA');
      assert.deepEqual(control.json.hosts, ['contoso.test', 'autodiscover.contoso.test', 'mail.contoso.test', 'mail2.contoso.test', 'wrong-name.contoso.test', 'graph.contoso.test', 'login.contoso.test']);
      const none = await s.post('contoso.test', '/EWS/Exchange.asmx', '<x/>');
      assert.equal(none.status, 404, 'EWS lives on the Exchange servers, not on the domain\'s web host');
    } finally {
      await s.close();
    }
  });

  test('with a data folder, mailboxes, messages, certificates and sync states survive a restart', async () => {
    const dataDir = tempDir();
    const first = await startTestSandbox({ dataDir, onExchange: (r) => records.push(r) });
    const sync = (s: typeof first, state = '') =>
      s.ews(
        `<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId>${state ? `<m:SyncState>${state}</m:SyncState>` : ''}<m:MaxChangesReturned>100</m:MaxChangesReturned></m:SyncFolderItems>`,
        { as: 'alice@contoso.test' },
      );
    const state = child(ok(await sync(first)), M, 'SyncState')!.text;
    const ca = readFileSync(first.info.caCert, 'utf8');
    const password = first.password;
    await first.control('POST', '/mailboxes/alice@contoso.test/messages', { from: 'x@fabrikam.test', to: ['alice@contoso.test'], subject: 'Before restart' });
    await first.close();

    const second = await startTestSandbox({ dataDir, onExchange: (r) => records.push(r) });
    try {
      assert.equal(readFileSync(second.info.caCert, 'utf8'), ca, 'the same CA: clients keep trusting it');
      assert.equal(second.password, password, 'the same service account');
      const changes = child(ok(await sync(second, state)), M, 'Changes')!.children;
      assert.deepEqual(changes.map((c) => c.local), ['Create'], 'the old sync state goes on from where it was');
      const items = await second.control<Array<{ subject: string }>>('GET', '/mailboxes/alice@contoso.test/folders/inbox/items');
      assert.ok(items.json.some((m) => m.subject === 'Before restart'));
    } finally {
      await second.close();
    }
  });

  test('`liaison sandbox` prints one JSON line with its URLs when ready', { timeout: 60_000 }, async () => {
    const dataDir = tempDir();
    const sandbox = start(['sandbox', '--port', '0', '--http-port', '0', '--seed', 'demo', '--data', dataDir]);
    try {
      const [line] = await sandbox.waitFor(/^\{.*\}$/m);
      const info = JSON.parse(line) as Record<string, unknown> & { serviceAccount: { username: string; password: string }; mailboxes: string[]; hosts: string[] };
      for (const field of ['ews', 'autodiscover', 'control', 'caCert', 'domain', 'hosts', 'serviceAccount', 'mailboxes']) assert.ok(field in info, field);
      assert.equal(info.domain, 'contoso.test');
      assert.equal(info.serviceAccount.username, 'svc-liaison@contoso.test');
      assert.ok(info.mailboxes.includes('alice@contoso.test'));
      assert.equal(info.caCert, path.join(dataDir, 'pki', 'ca.pem'));
    } finally {
      await sandbox.stop();
    }
  });

  testTraffic(() => records, 2);
});
