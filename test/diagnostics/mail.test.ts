/**
 * Test Connection's steps for IMAP, POP3 and SMTP against the harness's real Dovecot and Postfix: every step
 * passes on every port (implicit TLS and STARTTLS), and each failure an administrator meets is diagnosed with the
 * server's own reply line, a stable code and the fix: a wrong password, a certificate for another name, a closed
 * port, a port that speaks the other TLS mode, a server behind a proxy that ends TLS (plain-text login refused), an
 * SMTP port without AUTH. Where Dovecot and Postfix cannot be made to misbehave (they always offer STARTTLS and UIDL
 * here), a tiny scripted server plays the server that does, and says so.
 */
import assert from 'node:assert/strict';
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { endpointOf, type MailProtocol, type MailTls } from '../../src/connectors/mail/endpoint.js';
import { createDiagnostics } from '../../src/diagnostics/index.js';
import { createMailDiagnostics } from '../../src/diagnostics/mail.js';
import type { MailServerTarget, MailTarget } from '../../src/diagnostics/service.js';
import type { ConnectionTestResult, StepEvent, StepResult } from '../../src/diagnostics/types.js';
import { openApi, type TestApi } from '../helpers/api.js';
import { testCa, testLeaf } from '../helpers/certs.js';
import { mailServersSkip, startMailServers, type MailServers, type MailUser } from '../helpers/mail-servers.js';
import { sqlite } from '../helpers/stores.js';

const diagnostics = createMailDiagnostics();

function statuses(result: ConnectionTestResult): string[] {
  return result.steps.map((s) => `${s.protocol}:${s.step}:${s.status}`);
}

