/**
 * NTLM and Negotiate on EWS and Autodiscover, driven by clients that are not ours in their default
 * configuration (Debian's curl --ntlm; curl --negotiate with Debian's gss-ntlmssp, which wraps NTLM in SPNEGO
 * as Windows does without Kerberos; Python's requests_ntlm, which sends channel bindings over TLS; python
 * ntlm_auth set to NTLM v1) and by our own client for the cases they do not produce.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { Agent, request } from 'undici';
import { tlsServerEndPoint } from '../../src/ntlm/bindings.js';
import { NEG_STATE, OID_NTLM, readTlv } from '../../src/ntlm/spnego.js';
import { NS } from '../../src/xml/namespaces.js';
import { parseXml } from '../../src/xml/parse.js';
import { mechTypesDer, ntlmClient, type NtlmClientOptions, spnegoInit, spnegoResp } from '../helpers/ntlm-client.js';
import { envelope, loopbackLookup, ok, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { requireService } from '../helpers/services.js';
import { testTraffic } from '../helpers/traffic.js';

const CLIENTS = path.resolve('test/sandbox/clients');
const GSS_NTLMSSP = '/usr/lib/x86_64-linux-gnu/gssntlmssp/gssntlmssp.so';
const inbox = '<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>';
const pox = (address: string) =>
  `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="${NS.poxRequest}"><Request><EMailAddress>${address}</EMailAddress>` +
  '<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>';

function clientsProblem(): string | null {
  if (spawnSync('curl', ['--version']).error) return 'curl is not installed (Debian package curl)';
  const python = spawnSync('/usr/bin/python3', ['-c', 'import requests_ntlm, ntlm_auth']);
  if (python.status !== 0) return 'requests_ntlm is not installed (Debian package python3-requests-ntlm)';
  if (!existsSync(GSS_NTLMSSP)) return 'the NTLM mechanism for GSS-API is not installed (Debian package gss-ntlmssp)';
  return null;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** What a verbose curl run shows: the statuses, the Authorization schemes it sent, the WWW-Authenticate it got. */
function curlTrace(stderr: string) {
  const lines = stderr.split(/\r?\n/);
  return {
    statuses: lines.filter((l) => l.startsWith('< HTTP/')).map((l) => Number(l.split(' ')[2])),
    sent: lines.filter((l) => l.startsWith('> ') && /^> (POST|GET) /.test(l)).length,
    authorizations: lines.filter((l) => /^> Authorization: /i.test(l)).map((l) => l.replace(/^> Authorization: (\S+).*$/i, '$1')),
    challenges: lines.filter((l) => /^< WWW-Authenticate: /i.test(l)).map((l) => l.replace(/^< WWW-Authenticate: /i, '')),
  };
}

