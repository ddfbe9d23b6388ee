/**
 * What the hostile-mail tests (test/hostile/mail*.test.ts) check after the engine has processed the corpus
 * (test/fixtures/hostile-mail/generate.ts): every delivered message has exactly one settled outcome in the
 * store, what must be tracked is, what cannot be read failed with its reason and was set aside, a forged copy of
 * a Message-ID did not touch the first message's activity, nothing NUL reached the store, no attachment name
 * became a file, nothing from a message ran, and memory stayed bounded.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MAX_MESSAGE_ATTEMPTS } from '../../src/domain/failure-policy.js';
import type { Store } from '../../src/store/store.js';
import { CORPUS_DIR, corpus, fileNameOf, type HostileMessage } from '../fixtures/hostile-mail/generate.js';

/** The committed corpus as the tests deliver it: the generator's metadata, the bytes from the committed files. */
export function committedCorpus(): HostileMessage[] {
  return corpus().map((m) => ({ ...m, mime: readFileSync(join(CORPUS_DIR, fileNameOf(m))) }));
}

export interface OutcomeRow {
  server_id: string;
  internet_message_id: string | null;
  outcome: string;
  rule: string | null;
  activity_id: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
}

export async function outcomeRows(store: Store, mailboxId: string): Promise<OutcomeRow[]> {
  return (await store.database.db
    .selectFrom('message_outcomes')
    .select(['server_id', 'internet_message_id', 'outcome', 'rule', 'activity_id', 'error_code', 'error_message', 'attempts'])
    .where('mailbox_id', '=', mailboxId)
    .execute()) as OutcomeRow[];
}

/** Settled: every row is final (a failure still inside its attempts is not). */
export function settled(rows: readonly OutcomeRow[], moveFailed: boolean): boolean {
  return rows.every((r) => r.outcome !== 'failed' || (!moveFailed && r.attempts >= MAX_MESSAGE_ATTEMPTS));
}

export function describeRows(rows: readonly OutcomeRow[]): string {
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.outcome, (by.get(r.outcome) ?? 0) + 1);
  const pending = rows.filter((r) => r.outcome === 'failed').slice(0, 5).map((r) => `${r.internet_message_id} ${r.error_code} attempts=${r.attempts}`);
  return `${rows.length} outcomes ${JSON.stringify(Object.fromEntries(by))}; failed still: ${pending.join(' | ')}`;
}

/** Places where a file named by a hostile attachment would land if a name ever became a path. */
export function placesToWatch(): string[] {
  const cwd = process.cwd();
  return [cwd, dirname(cwd), dirname(dirname(cwd)), tmpdir(), '/tmp', join(cwd, 'test'), join(cwd, 'test', 'fixtures')];
}

/** When this module was loaded: a file that an attachment's name could point at and that was written since is suspect. */
const WATCHING_SINCE = Date.now();

/**
 * The files named by the corpus's dangerous attachment names (as given, and their last part) in the places a
 * careless writer would put them, written since the tests began. A file that was there before (`/etc/passwd`
 * for `../../etc/passwd`) and is unchanged is not one of them.
 */
export function dangerousFilesPresent(messages: readonly HostileMessage[]): string[] {
  const names = new Set(messages.flatMap((m) => m.dangerousNames ?? []));
  names.add('liaison-pwned');
  names.add('liaison-pwned.txt');
  const found: string[] = [];
  for (const place of placesToWatch()) {
    for (const name of names) {
      for (const candidate of [join(place, name), join(place, name.split(/[\\/]/).pop() ?? name)]) {
        if (!existsSync(candidate)) continue;
        const stat = statSync(candidate);
        if (Math.max(stat.mtimeMs, stat.ctimeMs) >= WATCHING_SINCE - 1000) found.push(candidate);
      }
    }
  }
  return [...new Set(found)];
}

/** Samples this process's RSS while `run` works; resolves with the peak growth over the start, in bytes. */
export async function peakRssGrowth<T>(run: () => Promise<T>): Promise<{ value: T; peakGrowth: number }> {
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const value = await run();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakGrowth: peak - start };
  } finally {
    clearInterval(timer);
  }
}

export interface CorpusExpectations {
  store: Store;
  mailboxId: string;
  delivered: ReadonlyArray<{ message: HostileMessage; serverId?: string }>;
  /** Rows before the final check (the caller waited until they settled). */
  rows: readonly OutcomeRow[];
  moveFailed: boolean;
}

