/**
 * The fault soak: `liaison worker` processes on PostgreSQL (through a proxy the soak can cut) sync EWS mailboxes
 * of the sandbox and IMAP/SMTP mailboxes of the test Dovecot/Postfix while mail arrives and email is sent, and
 * faults are injected at random from a seed. At the end the faults stop, the engine is given a bounded time to
 * catch up, and every message the servers received and every send is checked: one outcome and one activity per
 * Message-ID, one copy delivered per send. `bench/soak/main.ts` is the command; test/soak.test.ts runs it for a
 * minute.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { start, type Running } from '../../test/helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../../test/helpers/fault-proxy.js';
import { type MailServers, type MailUser, startMailServers } from '../../test/helpers/mail-servers.js';
import { message as rfc5322 } from '../../test/helpers/mail-world.js';
import { startTestSandbox, type TestSandbox } from '../../test/helpers/sandbox.js';
import { sandboxResolve } from '../../test/helpers/sandbox-connect.js';
import { POSTGRES_URL, postgres, type TestStore } from '../../test/helpers/stores.js';
import { createEnabledMailboxes, createSandboxMailboxes, deliver, folderItems, messageId, type WorldMailbox } from '../../test/helpers/sync.js';
import { seededRandom } from '../../test/helpers/random.js';

export const FAULT_KINDS = ['http503', 'drop', 'serverBusy', 'slow', 'malformed', 'dovecotRestart', 'killWorker', 'postgresCut'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface SoakOptions {
  /** How long mail arrives and faults are injected. */
  minutes: number;
  seed: number;
  /** How long the engine may take to catch up once the faults stop. */
  catchUpLimitMs?: number;
  /** Time between two faults. */
  faultEveryMs?: number;
  workers?: number;
  log?: (line: string) => void;
}

export interface SoakResult {
  seed: number;
  minutes: number;
  messages: { ews: number; imap: number };
  sends: { ews: number; smtp: number; sent: number; uncertain: number; failed: number };
  faults: Record<FaultKind, number>;
  /** Messages without a tracked outcome or an activity; sends marked sent with no copy at the recipient. */
  lost: number;
  /** Message-IDs with more than one activity (or outcome). */
  duplicated: number;
  /** Sends with more than one copy at the recipient. */
  doubleSent: number;
  caughtUp: boolean;
  catchUpMs: number;
  peakWorkerRssMb: number;
  workerStarts: number;
  /** Worker processes that ended on their own (not the soak's kill -9 or its stop at the end): a crash. */
  workerCrashes: number;
  /** A few of the problems, for the reader. */
  problems: string[];
}

interface Sent {
  activityId: string;
  via: 'ews' | 'smtp';
  recipient: string;
}

const EWS_TIMEOUT_S = 5;
const LEASE_SECONDS = 5;
const SANDBOX_OPERATIONS = [undefined, 'SyncFolderItems', 'GetItem', 'CreateItem', 'FindItem', 'GetFolder'] as const;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Reads a Maildir file's Message-ID (header part only). */
async function maildirMessageId(file: string): Promise<string | null> {
  const text = await readFile(file, 'latin1').catch(() => '');
  const head = text.split(/\r?\n\r?\n/, 1)[0] ?? '';
  return /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(head)?.[1] ?? null;
}

async function maildirIds(servers: MailServers, address: string): Promise<string[]> {
  const ids = await Promise.all((await servers.messagesIn(address, 'INBOX')).map(maildirMessageId));
  return ids.filter((id): id is string => id !== null);
}

