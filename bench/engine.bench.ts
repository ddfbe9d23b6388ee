/**
 * The sync engine against the sandbox: initial-sync throughput and its ratio to a bare fetch of the same
 * messages over the same EWS calls; arrival-to-activity latency with push and with polling only; what an idle
 * mailbox costs per hour in requests, CPU time and heap. At several mailbox counts, and the idle cost alone at
 * larger ones. Prints the results and writes them into docs/BENCHMARKS.md (BENCH_OUT: another file, or "none").
 *
 * The sandbox runs in a child process (`liaison sandbox`), so the CPU time and heap measured here are Liaison's
 * alone: the engine, the pipeline, the store (SQLite in this process, or BENCH_DATABASE_URL).
 *
 *   BENCH_MAILBOXES=1,100,1000    mailbox counts of the full runs
 *   BENCH_IDLE_MAILBOXES=10000    mailbox counts of the idle-only runs ("" for none)
 *   BENCH_MESSAGES=2000           messages of the initial sync, spread over the mailboxes (at least one each)
 *   BENCH_LATENCY_SAMPLES=20      messages delivered one by one to measure latency, per mode
 *   BENCH_IDLE_SECONDS=180        how long each idle measurement lasts (with push, a mailbox is polled once a minute)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import type { FetchedMessage, MessageFailure } from '../src/connectors/connector.js';
import { defaultConnectors } from '../src/connectors/index.js';
import type { SandboxInfo } from '../src/sandbox/server.js';
import { Store } from '../src/store/store.js';
import { createSyncEngine } from '../src/sync/engine.js';
import type { EngineEvent, SyncEngine } from '../src/sync/engine-types.js';
import { FETCH_BATCH, PAGE_SIZE } from '../src/sync/incoming.js';
import { chunk, mapLimit } from '../src/sync/limit.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sizes = (name: string, fallback: string) =>
  (process.env[name] ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: "${s}" is not a mailbox count`);
      return n;
    });
const number = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number`);
  return value;
};
const FULL_SIZES = sizes('BENCH_MAILBOXES', '1,100,1000');
const IDLE_SIZES = sizes('BENCH_IDLE_MAILBOXES', '10000');
const MESSAGES = number('BENCH_MESSAGES', 2000);
const LATENCY_SAMPLES = number('BENCH_LATENCY_SAMPLES', 20);
const IDLE_SECONDS = number('BENCH_IDLE_SECONDS', 180);
const OUT = process.env.BENCH_OUT ?? path.join(ROOT, 'docs/BENCHMARKS.md');
const DATABASE_URL = process.env.BENCH_DATABASE_URL;
/** How many mailboxes the engine (and the bare fetch) works on at once: the engine's default. */
const CONCURRENCY = 16;
const DOMAIN = 'contoso.test';
const SERVICE = { username: `svc-bench@${DOMAIN}`, password: 'Bench-password-1' };

// ---- requests, counted as they leave this process (undici publishes every request it creates) ----

let ewsRequests = 0;
subscribe('undici:request:create', (message) => {
  const { request: r } = message as { request: { path: string } };
  if (!r.path.startsWith('/_sandbox')) ewsRequests += 1;
});

// ---- the sandbox, in a process of its own ----

