/**
 * Hostile IMAP and POP3 servers (issue 11): a 2 GB literal, an endless line, garbage after login, a RETR that
 * never ends. Each ends with a clear, classified error from the client's own limit, after a bounded read.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type tls from 'node:tls';
import type { ClassifiedError, Connector, MailboxSession } from '../../src/connectors/connector.js';
import { classifyImapError } from '../../src/connectors/imap/classify.js';
import { imapSmtpConnectorFactory } from '../../src/connectors/imap/connector.js';
import { DEFAULT_IMAP_LIMITS, ImapSession } from '../../src/connectors/imap/session.js';
import { defaultConnectors } from '../../src/connectors/index.js';
import { Pop3Client, Pop3Error } from '../../src/connectors/pop3/client.js';
import { classifyPop3Error } from '../../src/connectors/pop3/classify.js';
import { pop3SmtpConnectorFactory } from '../../src/connectors/pop3/connector.js';
import { endpointOf } from '../../src/connectors/mail/endpoint.js';
import { createMailDiagnostics } from '../../src/diagnostics/mail.js';
import { createSyncEngine } from '../../src/sync/engine.js';
import { waitFor } from '../helpers/engine-harness.js';
import { drip, heapAfterGc, hostileTls, hostileTlsServer, stream, type Listening, type ServerStats } from '../helpers/hostile-servers.js';
import { MemorySyncStore, testProfile } from '../helpers/memory-sync-store.js';

const servers: Listening[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const GB2 = 2 * 1024 * 1024 * 1024;

/** Reads CRLF lines from a socket and hands each to `onLine`. */
function lines(socket: tls.TLSSocket, onLine: (line: string) => void): void {
  let buffer = '';
  socket.setEncoding('latin1');
  socket.on('data', (data: string) => {
    buffer += data;
    for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      onLine(line);
    }
  });
}

/** What a hostile server says to its client: written while the socket lasts, counted in its stats. */
function speaker(socket: tls.TLSSocket, stats: ServerStats): (text: string) => void {
  socket.on('error', () => undefined);
  return (text) => {
    if (socket.destroyed) return;
    socket.write(text);
    stats.bytesWritten += text.length;
  };
}

type ImapMisdeed = 'literal' | 'endless-line' | 'garbage' | 'endless-junk';

/** An IMAP server that logs in, selects an Inbox of one message, and misbehaves where `misdeed` says. */
async function imapServer(misdeed: ImapMisdeed): Promise<Listening> {
  const server = await hostileTlsServer((socket, stats) => {
    const say = speaker(socket, stats);
    say('* OK [CAPABILITY IMAP4rev1] hostile ready\r\n');
    lines(socket, (line) => {
      stats.requests += 1;
      const [tag, command = '', ...rest] = line.split(' ');
      const verb = command.toUpperCase() === 'UID' ? `UID ${rest[0]?.toUpperCase()}` : command.toUpperCase();
      if (verb === 'CAPABILITY') say(`* CAPABILITY IMAP4rev1\r\n${tag} OK done\r\n`);
      else if (verb === 'LOGIN') {
        say(`${tag} OK [CAPABILITY IMAP4rev1] logged in\r\n`);
        if (misdeed === 'garbage') {
          // Not IMAP at all: binary noise, then lines that are no response anyone can parse.
          const noise = Buffer.alloc(4096);
          for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 256;
          socket.write(noise);
          say('\r\n)))((( {{{ \x00\x01 ]]] garbage\r\n* 99999999999999999999999 FETCH (((((\r\n');
        }
      } else if (verb === 'SELECT' || verb === 'EXAMINE') {
        if (misdeed === 'garbage') {
          // The answer to the first command after login is garbage too, its completion included.
          say(`* 1 EXISTS ((( ]]] "\r\n${tag} OK [READ-ONLY ((("\x01\x02 garbage\r\n`);
          return;
        }
        if (misdeed === 'endless-junk') {
          // Short untagged lines that answer nothing, forever: no line is too long, no gap long enough to time out.
          void stream(socket, GB2, stats, '* JUNK ((( 1 2 3 )))\r\n');
          return;
        }
        if (misdeed === 'endless-line') {
          say('* OK ');
          void stream(socket, GB2, stats, 'A');
          return;
        }
        say(`* 1 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n* FLAGS (\\Seen)\r\n${tag} OK [READ-ONLY] selected\r\n`);
      } else if (verb === 'LSUB') {
        say(`* LSUB () "/" INBOX\r\n${tag} OK done\r\n`);
      } else if (verb === 'LIST') {
        say(`${/""\s*""$/.test(line) ? '* LIST (\\Noselect) "/" ""' : '* LIST (\\HasNoChildren) "/" INBOX'}\r\n${tag} OK done\r\n`);
      } else if (verb === 'UID SEARCH') say(`* SEARCH 1\r\n${tag} OK done\r\n`);
      else if (verb === 'UID FETCH' && /BODY/i.test(line)) {
        if (misdeed === 'literal') {
          say(`* 1 FETCH (UID 1 RFC822.SIZE ${GB2} BODY[] {${GB2}}\r\n`);
          void stream(socket, GB2, stats, 'x');
          return;
        }
        say(`${tag} NO nothing\r\n`);
      } else if (verb === 'UID FETCH') {
        say(`* 1 FETCH (UID 1 INTERNALDATE "01-Jan-2026 10:00:00 +0000" ENVELOPE ("Thu, 1 Jan 2026 10:00:00 +0000" "hi" NIL NIL NIL NIL NIL NIL NIL "<m1@hostile.test>"))\r\n${tag} OK done\r\n`);
      } else if (verb === 'LOGOUT') {
        say(`* BYE bye\r\n${tag} OK bye\r\n`);
        socket.end();
      } else if (verb === 'NOOP') say(`${tag} OK done\r\n`);
      else if (tag) say(`${tag} BAD unknown\r\n`);
    });
  });
  servers.push(server);
  return server;
}

