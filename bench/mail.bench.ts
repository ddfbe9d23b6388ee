/**
 * IMAP against the test Dovecot (test/helpers/mail-servers.ts, so: as root, with Debian's dovecot and postfix):
 * initial-sync throughput of the engine (listing, fetching, the whole pipeline, recording in SQLite) side by side
 * with mbsync (Debian's isync) fetching the same Inbox from the same Dovecot into a Maildir, as a ratio
 * (target ≥ 0.5); and IDLE arrival-to-activity latency, p50 and p99. Writes its section of docs/BENCHMARKS.md
 * (BENCH_OUT: another file, or "none").
 *
 *   BENCH_MAIL_MESSAGES=2000        messages in the Inbox for the initial sync
 *   BENCH_MAIL_LATENCY_SAMPLES=20   messages delivered one by one (through Postfix) for the IDLE latency
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMailServers } from '../test/helpers/mail-servers.js';
import { message, openMailWorld } from '../test/helpers/mail-world.js';
import { activityCounts, messageId } from '../test/helpers/sync.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MESSAGES = Number(process.env.BENCH_MAIL_MESSAGES ?? 2000);
const SAMPLES = Number(process.env.BENCH_MAIL_LATENCY_SAMPLES ?? 20);
const OUT = process.env.BENCH_OUT ?? path.join(ROOT, 'docs/BENCHMARKS.md');

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

async function main(): Promise<void> {
  if (!existsSync('/usr/bin/mbsync')) throw new Error('mbsync is missing (apt-get install isync)');
  const servers = await startMailServers();
  const work = mkdtempSync(path.join(os.tmpdir(), 'liaison-mail-bench-'));
  try {
    // The Inbox is filled by writing Maildir files (as LMTP would), so that filling it is not what is measured.
    const world = await openMailWorld(servers, { serverType: 'imap-smtp', mailboxes: 1 });
    const box = world.mailboxes[0]!;
    const nobody = { uid: Number(execFileSync('id', ['-u', 'nobody']).toString()), gid: Number(execFileSync('id', ['-g', 'nobody']).toString()) };
    for (const dir of ['', 'new', 'cur', 'tmp']) {
      const at = path.join(box.user.maildir, dir);
      mkdirSync(at, { recursive: true });
      chownSync(at, nobody.uid, nobody.gid);
    }
    const ids: string[] = [];
    const body = 'A line of an ordinary business email, long enough to look like one.\r\n'.repeat(40);
    for (let i = 0; i < MESSAGES; i += 1) {
      const id = messageId(`bench${i}`);
      ids.push(id);
      const file = path.join(box.user.maildir, 'new', `${1_700_000_000 + i}.M${i}P${process.pid}.bench`);
      writeFileSync(file, message({ from: `sender${i % 50}@fabrikam.test`, to: [box.address], subject: `Bench ${i}`, messageId: id, body }));
      chownSync(file, nobody.uid, nobody.gid);
    }

    // mbsync first (it only reads: the Inbox stays as it is for Liaison).
    const caFile = path.join(work, 'ca.pem');
    writeFileSync(caFile, servers.caPem);
    const passFile = path.join(work, 'pass');
    writeFileSync(passFile, servers.master.password, { mode: 0o600 });
    mkdirSync(path.join(work, 'maildir'));
    const config = path.join(work, 'mbsyncrc');
    writeFileSync(
      config,
      [
        'IMAPAccount bench',
        'Host localhost',
        `Port ${servers.ports.imaps}`,
        `User ${box.address}${servers.master.separator}${servers.master.username}`,
        `PassCmd "cat ${passFile}"`,
        'SSLType IMAPS',
        `CertificateFile ${caFile}`,
        '',
        'IMAPStore remote',
        'Account bench',
        '',
        'MaildirStore local',
        `Path ${path.join(work, 'maildir')}/`,
        `Inbox ${path.join(work, 'maildir', 'INBOX')}`,
        '',
        'Channel bench',
        'Far :remote:',
        'Near :local:',
        'Patterns INBOX',
        'Sync Pull',
        'Create Near',
        'SyncState *',
        '',
      ].join('\n'),
    );
    const mbsyncStart = performance.now();
    const run = spawnSync('/usr/bin/mbsync', ['-c', config, '-q', 'bench'], { encoding: 'utf8' });
    const mbsyncSeconds = (performance.now() - mbsyncStart) / 1000;
    if (run.status !== 0) throw new Error(`mbsync failed (${run.status}): ${run.stderr}`);
    const fetched = ['new', 'cur'].flatMap((d) => {
      const at = path.join(work, 'maildir', 'INBOX', d);
      return existsSync(at) ? execFileSync('ls', [at]).toString().split('\n').filter(Boolean) : [];
    }).length;
    if (fetched !== MESSAGES) throw new Error(`mbsync fetched ${fetched} messages, not ${MESSAGES}`);

    const engineStart = performance.now();
    const engine = world.startEngine();
    for (;;) {
      if ((await activityCounts(world.store, ids)).size === MESSAGES) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const engineSeconds = (performance.now() - engineStart) / 1000;
    await engine.stop();

    // IDLE latency: a message through Postfix, from the end of its SMTP delivery to its activity.
    const push = world.startEngine({ push: true, pollFloorMs: 3_600_000 });
    await new Promise((r) => setTimeout(r, 2000));
    const latencies: number[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      const id = messageId(`idle${i}`);
      await servers.deliver({ from: 'carla@fabrikam.test', to: [box.address] }, message({ from: 'carla@fabrikam.test', to: [box.address], subject: `Idle ${i}`, messageId: id }));
      const sent = performance.now();
      for (;;) {
        if ((await activityCounts(world.store, [id])).size === 1) break;
        if (performance.now() - sent > 60_000) throw new Error(`message ${i} was not tracked within 60 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      latencies.push(performance.now() - sent);
    }
    await push.stop();
    await world.close();

    const liaisonRate = MESSAGES / engineSeconds;
    const mbsyncRate = MESSAGES / mbsyncSeconds;
    const section = [
      '<!-- mail-bench -->',
      '## IMAP against Dovecot (`bench/mail.bench.ts`)',
      '',
      `- command: \`BENCH_MAIL_MESSAGES=${MESSAGES} BENCH_MAIL_LATENCY_SAMPLES=${SAMPLES} npm run bench:mail\``,
      `- date: ${new Date().toISOString()}`,
      `- machine: ${os.type()} ${os.release()} ${os.arch()}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}; Node.js ${process.version}`,
      '- servers: the test Dovecot and Postfix of test/helpers/mail-servers.ts, on this machine; the store: SQLite in this process',
      '',
      'Initial sync of one Inbox over IMAPS with the master user: Liaison (listing, fetching, the whole pipeline, recording) beside mbsync fetching the same Inbox into a Maildir. Target: ratio ≥ 0.5.',
      '',
      '| messages | mbsync | Liaison | ratio |',
      '|---:|---:|---:|---:|',
      `| ${MESSAGES} | ${mbsyncRate.toFixed(0)} msg/s | ${liaisonRate.toFixed(0)} msg/s | ${(liaisonRate / mbsyncRate).toFixed(2)} |`,
      '',
      `IDLE: from the end of a message's SMTP delivery to Postfix to its activity, ${SAMPLES} messages one by one: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms.`,
      '<!-- /mail-bench -->',
      '',
    ].join('\n');
    process.stdout.write(`${section}\n`);
    if (OUT !== 'none') {
      const before = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '# Benchmarks\n\n';
      const kept = before.replace(/<!-- mail-bench -->[\s\S]*?<!-- \/mail-bench -->\n?/, '');
      writeFileSync(OUT, `${kept.trimEnd()}\n\n${section}`);
    }
  } finally {
    await servers.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
