/**
 * A real, throw-away Dovecot and Postfix for the IMAP, POP3 and SMTP tests: Debian's binaries, started with
 * configurations of their own in a temporary folder, on free loopback ports, and stopped afterwards. Nothing the
 * machine already runs is touched (no /etc file is read or written).
 *
 * Dovecot: IMAP (STARTTLS and implicit TLS), POP3 (STLS and implicit TLS), LMTP, and its auth service for Postfix's
 * SMTP AUTH; users in a passwd-file, one master user (`address*master`, the counterpart of Exchange impersonation),
 * Maildirs with special-use Sent, Drafts, Trash and Junk. A certificate for mail.liaison.test signed by a test CA.
 * Postfix: an MX port (no AUTH) that delivers to the Dovecot users by LMTP and refuses unknown ones with 550, a
 * submission port (STARTTLS required, then AUTH) and an smtps port (implicit TLS); every other destination is refused.
 * Mail reaches the Dovecot users by SMTP through this Postfix, as in life.
 *
 * Both need root here (Dovecot switches to the mail user, Postfix's master runs its daemons as postfix): without it,
 * or without the binaries, mailServersSkip() says so and the tests skip (fail in CI).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestCa, testCa, testLeaf } from './certs.js';
import { requireService } from './services.js';

const DOVECOT = '/usr/sbin/dovecot';
const POSTFIX_MASTER = '/usr/lib/postfix/sbin/master';

export interface MailUser {
  address: string;
  password: string;
  /** The user's Maildir (INBOX is its new/ and cur/). */
  maildir: string;
}

export interface MailServers {
  /** The name in the servers' certificate, and what clients connect to (through `resolve`). */
  host: string;
  caPem: string;
  /** The CA that signed the servers' certificate, to sign others (a TLS-ending proxy's). */
  ca: TestCa;
  domain: string;
  ports: { imaps: number; imap: number; pop3s: number; pop3: number; smtp: number; submission: number; smtps: number; lmtp: number };
  /** `host:port:127.0.0.1` for every port: Liaison's --resolve entries. */
  resolve: string[];
  master: { username: string; password: string; separator: '*' };
  addUser(local: string, password?: string): Promise<MailUser>;
  /** Sends a message through Postfix's MX port (plain SMTP on loopback, as another server would). */
  deliver(envelope: { from: string; to: readonly string[] }, mime: Buffer | string): Promise<void>;
  /** Waits until the user's INBOX Maildir holds at least `count` messages; returns their file paths. */
  waitForMail(address: string, count: number, timeoutMs?: number): Promise<string[]>;
  /** Files in a user's folder ('INBOX', 'Sent', 'Undeliverable', …). */
  messagesIn(address: string, folder: string): Promise<string[]>;
  dovecotLog(): Promise<string>;
  /** Stops Dovecot (SIGTERM: its connections are cut) and starts it again on the same ports and mail; resolves once it listens. */
  restartDovecot(): Promise<void>;
  /** Asks Postfix to deliver its deferred mail now (`postqueue -f`), instead of at its next queue run. */
  flushQueue(): Promise<void>;
  stop(): Promise<void>;
}

function problem(): string | null {
  if (process.platform !== 'linux') return 'Dovecot and Postfix run only on Linux here';
  if (process.getuid?.() !== 0) return 'the test Dovecot and Postfix must be started as root (they switch to their own users)';
  for (const [binary, pkg] of [[DOVECOT, 'dovecot-imapd dovecot-pop3d dovecot-lmtpd'], [POSTFIX_MASTER, 'postfix']] as const) {
    if (!existsSync(binary)) return `${binary} is missing (apt-get install ${pkg})`;
  }
  for (const module of ['/usr/lib/dovecot/imap', '/usr/lib/dovecot/pop3', '/usr/lib/dovecot/lmtp']) {
    if (!existsSync(module)) return `${module} is missing (apt-get install dovecot-imapd dovecot-pop3d dovecot-lmtpd)`;
  }
  return null;
}