function profileFor(kind: 'imap-smtp' | 'pop3-smtp', server: Listening, over: { requestTimeoutSeconds?: number } = {}) {
  const scheme = kind === 'imap-smtp' ? 'imaps' : 'pop3s';
  return testProfile({
    serverType: kind,
    autodiscover: false,
    incomingServer: `${scheme}://127.0.0.1:${server.port}`,
    outgoingServer: 'smtps://127.0.0.1:1',
    username: 'user@hostile.test',
    trustedCaPem: hostileTls().caPem,
    requestTimeoutSeconds: over.requestTimeoutSeconds ?? 10,
  });
}

function connectorFor(kind: 'imap-smtp' | 'pop3-smtp', server: Listening): Connector {
  const factory = kind === 'imap-smtp' ? imapSmtpConnectorFactory : pop3SmtpConnectorFactory;
  return factory({ profile: profileFor(kind, server), secrets: { password: 'secret', outgoingPassword: 'secret', clientSecret: null }, resolve: [] });
}

async function failing(connector: Connector, work: (session: MailboxSession) => Promise<unknown>): Promise<{ error: unknown; classified: ClassifiedError }> {
  const session = await connector.open('user@hostile.test');
  try {
    const outcome = await work(session).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    if ('error' in outcome) return { error: outcome.error, classified: connector.classify(outcome.error) };
    // A fetch reports a message's failure in its result rather than throwing.
    const failure = Array.isArray(outcome.value) ? (outcome.value as Array<{ error?: unknown }>).find((r) => r.error)?.error : undefined;
    if (failure === undefined) throw new Error('the hostile server was read without an error');
    return { error: failure, classified: connector.classify(failure) };
  } finally {
    await session.close?.();
    await connector.close();
  }
}

async function settle(stats: ServerStats): Promise<number> {
  // The writer stops when the socket is gone; let it notice.
  let last = -1;
  await waitFor('the server to stop writing', async () => {
    const now = stats.bytesWritten;
    const still = now === last;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 100));
    return still;
  });
  return stats.bytesWritten;
}

