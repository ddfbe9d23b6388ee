/**
 * The POP3 client against the real Dovecot of the test harness (pop3s and STLS), and, for what Dovecot never does,
 * against a tiny scripted server in this file: Dovecot always offers UIDL and STLS, always answers +OK or -ERR, and
 * does not drop a connection in the middle of RETR or lock a mailbox on request.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { classifyPop3Error } from '../../src/connectors/pop3/classify.js';
import { Pop3Client, Pop3Error, Pop3NoUidlError, Pop3StlsMissingError } from '../../src/connectors/pop3/client.js';
import { endpointOf, type MailTls } from '../../src/connectors/mail/endpoint.js';
import { testCa, testLeaf } from '../helpers/certs.js';
import { mailServersSkip, startMailServers, type MailServers, type MailUser } from '../helpers/mail-servers.js';

const TIMEOUT_MS = 10_000;

/** What Dovecot stored, as POP3 gives it: the Maildir file has LF line ends, POP3 sends CRLF. */
const asPop3 = (stored: Buffer) => Buffer.from(stored.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');

async function rejection(promise: Promise<unknown>): Promise<Pop3Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Pop3Error, `expected a Pop3Error, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

describe('the POP3 client against Dovecot', mailServersSkip(), () => {
  let servers: MailServers;
  let alice: MailUser;
  let bob: MailUser;
  before(async () => {
    servers = await startMailServers();
    alice = await servers.addUser('alice');
    bob = await servers.addUser('bob');
  });
  after(async () => servers?.stop());

  const modes: Array<{ name: string; tls: MailTls; port: () => number }> = [
    { name: 'pop3s (implicit TLS)', tls: 'implicit', port: () => servers.ports.pop3s },
    { name: 'pop3 (STLS)', tls: 'starttls', port: () => servers.ports.pop3 },
  ];
  const connect = (tls: MailTls, port: number, host = servers.host, trustedCaPem: string | null = servers.caPem) =>
    Pop3Client.connect({ endpoint: endpointOf('pop3', host, port, tls, [...servers.resolve, `wrong.liaison.test:${port}:127.0.0.1`]), trustedCaPem, timeoutMs: TIMEOUT_MS });
  const master = (user: MailUser) => [`${user.address}${servers.master.separator}${servers.master.username}`, servers.master.password] as const;

  for (const mode of modes) {
    describe(mode.name, () => {
      test('greets, lists UIDL and USER/SASL in CAPA, and logs in with the master user and with the own login', async () => {
        const client = await connect(mode.tls, mode.port());
        try {
          assert.match(client.greeting, /^\+OK Dovecot/);
          const capabilities = await client.capabilities();
          assert.ok(capabilities.includes('UIDL'), capabilities.join(', '));
          assert.ok(capabilities.includes('USER'), capabilities.join(', '));
          assert.ok(capabilities.some((c) => /^SASL .*PLAIN/.test(c)), capabilities.join(', '));
          // STLS is not offered again once TLS is on.
          assert.ok(!capabilities.includes('STLS'));
          await client.login(...master(alice));
          assert.deepEqual(await client.stat(), { count: 0, size: 0 });
          await client.quit();
          assert.equal(client.closed, true);
        } finally {
          client.close();
        }
        const own = await connect(mode.tls, mode.port());
        try {
          await own.login(bob.address, bob.password);
          assert.equal(typeof (await own.stat()).count, 'number');
          await own.quit();
        } finally {
          own.close();
        }
      });

      test("a wrong password is a permanent failure with Dovecot's -ERR text, the password never shown", async () => {
        const client = await connect(mode.tls, mode.port());
        try {
          const error = await rejection(client.login(alice.address, 'not-the-password'));
          assert.equal(error.kind, 'auth');
          assert.equal(error.phase, 'auth');
          assert.equal(error.command, 'PASS ****');
          assert.equal(error.response, '-ERR [AUTH] Authentication failed.');
          assert.ok(!error.message.includes('not-the-password'));
          const classified = classifyPop3Error(error)!;
          assert.equal(classified.kind, 'permanent');
          assert.equal(classified.code, 'pop3.auth');
          assert.equal(classified.serverResponse, '-ERR [AUTH] Authentication failed.');
          assert.match(classified.message, /alice@liaison\.test/);
          assert.match(classified.fix!, /password/);
          // A master user the server does not know: the fix speaks of master users.
          const masterError = await rejection(client.login(`${alice.address}*nobody`, servers.master.password));
          const masterClassified = classifyPop3Error(masterError)!;
          assert.equal(masterClassified.kind, 'permanent');
          assert.match(masterClassified.fix!, /master = yes/);
          // The session is still usable after a refused login.
          await client.login(...master(alice));
          await client.quit();
        } finally {
          client.close();
        }
      });
    });
  }

  test('stat, uidl and retr give the exact bytes Dovecot stored, a leading dot included; top gives the header', async () => {
    const carol = await servers.addUser('carol');
    const mime =
      'From: dave@fabrikam.test\r\nTo: carol@liaison.test\r\nSubject: Quarterly figures\r\nMessage-ID: <q1@fabrikam.test>\r\n\r\n' +
      'Hello Carol,\r\n.a line that starts with a dot\r\n..and one with two\r\n.\r\nThe end.\r\n';
    await servers.deliver({ from: 'dave@fabrikam.test', to: [carol.address] }, mime);
    const [file] = await servers.waitForMail(carol.address, 1);
    const stored = asPop3(await readFile(file!));

    for (const mode of modes) {
      const client = await connect(mode.tls, mode.port());
      try {
        await client.login(...master(carol));
        assert.deepEqual(await client.stat(), { count: 1, size: stored.length });
        assert.deepEqual(await client.list(), [{ number: 1, size: stored.length }]);
        const uidl = await client.uidl();
        assert.equal(uidl.length, 1);
        assert.equal(uidl[0]!.number, 1);
        // pop3_uidl_format = %08Xu%08Xv: the UID and UIDVALIDITY in hex.
        assert.match(uidl[0]!.uid, /^[0-9a-fA-F]{16}$/);
        const message = await client.retr(1);
        assert.ok(message.equals(stored), `RETR differs from the Maildir file:\n${message.toString()}\n---\n${stored.toString()}`);
        const text = message.toString('utf8');
        assert.match(text, /\r\nSubject: Quarterly figures\r\n/);
        assert.ok(text.endsWith('\r\nHello Carol,\r\n.a line that starts with a dot\r\n..and one with two\r\n.\r\nThe end.\r\n'), text);
        const header = await client.top(1, 0);
        assert.ok(stored.subarray(0, header.length).equals(header));
        assert.ok(header.toString().endsWith('\r\n\r\n'));
        // A message number Dovecot does not have: its -ERR, and the session goes on.
        const missing = await rejection(client.retr(9));
        assert.equal(missing.kind, 'server');
        assert.equal(missing.command, 'RETR 9');
        assert.match(missing.response!, /^-ERR /);
        await client.noop();
        await client.quit();
      } finally {
        client.close();
      }
    }
  });

  test('dele then rset keeps the message, close() without QUIT keeps it, dele then quit removes it', async () => {
    const erin = await servers.addUser('erin');
    await servers.deliver({ from: 'dave@fabrikam.test', to: [erin.address] }, 'From: dave@fabrikam.test\r\nSubject: Delete me\r\n\r\nBye\r\n');
    await servers.waitForMail(erin.address, 1);

    const first = await connect('implicit', servers.ports.pop3s);
    await first.login(...master(erin));
    await first.dele(1);
    assert.equal((await first.stat()).count, 0);
    await first.rset();
    assert.equal((await first.stat()).count, 1);
    await first.dele(1);
    first.close();

    const second = await connect('starttls', servers.ports.pop3);
    try {
      await second.login(...master(erin));
      assert.equal((await second.stat()).count, 1);
      await second.dele(1);
      await second.quit();
    } finally {
      second.close();
    }
    assert.deepEqual(await servers.messagesIn(erin.address, 'INBOX'), []);
    const third = await connect('implicit', servers.ports.pop3s);
    try {
      await third.login(...master(erin));
      assert.deepEqual(await third.uidl(), []);
      await third.quit();
    } finally {
      third.close();
    }
  });

  for (const mode of modes) {
    test(`${mode.name}: a certificate for another name fails with the names it carries, before any login`, async () => {
      const error = await rejection(connect(mode.tls, mode.port(), 'wrong.liaison.test'));
      assert.equal(error.kind, 'tls');
      assert.equal(error.phase, 'tls');
      assert.match(error.message, /not valid for the name wrong\.liaison\.test: it carries mail\.liaison\.test/);
      assert.deepEqual(error.tlsFailure?.failure.names, ['mail.liaison.test', 'localhost']);
      const classified = classifyPop3Error(error)!;
      assert.equal(classified.kind, 'permanent');
      assert.equal(classified.code, 'pop3.tls-name-mismatch');
      assert.match(classified.fix!, /mail\.liaison\.test/);
    });

    test(`${mode.name}: a certificate from a CA the profile does not trust is permanent`, async () => {
      const error = await rejection(connect(mode.tls, mode.port(), servers.host, null));
      assert.equal(error.kind, 'tls');
      const classified = classifyPop3Error(error)!;
      assert.equal(classified.kind, 'permanent');
      assert.equal(classified.code, 'pop3.tls-untrusted');
      assert.match(classified.message, /Liaison Test Mail CA/);
    });
  }
});

// --- a scripted server, for what Dovecot never does

interface FakeSession {
  write(data: string | Buffer): void;
  destroy(): void;
}

interface Fake {
  port: number;
  /** Every command line received, in order. */
  commands: string[];
  close(): Promise<void>;
}

const fakeCa = testCa('Liaison Fake POP3 CA');
const fakeLeaf = testLeaf({ names: ['mail.liaison.test'], ca: fakeCa });
const CAPA_TLS = '+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n';

/** Answers USER, PASS, CAPA, NOOP and QUIT as a server would, the rest as `handle` says. */
async function fakePop3(options: { tls: boolean; greeting?: string; handle?: (command: string, session: FakeSession) => boolean | void }): Promise<Fake> {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const session: FakeSession = { write: (data) => socket.write(data), destroy: () => socket.destroy() };
    socket.write(options.greeting ?? '+OK fake POP3 ready\r\n');
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let at = buffer.indexOf('\r\n'); at >= 0; at = buffer.indexOf('\r\n')) {
        const command = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        commands.push(command);
        if (options.handle?.(command, session)) continue;
        const verb = command.split(' ')[0]!.toUpperCase();
        if (verb === 'USER' || verb === 'PASS' || verb === 'NOOP') session.write('+OK\r\n');
        else if (verb === 'CAPA') session.write(CAPA_TLS);
        else if (verb === 'QUIT') socket.end('+OK bye\r\n');
        else session.write('-ERR unknown command\r\n');
      }
    });
  };
  const server: Server = options.tls ? createTlsServer({ key: fakeLeaf.key.pem, cert: fakeLeaf.pem }, onSocket) : createNetServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    commands,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function connectFake(fake: Fake, tls: MailTls, timeoutMs = TIMEOUT_MS, maxMessageBytes?: number) {
  const endpoint = endpointOf('pop3', 'mail.liaison.test', fake.port, tls, [`mail.liaison.test:${fake.port}:127.0.0.1`]);
  return Pop3Client.connect({ endpoint, trustedCaPem: fakeCa.pem, timeoutMs, ...(maxMessageBytes === undefined ? {} : { maxMessageBytes }) });
}

async function loggedIn(fake: Fake, timeoutMs?: number, maxMessageBytes?: number): Promise<Pop3Client> {
  const client = await connectFake(fake, 'implicit', timeoutMs, maxMessageBytes);
  await client.login('alice@liaison.test', 'secret');
  return client;
}

describe('the POP3 client against a scripted server', () => {
  const fakes: Fake[] = [];
  const fake = async (options: Parameters<typeof fakePop3>[0]) => {
    const made = await fakePop3(options);
    fakes.push(made);
    return made;
  };
  after(async () => {
    for (const made of fakes) await made.close();
  });

  test('a STLS endpoint whose server does not offer STLS is refused before any USER or PASS', async () => {
    const server = await fake({ tls: false });
    const error = await rejection(connectFake(server, 'starttls'));
    assert.ok(error instanceof Pop3StlsMissingError);
    assert.equal(error.kind, 'no-stls');
    assert.equal(error.phase, 'stls');
    assert.deepEqual(error.capabilities, ['USER', 'UIDL', 'TOP']);
    assert.deepEqual(server.commands, ['CAPA']);
    const classified = classifyPop3Error(error)!;
    assert.equal(classified.kind, 'permanent');
    assert.equal(classified.code, 'pop3.no-stls');

    const refusing = await fake({ tls: false, handle: (command, session) => command === 'CAPA' && (session.write('-ERR what?\r\n'), true) });
    const refused = await rejection(connectFake(refusing, 'starttls'));
    assert.ok(refused instanceof Pop3StlsMissingError);
    assert.deepEqual(refused.capabilities, []);
    assert.equal(refused.response, '-ERR what?');
    assert.deepEqual(refusing.commands, ['CAPA']);
  });

  test('bytes sent after the STLS answer, before TLS, end the connection (no injected reply is believed)', async () => {
    const server = await fake({
      tls: false,
      handle: (command, session) => {
        if (command === 'CAPA') session.write('+OK\r\nSTLS\r\nUSER\r\n.\r\n');
        else if (command === 'STLS') session.write('+OK Begin TLS\r\n+OK injected\r\n');
        else return false;
        return true;
      },
    });
    const error = await rejection(connectFake(server, 'starttls'));
    assert.equal(error.kind, 'protocol');
    assert.equal(error.command, 'STLS');
    assert.deepEqual(server.commands, ['CAPA', 'STLS']);
  });

  test('a port that does not speak TLS, dialled as pop3s, is a TLS failure, not a hang', async () => {
    const server = await fake({ tls: false });
    const error = await rejection(connectFake(server, 'implicit'));
    assert.equal(error.kind, 'tls');
    assert.equal(error.phase, 'tls');
    assert.equal(classifyPop3Error(error)!.kind, 'permanent');
  });

  test('a server without UIDL is a Pop3NoUidlError, permanent, and the session goes on', async () => {
    const server = await fake({ tls: true });
    const client = await loggedIn(server);
    try {
      const error = await rejection(client.uidl());
      assert.ok(error instanceof Pop3NoUidlError);
      assert.equal(error.response, '-ERR unknown command');
      const classified = classifyPop3Error(error)!;
      assert.equal(classified.kind, 'permanent');
      assert.equal(classified.code, 'pop3.no-uidl');
      assert.match(classified.message, /could not tell new mail from old/);
      assert.match(classified.fix!, /must support UIDL/);
      await client.noop();
    } finally {
      client.close();
    }
  });

  test('a reply that is neither +OK nor -ERR is a protocol error that ends the connection', async () => {
    const server = await fake({ tls: true, handle: (command, session) => command === 'STAT' && (session.write('* OK this is IMAP\r\n'), true) });
    const client = await loggedIn(server);
    const error = await rejection(client.stat());
    assert.equal(error.kind, 'protocol');
    assert.equal(error.command, 'STAT');
    assert.equal(error.response, '* OK this is IMAP');
    assert.equal(client.closed, true);
    const after = await rejection(client.noop());
    assert.equal(after.kind, 'network');
    assert.match(after.message, /NOOP was not sent/);
    assert.equal(classifyPop3Error(error)!.kind, 'transient');
  });

  test('a connection dropped in the middle of RETR rejects RETR, saying so, as transient', async () => {
    const server = await fake({
      tls: true,
      handle: (command, session) => {
        if (command !== 'RETR 1') return false;
        session.write('+OK 120 octets\r\nSubject: cut short\r\n\r\nthe first line\r\n');
        setImmediate(() => session.destroy());
        return true;
      },
    });
    const client = await loggedIn(server);
    const error = await rejection(client.retr(1));
    assert.equal(error.kind, 'network');
    assert.equal(error.command, 'RETR 1');
    assert.match(error.message, /during RETR 1/);
    const classified = classifyPop3Error(error)!;
    assert.equal(classified.kind, 'transient');
    assert.equal(classified.code, 'pop3.closed');
  });

  test('a command without an answer times out as transient', async () => {
    const server = await fake({ tls: true, handle: (command) => command === 'STAT' });
    const client = await loggedIn(server, 300);
    const error = await rejection(client.stat());
    assert.equal(error.kind, 'network');
    assert.equal(error.networkCode, 'ETIMEDOUT');
    assert.equal(error.command, 'STAT');
    assert.equal(classifyPop3Error(error)!.code, 'pop3.timeout');
    assert.equal(client.closed, true);
  });

  test('RFC 2449 response codes: [IN-USE] and [SYS/TEMP] are transient, [SYS/PERM] permanent', async () => {
    const answers: Record<string, string> = {
      'in-use': '-ERR [IN-USE] Mailbox is locked by another POP3 session',
      temp: '-ERR [SYS/TEMP] Try again later',
      perm: '-ERR [SYS/PERM] Mailbox is corrupted',
    };
    const server = await fake({ tls: true, handle: (command, session) => command.startsWith('PASS ') && (session.write(`${answers[command.slice(5)]}\r\n`), true) });
    const expected = { 'in-use': ['transient', 'pop3.in-use'], temp: ['transient', 'pop3.sys-temp'], perm: ['permanent', 'pop3.sys-perm'] } as const;
    for (const [password, [kind, code]] of Object.entries(expected)) {
      const client = await connectFake(server, 'implicit');
      try {
        const error = await rejection(client.login('alice@liaison.test', password));
        assert.equal(error.kind, 'server');
        assert.equal(error.command, 'PASS ****');
        assert.equal(error.response, answers[password]);
        const classified = classifyPop3Error(error)!;
        assert.equal(classified.kind, kind, password);
        assert.equal(classified.code, code);
        assert.equal(classified.serverResponse, answers[password]);
      } finally {
        client.close();
      }
    }
  });

  test('RETR undoes the dot-stuffing and keeps every other byte, however the answer is cut into packets', async () => {
    const message = Buffer.concat([
      Buffer.from('Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n', 'latin1'),
      Buffer.from([0xc3, 0xa9, 0xff, 0x00, 0x0d, 0x0a]),
      Buffer.from('middle . of a line\r\nlast\r\n', 'latin1'),
    ]);
    const stuffed = Buffer.from(message.toString('latin1').replace(/^\./gm, '..'), 'latin1');
    const wire = Buffer.concat([Buffer.from(`+OK ${message.length} octets\r\n`), stuffed, Buffer.from('.\r\n')]);
    const server = await fake({
      tls: true,
      handle: (command, session) => {
        if (command !== 'RETR 1') return false;
        let at = 0;
        const next = () => {
          if (at >= wire.length) return;
          session.write(wire.subarray(at, at + 3));
          at += 3;
          setImmediate(next);
        };
        next();
        return true;
      },
    });
    const client = await loggedIn(server);
    try {
      const got = await client.retr(1);
      assert.ok(got.equals(message), `${JSON.stringify(got.toString('latin1'))} != ${JSON.stringify(message.toString('latin1'))}`);
      await client.noop();
    } finally {
      client.close();
    }
  });

  test('a message over the size limit ends the connection with a too-large error', async () => {
    const body = `Subject: big\r\n\r\n${'x'.repeat(200)}\r\n`;
    const server = await fake({ tls: true, handle: (command, session) => command.startsWith('RETR ') && (session.write(`+OK\r\n${body}.\r\n`), true) });
    const client = await loggedIn(server, TIMEOUT_MS, 100);
    const error = await rejection(client.retr(1));
    assert.equal(error.kind, 'too-large');
    assert.equal(client.closed, true);
    assert.equal(classifyPop3Error(error)!.code, 'pop3.too-large');

    const generous = await loggedIn(server, TIMEOUT_MS, 100);
    try {
      assert.equal((await generous.retr(1, { maxBytes: 1000 })).toString(), body);
    } finally {
      generous.close();
    }
  });

  test('a line the server sends unasked (an idle disconnect) ends the session at the next command', async () => {
    const server = await fake({ tls: true, handle: (command, session) => command === 'NOOP' && (session.write('+OK\r\n-ERR Disconnected for inactivity.\r\n'), true) });
    const client = await loggedIn(server);
    await client.noop();
    const error = await rejection(client.stat());
    assert.equal(error.kind, 'network');
    assert.equal(error.response, '-ERR Disconnected for inactivity.');
    assert.equal(classifyPop3Error(error)!.kind, 'transient');
    assert.ok(!server.commands.includes('STAT'));
  });

  test('a greeting of -ERR is refused with its line', async () => {
    const server = await fake({ tls: true, greeting: '-ERR [SYS/TEMP] too many connections\r\n' });
    const error = await rejection(connectFake(server, 'implicit'));
    assert.equal(error.phase, 'greeting');
    assert.equal(error.response, '-ERR [SYS/TEMP] too many connections');
    assert.equal(classifyPop3Error(error)!.kind, 'transient');
  });

  test('calls queue up: two commands at once get their own answers', async () => {
    const server = await fake({
      tls: true,
      handle: (command, session) => {
        if (command === 'STAT') session.write('+OK 2 300\r\n');
        else if (command === 'LIST') session.write('+OK 2 messages\r\n1 100\r\n2 200\r\n.\r\n');
        else return false;
        return true;
      },
    });
    const client = await loggedIn(server);
    try {
      const [stat, list] = await Promise.all([client.stat(), client.list()]);
      assert.deepEqual(stat, { count: 2, size: 300 });
      assert.deepEqual(list, [
        { number: 1, size: 100 },
        { number: 2, size: 200 },
      ]);
    } finally {
      client.close();
    }
  });

  test('classifyPop3Error leaves errors of others alone', () => {
    assert.equal(classifyPop3Error(new Error('something else')), null);
    assert.equal(classifyPop3Error('a string'), null);
  });
});