/** Options for a describe() that needs the mail servers: a loud skip without them (a failure in CI). */
export function mailServersSkip(): { skip?: string } {
  return requireService('Dovecot and Postfix', problem());
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForPort(port: number, what: string, child: ChildProcess, log: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}) before listening on ${port}:\n${await log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within 15 s:\n${await log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function uidOf(user: string): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', user]).toString().trim()), gid: Number(execFileSync('id', ['-g', user]).toString().trim()) };
}

/** A minimal SMTP client for deliver(): the harness must not depend on the code under test. */
async function smtpDeliver(port: number, envelope: { from: string; to: readonly string[] }, mime: Buffer): Promise<void> {
  const socket = netConnect(port, '127.0.0.1');
  socket.setTimeout(15_000, () => socket.destroy(new Error('SMTP delivery timed out')));
  let buffer = '';
  const waiters: Array<(line: string) => void> = [];
  const failures: Array<(error: Error) => void> = [];
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    for (;;) {
      const end = buffer.indexOf('\r\n');
      if (end < 0) break;
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (/^\d{3}-/.test(line)) continue;
      waiters.shift()?.(line);
      failures.shift();
    }
  });
  socket.on('error', (error) => failures.shift()?.(error));
  const reply = () => new Promise<string>((resolve, reject) => {
    waiters.push(resolve);
    failures.push(reject);
  });
  const expect = async (command: string | null, code: RegExp) => {
    if (command !== null) socket.write(`${command}\r\n`);
    const line = await reply();
    if (!code.test(line)) throw new Error(`SMTP ${command ?? 'greeting'}: ${line}`);
  };
  try {
    await expect(null, /^220/);
    await expect('EHLO harness.liaison.test', /^250/);
    await expect(`MAIL FROM:<${envelope.from}>`, /^250/);
    for (const to of envelope.to) await expect(`RCPT TO:<${to}>`, /^250/);
    await expect('DATA', /^354/);
    const body = mime.toString('latin1').replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    socket.write(body.endsWith('\r\n') ? body : `${body}\r\n`, 'latin1');
    await expect('.', /^250/);
    await expect('QUIT', /^221/);
  } finally {
    socket.destroy();
  }
}