function vmHwmKb(pid: number | undefined): Promise<number> {
  if (!pid) return Promise.resolve(0);
  return readFile(`/proc/${pid}/status`, 'utf8')
    .then((text) => Number(/^VmHWM:\s+(\d+)/m.exec(text)?.[1] ?? 0))
    .catch(() => 0);
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Two generators from the seed: the faults' order must not depend on how many picks the traffic made meanwhile.
  const random = seededRandom(options.seed);
  const faultRandom = seededRandom(options.seed ^ 0x5eed5eed);
  const durationMs = Math.round(options.minutes * 60_000);
  const faultEveryMs = options.faultEveryMs ?? 3_000;
  const catchUpLimitMs = options.catchUpLimitMs ?? 180_000;
  const workerCount = options.workers ?? 2;
  log(`soak: seed ${options.seed}, ${options.minutes} min, ${workerCount} workers, a fault every ${faultEveryMs} ms`);

  const cleanups: Array<() => Promise<unknown>> = [];
  const workers: Running[] = [];
  let peakKb = 0;
  let workerStarts = 0;
  let workerCrashes = 0;
  let saveLogs: () => string | null = () => null;
  try {
    const s: TestSandbox = await startTestSandbox();
    cleanups.push(() => s.close());
    const servers = await startMailServers();
    cleanups.push(() => servers.stop());
    const db: TestStore = await postgres.open();
    cleanups.push(() => db.cleanup());
    const store = db.store;
    const pgUrl = new URL(POSTGRES_URL);
    const proxy: FaultProxy = await startFaultProxy({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
    cleanups.push(() => proxy.close());

    // --- EWS: tracked mailboxes, recipients outside the CRM, the profile's owner.
    const tag = `soak${process.pid}`;
    const ewsTracked = Array.from({ length: 6 }, (_, i) => `${tag}-ews${i + 1}@contoso.test`);
    const ewsOutside = Array.from({ length: 2 }, (_, i) => `${tag}-ewsout${i + 1}@contoso.test`);
    const ewsOwner = `${tag}-ewsowner@contoso.test`;
    await createSandboxMailboxes(s, [...ewsTracked, ...ewsOutside, ewsOwner]);
    const ewsOwnerUser = await store.users.create({ name: 'EWS Owner', email: ewsOwner, isAdmin: true, incomingFilter: 'all' });
    const ewsProfile = await store.profiles.create({
      name: 'Soak sandbox',
      serverType: 'exchange',
      autodiscover: false,
      incomingServer: s.info.ews,
      username: s.info.serviceAccount!.username,
      password: s.password,
      authentication: 'basic',
      trustedCaPem: s.sandbox.pki.caCertPem,
      requestTimeoutSeconds: EWS_TIMEOUT_S,
      ownerId: ewsOwnerUser.id,
    });
    const ewsBoxes = await createEnabledMailboxes(store, ewsProfile.id, ewsTracked);

    // --- IMAP/SMTP on Dovecot and Postfix.
    const imapUsers: MailUser[] = [];
    for (let i = 0; i < 4; i += 1) imapUsers.push(await servers.addUser(`${tag}-imap${i + 1}`));
    const imapOutside: MailUser[] = [];
    for (let i = 0; i < 2; i += 1) imapOutside.push(await servers.addUser(`${tag}-imapout${i + 1}`));
    const imapOwner = await servers.addUser(`${tag}-imapowner`);
    const imapOwnerUser = await store.users.create({ name: 'IMAP Owner', email: imapOwner.address, isAdmin: true, incomingFilter: 'all' });
    const imapProfile = await store.profiles.create({
      name: 'Soak Dovecot',
      serverType: 'imap-smtp',
      incomingServer: `imaps://${servers.host}:${servers.ports.imaps}`,
      outgoingServer: `smtp://${servers.host}:${servers.ports.submission}`,
      username: servers.master.username,
      password: servers.master.password,
      credentialSource: 'profile',
      trustedCaPem: servers.caPem,
      requestTimeoutSeconds: 10,
      ownerId: imapOwnerUser.id,
    });
    const imapBoxes = await createEnabledMailboxes(store, imapProfile.id, imapUsers.map((u) => u.address));

    // --- Workers, through the proxy.
    const schema = (db.options as { postgresSchema?: string }).postgresSchema!;
    const workerUrl = new URL(POSTGRES_URL);
    workerUrl.hostname = '127.0.0.1';
    workerUrl.port = String(proxy.port);
    workerUrl.searchParams.set('options', `-c search_path=${schema}`);
    const resolve = [...sandboxResolve(s), ...servers.resolve];
    const startWorker = () => {
      workerStarts += 1;
      const running = start(['worker', '--database-url', workerUrl.toString(), '--data', db.dataDir, '--worker-id', `soak-worker-${workerStarts}`, '--lease-seconds', String(LEASE_SECONDS), '--no-push'], {
        env: { LIAISON_RESOLVE: resolve.join(',') },
      });
      running.child.once('exit', (code, signal) => {
        if (signal !== 'SIGKILL' && signal !== 'SIGTERM' && code !== 0) workerCrashes += 1;
      });
      return running;
    };
    for (let i = 0; i < workerCount; i += 1) workers.push(startWorker());
    const logDir = mkdtempSync(path.join(tmpdir(), `liaison-soak-${options.seed}-`));
    const saveLog = (w: Running) => writeFileSync(path.join(logDir, `${w.child.pid}.log`), w.output());
    saveLogs = () => {
      for (const w of workers) saveLog(w);
      return logDir;
    };
    const sampleMemory = async () => {
      for (const w of workers) peakKb = Math.max(peakKb, await vmHwmKb(w.child.pid));
    };
    const sampler = setInterval(() => void sampleMemory(), 500);
    cleanups.push(async () => clearInterval(sampler));

    // --- Traffic.
    const ewsDelivered: Array<{ box: WorldMailbox; id: string }> = [];
    const imapDelivered: Array<{ address: string; id: string }> = [];
    const sends: Sent[] = [];
    const problems: string[] = [];
    const endAt = Date.now() + durationMs;
    let counter = 0;
    const traffic = async () => {
      while (Date.now() < endAt) {
        counter += 1;
        const n = counter;
        const ewsBox = pick(random, ewsBoxes);
        const ewsId = messageId(`soak-ews-${n}`);
        await deliver(s, [ewsBox.address], { from: 'jane.doe@fabrikam.test', to: [ewsBox.address], subject: `Soak ${n}`, messageId: ewsId })
          .then(() => ewsDelivered.push({ box: ewsBox, id: ewsId }))
          .catch((error: Error) => problems.push(`sandbox delivery ${n}: ${error.message}`));
        const imapBox = pick(random, imapBoxes);
        const imapId = messageId(`soak-imap-${n}`);
        await servers
          .deliver({ from: 'jane.doe@fabrikam.test', to: [imapBox.address] }, rfc5322({ from: 'jane.doe@fabrikam.test', to: [imapBox.address], subject: `Soak ${n}`, messageId: imapId }))
          .then(() => imapDelivered.push({ address: imapBox.address, id: imapId }))
          .catch((error: Error) => problems.push(`Postfix delivery ${n}: ${error.message}`));
        if (n % 4 === 0) {
          const from = pick(random, ewsBoxes);
          const to = pick(random, ewsOutside);
          const draft = await store.activities.createDraft(from.id, from.userId, { subject: `Soak send ${n}`, bodyText: `Send ${n}.`, to: [to] });
          await store.activities.send(draft.id);
          sends.push({ activityId: draft.id, via: 'ews', recipient: to });
          const imapFrom = pick(random, imapBoxes);
          const imapTo = pick(random, imapOutside).address;
          const imapDraft = await store.activities.createDraft(imapFrom.id, imapFrom.userId, { subject: `Soak send ${n}`, bodyText: `Send ${n}.`, to: [imapTo] });
          await store.activities.send(imapDraft.id);
          sends.push({ activityId: imapDraft.id, via: 'smtp', recipient: imapTo });
        }
        await sleep(400);
      }
    };

    // --- Faults: a shuffled deck of every kind, dealt again when used up, so each kind comes as often.
    const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    let deck: FaultKind[] = [];
    const deal = (): FaultKind => {
      if (deck.length === 0) {
        deck = [...FAULT_KINDS];
        for (let i = deck.length - 1; i > 0; i -= 1) {
          const j = Math.floor(faultRandom() * (i + 1));
          [deck[i], deck[j]] = [deck[j]!, deck[i]!];
        }
      }
      return deck.pop()!;
    };
    const sandboxFault = async (fault: Record<string, unknown>) => {
      const operation = pick(faultRandom, SANDBOX_OPERATIONS);
      const body = { ...fault, ...(operation ? { operation } : {}), times: 1 + Math.floor(faultRandom() * 3) };
      const answer = await s.control('POST', '/faults', body);
      if (answer.status !== 201) throw new Error(`the sandbox refused ${JSON.stringify(body)}: ${JSON.stringify(answer.json)}`);
      return JSON.stringify(body);
    };
    const inject = async (kind: FaultKind): Promise<string> => {
      switch (kind) {
        case 'http503':
          return sandboxFault({ kind: 'http503', backOffMilliseconds: 1000 });
        case 'drop':
          return sandboxFault({ kind: faultRandom() < 0.5 ? 'drop' : 'dropAfter' });
        case 'serverBusy':
          return sandboxFault({ kind: 'serverBusy', backOffMilliseconds: 1000 + Math.floor(faultRandom() * 2000) });
        case 'slow':
          return sandboxFault({ kind: 'slow', delayMs: EWS_TIMEOUT_S * 1000 + 2000 });
        case 'malformed':
          return sandboxFault({ kind: 'malformed' });
        case 'dovecotRestart':
          await servers.restartDovecot();
          return 'Dovecot restarted';
        case 'killWorker': {
          const index = Math.floor(faultRandom() * workers.length);
          const victim = workers[index]!;
          peakKb = Math.max(peakKb, await vmHwmKb(victim.child.pid));
          const closed = new Promise<void>((r) => (victim.child.exitCode !== null || victim.child.signalCode !== null ? r() : victim.child.once('close', () => r())));
          victim.child.kill('SIGKILL');
          await closed;
          saveLog(victim);
          workers[index] = startWorker();
          return `worker ${index} killed (SIGKILL), soak-worker-${workerStarts} started`;
        }
        case 'postgresCut':
          return `PostgreSQL cut: ${proxy.cut()} connections`;
      }
    };
    const faulting = async () => {
      await sleep(faultEveryMs);
      while (Date.now() < endAt) {
        const kind = deal();
        try {
          const what = await inject(kind);
          faults[kind] += 1;
          log(`fault ${kind}: ${what}`);
        } catch (error) {
          problems.push(`fault ${kind}: ${(error as Error).message}`);
        }
        await sleep(faultEveryMs * (0.5 + faultRandom()));
      }
    };
    await Promise.all([traffic(), faulting()]);

    // --- The end: no more faults; every worker alive; the engine catches up.
    await s.control('DELETE', '/faults');
    await servers.flushQueue();
    for (let i = 0; i < workers.length; i += 1) {
      if (workers[i]!.child.exitCode !== null || workers[i]!.child.signalCode !== null) {
        problems.push(`worker ${i} had exited on its own (${workers[i]!.child.exitCode ?? workers[i]!.child.signalCode}):\n${workers[i]!.output().slice(-3000)}`);
        workers[i] = startWorker();
      }
    }
    log(`traffic over: ${ewsDelivered.length} EWS and ${imapDelivered.length} IMAP messages, ${sends.length} sends; waiting for the engine`);
    const catchUpStart = Date.now();
    const allBoxes = [...ewsBoxes, ...imapBoxes];
    // A mailbox whose cycles failed several times in a row waits out its back-off (doubling up to 30 min) before
    // it is tried again; once the faults stop, every mailbox is made due now, as a push notification or an
    // administrator's Test & Enable would, so that the check measures what the engine does, not how long it waits.
    await store.sync.wake(allBoxes.map((m) => m.address), new Date());

    /** The mailboxes that are not idle and healthy, for the log while the engine catches up. */
    const mailboxStates = async () => {
      const rows = await store.database.db
        .selectFrom('mailboxes')
        .select(['id', 'lease_owner', 'next_due_at', 'consecutive_failures', 'last_error', 'incoming_status', 'outgoing_status'])
        .where('id', 'in', allBoxes.map((b) => b.id))
        .execute();
      const now = new Date().toISOString();
      return rows
        .filter((r) => r.lease_owner !== null || r.consecutive_failures > 0 || (r.next_due_at ?? '') > now)
        .map((r) => `${allBoxes.find((b) => b.id === r.id)?.address.split('@')[0]} lease=${r.lease_owner ?? '-'} due=${r.next_due_at ?? '-'} failures=${r.consecutive_failures} in=${r.incoming_status} out=${r.outgoing_status} ${r.last_error ? `error=${r.last_error.slice(0, 120)}` : ''}`)
        .join(' | ');
    };
    const check = async () => {
      // What the servers received: the sandbox's deliveries, and what reached each Dovecot INBOX.
      const received: Array<{ mailboxId: string; id: string }> = ewsDelivered.map((d) => ({ mailboxId: d.box.id, id: d.id }));
      const inDovecot = new Set<string>();
      for (const box of imapBoxes) {
        for (const id of await maildirIds(servers, box.address)) {
          received.push({ mailboxId: box.id, id });
          inDovecot.add(id);
        }
      }
      const notArrived = imapDelivered.filter((d) => !inDovecot.has(d.id)).length;
      const outcomes = await store.database.db
        .selectFrom('message_outcomes')
        .select(['mailbox_id', 'internet_message_id', 'outcome'])
        .where('mailbox_id', 'in', allBoxes.map((b) => b.id))
        .execute();
      const outcomeCount = new Map<string, { tracked: number; other: string[] }>();
      for (const o of outcomes) {
        const key = `${o.mailbox_id} ${o.internet_message_id}`;
        const entry = outcomeCount.get(key) ?? { tracked: 0, other: [] };
        if (o.outcome === 'tracked') entry.tracked += 1;
        else entry.other.push(o.outcome);
        outcomeCount.set(key, entry);
      }
      const activityRows = await store.database.db.selectFrom('email_activities').select(['message_id']).where('message_id', 'is not', null).execute();
      const activityCount = new Map<string, number>();
      for (const row of activityRows) activityCount.set(row.message_id!, (activityCount.get(row.message_id!) ?? 0) + 1);
      const lostMessages = received.filter((r) => (outcomeCount.get(`${r.mailboxId} ${r.id}`)?.tracked ?? 0) === 0 || !activityCount.has(r.id));
      const duplicatedMessages = received.filter((r) => (outcomeCount.get(`${r.mailboxId} ${r.id}`)?.tracked ?? 0) > 1 || (activityCount.get(r.id) ?? 0) > 1);

      // Sends: their status, and copies by Message-ID at the recipient.
      const activities = await Promise.all(sends.map((x) => store.activities.get(x.activityId)));
      const unsettled = activities.filter((a) => a.status === 'pending-send' || a.status === 'sending').length;
      const copies = await Promise.all(
        sends.map(async (x, i) => {
          const mid = activities[i]!.messageId;
          if (!mid) return 0;
          if (x.via === 'ews') return ((await folderItems(s, x.recipient, 'inbox')) ?? []).filter((item) => item.internetMessageId === mid).length;
          return (await maildirIds(servers, x.recipient)).filter((id) => id === mid).length;
        }),
      );
      const sentNoCopy = sends.filter((_, i) => activities[i]!.status === 'sent' && copies[i] === 0);
      const doubleSent = sends.filter((_, i) => copies[i]! > 1);
      return {
        received,
        notArrived,
        lostMessages,
        duplicatedMessages,
        unsettled,
        activities,
        copies,
        sentNoCopy,
        doubleSent,
        done: notArrived === 0 && lostMessages.length === 0 && unsettled === 0 && sentNoCopy.length === 0,
        describe: () => {
          const some = lostMessages.slice(0, 5).map((r) => `${r.id} outcome ${JSON.stringify(outcomeCount.get(`${r.mailboxId} ${r.id}`) ?? null)} activities ${activityCount.get(r.id) ?? 0}`);
          return `${received.length - lostMessages.length}/${received.length} tracked (${notArrived} not yet in Dovecot), ${unsettled} sends unsettled, ${sentNoCopy.length} sent without a copy yet${some.length ? `; missing: ${some.join('; ')}` : ''}`;
        },
      };
    };

    let last = await check();
    let caughtUp = last.done;
    let reported = Date.now();
    while (!caughtUp && Date.now() - catchUpStart < catchUpLimitMs) {
      await sleep(1_000);
      // Mail Postfix deferred while Dovecot was down waits for its next queue run otherwise: that is Postfix's time, not the engine's.
      if (last.notArrived > 0) await servers.flushQueue();
      last = await check();
      caughtUp = last.done;
      if (!caughtUp && Date.now() - reported >= 15_000) {
        reported = Date.now();
        log(`catching up: ${last.describe()}; ${await mailboxStates()}`);
      }
    }
    const catchUpMs = Date.now() - catchUpStart;
    log(caughtUp ? `caught up in ${(catchUpMs / 1000).toFixed(1)} s` : `did not catch up within ${catchUpLimitMs / 1000} s: ${last.describe()}`);
    // A double send or a second activity would come from a later cycle: let a few run before the final count.
    await sleep(LEASE_SECONDS * 1000 + 2_000);
    last = await check();
    await sampleMemory();

    const statusCount = (status: string) => last.activities.filter((a) => a.status === status).length;
    const failedSends = last.activities.map((a, i) => ({ a, x: sends[i]! })).filter(({ a }) => a.status === 'failed');
    for (const { a, x } of failedSends.slice(0, 5)) problems.push(`send ${x.via} ${a.id} failed: ${a.failureReason ?? ''}`);
    if (!caughtUp) problems.push(`not caught up: ${last.describe()}`);
    for (const r of last.lostMessages.slice(0, 5)) problems.push(`lost ${r.id}`);
    for (const r of last.duplicatedMessages.slice(0, 5)) problems.push(`duplicated ${r.id}`);
    for (const i of last.doubleSent.slice(0, 5)) {
      const a = await store.activities.get(i.activityId);
      problems.push(`double-sent ${i.via} ${i.activityId} (${a.messageId}, "${a.subject}", ${a.deliveryAttempts} attempts, ${a.status}): ${last.copies[sends.indexOf(i)]} copies at ${i.recipient}`);
    }
    problems.push(`the workers' logs: ${saveLogs()}`);
    return {
      seed: options.seed,
      minutes: options.minutes,
      messages: { ews: ewsDelivered.length, imap: last.received.length - ewsDelivered.length },
      sends: {
        ews: sends.filter((x) => x.via === 'ews').length,
        smtp: sends.filter((x) => x.via === 'smtp').length,
        sent: statusCount('sent'),
        uncertain: statusCount('delivery-uncertain'),
        failed: failedSends.length,
      },
      faults,
      lost: last.lostMessages.length + last.sentNoCopy.length,
      duplicated: last.duplicatedMessages.length,
      doubleSent: last.doubleSent.length,
      caughtUp,
      catchUpMs,
      peakWorkerRssMb: Math.round(peakKb / 1024),
      workerStarts,
      workerCrashes,
      problems,
    };
  } finally {
    for (const w of workers) {
      if (w.child.exitCode === null && w.child.signalCode === null) await w.stop();
    }
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => log(`cleanup: ${error.message}`));
  }
}

/** Whether the run kept every promise: nothing lost, nothing doubled, and the engine caught up. */
export function soakPassed(result: SoakResult): boolean {
  return result.lost === 0 && result.duplicated === 0 && result.doubleSent === 0 && result.caughtUp && result.sends.failed === 0 && result.workerCrashes === 0;
}

export function soakTable(result: SoakResult): string {
  const rows: Array<[string, string]> = [
    ['messages received (EWS / IMAP)', `${result.messages.ews + result.messages.imap} (${result.messages.ews} / ${result.messages.imap})`],
    ['sends (EWS / SMTP)', `${result.sends.ews + result.sends.smtp} (${result.sends.ews} / ${result.sends.smtp})`],
    ['sent', String(result.sends.sent)],
    ['uncertain (not resent)', String(result.sends.uncertain)],
    ['sends failed', String(result.sends.failed)],
    ...FAULT_KINDS.map((k): [string, string] => [`faults: ${k}`, String(result.faults[k])]),
    ['worker processes started', String(result.workerStarts)],
    ['worker crashes', String(result.workerCrashes)],
    ['lost', String(result.lost)],
    ['duplicated', String(result.duplicated)],
    ['double-sent', String(result.doubleSent)],
    ['time to catch up', result.caughtUp ? `${(result.catchUpMs / 1000).toFixed(1)} s` : `not within ${(result.catchUpMs / 1000).toFixed(0)} s`],
    ['peak memory of a worker (RSS)', `${result.peakWorkerRssMb} MB`],
  ];
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}