/**
 * The checks every server shares. Outcomes are keyed by Message-ID in the store (one per mailbox and id), so a
 * message is found by its own id, by the forged-copy key (id#sha256:…), or, for one with none or a broken one,
 * counted: the number of rows equals the number of delivered messages.
 */
export async function checkCorpusOutcomes(e: CorpusExpectations): Promise<void> {
  const { rows } = e;
  assert.equal(rows.length, e.delivered.length, `exactly one outcome per delivered message: ${describeRows(rows)}`);
  assert.ok(settled(rows, e.moveFailed), `every outcome settled: ${describeRows(rows)}`);
  const kinds = new Set(rows.map((r) => r.outcome));
  for (const kind of kinds) assert.ok(['tracked', 'filtered', 'failed', 'undeliverable'].includes(kind), `a known outcome: ${kind}`);
  for (const r of rows) {
    if (r.outcome === 'filtered') assert.ok(r.rule, `a filtered message names its rule: ${JSON.stringify(r)}`);
    if (r.outcome === 'failed' || r.outcome === 'undeliverable') assert.ok(r.error_code && r.error_message, `a failed message says why: ${JSON.stringify(r)}`);
  }
  const byId = new Map<string, OutcomeRow[]>();
  for (const r of rows) if (r.internet_message_id) byId.set(r.internet_message_id, [...(byId.get(r.internet_message_id) ?? []), r]);

  for (const { message } of e.delivered) {
    if (message.expect === 'tracked' && !message.name.includes('forged') ) {
      const row = message.messageId ? byId.get(message.messageId)?.[0] : undefined;
      assert.equal(row?.outcome, 'tracked', `${message.name} is tracked: ${JSON.stringify(row)}`);
    }
    if (message.expect === 'failed') {
      // No Message-ID of its own: found by its reason among the failures.
      const failures = rows.filter((r) => r.outcome === (e.moveFailed ? 'undeliverable' : 'failed') && /mime\./.test(r.error_code ?? ''));
      assert.ok(failures.length > 0, `${message.name} failed with a reason${e.moveFailed ? ' and was moved to Undeliverable' : ''}: ${describeRows(rows)}`);
    }
  }

  // Forged copies: the original's activity is the original's; the copy has its own filtered outcome.
  for (const original of e.delivered.filter((d) => d.message.name.endsWith('-original'))) {
    const id = original.message.messageId!;
    const tracked = byId.get(id)?.[0];
    assert.equal(tracked?.outcome, 'tracked', `the first message with ${id} is tracked`);
    const activity = await e.store.activities.get(tracked!.activity_id!);
    assert.match(activity.bodyText ?? '', /the genuine message/, `the forged copy did not overwrite the first message's activity (${id})`);
    assert.match(activity.subject, /^The original/, `the forged copy did not change the subject (${id})`);
    const copy = rows.find((r) => r.internet_message_id?.startsWith(`${id}#sha256:`));
    assert.equal(copy?.outcome, 'filtered', `the forged copy of ${id} has an outcome of its own: ${describeRows(rows)}`);
    assert.match(copy!.rule ?? '', /duplicate-message-id/);
  }

  // What reached the store is data: no NUL, attachment names without paths or direction overrides.
  const activityIds = rows.flatMap((r) => (r.activity_id ? [r.activity_id] : []));
  for (const activityId of activityIds) {
    const activity = await e.store.activities.get(activityId);
    const text = JSON.stringify([activity.subject, activity.bodyText, activity.bodyHtml, activity.from, activity.to, activity.cc, activity.attachments.map((a) => a.fileName)]);
    assert.ok(!text.includes('\\u0000'), `no NUL in the stored activity ${activity.subject.slice(0, 60)}`);
    for (const party of [...activity.from, ...activity.to, ...activity.cc]) {
      assert.ok(!/[\r\n]/.test(`${party.displayName ?? ''}${party.address}`), `a party's name is one line: ${JSON.stringify(party)}`);
    }
    assert.ok(!/[\r\n]/.test(activity.subject), `the subject is one line: ${JSON.stringify(activity.subject.slice(0, 80))}`);
    for (const a of activity.attachments) {
      assert.ok(!/[\\/\u202a-\u202e\u2066-\u2069]/.test(a.fileName) && a.fileName !== '..' && a.fileName !== '.', `a safe attachment name: ${JSON.stringify(a.fileName)}`);
    }
  }
  assert.deepEqual(dangerousFilesPresent(e.delivered.map((d) => d.message)), [], 'no attachment name became a file');
  assert.equal((globalThis as { __liaisonPwned?: unknown }).__liaisonPwned, undefined, 'nothing from a message ran');
}
