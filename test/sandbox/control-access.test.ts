/**
 * The control API holds every mailbox's password: only loopback callers may use it, unless the sandbox has a
 * control token, which callers from elsewhere must then send as a Bearer token.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { controlAccess, isLoopback } from '../../src/sandbox/control/access.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { requireService } from '../helpers/services.js';

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

// ---- from another address: two network namespaces of this test's own, joined by a veth pair ----

const NS_SERVER = `lsn-ctl-srv-${process.pid}`;
const NS_CLIENT = `lsn-ctl-cli-${process.pid}`;
// TEST-NET-1 addresses, which exist only inside the two namespaces this test makes.
const SERVER_ADDRESS = '192.0.2.1';

function sh(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? (result.error?.message ?? '') };
}

function namespacesProblem(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  const probe = `lsn-ctl-probe-${process.pid}`;
  const added = sh(['ip', 'netns', 'add', probe]);
  if (added.status !== 0) return `cannot create a network namespace (ip netns add: ${added.stderr.trim() || 'ip is missing'}; needs root and Debian's iproute2)`;
  sh(['ip', 'netns', 'del', probe]);
  if (spawnSync('curl', ['--version']).error) return 'curl is not installed (Debian package curl)';
  return null;
}

describe('sandbox control API from another address (network namespaces)', requireService('network namespaces', namespacesProblem()), () => {
  const children: ChildProcess[] = [];
  before(() => {
    const veth = `lsc${process.pid % 100000}`;
    for (const command of [
      ['ip', 'netns', 'add', NS_SERVER],
      ['ip', 'netns', 'add', NS_CLIENT],
      ['ip', 'link', 'add', `${veth}s`, 'type', 'veth', 'peer', 'name', `${veth}c`],
      ['ip', 'link', 'set', `${veth}s`, 'netns', NS_SERVER],
      ['ip', 'link', 'set', `${veth}c`, 'netns', NS_CLIENT],
      ['ip', '-n', NS_SERVER, 'addr', 'add', `${SERVER_ADDRESS}/30`, 'dev', `${veth}s`],
      ['ip', '-n', NS_CLIENT, 'addr', 'add', '192.0.2.2/30', 'dev', `${veth}c`],
      ['ip', '-n', NS_SERVER, 'link', 'set', `${veth}s`, 'up'],
      ['ip', '-n', NS_CLIENT, 'link', 'set', `${veth}c`, 'up'],
      ['ip', '-n', NS_SERVER, 'link', 'set', 'lo', 'up'],
      ['ip', '-n', NS_CLIENT, 'link', 'set', 'lo', 'up'],
    ]) {
      const result = sh(command);
      assert.equal(result.status, 0, `${command.join(' ')}: ${result.stderr}`);
    }
  });
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    sh(['ip', 'netns', 'del', NS_CLIENT]);
    sh(['ip', 'netns', 'del', NS_SERVER]);
  });

  /** Starts `liaison sandbox --host 0.0.0.0` inside the server namespace; resolves with its ready line. */
  async function sandboxInNamespace(extra: string[]): Promise<{ port: number; caCert: string; password: string; stop: () => void }> {
    const child = spawn('ip', ['netns', 'exec', NS_SERVER, process.execPath, '--import', 'tsx', path.resolve('src/cli/main.ts'), 'sandbox', '--seed', 'demo', '--host', '0.0.0.0', '--port', '0', '--http-port', 'none', ...extra]);
    children.push(child);
    let output = '';
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line: ${output}`)), 120_000);
      const onData = (d: Buffer) => {
        output += d.toString();
        const match = /^(\{.*\})\n/m.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      child.once('exit', () => reject(new Error(`exited: ${output}`)));
    });
    const ready = JSON.parse(line) as { listen: { port: number }; caCert: string; serviceAccount: { password: string } };
    return { port: ready.listen.port, caCert: ready.caCert, password: ready.serviceAccount.password, stop: () => child.kill('SIGTERM') };
  }

  function curlFrom(namespace: string, address: string, port: number, caCert: string, pathname: string, headers: string[] = [], user?: string) {
    const args = ['netns', 'exec', namespace, 'curl', '-sS', '--cacert', caCert, '--resolve', `mail.contoso.test:${port}:${address}`, '-w', '\n%{http_code}'];
    for (const header of headers) args.push('-H', header);
    if (user) args.push('-u', user);
    const result = sh(['ip', ...args, `https://mail.contoso.test:${port}${pathname}`]);
    const lines = result.stdout.trimEnd().split('\n');
    return { status: Number(lines.pop()), body: lines.join('\n'), stderr: result.stderr };
  }

  test('without a control token: 403 from another address, with how to open it; EWS stays reachable; loopback works', async () => {
    const sandbox = await sandboxInNamespace([]);
    try {
      const refused = curlFrom(NS_CLIENT, SERVER_ADDRESS, sandbox.port, sandbox.caCert, '/_sandbox/accounts');
      assert.equal(refused.status, 403, refused.stderr);
      const error = (JSON.parse(refused.body) as { error: string }).error;
      assert.match(error, /only on the loopback address/);
      assert.match(error, /--control-token/);
      assert.doesNotMatch(refused.body, new RegExp(sandbox.password), 'no password leaks');
      const ews = curlFrom(NS_CLIENT, SERVER_ADDRESS, sandbox.port, sandbox.caCert, '/EWS/Exchange.asmx', [], `svc-liaison@contoso.test:${sandbox.password}`);
      assert.equal(ews.status, 200, 'EWS answers the network');
      const local = curlFrom(NS_SERVER, '127.0.0.1', sandbox.port, sandbox.caCert, '/_sandbox/accounts');
      assert.equal(local.status, 200);
      assert.match(local.body, /svc-liaison@contoso\.test/);
    } finally {
      sandbox.stop();
    }
  });

  test('with a control token: callers from elsewhere need it as a Bearer token', async () => {
    const sandbox = await sandboxInNamespace(['--control-token', TOKEN]);
    try {
      const none = curlFrom(NS_CLIENT, SERVER_ADDRESS, sandbox.port, sandbox.caCert, '/_sandbox/accounts');
      assert.equal(none.status, 401);
      assert.match((JSON.parse(none.body) as { error: string }).error, /Authorization: Bearer TOKEN/);
      assert.equal(curlFrom(NS_CLIENT, SERVER_ADDRESS, sandbox.port, sandbox.caCert, '/_sandbox/accounts', ['Authorization: Bearer wrong-token-0123456789']).status, 401);
      const allowed = curlFrom(NS_CLIENT, SERVER_ADDRESS, sandbox.port, sandbox.caCert, '/_sandbox/accounts', [`Authorization: Bearer ${TOKEN}`]);
      assert.equal(allowed.status, 200);
      assert.match(allowed.body, /svc-liaison@contoso\.test/);
    } finally {
      sandbox.stop();
    }
  });
});