export async function startMailServers(): Promise<MailServers> {
  const why = problem();
  if (why) throw new Error(why);
  const root = await mkdtemp(join(tmpdir(), 'liaison-mail-'));
  await chmod(root, 0o755);
  const host = 'mail.liaison.test';
  const domain = 'liaison.test';
  const ca = testCa('Liaison Test Mail CA');
  // 127.0.0.1 too, for clients that cannot be told to dial another address for a name (mbsync in the benchmark dials localhost).
  const leaf = testLeaf({ names: [host, 'localhost'], ca });
  await writeFile(join(root, 'cert.pem'), leaf.pem + ca.pem);
  await writeFile(join(root, 'key.pem'), leaf.key.pem, { mode: 0o600 });

  const ports = {
    imaps: await freePort(),
    imap: await freePort(),
    pop3s: await freePort(),
    pop3: await freePort(),
    smtp: await freePort(),
    submission: await freePort(),
    smtps: await freePort(),
    lmtp: await freePort(),
  };
  const authPort = await freePort();
  const master = { username: 'liaison-master', password: 'master-secret-1', separator: '*' as const };
  const mail = uidOf('nobody');

  // --- Dovecot
  const dovecotDir = join(root, 'dovecot');
  const mailDir = join(root, 'mail');
  for (const dir of [dovecotDir, join(dovecotDir, 'run'), join(dovecotDir, 'state'), mailDir]) await mkdir(dir, { recursive: true });
  await chown(mailDir, mail.uid, mail.gid);
  await writeFile(join(dovecotDir, 'masters'), `${master.username}:{PLAIN}${master.password}\n`);
  await writeFile(join(dovecotDir, 'users'), '');
  const dovecotLog = join(dovecotDir, 'dovecot.log');
  const dovecotConf = join(dovecotDir, 'dovecot.conf');
  await writeFile(
    dovecotConf,
    `# Liaison's test Dovecot
base_dir = ${dovecotDir}/run
state_dir = ${dovecotDir}/state
log_path = ${dovecotLog}
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = required
ssl_cert = <${root}/cert.pem
ssl_key = <${root}/key.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login
auth_master_user_separator = ${master.separator}
auth_cache_size = 0
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100
pop3_uidl_format = %08Xu%08Xv
lmtp_save_to_detail_mailbox = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dovecotDir}/masters
  master = yes
  result_success = continue
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dovecotDir}/users
}
userdb {
  driver = passwd-file
  args = username_format=%u ${dovecotDir}/users
  default_fields = uid=${mail.uid} gid=${mail.gid} home=${mailDir}/%d/%n
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}
service imap-login {
  inet_listener imap {
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = ${ports.imaps}
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${ports.pop3}
  }
  inet_listener pop3s {
    port = ${ports.pop3s}
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${ports.lmtp}
  }
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = ${authPort}
  }
}
protocol lmtp {
  # LMTP from loopback is trusted: no STARTTLS is asked of Postfix.
  ssl = no
}
`,
  );
  const readDovecotLog = async () => (existsSync(dovecotLog) ? readFile(dovecotLog, 'utf8') : '(no log)');
  let dovecotOutput = '';
  const spawnDovecot = () => {
    const child = spawn(DOVECOT, ['-F', '-c', dovecotConf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (c: Buffer) => (dovecotOutput += c.toString()));
    child.stderr.on('data', (c: Buffer) => (dovecotOutput += c.toString()));
    return child;
  };
  let dovecot = spawnDovecot();
  const dovecotDiagnostics = async () => `${dovecotOutput}\n${await readDovecotLog()}`;

  // --- Postfix
  const postfixDir = join(root, 'postfix');
  const queue = join(postfixDir, 'queue');
  const data = join(postfixDir, 'data');
  const postfixIds = uidOf('postfix');
  const postdrop = Number(execFileSync('getent', ['group', 'postdrop']).toString().split(':')[2]);
  await mkdir(queue, { recursive: true });
  for (const dir of ['active', 'bounce', 'corrupt', 'defer', 'deferred', 'flush', 'hold', 'incoming', 'private', 'saved', 'trace']) {
    await mkdir(join(queue, dir));
    await chown(join(queue, dir), postfixIds.uid, 0);
    await chmod(join(queue, dir), 0o700);
  }
  await mkdir(join(queue, 'pid'));
  for (const [dir, mode] of [['public', 0o710], ['maildrop', 0o1730]] as const) {
    await mkdir(join(queue, dir));
    await chown(join(queue, dir), postfixIds.uid, postdrop);
    await chmod(join(queue, dir), mode);
  }
  await mkdir(data);
  await chown(data, postfixIds.uid, postfixIds.gid);
  await chmod(data, 0o700);
  await writeFile(join(postfixDir, 'recipients'), '');
  await writeFile(
    join(postfixDir, 'main.cf'),
    `# Liaison's test Postfix
compatibility_level = 3.6
queue_directory = ${queue}
data_directory = ${data}
myhostname = ${host}
mydomain = ${domain}
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
virtual_mailbox_domains = ${domain}
virtual_mailbox_maps = texthash:${postfixDir}/recipients
virtual_transport = lmtp:inet:127.0.0.1:${ports.lmtp}
default_transport = error:this test server delivers only to ${domain}
relay_transport = error:this test server delivers only to ${domain}
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_tls_cert_file = ${root}/cert.pem
smtpd_tls_key_file = ${root}/key.pem
smtpd_tls_security_level = may
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:${authPort}
smtpd_sasl_auth_enable = no
lmtp_destination_concurrency_limit = 4
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`,
  );
  const noChroot = (name: string, type: string, priv: string, wakeup: string, limit: string, command: string) =>
    `${name} ${type} ${priv} - n ${wakeup} ${limit} ${command}`;
  await writeFile(
    join(postfixDir, 'master.cf'),
    [
      noChroot(`127.0.0.1:${ports.smtp}`, 'inet', 'n', '-', '-', 'smtpd'),
      noChroot(`127.0.0.1:${ports.submission}`, 'inet', 'n', '-', '-', 'smtpd -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject'),
      noChroot(`127.0.0.1:${ports.smtps}`, 'inet', 'n', '-', '-', 'smtpd -o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject'),
      noChroot('pickup', 'unix', 'n', '60', '1', 'pickup'),
      noChroot('cleanup', 'unix', 'n', '-', '0', 'cleanup'),
      noChroot('qmgr', 'unix', 'n', '300', '1', 'qmgr'),
      noChroot('tlsmgr', 'unix', '-', '1000?', '1', 'tlsmgr'),
      noChroot('rewrite', 'unix', '-', '-', '-', 'trivial-rewrite'),
      noChroot('bounce', 'unix', '-', '-', '0', 'bounce'),
      noChroot('defer', 'unix', '-', '-', '0', 'bounce'),
      noChroot('trace', 'unix', '-', '-', '0', 'bounce'),
      noChroot('verify', 'unix', '-', '-', '1', 'verify'),
      noChroot('flush', 'unix', 'n', '1000?', '0', 'flush'),
      noChroot('proxymap', 'unix', '-', '-', '-', 'proxymap'),
      noChroot('showq', 'unix', 'n', '-', '-', 'showq'),
      noChroot('error', 'unix', '-', '-', '-', 'error'),
      noChroot('retry', 'unix', '-', '-', '-', 'error'),
      noChroot('discard', 'unix', '-', '-', '-', 'discard'),
      noChroot('lmtp', 'unix', '-', '-', '-', 'lmtp'),
      noChroot('smtp', 'unix', '-', '-', '-', 'smtp'),
      noChroot('anvil', 'unix', '-', '-', '1', 'anvil'),
      noChroot('scache', 'unix', '-', '-', '1', 'scache'),
      '',
    ].join('\n'),
  );
  const postfix = spawn(POSTFIX_MASTER, ['-c', postfixDir, '-d'], { cwd: postfixDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let postfixOutput = '';
  postfix.stdout.on('data', (c: Buffer) => (postfixOutput += c.toString()));
  postfix.stderr.on('data', (c: Buffer) => (postfixOutput += c.toString()));

  const stop = async () => {
    for (const child of [postfix, dovecot]) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    await rm(root, { recursive: true, force: true });
  };

  try {
    await waitForPort(ports.imaps, 'Dovecot', dovecot, dovecotDiagnostics);
    await waitForPort(ports.lmtp, 'Dovecot (LMTP)', dovecot, dovecotDiagnostics);
    await waitForPort(ports.smtp, 'Postfix', postfix, async () => postfixOutput || '(Postfix logs to syslog, which this machine may not have)');
    await waitForPort(ports.submission, 'Postfix (submission)', postfix, async () => postfixOutput);
    await waitForPort(ports.smtps, 'Postfix (smtps)', postfix, async () => postfixOutput);
  } catch (error) {
    await stop();
    throw error;
  }

  const users = new Map<string, MailUser>();
  const folderDir = (address: string, folder: string) => {
    const [local, dom] = address.split('@') as [string, string];
    const maildir = join(mailDir, dom, local, 'Maildir');
    return folder === 'INBOX' ? maildir : join(maildir, `.${folder.replaceAll('/', '.')}`);
  };
  const messagesIn = async (address: string, folder: string) => {
    const dir = folderDir(address, folder);
    const files: string[] = [];
    for (const sub of ['new', 'cur']) {
      const path = join(dir, sub);
      if (!existsSync(path)) continue;
      for (const name of await readdir(path)) files.push(join(path, name));
    }
    return files.sort();
  };

  return {
    host,
    caPem: ca.pem,
    ca,
    domain,
    ports,
    resolve: Object.values(ports).map((port) => `${host}:${port}:127.0.0.1`),
    master,
    async addUser(local, password = `${local}-password`) {
      const address = `${local}@${domain}`.toLowerCase();
      const user: MailUser = { address, password, maildir: join(mailDir, domain, local, 'Maildir') };
      users.set(address, user);
      const lines = [...users.values()].map((u) => `${u.address}:{PLAIN}${u.password}::::::`);
      // Written aside and renamed: Dovecot re-reads the file when it changes, and must never read half of it.
      await writeFile(join(dovecotDir, 'users.new'), `${lines.join('\n')}\n`);
      await rename(join(dovecotDir, 'users.new'), join(dovecotDir, 'users'));
      await writeFile(join(postfixDir, 'recipients'), `${[...users.keys()].map((a) => `${a} ok`).join('\n')}\n`);
      // Postfix reads texthash tables when a daemon starts: new smtpd processes see the user at once, a running
      // one after its next restart; `postfix reload` would need the postfix wrapper, so the daemons are told here.
      postfix.kill('SIGHUP');
      // Dovecot looks at the passwd-file again at most once a second: a user added in the second of the last
      // look-up is unknown until the next one. Wait into the next second (and at least for Postfix's daemons).
      await new Promise((r) => setTimeout(r, Math.max(300, 1050 - (Date.now() % 1000))));
      return user;
    },
    async deliver(envelope, mime) {
      await smtpDeliver(ports.smtp, envelope, Buffer.isBuffer(mime) ? mime : Buffer.from(mime, 'utf8'));
    },
    async waitForMail(address, count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const files = await messagesIn(address, 'INBOX');
        if (files.length >= count) return files;
        if (Date.now() > deadline) throw new Error(`${address} holds ${files.length} messages, not ${count}, after ${timeoutMs} ms\n${await readDovecotLog()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    messagesIn,
    dovecotLog: readDovecotLog,
    async restartDovecot() {
      if (dovecot.exitCode === null && dovecot.signalCode === null) {
        const exited = new Promise((r) => dovecot.once('exit', r));
        dovecot.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (dovecot.exitCode === null && dovecot.signalCode === null) {
          dovecot.kill('SIGKILL');
          await exited;
        }
      }
      // Its listeners may linger a moment after the master exits: start again until it binds.
      for (let attempt = 0; ; attempt += 1) {
        dovecot = spawnDovecot();
        try {
          await waitForPort(ports.imaps, 'Dovecot', dovecot, dovecotDiagnostics);
          await waitForPort(ports.lmtp, 'Dovecot (LMTP)', dovecot, dovecotDiagnostics);
          await waitForPort(ports.pop3s, 'Dovecot (POP3)', dovecot, dovecotDiagnostics);
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    },
    async flushQueue() {
      await new Promise<void>((resolve) => execFile('/usr/sbin/postqueue', ['-c', postfixDir, '-f'], () => resolve()));
    },
    stop,
  };
}