describe('hostile IMAP servers', () => {
  test('the limits: a 50 MB message fits, lines are bounded', () => {
    assert.ok(DEFAULT_IMAP_LIMITS.maxMessageBytes >= 50 * 1000 * 1000 && DEFAULT_IMAP_LIMITS.maxMessageBytes < GB2);
    assert.ok(DEFAULT_IMAP_LIMITS.maxLineBytes < DEFAULT_IMAP_LIMITS.maxMessageBytes);
  });

  test('a literal of 2 GB: refused when announced, a clear error for the message, nothing buffered', async () => {
    const server = await imapServer('literal');
    const heap = heapAfterGc();
    const connector = connectorFor('imap-smtp', server);
    const { classified } = await failing(connector, async (session) => {
      const page = await session.listChanges('inbox', null, 10);
      return session.fetch(page.changes.map((c) => c.serverId));
    });
    assert.equal(classified.code, 'imap.too-large');
    assert.match(classified.message, /2147483648/);
    assert.match(classified.message, /larger than/);
    const written = await settle(server.stats);
    assert.ok(written < 256 * 1024 * 1024, `the server wrote ${written} bytes`);
    assert.ok(heapAfterGc() - heap < 64 * 1024 * 1024, 'nothing of the literal is kept');
  });

  test('an endless line: ended at the line limit, with a clear error', async () => {
    const server = await imapServer('endless-line');
    const connector = connectorFor('imap-smtp', server);
    const { classified } = await failing(connector, (session) => session.listChanges('inbox', null, 10));
    assert.equal(classified.code, 'imap.line-too-long');
    assert.match(classified.message, /line longer than/);
    const written = await settle(server.stats);
    assert.ok(written < DEFAULT_IMAP_LIMITS.maxLineBytes + 64 * 1024 * 1024, `the server wrote ${written} bytes`);
  });

  test('untagged junk forever: ended by the work deadline, a clear error', { timeout: 60_000 }, async () => {
    const server = await imapServer('endless-junk');
    const session = new ImapSession({
      address: 'user@hostile.test',
      endpoint: endpointOf('imap', '127.0.0.1', server.port, 'implicit'),
      login: { username: 'user', password: 'secret', describe: 'user' },
      trustedCaPem: hostileTls().caPem,
      timeoutMs: 10_000,
      serverSavesSentCopy: false,
      smtp: () => Promise.reject(new Error('no SMTP here')),
      isUncertain: () => false,
      limits: { ...DEFAULT_IMAP_LIMITS, commandDeadlineMs: 2000 },
    });
    const heap = heapAfterGc();
    try {
      const error = await session.listChanges('inbox', null, 10).then(
        () => assert.fail('endless junk ended'),
        (e: unknown) => e,
      );
      const classified = classifyImapError(error, null, null);
      assert.equal(classified.code, 'imap.deadline');
      assert.match(classified.message, /did not finish within 2000 ms/);
      // The server was still sending when the deadline ended the work (how much it managed depends on the machine's load).
      assert.ok(server.stats.bytesWritten > 64 * 1024, `the server kept sending all along (${server.stats.bytesWritten} bytes)`);
      assert.ok(heapAfterGc() - heap < 64 * 1024 * 1024, 'the junk was not kept');
    } finally {
      await session.close();
    }
  });

  test('garbage after login: a protocol error, not a hang', async () => {
    const server = await imapServer('garbage');
    const connector = connectorFor('imap-smtp', server);
    const { classified } = await failing(connector, (session) => session.listChanges('inbox', null, 10));
    assert.equal(classified.code, 'imap.protocol');
    assert.equal(classified.kind, 'transient');
    assert.match(classified.message, /not IMAP|cannot be read|unreadable/);
  });
});

type Pop3Misdeed = 'endless-retr' | 'dripped-retr' | 'endless-line';

/** A POP3 server with one message whose RETR misbehaves as `misdeed` says. */
async function pop3Server(misdeed: Pop3Misdeed): Promise<Listening> {
  const server = await hostileTlsServer((socket, stats) => {
    const say = speaker(socket, stats);
    say('+OK hostile ready\r\n');
    lines(socket, (line) => {
      stats.requests += 1;
      const verb = line.split(' ')[0]!.toUpperCase();
      if (verb === 'CAPA') say('+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n');
      else if (verb === 'USER' || verb === 'PASS' || verb === 'NOOP' || verb === 'RSET') say('+OK\r\n');
      else if (verb === 'STAT') say('+OK 1 100\r\n');
      else if (verb === 'UIDL') say('+OK\r\n1 hostile-1\r\n.\r\n');
      else if (verb === 'LIST') say('+OK\r\n1 100\r\n.\r\n');
      else if (verb === 'RETR' || verb === 'TOP') {
        if (misdeed === 'endless-line') {
          say('+OK');
          void stream(socket, GB2, stats, 'A');
        } else if (misdeed === 'endless-retr') {
          say('+OK message follows\r\nSubject: endless\r\n\r\n');
          void stream(socket, GB2, stats, 'a line of the message that never ends\r\n');
        } else {
          say('+OK message follows\r\n');
          void drip(socket, `Subject: dripped\r\n\r\n${'a line\r\n'.repeat(10_000)}`, stats, 200);
        }
      } else if (verb === 'QUIT') {
        say('+OK bye\r\n');
        socket.end();
      } else say('-ERR unknown\r\n');
    });
  });
  servers.push(server);
  return server;
}