describe('sandbox: NTLM and Negotiate', requireService('NTLM clients', clientsProblem()), () => {
  let s: TestSandbox;
  let dir: string;
  let port: number;
  let svc: string;
  let alice: string;
  let ewsBody: string;
  let aliceBody: string;
  let poxBody: string;

  before(async () => {
    s = await startTestSandbox();
    port = s.info.listen.port;
    svc = s.password;
    const accounts = await s.control<Array<{ username: string; password: string }>>('GET', '/accounts');
    alice = accounts.json.find((a) => a.username === 'alice@contoso.test')!.password;
    dir = mkdtempSync(path.join(tmpdir(), 'liaison-ntlm-'));
    ewsBody = path.join(dir, 'ews.xml');
    writeFileSync(ewsBody, envelope(inbox, { as: 'alice@contoso.test' }));
    aliceBody = path.join(dir, 'alice.xml');
    writeFileSync(aliceBody, envelope(inbox));
    poxBody = path.join(dir, 'pox.xml');
    writeFileSync(poxBody, pox('alice@contoso.test'));
  });
  after(async () => {
    await s?.control('PATCH', '/settings', { extendedProtection: 'none' });
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (host: string, pathname = '/EWS/Exchange.asmx') => `https://${host}:${port}${pathname}`;
  const curl = (args: string[], host = 'mail.contoso.test', env: NodeJS.ProcessEnv = {}) =>
    run('curl', ['-sS', '-v', '--cacert', s.info.caCert, '--resolve', `${host}:${port}:127.0.0.1`, '-H', 'Content-Type: text/xml; charset=utf-8', ...args], env);

  test('curl --ntlm signs in as the service account (UPN, CONTOSO\\user, bare name) and as a mailbox\'s own account', async () => {
    for (const user of ['svc-liaison@contoso.test', 'CONTOSO\\svc-liaison', 'contoso.test\\svc-liaison', 'svc-liaison']) {
      const result = await curl(['--ntlm', '-u', `${user}:${svc}`, '--data-binary', `@${ewsBody}`, url('mail.contoso.test')]);
      const trace = curlTrace(result.stderr);
      assert.deepEqual(trace.statuses, [401, 200], `${user}: ${result.stderr.slice(-800)}`);
      assert.deepEqual(trace.authorizations, ['NTLM', 'NTLM']);
      // As IIS answers the NEGOTIATE: the challenge, then the bare Negotiate offer (Exchange 2010 SP2, evolution-ews
      // trace create_existing_folder in the reference captures).
      assert.match(trace.challenges[0]!, /^NTLM [A-Za-z0-9+/=]+$/);
      assert.deepEqual(trace.challenges.slice(1, 2), ['Negotiate']);
      assert.match(result.stdout, /NoError/);
    }
    for (const user of ['alice@contoso.test', 'CONTOSO\\alice', 'alice']) {
      const result = await curl(['--ntlm', '-u', `${user}:${alice}`, '--data-binary', `@${aliceBody}`, url('mail.contoso.test')]);
      assert.deepEqual(curlTrace(result.stderr).statuses, [401, 200], user);
      assert.match(result.stdout, /NoError/);
    }
  });

  test('curl --ntlm: a wrong password or another domain is a 401 with every offer again', async () => {
    for (const user of ['svc-liaison@contoso.test', 'FABRIKAM\\svc-liaison']) {
      const password = user.startsWith('FABRIKAM') ? svc : 'wrong';
      const trace = curlTrace((await curl(['--ntlm', '-u', `${user}:${password}`, '--data-binary', `@${ewsBody}`, url('mail.contoso.test')])).stderr);
      assert.deepEqual(trace.statuses, [401, 401], user);
      assert.deepEqual(trace.challenges.slice(-3), ['Negotiate', 'NTLM', 'Basic realm="mail.contoso.test"']);
    }
  });

  test('the connection stays signed in: curl\'s second request on it carries no Authorization and is served', async () => {
    const target = url('mail.contoso.test');
    // curl sends the one --data-binary to each URL.
    const result = await curl(['--ntlm', '-u', `svc-liaison:${svc}`, '--data-binary', `@${ewsBody}`, target, target]);
    const trace = curlTrace(result.stderr);
    assert.match(result.stderr, /Re-using existing connection/);
    assert.equal(trace.sent, 3);
    assert.deepEqual(trace.statuses, [401, 200, 200]);
    assert.deepEqual(trace.authorizations, ['NTLM', 'NTLM'], 'the third request has no Authorization header');
  });

  test('Autodiscover takes NTLM too (a mailbox signing in as itself)', async () => {
    const result = await curl(['--ntlm', '-u', `alice@contoso.test:${alice}`, '--data-binary', `@${poxBody}`, url('autodiscover.contoso.test', '/autodiscover/autodiscover.xml')], 'autodiscover.contoso.test');
    assert.deepEqual(curlTrace(result.stderr).statuses, [401, 200]);
    assert.match(result.stdout, /<EwsUrl>https:\/\/mail\.contoso\.test:\d+\/EWS\/Exchange\.asmx<\/EwsUrl>/);
  });

  test('curl --negotiate: without gss-ntlmssp nothing falls back to NTLM; with it, SPNEGO-wrapped NTLM signs in', async () => {
    // gss-ntlmssp takes its credentials from NTLM_USER_FILE (DOMAIN:user:password); curl --negotiate -u : uses them.
    const users = path.join(dir, 'ntlm-users');
    writeFileSync(users, `CONTOSO:svc-liaison:${svc}\n`);
    // MIT Kerberos' GSS-API alone (GSS_MECH_CONFIG naming no mechanism beside the built-in Kerberos) has nothing to
    // offer without a ticket: curl sends no token at all and does not fall back to NTLM, even with -u user:password.
    writeFileSync(path.join(dir, 'no-mechs.conf'), '');
    for (const user of [`svc-liaison:${svc}`, ':']) {
      const plain = await curl(['--negotiate', '-u', user, '--data-binary', `@${ewsBody}`, url('mail.contoso.test')], 'mail.contoso.test', {
        GSS_MECH_CONFIG: path.join(dir, 'no-mechs.conf'),
        NTLM_USER_FILE: users,
      });
      assert.deepEqual(curlTrace(plain.stderr).authorizations, [], user);
      assert.deepEqual(curlTrace(plain.stderr).statuses, [401]);
    }

    const target = url('mail.contoso.test');
    const wrapped = await curl(['--negotiate', '-u', ':', '--data-binary', `@${ewsBody}`, target, target], 'mail.contoso.test', { NTLM_USER_FILE: users });
    const trace = curlTrace(wrapped.stderr);
    assert.deepEqual(trace.statuses, [401, 200, 200], wrapped.stderr.slice(-1500));
    assert.deepEqual(trace.authorizations, ['Negotiate', 'Negotiate'], 'the connection stays signed in');
    const [incomplete, completed] = trace.challenges.map((c) => Buffer.from(c.replace(/^Negotiate /, ''), 'base64'));
    assert.equal(incomplete![0], 0xa1, 'a NegTokenResp');
    assert.ok(incomplete!.includes(Buffer.from([0x0a, 0x01, NEG_STATE.acceptIncomplete])));
    assert.ok(completed!.includes(Buffer.from([0x0a, 0x01, NEG_STATE.acceptCompleted])));
    writeFileSync(users, `CONTOSO:svc-liaison:wrong\n`);
    const refused = await curl(['--negotiate', '-u', ':', '--data-binary', `@${ewsBody}`, target], 'mail.contoso.test', { NTLM_USER_FILE: users });
    assert.deepEqual(curlTrace(refused.stderr).statuses, [401, 401]);
  });

  const requestsNtlm = (host: string, user: string, password: string, count = 1) =>
    run('/usr/bin/python3', [path.join(CLIENTS, 'requests_ntlm_client.py'), url(host), s.info.caCert, user, password, ewsBody, String(count)]).then((r) => {
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { status: number; challenges: string[]; body: string });
    });

  test('requests_ntlm signs in with each form of the name, and its session stays signed in', async () => {
    for (const user of ['svc-liaison@contoso.test', 'CONTOSO\\svc-liaison', 'svc-liaison']) {
      const [first, second] = await requestsNtlm('mail.contoso.test', user, svc, 2);
      assert.equal(first!.status, 200, user);
      assert.match(first!.body, /NoError/);
      assert.equal(first!.challenges.length, 2, 'the offers, then the challenge');
      assert.deepEqual([second!.status, second!.challenges], [200, []], 'no handshake on the kept connection');
    }
    const [wrong] = await requestsNtlm('mail.contoso.test', 'svc-liaison', 'wrong');
    assert.equal(wrong!.status, 401);
  });

  test('Extended Protection: requests_ntlm\'s channel bindings pass "require"; curl, which sends none, is refused; Basic is not affected', async () => {
    assert.equal((await s.control('PATCH', '/settings', { extendedProtection: 'require' })).status, 200);
    try {
      const [python] = await requestsNtlm('mail.contoso.test', 'CONTOSO\\svc-liaison', svc);
      assert.equal(python!.status, 200);
      const [python2] = await requestsNtlm('mail2.contoso.test', 'CONTOSO\\svc-liaison', svc);
      assert.equal(python2!.status, 500, 'signed in on mail2 with mail2\'s certificate (alice lives on mail: ErrorMailboxMoveInProgress)');
      const curlRefused = await curl(['--ntlm', '-u', `svc-liaison:${svc}`, '--data-binary', `@${ewsBody}`, url('mail.contoso.test')]);
      assert.deepEqual(curlTrace(curlRefused.stderr).statuses, [401, 401]);
      const basic = await curl(['-u', `svc-liaison@contoso.test:${svc}`, '--data-binary', `@${ewsBody}`, url('mail.contoso.test')]);
      assert.deepEqual(curlTrace(basic.stderr).statuses, [200]);
      await s.control('PATCH', '/settings', { extendedProtection: 'allow' });
      const curlAllowed = await curl(['--ntlm', '-u', `svc-liaison:${svc}`, '--data-binary', `@${ewsBody}`, url('mail.contoso.test')]);
      assert.deepEqual(curlTrace(curlAllowed.stderr).statuses, [401, 200], 'allow: no bindings is accepted');
    } finally {
      await s.control('PATCH', '/settings', { extendedProtection: 'none' });
    }
    const bad = await s.control<{ error: string }>('PATCH', '/settings', { extendedProtection: 'always' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /"none", "allow" or "require"/);
  });

  test('an NTLM v1 response (python ntlm_auth at compatibility level 1) is refused, as with LmCompatibilityLevel 5', async () => {
    const script = path.join(CLIENTS, 'ntlm_auth_client.py');
    const answer = (level: number) =>
      run('/usr/bin/python3', [script, 'mail.contoso.test', String(port), s.info.caCert, 'CONTOSO', 'svc-liaison', svc, ewsBody, String(level)]).then((r) => {
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as { ntResponseLength: number; statuses: number[]; final: string[] };
      });
    const v1 = await answer(1);
    assert.equal(v1.ntResponseLength, 24, 'the client did send NTLM v1');
    assert.deepEqual(v1.statuses, [401, 401]);
    assert.deepEqual(v1.final, ['Negotiate', 'NTLM', 'Basic realm="mail.contoso.test"']);
    const v2 = await answer(3);
    assert.ok(v2.ntResponseLength > 24);
    assert.deepEqual(v2.statuses, [401, 200]);
  });

  // ---- our own client, on connections we choose ----

  function connection(host = 'mail.contoso.test') {
    const agent = new Agent({ connect: { ca: s.sandbox.pki.caCertPem, lookup: loopbackLookup, servername: host }, connections: 1, pipelining: 1 });
    return {
      agent,
      async post(authorization: string | null, file = ewsBody, pathname = '/EWS/Exchange.asmx') {
        const headers: Record<string, string> = { 'content-type': 'text/xml; charset=utf-8' };
        if (authorization) headers.authorization = authorization;
        const response = await request(url(host, pathname), { method: 'POST', body: readFileSync(file), headers, dispatcher: agent });
        const text = await response.body.text();
        const www = response.headers['www-authenticate'];
        return { status: response.statusCode, www: www === undefined ? [] : Array.isArray(www) ? www : [www], text };
      },
      close: () => agent.close(),
    };
  }

  async function handshake(conn: ReturnType<typeof connection>, options: NtlmClientOptions, scheme = 'NTLM') {
    const client = ntlmClient(options);
    const first = await conn.post(`${scheme} ${client.negotiate().toString('base64')}`);
    assert.equal(first.status, 401);
    const challenge = Buffer.from(first.www[0]!.replace(/^\S+ /, ''), 'base64');
    return conn.post(`${scheme} ${client.authenticate(challenge).toString('base64')}`);
  }

  test('our client: the handshake binds the connection; a new connection authenticates again', async () => {
    const conn = connection();
    try {
      const signedIn = await handshake(conn, { user: 'svc-liaison', domain: 'CONTOSO', password: svc });
      ok({ status: signedIn.status, headers: {}, text: signedIn.text, doc: () => parseXml(signedIn.text) });
      const again = await conn.post(null);
      assert.equal(again.status, 200, 'same connection, no header');
      const other = connection();
      try {
        const refused = await other.post(null);
        assert.equal(refused.status, 401, 'a new connection is not signed in');
        assert.deepEqual(refused.www, ['Negotiate', 'NTLM', 'Basic realm="mail.contoso.test"']);
      } finally {
        await other.close();
      }
      // A failed handshake on a signed-in connection leaves it signed out.
      const failed = await handshake(conn, { user: 'svc-liaison', domain: 'CONTOSO', password: 'wrong' });
      assert.equal(failed.status, 401);
      assert.equal((await conn.post(null)).status, 401);
    } finally {
      await conn.close();
    }
  });

  test('our client: an AUTHENTICATE for a challenge of another connection is refused', async () => {
    const [a, b] = [connection(), connection()];
    try {
      const client = ntlmClient({ user: 'svc-liaison', domain: 'CONTOSO', password: svc });
      const first = await a.post(`NTLM ${client.negotiate().toString('base64')}`);
      const challenge = Buffer.from(first.www[0]!.replace(/^NTLM /, ''), 'base64');
      const elsewhere = await b.post(`NTLM ${client.authenticate(challenge).toString('base64')}`);
      assert.equal(elsewhere.status, 401);
      assert.deepEqual(elsewhere.www, ['Negotiate', 'NTLM', 'Basic realm="mail.contoso.test"']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('our client: a raw NTLM token under Negotiate is answered under Negotiate', async () => {
    const conn = connection();
    try {
      const client = ntlmClient({ user: 'svc-liaison@contoso.test', domain: '', password: svc });
      const first = await conn.post(`Negotiate ${client.negotiate().toString('base64')}`);
      assert.match(first.www[0]!, /^Negotiate TlRMTVNTUAAC/, 'the raw CHALLENGE');
      const done = await conn.post(`Negotiate ${client.authenticate(Buffer.from(first.www[0]!.slice(10), 'base64')).toString('base64')}`);
      assert.equal(done.status, 200);
      assert.deepEqual(done.www, [], 'no final token for raw NTLM');
    } finally {
      await conn.close();
    }
  });

  test('our client: SPNEGO with a mechListMIC, and with Kerberos offered first', async () => {
    for (const mechs of [[OID_NTLM], ['1.2.840.113554.1.2.2', OID_NTLM]]) {
      const conn = connection();
      try {
        const client = ntlmClient({ user: 'svc-liaison', domain: 'CONTOSO', password: svc });
        let answer;
        if (mechs[0] === OID_NTLM) {
          answer = await conn.post(`Negotiate ${spnegoInit(mechs, client.negotiate()).toString('base64')}`);
        } else {
          // An optimistic Kerberos token is not understood: the server picks NTLM and asks for its first message.
          const pick = await conn.post(`Negotiate ${spnegoInit(mechs, Buffer.from('not a kerberos token')).toString('base64')}`);
          assert.equal(pick.status, 401);
          const token = Buffer.from(pick.www[0]!.slice(10), 'base64');
          assert.ok(token.includes(Buffer.from('060a2b06010401823702020a', 'hex')), 'supportedMech NTLM');
          assert.ok(!token.includes(Buffer.from('NTLMSSP')), 'no challenge yet');
          answer = await conn.post(`Negotiate ${spnegoResp(client.negotiate()).toString('base64')}`);
        }
        assert.equal(answer.status, 401);
        const resp = Buffer.from(answer.www[0]!.slice(10), 'base64');
        const challenge = resp.subarray(resp.indexOf(Buffer.from('NTLMSSP\0', 'latin1')));
        const authenticate = client.authenticate(challenge);
        const der = mechTypesDer(mechs);
        const done = await conn.post(`Negotiate ${spnegoResp(authenticate, client.mechListMic(der)).toString('base64')}`);
        assert.equal(done.status, 200, JSON.stringify(mechs));
        const final = Buffer.from(done.www[0]!.slice(10), 'base64');
        assert.ok(final.includes(Buffer.from([0x0a, 0x01, NEG_STATE.acceptCompleted])));
        assert.ok(final.includes(client.serverMechListMic(der)), 'the server signs the mechanism list back');
        assert.equal(readTlv(final).tag, 0xa1);
      } finally {
        await conn.close();
      }
    }
    // A wrong mechListMIC is refused.
    const conn = connection();
    try {
      const client = ntlmClient({ user: 'svc-liaison', domain: 'CONTOSO', password: svc });
      const answer = await conn.post(`Negotiate ${spnegoInit([OID_NTLM], client.negotiate()).toString('base64')}`);
      const resp = Buffer.from(answer.www[0]!.slice(10), 'base64');
      const authenticate = client.authenticate(resp.subarray(resp.indexOf(Buffer.from('NTLMSSP\0', 'latin1'))));
      const done = await conn.post(`Negotiate ${spnegoResp(authenticate, Buffer.alloc(16, 7)).toString('base64')}`);
      assert.equal(done.status, 401);
    } finally {
      await conn.close();
    }
  });

  test('our client: Extended Protection checks the bindings of the certificate served for the host', async () => {
    const served = (host: string) =>
      new Promise<Buffer>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: host, ca: s.sandbox.pki.caCertPem, rejectUnauthorized: false }, () => {
          resolve(socket.getPeerCertificate().raw);
          socket.end();
        });
        socket.once('error', reject);
      });
    const mail = tlsServerEndPoint(await served('mail.contoso.test'));
    const mail2 = tlsServerEndPoint(await served('mail2.contoso.test'));
    const attempt = async (bindings: Buffer | null) => {
      const conn = connection();
      try {
        return (await handshake(conn, { user: 'svc-liaison', domain: 'CONTOSO', password: svc, bindings })).status;
      } finally {
        await conn.close();
      }
    };
    await s.control('PATCH', '/settings', { extendedProtection: 'require' });
    try {
      assert.deepEqual([await attempt(mail), await attempt(mail2), await attempt(null), await attempt(Buffer.alloc(16))], [200, 401, 401, 401]);
      await s.control('PATCH', '/settings', { extendedProtection: 'allow' });
      assert.deepEqual([await attempt(mail), await attempt(mail2), await attempt(null)], [200, 401, 200]);
      await s.control('PATCH', '/settings', { extendedProtection: 'none' });
      assert.equal(await attempt(mail2), 200, 'none: bindings are not looked at');
    } finally {
      await s.control('PATCH', '/settings', { extendedProtection: 'none' });
    }
  });

  testTraffic(() => s.records, 10);
});

describe('sandbox: Basic takes the same user names as NTLM', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(() => s?.close());

  test('UPN, CONTOSO\\user, contoso.test\\user and the bare name sign in; another domain does not', async () => {
    const accounts = await s.control<Array<{ username: string; password: string }>>('GET', '/accounts');
    const alice = accounts.json.find((a) => a.username === 'alice@contoso.test')!.password;
    for (const user of ['alice@contoso.test', 'CONTOSO\\alice', 'contoso.test\\ALICE', 'alice']) ok(await s.ews(inbox, { user, password: alice }));
    for (const user of ['svc-liaison', 'CONTOSO\\svc-liaison']) ok(await s.ews(inbox, { user, as: 'alice@contoso.test' }));
    for (const user of ['FABRIKAM\\alice', 'alice@fabrikam.test', 'ali']) {
      assert.equal((await s.ews(inbox, { user, password: alice })).status, 401, user);
    }
  });

  testTraffic(() => s.records, 5);
});