interface SandboxProcess {
  info: SandboxInfo;
  caPem: string;
  agent: Agent;
  child: ChildProcess;
  control<T>(method: string, pathname: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

async function startSandboxProcess(): Promise<SandboxProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'sandbox', '--port', '0', '--http-port', 'none', '--domain', DOMAIN], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the sandbox exited (${code}) before it was ready: ${stderr}`)));
  });
  const info = JSON.parse(line) as SandboxInfo;
  const caPem = readFileSync(info.caCert, 'utf8');
  const agent = new Agent({ connect: { ca: caPem }, connections: 32 });
  const control = async <T>(method: string, pathname: string, body?: unknown): Promise<T> => {
    const response = await request(`${info.control}${pathname}`, {
      method: method as 'GET',
      dispatcher: agent,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${method} ${pathname}: ${response.statusCode} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  };
  return {
    info,
    caPem,
    agent,
    child,
    control,
    async close() {
      await agent.close();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// ---- one setting: a sandbox with N mailboxes and a store with N enabled mailboxes for them ----

interface Setting {
  sandbox: SandboxProcess;
  store: Store;
  dataDir: string;
  addresses: string[];
  resolve: string[];
  profileId: string;
  close(): Promise<void>;
}

const address = (i: number) => `q${String(i).padStart(5, '0')}@${DOMAIN}`;

async function prepare(mailboxes: number, messages: number): Promise<Setting> {
  const sandbox = await startSandboxProcess();
  const { info } = sandbox;
  await sandbox.control('POST', '/accounts', { ...SERVICE, impersonation: true });
  const addresses = Array.from({ length: mailboxes }, (_, i) => address(i));
  // One request per mailbox: the control API has no batch path.
  await mapLimit(addresses, 16, (a) => sandbox.control('POST', '/mailboxes', { address: a, displayName: `Queue ${a.split('@')[0]}` }));
  const perMailbox = messages === 0 ? 0 : Math.max(1, Math.round(messages / mailboxes));
  const body = 'Hello,\n\nA line of an ordinary email, long enough to look like one.\n'.repeat(20);
  await mapLimit(
    addresses.flatMap((a) => Array.from({ length: perMailbox }, (_, n) => ({ a, n }))),
    16,
    ({ a, n }) => sandbox.control('POST', `/mailboxes/${a}/messages`, { from: { name: `Sender ${n}`, address: `sender${n % 50}@fabrikam.test` }, to: [a], subject: `Initial ${n}`, body }),
  );

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'liaison-bench-'));
  const store = await Store.open({
    dataDir,
    env: {},
    ...(DATABASE_URL ? { databaseUrl: DATABASE_URL, postgresSchema: `liaison_bench_${process.pid}_${Date.now()}` } : {}),
  });
  const admin = await store.users.create({ email: `admin@${DOMAIN}`, name: 'Bench Admin', isAdmin: true });
  const profile = await store.profiles.create({
    name: 'Bench sandbox',
    serverType: 'exchange',
    autodiscover: false,
    incomingServer: info.ews,
    username: SERVICE.username,
    password: SERVICE.password,
    trustedCaPem: sandbox.caPem,
    ownerId: admin.id,
  });
  // Queues track all their incoming email by default: every message goes the whole way through the pipeline.
  const ids: string[] = [];
  for (const a of addresses) ids.push((await store.queues.create({ email: a, name: a.split('@')[0]!, ownerId: admin.id })).mailboxId!);
  for (const part of chunk(ids, 500)) {
    await store.mailboxes.updateMany(part, { profileId: profile.id });
    await store.mailboxes.updateMany(part, { approvalStatus: 'approved' });
    await store.mailboxes.updateMany(part, { enabled: true });
  }
  const port = info.listen.port;
  const resolve = info.hosts.map((h) => `${h}:${port}:127.0.0.1`);
  return {
    sandbox,
    store,
    dataDir,
    addresses,
    resolve,
    profileId: profile.id,
    async close() {
      await store.close();
      await sandbox.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---- measurements ----

/** Lists and fetches every Inbox message as the engine's incoming cycle does (same pages, batches, limits), and nothing else. */
async function bareFetch(setting: Setting): Promise<{ messages: number; seconds: number; requests: number }> {
  const profile = await setting.store.profiles.get(setting.profileId);
  const secrets = await setting.store.profiles.secretsOf(setting.profileId);
  const connector = defaultConnectors().create({ profile, secrets, resolve: setting.resolve });
  const requestsBefore = ewsRequests;
  const started = performance.now();
  let messages = 0;
  try {
    await mapLimit(setting.addresses, CONCURRENCY, async (a) => {
      const session = await connector.open(a);
      let cursor: string | null = null;
      for (;;) {
        const page = await session.listChanges('inbox', cursor, PAGE_SIZE);
        const ids = page.changes.filter((c) => c.kind === 'created').map((c) => c.serverId);
        const batches = await mapLimit(chunk(ids, FETCH_BATCH), profile.maxConcurrentConnections, (batch) => session.fetch(batch));
        for (const item of batches.flat()) {
          if ((item as MessageFailure).error) throw (item as MessageFailure).error;
          messages += (item as FetchedMessage).mime.length > 0 ? 1 : 0;
        }
        cursor = page.cursor;
        if (page.complete) break;
      }
    });
  } finally {
    await connector.close();
  }
  return { messages, seconds: (performance.now() - started) / 1000, requests: ewsRequests - requestsBefore };
}

class EngineRun {
  readonly engine: SyncEngine;
  tracked = 0;
  readonly failures: string[] = [];
  private readonly waiting = new Map<string, (at: number) => void>();
  private readonly cycled = new Set<string>();

  constructor(setting: Setting, push: boolean) {
    this.engine = createSyncEngine({
      sync: setting.store.sync,
      connectors: defaultConnectors(),
      resolve: setting.resolve,
      push,
      concurrency: CONCURRENCY,
      onEvent: (event) => this.on(event),
    });
  }

  private on(event: EngineEvent): void {
    if (event.type === 'tracked') {
      this.tracked += 1;
      this.waiting.get(event.subject)?.(performance.now());
    } else if (event.type === 'failure') {
      if (this.failures.length < 20) this.failures.push(`${event.address ?? '-'} ${event.code}: ${event.message}`);
    } else if (event.type === 'cycle' && event.direction === 'incoming') {
      this.cycled.add(event.mailboxId);
    }
  }

  /** Resolves with the time the message with this subject was tracked. */
  trackedAt(subject: string, deadlineMs: number): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(subject);
        resolve(null);
      }, deadlineMs);
      this.waiting.set(subject, (at) => {
        clearTimeout(timer);
        this.waiting.delete(subject);
        resolve(at);
      });
    });
  }

  async until(done: () => boolean, deadlineMs: number, what: string): Promise<void> {
    const deadline = performance.now() + deadlineMs;
    while (!done()) {
      if (performance.now() > deadline) throw new Error(`${what}: not done after ${deadlineMs / 1000} s; failures: ${this.failures.join(' | ') || 'none'}`);
      await sleep(20);
    }
  }

  /**
   * Waits until every mailbox has ended an incoming cycle since this run started (the first cycles are over),
   * then `settleMs` more. Polling cycles never stop, so "no cycle for a while" would never come.
   */
  async settled(mailboxes: number, settleMs: number, deadlineMs: number): Promise<void> {
    await this.until(() => this.cycled.size >= mailboxes, deadlineMs, `waiting for a first cycle of each of ${mailboxes} mailboxes`);
    await sleep(settleMs);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
  samples: number;
  lost: number;
}

/**
 * Delivers messages one at a time to mailboxes spread over the set, each once the previous one was tracked (or
 * given up on), and times each from just before the delivery request to its `tracked` event.
 */
async function latency(setting: Setting, run: EngineRun, label: string): Promise<Latency> {
  const times: number[] = [];
  let lost = 0;
  for (let n = 0; n < LATENCY_SAMPLES; n += 1) {
    const to = setting.addresses[Math.floor((n * 7919) % setting.addresses.length)]!;
    const subject = `Latency ${label} ${n}`;
    const tracked = run.trackedAt(subject, 60_000);
    const sent = performance.now();
    await setting.sandbox.control('POST', `/mailboxes/${to}/messages`, { from: 'sender0@fabrikam.test', to: [to], subject, body: 'Hello' });
    const at = await tracked;
    if (at === null) lost += 1;
    else times.push(at - sent);
    await sleep(100 + ((n * 37) % 300));
  }
  if (times.length === 0) return { p50: NaN, p99: NaN, max: NaN, samples: 0, lost };
  return { p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times), samples: times.length, lost };
}

interface Idle {
  seconds: number;
  requestsPerMailboxHour: number;
  cpuMsPerMailboxHour: number;
  heapBytesPerMailbox: number;
}

function heapNow(): number {
  global.gc?.();
  global.gc?.();
  return process.memoryUsage().heapUsed;
}

async function idle(mailboxes: number, heapBefore: number): Promise<Idle> {
  const requests = ewsRequests;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const heap = heapNow();
  const perHour = 3600 / seconds / mailboxes;
  return {
    seconds,
    requestsPerMailboxHour: (ewsRequests - requests) * perHour,
    cpuMsPerMailboxHour: ((used.user + used.system) / 1000) * perHour,
    heapBytesPerMailbox: (heap - heapBefore) / mailboxes,
  };
}

interface SizeResult {
  mailboxes: number;
  messages?: number;
  bare?: { messages: number; seconds: number; requests: number };
  engine?: { messages: number; seconds: number; requests: number };
  pushLatency?: Latency;
  pollLatency?: Latency;
  pushIdle?: Idle;
  pollIdle?: Idle;
  failures: string[];
}

async function runSize(mailboxes: number, full: boolean): Promise<SizeResult> {
  const messages = full ? Math.max(MESSAGES, mailboxes) : 0;
  log(`${mailboxes} mailbox(es): preparing the sandbox and the store${full ? ` (${Math.max(1, Math.round(messages / mailboxes)) * mailboxes} messages)` : ''}`);
  const setting = await prepare(mailboxes, messages);
  const result: SizeResult = { mailboxes, failures: [] };
  try {
    if (full) {
      result.bare = await bareFetch(setting);
      log(`  bare fetch: ${result.bare.messages} messages in ${result.bare.seconds.toFixed(2)} s`);
      result.messages = result.bare.messages;
    }
    const heapBefore = heapNow();
    const requestsBefore = ewsRequests;
    const started = performance.now();
    let run = new EngineRun(setting, true);
    run.engine.start();
    try {
      if (full) {
        await run.until(() => run.tracked >= result.messages!, 30 * 60_000, 'initial sync');
        result.engine = { messages: run.tracked, seconds: (performance.now() - started) / 1000, requests: ewsRequests - requestsBefore };
        log(`  engine: ${run.tracked} tracked in ${result.engine.seconds.toFixed(2)} s`);
      }
      await run.settled(mailboxes, 2_000, 30 * 60_000);
      if (full) {
        result.pushLatency = await latency(setting, run, 'push');
        log(`  push latency p50 ${result.pushLatency.p50.toFixed(0)} ms, p99 ${result.pushLatency.p99.toFixed(0)} ms`);
        await sleep(2_000);
      }
      result.pushIdle = await idle(mailboxes, heapBefore);
      log(`  idle with push: ${result.pushIdle.requestsPerMailboxHour.toFixed(1)} requests per mailbox-hour`);
    } finally {
      result.failures.push(...run.failures);
      await run.engine.stop();
    }
    run = new EngineRun(setting, false);
    run.engine.start();
    try {
      await run.settled(mailboxes, 2_000, 30 * 60_000);
      if (full) {
        result.pollLatency = await latency(setting, run, 'poll');
        log(`  polling latency p50 ${result.pollLatency.p50.toFixed(0)} ms, p99 ${result.pollLatency.p99.toFixed(0)} ms`);
        await sleep(2_000);
      }
      result.pollIdle = await idle(mailboxes, heapBefore);
      log(`  idle, polling only: ${result.pollIdle.requestsPerMailboxHour.toFixed(1)} requests per mailbox-hour`);
    } finally {
      result.failures.push(...run.failures);
      await run.engine.stop();
    }
  } finally {
    await setting.close();
  }
  return result;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---- the report ----

const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : `${v.toFixed(0)} ms`);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

function report(results: SizeResult[], command: string): string {
  const cpus = os.cpus();
  const full = results.filter((r) => r.engine);
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (its second half, `npm run bench:engine`: bench/engine.bench.ts): the sync engine against the sandbox, on one machine.',
    'The numbers below are the last run\'s; run it again to measure yours.',
    '',
    `- command: \`${command}\``,
    `- date: ${new Date().toISOString()}`,
    `- machine: ${os.type()} ${os.release()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB; Node.js ${process.version}`,
    `- store: ${DATABASE_URL ? 'PostgreSQL' : 'SQLite'} in this process; the sandbox in a child process on the same machine`,
    `- sizes: BENCH_MAILBOXES=${FULL_SIZES.join(',')} BENCH_IDLE_MAILBOXES=${IDLE_SIZES.join(',')} BENCH_MESSAGES=${MESSAGES} BENCH_LATENCY_SAMPLES=${LATENCY_SAMPLES} BENCH_IDLE_SECONDS=${IDLE_SECONDS}`,
    '',
  ];
  if (full.length > 0) {
    lines.push(
      '## Initial sync',
      '',
      'Every message of every Inbox, from no cursor: the engine (listing, fetching, parsing, filter, correlation, party resolution, recording) against a bare fetch of the same messages over the same EWS calls (SyncFolderItems pages of 512, GetItem batches of 50, the same limits) that does nothing with them. Target: ratio ≥ 0.9.',
      '',
      '| mailboxes | messages | bare fetch | engine | ratio | EWS requests (bare / engine) |',
      '|---:|---:|---:|---:|---:|---:|',
      ...full.map((r) => {
        const bare = r.bare!.messages / r.bare!.seconds;
        const engine = r.engine!.messages / r.engine!.seconds;
        return `| ${r.mailboxes} | ${r.messages} | ${bare.toFixed(0)} msg/s | ${engine.toFixed(0)} msg/s | ${(engine / bare).toFixed(2)} | ${r.bare!.requests} / ${r.engine!.requests} |`;
      }),
      '',
      '## Arrival-to-activity latency',
      '',
      'One message at a time delivered through the sandbox\'s control API, timed from just before the request to the engine\'s `tracked` event. Target: p99 ≤ 2 s with push.',
      '',
      '| mailboxes | push p50 | push p99 | push max | polling only p50 | polling only p99 | polling only max | samples (lost) |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...full.map(
        (r) =>
          `| ${r.mailboxes} | ${ms(r.pushLatency?.p50)} | ${ms(r.pushLatency?.p99)} | ${ms(r.pushLatency?.max)} | ${ms(r.pollLatency?.p50)} | ${ms(r.pollLatency?.p99)} | ${ms(r.pollLatency?.max)} | ${r.pushLatency?.samples ?? 0} (${r.pushLatency?.lost ?? 0}) / ${r.pollLatency?.samples ?? 0} (${r.pollLatency?.lost ?? 0}) |`,
      ),
      '',
    );
  }
  lines.push(
    '## An idle mailbox',
    '',
    `Every mailbox synchronized and nothing arriving, for ${IDLE_SECONDS} s, scaled to an hour: EWS requests sent, CPU time of this process (engine and store), and the live heap after garbage collection minus the heap before the engine started, per mailbox. Target: ≤ 100 KB of heap per idle mailbox. With push healthy the engine still polls each mailbox once a minute, and renews subscriptions more rarely: a window much shorter than a few minutes under- or over-counts those.`,
    '',
    '| mailboxes | mode | requests / mailbox / hour | CPU / mailbox / hour | heap / mailbox |',
    '|---:|---|---:|---:|---:|',
    ...results.flatMap((r) =>
      (
        [
          ['push', r.pushIdle],
          ['polling only', r.pollIdle],
        ] as const
      ).flatMap(([mode, i]) => (i ? [`| ${r.mailboxes} | ${mode} | ${i.requestsPerMailboxHour.toFixed(1)} | ${i.cpuMsPerMailboxHour.toFixed(1)} ms | ${kb(i.heapBytesPerMailbox)} |`] : [])),
    ),
    '',
  );
  const failures = results.flatMap((r) => r.failures.map((f) => `${r.mailboxes} mailboxes: ${f}`));
  lines.push('## Failures the engine reported', '', ...(failures.length > 0 ? failures.slice(0, 40).map((f) => `- ${f}`) : ['None.']), '');
  return lines.join('\n');
}

const command = `BENCH_MAILBOXES=${FULL_SIZES.join(',')} BENCH_IDLE_MAILBOXES=${IDLE_SIZES.join(',')} BENCH_MESSAGES=${MESSAGES} BENCH_LATENCY_SAMPLES=${LATENCY_SAMPLES} BENCH_IDLE_SECONDS=${IDLE_SECONDS} npm run bench:engine`;
const results: SizeResult[] = [];
// Written after every size, so a long run that is stopped keeps what it measured.
for (const [n, full] of [...FULL_SIZES.map((n) => [n, true] as const), ...IDLE_SIZES.map((n) => [n, false] as const)]) {
  results.push(await runSize(n, full));
  if (OUT !== 'none') writeFileSync(OUT, report(results, command));
}
process.stdout.write(`${report(results, command)}\n`);
if (OUT !== 'none') log(`written to ${path.relative(process.cwd(), OUT)}`);