describe('hostile POP3 servers', () => {
  const endpoint = (server: Listening) => endpointOf('pop3', '127.0.0.1', server.port, 'implicit');

  test('a RETR that never ends: stopped at the message limit, a too-large error', async () => {
    const server = await pop3Server('endless-retr');
    const client = await Pop3Client.connect({ endpoint: endpoint(server), trustedCaPem: hostileTls().caPem, timeoutMs: 10_000, maxMessageBytes: 1024 * 1024 });
    await client.login('user', 'secret');
    const heap = heapAfterGc();
    const error = await client.retr(1).then(
      () => assert.fail('an endless RETR ended'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof Pop3Error);
    assert.equal(error.kind, 'too-large');
    const written = await settle(server.stats);
    assert.ok(written < 64 * 1024 * 1024, `the server wrote ${written} bytes`);
    assert.ok(heapAfterGc() - heap < 32 * 1024 * 1024);
    client.close();
  });

  test('a RETR that never ends, through the connector: pop3.too-large at the default limit', async () => {
    const server = await pop3Server('endless-retr');
    const { classified } = await failing(connectorFor('pop3-smtp', server), async (session) => {
      const page = await session.listChanges('inbox', null, 10);
      return session.fetch(page.changes.map((c) => c.serverId));
    });
    assert.equal(classified.code, 'pop3.too-large');
    const written = await settle(server.stats);
    assert.ok(written < 256 * 1024 * 1024, `the server wrote ${written} bytes`);
  });

  test('a RETR dripped line by line: ended by the command deadline, not only the idle timeout', { timeout: 60_000 }, async () => {
    const server = await pop3Server('dripped-retr');
    const client = await Pop3Client.connect({ endpoint: endpoint(server), trustedCaPem: hostileTls().caPem, timeoutMs: 1000, commandDeadlineMs: 2000 });
    await client.login('user', 'secret');
    const error = await client.retr(1).then(
      () => assert.fail('a dripped RETR ended'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof Pop3Error);
    assert.equal(error.networkCode, 'DEADLINE');
    assert.match(error.message, /did not finish within 2000 ms/);
    assert.equal(classifyPop3Error(error)?.code, 'pop3.deadline');
    client.close();
  });

  test('an endless status line: ended at the line limit', async () => {
    const server = await pop3Server('endless-line');
    const client = await Pop3Client.connect({ endpoint: endpoint(server), trustedCaPem: hostileTls().caPem, timeoutMs: 10_000 });
    await client.login('user', 'secret');
    const error = await client.retr(1).then(
      () => assert.fail('ended'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof Pop3Error);
    assert.equal(error.kind, 'protocol');
    const written = await settle(server.stats);
    assert.ok(written < 64 * 1024 * 1024, `the server wrote ${written} bytes`);
  });
});

describe('hostile mail servers and Test Connection', () => {
  for (const misdeed of ['endless-junk', 'endless-line', 'literal'] as const) {
    test(`IMAP ${misdeed}: the step fails with what happened`, async () => {
      const server = await imapServer(misdeed);
      const result = await createMailDiagnostics().testConnection({
        kind: 'mail',
        email: 'user@hostile.test',
        servers: [{ endpoint: endpointOf('imap', '127.0.0.1', server.port, 'implicit'), login: { username: 'user', password: 'secret', describe: 'user' } }],
        trustedCaPem: hostileTls().caPem,
        timeoutMs: 5000,
      });
      const text = JSON.stringify(result);
      if (misdeed === 'literal') {
        // Test Connection fetches no message: the literal is never asked for, and the test passes.
        assert.equal(server.stats.bytesWritten < 64 * 1024, true);
        return;
      }
      assert.equal(result.status, 'failure', text.slice(0, 500));
      assert.match(text, misdeed === 'endless-junk' ? /longer than 16777216 bytes/ : /line of more than/);
      const written = await settle(server.stats);
      assert.ok(written < 128 * 1024 * 1024, `the server wrote ${written} bytes`);
    });
  }
});

describe('hostile mail servers through the sync engine', () => {
  test('the mailbox ends its cycle with lastError saying what happened; the worker keeps running', async () => {
    const pop3 = await pop3Server('endless-retr');
    const imap = await imapServer('garbage');
    const sync = new MemorySyncStore();
    const secrets = { password: 'secret', outgoingPassword: 'secret' };
    const first = sync.addProfile(profileFor('pop3-smtp', pop3), secrets);
    const second = sync.addProfile(profileFor('imap-smtp', imap), secrets);
    const a = sync.addMailbox('a@hostile.test', first.id, { outgoing: false });
    const engine = createSyncEngine({ sync, connectors: defaultConnectors(), resolve: [], pollFloorMs: 100, leaseMs: 30_000, push: false });
    engine.start();
    try {
      const failed = (id: string) => sync.cycles.find((c) => c.mailboxId === id && c.record.status !== 'success');
      await waitFor('the POP3 mailbox to fail its cycle', () => failed(a.id) !== undefined, 30_000);
      assert.match(failed(a.id)!.record.lastError ?? '', /larger than/);
      const b = sync.addMailbox('b@hostile.test', second.id, { outgoing: false });
      await waitFor('the IMAP mailbox to fail its cycle', () => failed(b.id) !== undefined, 30_000);
      assert.match(failed(b.id)!.record.lastError ?? '', /imap\.protocol|not IMAP/);
    } finally {
      await engine.stop();
    }
  });
});