function failed(result: ConnectionTestResult): StepResult {
  const step = result.steps.find((s) => s.status === 'failure');
  assert.ok(step, `a step failed: ${JSON.stringify(result, null, 2)}`);
  return step;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on: taken from the system, then let go. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A certificate for the harness's host name from a CA of the test's own, for the scripted servers and the proxy. */
const ownCa = testCa('Liaison Test Proxy CA');
const ownLeaf = testLeaf({ names: ['mail.liaison.test'], ca: ownCa });

/**
 * A scripted server: it greets, then answers each line it receives from `script` (null: no answer). What it
 * received is kept, to check that no password was sent.
 */
function scripted(greeting: string | null, script: (line: string) => string | null, options: { tls?: boolean } = {}) {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const serve = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (greeting !== null) socket.write(`${greeting}\r\n`);
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end).replace(/\r$/, '');
        buffer = buffer.slice(end + 1);
        received.push(line);
        const answer = script(line);
        if (answer !== null) socket.write(`${answer}\r\n`);
      }
    });
  };
  const server = options.tls ? createTlsServer({ key: ownLeaf.key.pem, cert: ownLeaf.pem + ownCa.pem }, serve) : createNetServer(serve);
  return {
    received,
    port: () => listen(server),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('Test Connection for IMAP, POP3 and SMTP against Dovecot and Postfix', mailServersSkip(), () => {
  let servers: MailServers;
  let alice: MailUser;

  before(async () => {
    servers = await startMailServers();
    alice = await servers.addUser('alice', 'Alice-pw-1');
    await servers.deliver({ from: 'carla@fabrikam.test', to: [alice.address] }, 'From: carla@fabrikam.test\r\nSubject: One\r\nMessage-ID: <one@fabrikam.test>\r\n\r\nHello\r\n');
    await servers.waitForMail(alice.address, 1);
  });
  after(async () => servers?.stop());

  function server(protocol: MailProtocol, port: number, tls: MailTls, login: { username?: string; password?: string; host?: string; resolve?: string[] } = {}): MailServerTarget {
    const username = login.username ?? alice.address;
    return {
      endpoint: endpointOf(protocol, login.host ?? servers.host, port, tls, login.resolve ?? servers.resolve),
      login: { username, password: login.password ?? alice.password, describe: username },
    };
  }

  function target(list: MailServerTarget[], extra: Partial<MailTarget> = {}): MailTarget {
    return { kind: 'mail', email: alice.address, servers: list, trustedCaPem: servers.caPem, timeoutMs: 10_000, ...extra };
  }

  test('IMAP over implicit TLS and STARTTLS, POP3 over both, SMTP submission and smtps: every step passes, with what the server said', async () => {
    const cases: Array<[MailProtocol, number, MailTls, RegExp]> = [
      ['imap', servers.ports.imaps, 'implicit', /^Opened the Inbox of alice@liaison\.test read-only \(EXAMINE\): 1 messages, UIDVALIDITY \d+, next UID 2$/],
      ['imap', servers.ports.imap, 'starttls', /^Opened the Inbox of alice@liaison\.test read-only/],
      ['pop3', servers.ports.pop3s, 'implicit', /^The maildrop of alice@liaison\.test holds 1 messages \(\d+ bytes\); UIDL lists 1$/],
      ['pop3', servers.ports.pop3, 'starttls', /^The maildrop of alice@liaison\.test holds 1 messages/],
      ['smtp', servers.ports.submission, 'starttls', /^mail\.liaison\.test accepts alice@liaison\.test as the sender \(250 2\.1\.0 Ok\); reset with RSET, nothing was sent$/],
      ['smtp', servers.ports.smtps, 'implicit', /^mail\.liaison\.test accepts alice@liaison\.test as the sender/],
    ];
    const results = await Promise.all(cases.map(([protocol, port, tls]) => diagnostics.testConnection(target([server(protocol, port, tls)]))));
    for (const [index, [protocol, port, tls, mailbox]] of cases.entries()) {
      const result = results[index]!;
      const label = `${protocol} ${tls} ${port}`;
      assert.deepEqual(statuses(result), [`${protocol}:server:success`, `${protocol}:login:success`, `${protocol}:mailbox:success`], `${label}: ${JSON.stringify(result, null, 2)}`);
      assert.equal(result.status, 'success');
      assert.equal(result.mailbox, alice.address);
      const [connection, login, opened] = result.steps as [StepResult, StepResult, StepResult];
      const name = protocol.toUpperCase();
      assert.deepEqual(result.steps.map((s) => s.title), [`${name}: Server connection (DNS, TCP, TLS)`, `${name}: Protocol and login`, `${name}: Mailbox connection`]);
      const greeting = { imap: /the server greets: \* OK \[CAPABILITY [^\]]+\] Dovecot \(Debian\) ready\.$/, pop3: /the server greets: \+OK Dovecot \(Debian\) ready\.$/, smtp: /the server greets: 220 mail\.liaison\.test ESMTP Postfix$/ }[protocol];
      assert.match(connection.summary, greeting, label);
      assert.match(connection.summary, tls === 'starttls' ? /and started verified TLS with (STARTTLS|STLS)/ : /over verified TLS/, label);
      assert.ok(connection.details?.some((d) => /^certificate: CN=mail\.liaison\.test, issued by CN=Liaison Test Mail CA, for mail\.liaison\.test, localhost, valid to /.test(d)), label);
      assert.match(login.summary, new RegExp(`^Logged in to mail\\.liaison\\.test as alice@liaison\\.test \\((AUTHENTICATE PLAIN|USER/PASS|AUTH PLAIN)\\); AUTH methods offered: PLAIN, LOGIN$`), label);
      assert.match(opened.summary, mailbox, label);
    }
  });

  test("an IMAP/SMTP profile's test: the IMAP server's three steps, then the SMTP server's, as the master user for the mailbox; events announce each", async () => {
    const master = `${alice.address}${servers.master.separator}${servers.master.username}`;
    const events: StepEvent[] = [];
    const result = await diagnostics.testConnection(
      target([server('imap', servers.ports.imaps, 'implicit', { username: master, password: servers.master.password }), server('smtp', servers.ports.submission, 'starttls', { username: master, password: servers.master.password })]),
      (e) => events.push(e),
    );
    assert.deepEqual(statuses(result), ['imap:server:success', 'imap:login:success', 'imap:mailbox:success', 'smtp:server:success', 'smtp:login:success', 'smtp:mailbox:success'], JSON.stringify(result, null, 2));
    assert.match(result.steps[1]!.summary, /as alice@liaison\.test\*liaison-master/);
    assert.deepEqual(
      events.map((e) => (e.type === 'start' ? `start ${e.title}` : `end ${e.result.title}`)).slice(0, 4),
      ['start IMAP: Server connection (DNS, TCP, TLS)', 'end IMAP: Server connection (DNS, TCP, TLS)', 'start IMAP: Protocol and login', 'end IMAP: Protocol and login'],
    );
    assert.equal(events.length, 12);
    assert.ok(!JSON.stringify(result).includes(servers.master.password), 'the password is never in the result');
  });

  test("a wrong password fails step 2 with the server's own line and the fix, the Inbox is not tried, and the password shows nowhere", async () => {
    const wrong = 'Wr0ng-pass-XYZ';
    const expected: Array<[MailProtocol, number, MailTls, RegExp]> = [
      ['imap', servers.ports.imaps, 'implicit', /^a\d+ NO \[AUTHENTICATIONFAILED\] Authentication failed\.$/],
      ['pop3', servers.ports.pop3s, 'implicit', /^-ERR \[AUTH\] Authentication failed\.$/],
      ['smtp', servers.ports.submission, 'starttls', /^535 5\.7\.8 Error: authentication failed/],
    ];
    // One profile-shaped run: a failure of the incoming server does not stop the outgoing one from being tested.
    const result = await diagnostics.testConnection(target(expected.map(([protocol, port, tls]) => server(protocol, port, tls, { password: wrong }))));
    assert.equal(result.status, 'failure');
    assert.deepEqual(statuses(result), ['imap:server:success', 'imap:login:failure', 'imap:mailbox:skipped', 'pop3:server:success', 'pop3:login:failure', 'pop3:mailbox:skipped', 'smtp:server:success', 'smtp:login:failure', 'smtp:mailbox:skipped']);
    const logins = result.steps.filter((s) => s.step === 'login');
    for (const [index, [protocol, , , line]] of expected.entries()) {
      const step = logins[index]!;
      assert.equal(step.code, 'bad-credentials', protocol);
      assert.match(step.serverAnswer!.messageText!, line, protocol);
      assert.match(step.summary, new RegExp(`^mail\\.liaison\\.test refused the login of alice@liaison\\.test \\(.+\\): `), protocol);
      assert.match(step.fix!, /Check the user name and password of alice@liaison\.test/);
      assert.ok(step.request && /^(a\d+ AUTHENTICATE PLAIN \(credentials hidden\)|PASS \(password hidden\)|AUTH PLAIN \(credentials hidden\))$/.test(step.request.method), `${protocol}: ${step.request?.method}`);
      assert.match(step.request.url, new RegExp(`^${protocol}s?://mail\\.liaison\\.test:\\d+$`));
      assert.ok(step.details?.some((d) => d.startsWith('S: ') && line.test(d.slice(3))), `${protocol}: the dialogue is in the details`);
    }
    const text = JSON.stringify(result);
    assert.ok(!text.includes(wrong) && !text.includes(Buffer.from(`\0${alice.address}\0${wrong}`).toString('base64')), 'the password is nowhere, not even base64');
    assert.equal(result.steps.find((s) => s.step === 'mailbox')!.summary, 'Not run: IMAP: Protocol and login failed');
  });

  test('a certificate for another name fails step 1 with tls-name-mismatch and the names it carries, over implicit TLS and after STARTTLS', async () => {
    for (const [protocol, port, tls] of [['imap', servers.ports.imaps, 'implicit'], ['smtp', servers.ports.submission, 'starttls']] as const) {
      const result = await diagnostics.testConnection(target([server(protocol, port, tls, { host: 'wrong.liaison.test', resolve: [`wrong.liaison.test:${port}:127.0.0.1`] })]));
      const step = failed(result);
      assert.deepEqual([step.step, step.code], ['server', 'tls-name-mismatch'], JSON.stringify(step));
      assert.equal(step.summary, `The certificate of wrong.liaison.test:${port} is not for wrong.liaison.test: it carries mail.liaison.test, localhost`);
      assert.match(step.fix!, /Use the host name the certificate is issued for, or install a certificate that names wrong\.liaison\.test/);
      assert.ok(step.details!.includes('names on the certificate: mail.liaison.test, localhost'));
      assert.deepEqual(statuses(result).slice(1), [`${protocol}:login:skipped`, `${protocol}:mailbox:skipped`]);
      if (tls === 'starttls') {
        const sent = step.details!.filter((d) => d.startsWith('C: '));
        assert.equal(sent[sent.length - 1], 'C: STARTTLS', 'nothing was sent over the connection that did not verify');
      }
    }
  });

  test('a CA the profile does not trust fails step 1 with tls-untrusted, naming the issuer', async () => {
    const result = await diagnostics.testConnection(target([server('imap', servers.ports.imaps, 'implicit')], { trustedCaPem: null }));
    const step = failed(result);
    assert.deepEqual([step.step, step.code], ['server', 'tls-untrusted']);
    assert.match(step.summary, /Liaison Test Mail CA/);
    assert.match(step.fix!, /trustedCaPem \/ --ca-file/);
  });

  test('a closed port is port-closed, an unknown host dns, and implicit TLS to a plain-text port tls-not-spoken, each with its fix', async () => {
    const port = await closedPort();
    const closed = failed(await diagnostics.testConnection(target([server('imap', port, 'implicit', { resolve: [`mail.liaison.test:${port}:127.0.0.1`] })])));
    assert.deepEqual([closed.step, closed.code], ['server', 'port-closed']);
    assert.equal(closed.summary, `Nothing accepts connections on mail.liaison.test:${port} (dialled at 127.0.0.1:${port}): the connection was refused`);
    assert.match(closed.fix!, /IMAP is usually on 993 \(implicit TLS\) or 143 \(STARTTLS\)/);

    const unknown = failed(await diagnostics.testConnection(target([server('smtp', 587, 'starttls', { host: 'nowhere.invalid', resolve: [] })])));
    assert.deepEqual([unknown.step, unknown.code], ['server', 'dns']);
    assert.match(unknown.summary, /^The host name nowhere\.invalid could not be found in DNS/);
    assert.match(unknown.fix!, /--resolve nowhere\.invalid:587:<address>/);

    const plain = failed(await diagnostics.testConnection(target([server('imap', servers.ports.imap, 'implicit')])));
    assert.deepEqual([plain.step, plain.code], ['server', 'tls-not-spoken'], JSON.stringify(plain));
    assert.match(plain.fix!, /Use STARTTLS for port \d+ \(imap:\/\/ in the profile, --starttls for liaison analyze\), or the implicit-TLS port 993/);
  });

  test('STARTTLS to an implicit-TLS port: no greeting comes, and the timeout says the port may want TLS from the first byte', async () => {
    const result = await diagnostics.testConnection(target([server('pop3', servers.ports.pop3s, 'starttls')], { timeoutMs: 700 }));
    const step = failed(result);
    assert.deepEqual([step.step, step.code], ['server', 'timeout']);
    assert.match(step.summary, /accepted the connection but sent no greeting within 0\.7 s/);
    assert.match(step.fix!, /implicit TLS, as 995 does\): use pop3s:\/\/ in the profile, or leave out --starttls/);
  });

  test('the submission port of a server for mail between servers (no AUTH) is auth-not-offered, with what EHLO listed', async () => {
    const result = await diagnostics.testConnection(target([server('smtp', servers.ports.smtp, 'starttls')]));
    const step = failed(result);
    assert.deepEqual([step.step, step.code], ['login', 'auth-not-offered'], JSON.stringify(step));
    assert.match(step.summary, /offers no SMTP AUTH \(EHLO lists .*PIPELINING/);
    assert.match(step.fix!, /Use the submission port 587 \(STARTTLS\) or 465/);
    assert.equal(step.serverAnswer!.messageText, '250 CHUNKING');
  });

  describe('behind a proxy that ends TLS and passes the connection on in plain text', () => {
    // A real deployment mistake, with the real Dovecot and Postfix behind it: the proxy speaks TLS to Liaison and
    // plain text to the server, from 127.0.0.2, which the servers (rightly) do not count as a secure connection.
    const proxies: Server[] = [];
    async function proxy(to: number): Promise<number> {
      const sockets = new Set<Socket>();
      const server = createTlsServer({ key: ownLeaf.key.pem, cert: ownLeaf.pem + ownCa.pem }, (client) => {
        const upstream = netConnect({ host: '127.0.0.1', port: to, localAddress: '127.0.0.2' });
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('error', () => undefined);
          socket.on('close', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream);
        upstream.pipe(client);
      });
      server.on('close', () => sockets.forEach((s) => s.destroy()));
      proxies.push(server);
      return listen(server);
    }
    after(async () => {
      for (const p of proxies) p.close();
    });

    test("Dovecot's LOGINDISABLED (IMAP) and its plain-text refusal (POP3) are plaintext-login-refused, with the proxy named in the fix", async () => {
      const imap = await proxy(servers.ports.imap);
      const pop3 = await proxy(servers.ports.pop3);
      const via = (protocol: MailProtocol, port: number) => server(protocol, port, 'implicit', { resolve: [`mail.liaison.test:${port}:127.0.0.1`] });
      const result = await diagnostics.testConnection(target([via('imap', imap), via('pop3', pop3)], { trustedCaPem: ownCa.pem }));
      const [imapLogin, pop3Login] = result.steps.filter((s) => s.step === 'login') as [StepResult, StepResult];
      assert.deepEqual([imapLogin.status, imapLogin.code], ['failure', 'plaintext-login-refused'], JSON.stringify(imapLogin));
      assert.match(imapLogin.summary, /refuses logins on this connection \(LOGINDISABLED\), although Liaison speaks TLS to it; no password was sent/);
      assert.match(imapLogin.serverAnswer!.excerpt!, /^\* CAPABILITY .*LOGINDISABLED/);
      assert.ok(!imapLogin.details!.some((d) => /LOGIN "|AUTHENTICATE/.test(d)), 'IMAP: no login was attempted');
      assert.deepEqual([pop3Login.status, pop3Login.code], ['failure', 'plaintext-login-refused'], JSON.stringify(pop3Login));
      assert.equal(pop3Login.serverAnswer!.messageText, '-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.');
      assert.ok(!pop3Login.details!.some((d) => d.startsWith('C: PASS')), 'POP3: the password was not sent after USER was refused');
      for (const step of [imapLogin, pop3Login]) assert.match(step.fix!, /a proxy or load balancer in front of it ends TLS .* do not allow plain-text logins/);
    });

    test("Postfix behind it offers STARTTLS inside TLS and no AUTH: the fix says the server does not see Liaison's TLS", async () => {
      const port = await proxy(servers.ports.submission);
      const result = await diagnostics.testConnection(target([server('smtp', port, 'implicit', { resolve: [`mail.liaison.test:${port}:127.0.0.1`] })], { trustedCaPem: ownCa.pem }));
      const step = failed(result);
      assert.deepEqual([step.step, step.code], ['login', 'auth-not-offered']);
      assert.match(step.fix!, /still offers STARTTLS on a connection that is TLS already/);
    });
  });

  describe('what Dovecot and Postfix do not do here, played by scripted servers', () => {
    const fakes: Array<{ close: () => Promise<void> }> = [];
    after(async () => {
      for (const f of fakes) await f.close();
    });

    test('a server that does not offer STARTTLS (STLS) is starttls-missing, and no credentials are sent', async () => {
      // Dovecot (ssl = required) and Postfix always offer STARTTLS on their plain-text ports in the harness.
      const imap = scripted('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Fake IMAP ready', (line) => (/^(\S+) CAPABILITY$/i.test(line) ? `* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n${line.split(' ')[0]} OK done` : `${line.split(' ')[0]} BAD no`));
      const pop3 = scripted('+OK Fake POP3 ready', (line) => (line === 'CAPA' ? '+OK\r\nUSER\r\nUIDL\r\n.' : line === 'QUIT' ? '+OK bye' : '-ERR no'));
      const smtp = scripted('220 fake.liaison.test ESMTP', (line) => (/^EHLO /.test(line) ? '250-fake.liaison.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME' : line === 'QUIT' ? '221 bye' : '502 no'));
      fakes.push(imap, pop3, smtp);
      const ports = { imap: await imap.port(), pop3: await pop3.port(), smtp: await smtp.port() };
      const list = (['imap', 'pop3', 'smtp'] as const).map((p) => server(p, ports[p], 'starttls', { resolve: [`mail.liaison.test:${ports[p]}:127.0.0.1`] }));
      const result = await diagnostics.testConnection(target(list));
      const steps = result.steps.filter((s) => s.step === 'server');
      assert.deepEqual(steps.map((s) => [s.protocol, s.code]), [['imap', 'starttls-missing'], ['pop3', 'starttls-missing'], ['smtp', 'starttls-missing']], JSON.stringify(result, null, 2));
      assert.match(steps[0]!.summary, /does not offer STARTTLS \(its capabilities: IMAP4rev1 AUTH=PLAIN\)/);
      assert.match(steps[1]!.summary, /does not offer STLS/);
      assert.match(steps[2]!.summary, /does not offer STARTTLS \(its capabilities: fake\.liaison\.test AUTH PLAIN LOGIN 8BITMIME\)|does not offer STARTTLS/);
      assert.equal(steps[2]!.serverAnswer!.messageText, '250 8BITMIME');
      for (const step of steps) assert.match(step.fix!, /Liaison never logs in without TLS/);
      for (const fake of [imap, pop3, smtp]) assert.ok(!fake.received.some((l) => /LOGIN|AUTH|USER|PASS|STARTTLS|STLS/i.test(l) && !/^EHLO/.test(l)), fake.received.join('\n'));
    });

    test('a POP3 server without UIDL fails step 3 with pop3-no-uidl and why Liaison needs it', async () => {
      // Dovecot always answers UIDL; older or stripped-down POP3 servers do not.
      const pop3 = scripted(
        '+OK Fake POP3 ready',
        (line) =>
          ({ CAPA: '+OK\r\nUSER\r\n.', STAT: '+OK 2 320', UIDL: '-ERR unknown command', QUIT: '+OK bye' })[line] ??
          (/^USER /.test(line) ? '+OK' : /^PASS /.test(line) ? '+OK logged in' : '-ERR no'),
        { tls: true },
      );
      fakes.push(pop3);
      const port = await pop3.port();
      const result = await diagnostics.testConnection(target([server('pop3', port, 'implicit', { resolve: [`mail.liaison.test:${port}:127.0.0.1`] })], { trustedCaPem: ownCa.pem }));
      assert.deepEqual(statuses(result), ['pop3:server:success', 'pop3:login:success', 'pop3:mailbox:failure']);
      const step = failed(result);
      assert.equal(step.code, 'pop3-no-uidl');
      assert.match(step.summary, /does not support UIDL \(-ERR unknown command\): Liaison tracks POP3 mail by each message's UIDL/);
      assert.equal(step.serverAnswer!.messageText, '-ERR unknown command');
      assert.deepEqual(step.request, { method: 'UIDL', url: `pop3s://mail.liaison.test:${port}` });
      assert.match(step.fix!, /or use IMAP/);
    });

    test('a server that repeats the password in its reply does not get it into the result', async () => {
      const password = 'Echoed-Secret-42';
      const pop3 = scripted(
        '+OK Fake POP3 ready',
        (line) => ({ CAPA: '+OK\r\nUSER\r\n.', QUIT: '+OK bye' })[line] ?? (/^USER /.test(line) ? '+OK' : /^PASS /.test(line) ? `-ERR [AUTH] ${line.slice(5)} is not the password` : '-ERR no'),
        { tls: true },
      );
      fakes.push(pop3);
      const port = await pop3.port();
      const result = await diagnostics.testConnection(target([server('pop3', port, 'implicit', { password, resolve: [`mail.liaison.test:${port}:127.0.0.1`] })], { trustedCaPem: ownCa.pem }));
      const step = failed(result);
      assert.equal(step.code, 'bad-credentials');
      assert.equal(step.serverAnswer!.messageText, '-ERR [AUTH] (password hidden) is not the password');
      assert.ok(!JSON.stringify(result).includes(password));
    });

    test('a server that accepts the connection and never greets is a timeout at step 1', async () => {
      const silent = scripted(null, () => null);
      fakes.push(silent);
      const port = await silent.port();
      const result = await diagnostics.testConnection(target([server('smtp', port, 'starttls', { resolve: [`mail.liaison.test:${port}:127.0.0.1`] })], { timeoutMs: 500 }));
      const step = failed(result);
      assert.deepEqual([step.step, step.code], ['server', 'timeout']);
    });
  });

  describe('through the API: Test Connection and Test & Enable of IMAP/SMTP and POP3/SMTP profiles', () => {
    let api: TestApi;
    before(async () => {
      api = await openApi(sqlite, { diagnostics: { service: createDiagnostics(), resolve: servers.resolve } });
    });
    after(async () => api?.close());

    async function profile(body: Record<string, unknown>): Promise<string> {
      const response = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { incomingServer: 'imaps://mail.liaison.test', incomingPort: servers.ports.imaps, outgoingServer: 'submission://mail.liaison.test', outgoingPort: servers.ports.submission, trustedCaPem: servers.caPem, ...body },
      });
      assert.equal(response.statusCode, 201, response.body);
      return response.json().id;
    }

    async function mailboxOf(user: MailUser, profileId: string): Promise<string> {
      const created = await api.t.store.users.create({ name: user.address.split('@')[0]!, email: user.address });
      const id = created.mailboxId!;
      assert.equal((await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [id], profileId } })).statusCode, 200);
      assert.equal((await api.call('POST', '/api/v1/mailboxes/approval', { body: { mailboxIds: [id], approvalStatus: 'approved' } })).statusCode, 200);
      return id;
    }

    test('an IMAP/SMTP profile with a master user: six steps pass for the mailbox, IMAP then SMTP, kept as the last result', async () => {
      const id = await profile({ name: 'Dovecot (master user)', serverType: 'imap-smtp', credentialSource: 'profile', username: servers.master.username, password: servers.master.password });
      const response = await api.call('POST', `/api/v1/email-server-profiles/${id}/test-connection`, { body: { mailbox: alice.address } });
      assert.equal(response.statusCode, 200, response.body);
      const result = response.json();
      assert.deepEqual(statuses(result), ['imap:server:success', 'imap:login:success', 'imap:mailbox:success', 'smtp:server:success', 'smtp:login:success', 'smtp:mailbox:success'], response.body);
      assert.deepEqual((await api.call('GET', `/api/v1/email-server-profiles/${id}/test-connection`)).json(), result);

      const pop3 = await profile({
        name: 'Dovecot POP3 (master user)',
        serverType: 'pop3-smtp',
        incomingServer: 'pop3://mail.liaison.test',
        incomingPort: servers.ports.pop3,
        credentialSource: 'profile',
        username: servers.master.username,
        password: servers.master.password,
      });
      const popped = (await api.call('POST', `/api/v1/email-server-profiles/${pop3}/test-connection`, { body: { mailbox: alice.address } })).json();
      assert.deepEqual(statuses(popped), ['pop3:server:success', 'pop3:login:success', 'pop3:mailbox:success', 'smtp:server:success', 'smtp:login:success', 'smtp:mailbox:success'], JSON.stringify(popped));
    });

    test("a profile of each mailbox's own login: refused until the mailbox has one, failed with Dovecot's line for a wrong one, enabled with the right one", async () => {
      const bob = await servers.addUser('bob', 'Bob-pw-2');
      const id = await profile({ name: 'Dovecot (own logins)', serverType: 'imap-smtp', credentialSource: 'mailbox' });
      const mailbox = await mailboxOf(bob, id);

      const noLogin = await api.call('POST', `/api/v1/email-server-profiles/${id}/test-connection`, { body: { mailbox: bob.address } });
      assert.equal(noLogin.statusCode, 409);
      assert.match(noLogin.json().message, /the mailbox bob@liaison\.test has no login of its own.*PUT \/api\/v1\/mailboxes\/\{id\}\/login/);
      const stranger = await api.call('POST', `/api/v1/email-server-profiles/${id}/test-connection`, { body: { mailbox: 'nobody@liaison.test' } });
      assert.equal(stranger.statusCode, 409);
      assert.match(stranger.json().message, /no mailbox of the profile has the address nobody@liaison\.test/);

      const refused = (await api.call('POST', `/api/v1/mailboxes/${mailbox}/test-and-enable`)).json();
      assert.equal(refused.outcome, 'refused', JSON.stringify(refused));
      assert.match(refused.problems.join(' '), /has no login of its own.*PUT \/api\/v1\/mailboxes\/\{id\}\/login/);

      assert.equal((await api.call('PUT', `/api/v1/mailboxes/${mailbox}/login`, { body: { username: bob.address, password: 'not-bobs' } })).statusCode, 200);
      const wrong = (await api.call('POST', `/api/v1/mailboxes/${mailbox}/test-and-enable`)).json();
      assert.equal(wrong.outcome, 'failed', JSON.stringify(wrong));
      const alert = (await api.call('GET', `/api/v1/alerts?mailboxId=${mailbox}`)).json().items.find((a: { id: string }) => a.id === wrong.alertId);
      assert.equal(alert.code, 'test-and-enable.bad-credentials');
      assert.match(alert.message, /^Test & Enable failed for bob@liaison\.test at step 2 \(IMAP: Protocol and login\): mail\.liaison\.test refused the login of bob@liaison\.test/);
      assert.match(alert.serverResponse, /^a\d+ AUTHENTICATE PLAIN \(credentials hidden\) imaps:\/\/mail\.liaison\.test:\d+\na\d+ NO \[AUTHENTICATIONFAILED\] Authentication failed\.$/);
      assert.match(alert.fix, /bob@liaison\.test's own login/);

      assert.equal((await api.call('PUT', `/api/v1/mailboxes/${mailbox}/login`, { body: { username: bob.address, password: bob.password } })).statusCode, 200);
      const enabled = (await api.call('POST', `/api/v1/mailboxes/${mailbox}/test-and-enable`)).json();
      assert.equal(enabled.outcome, 'enabled', JSON.stringify(enabled));
      assert.deepEqual(enabled.result.steps.map((s: StepResult) => `${s.protocol}:${s.step}`), ['imap:server', 'imap:login', 'imap:mailbox', 'smtp:server', 'smtp:login', 'smtp:mailbox']);
      assert.deepEqual([enabled.mailbox.enabled, enabled.mailbox.incomingStatus, enabled.mailbox.outgoingStatus], [true, 'success', 'success']);

      // A mailbox that only receives is tested on its incoming server only.
      assert.equal((await api.call('PATCH', `/api/v1/mailboxes/${mailbox}`, { body: { outgoingMethod: 'none' } })).statusCode, 200);
      const incoming = (await api.call('POST', `/api/v1/mailboxes/${mailbox}/test-and-enable`)).json();
      assert.deepEqual(incoming.result.steps.map((s: StepResult) => `${s.protocol}:${s.step}`), ['imap:server', 'imap:login', 'imap:mailbox']);

      for (const body of api.bodies) assert.ok(!body.includes(bob.password) && !body.includes('not-bobs'), 'no password in any response');
    });
  });

  test('a trusted CA that is not a certificate fails step 1 of each server as bad-configuration, nothing is dialled', async () => {
    const result = await diagnostics.testConnection(target([server('imap', 1, 'implicit'), server('smtp', 1, 'implicit')], { trustedCaPem: 'not a certificate' }));
    assert.deepEqual(statuses(result), ['imap:server:failure', 'imap:login:skipped', 'imap:mailbox:skipped', 'smtp:server:failure', 'smtp:login:skipped', 'smtp:mailbox:skipped']);
    assert.equal(result.steps[0]!.code, 'bad-configuration');
  });
});
