/**
 * `liaison audit [--mailbox …] [--profile …] [--json] [--wait S]`: the missing-mail audit of each chosen mailbox
 * (every enabled mailbox with incoming sync when none is named), run at once by the workers that hold the
 * mailboxes' leases (sync/audit-request.ts), and a line per mailbox: messages on the server, tracked, filtered
 * (by rule), failed, missing. Exit 1 when anything is missing; 2 when an audit failed or was not run within the
 * wait (no worker running: it stays queued); 0 otherwise.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { describeMissing } from '../domain/audit.js';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import type { AuditRun } from '../store/audits.js';
import type { Mailbox } from '../store/mailboxes.js';
import { Store } from '../store/store.js';
import { type AuditRequestResult, notAuditable, requestAudit } from '../sync/audit-request.js';
import { addStoreOptions, type StoreFlags, storeOptionsFrom } from './options.js';

interface AuditFlags extends StoreFlags {
  mailbox: string[];
  profile: string[];
  json?: boolean;
  wait: number;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function parseWait(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 3600) throw new InvalidArgumentError('must be seconds between 0 and 3600');
  return n;
}

export function auditCommand(program: Command): void {
  const command = program
    .command('audit')
    .description('run the missing-mail audit now: what each server holds against what Liaison recorded (exit 1: mail is missing)')
    .addOption(new Option('--mailbox <id-or-address>', 'a mailbox to audit (repeat for more); default: every enabled mailbox').argParser(collect).default([]))
    .addOption(new Option('--profile <id-or-name>', "the mailboxes of an email server profile (repeat for more)").argParser(collect).default([]))
    .option('--json', 'print the audits as JSON')
    .addOption(new Option('--wait <seconds>', 'how long to wait for the workers to run the audits').argParser(parseWait).default(120));
  addStoreOptions(command);
  command.action(async (flags: AuditFlags) => {
    const store = await Store.open(storeOptionsFrom(flags, { mustExist: true }));
    let code = 0;
    try {
      const mailboxes = await chosenMailboxes(store, flags);
      if (mailboxes.length === 0) throw new ValidationError('No enabled mailbox with incoming server-side synchronization to audit');
      const results = await Promise.all(
        mailboxes.map(async (m) => ({ mailbox: m, result: await requestAudit(store, m.id, { waitMs: flags.wait * 1000 }) })),
      );
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(results.map(({ mailbox, result }) => ({ mailboxId: mailbox.id, address: mailbox.emailAddress, ...result })), null, 2)}\n`);
      } else {
        for (const { mailbox, result } of results) process.stdout.write(describe(mailbox, result));
      }
      if (results.some(({ result }) => (result.audit?.missing ?? 0) > 0)) code = 1;
      else if (results.some(({ result }) => result.status !== 'completed')) code = 2;
    } finally {
      await store.close();
    }
    process.exitCode = code;
  });
}

async function chosenMailboxes(store: Store, flags: AuditFlags): Promise<Mailbox[]> {
  const chosen = new Map<string, Mailbox>();
  for (const key of flags.mailbox) {
    const mailbox = await findMailbox(store, key);
    const why = notAuditable(mailbox);
    if (why) throw new ValidationError(`The mailbox ${mailbox.emailAddress || mailbox.id} cannot be audited: ${why}`);
    chosen.set(mailbox.id, mailbox);
  }
  const profiles = [];
  for (const key of flags.profile) profiles.push(await findProfile(store, key));
  const everything = flags.mailbox.length === 0 && flags.profile.length === 0;
  if (profiles.length > 0 || everything) {
    for (const mailbox of await allMailboxes(store)) {
      if (notAuditable(mailbox)) continue;
      if (everything || profiles.includes(mailbox.profileId!)) chosen.set(mailbox.id, mailbox);
    }
  }
  return [...chosen.values()];
}

async function allMailboxes(store: Store): Promise<Mailbox[]> {
  const all: Mailbox[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.mailboxes.list({ limit: 500, ...(after ? { after } : {}) });
    all.push(...page.items);
    if (!page.nextCursor) return all;
    after = page.nextCursor;
  }
}

async function findMailbox(store: Store, key: string): Promise<Mailbox> {
  if (/^[0-9a-f-]{36}$/i.test(key)) return store.mailboxes.get(key);
  const found = (await allMailboxes(store)).find((m) => m.emailAddress.toLowerCase() === key.trim().toLowerCase());
  if (!found) throw new NotFoundError('mailbox', key);
  return found;
}

async function findProfile(store: Store, key: string): Promise<string> {
  if (/^[0-9a-f-]{36}$/i.test(key)) return (await store.profiles.get(key)).id;
  let after: string | undefined;
  for (;;) {
    const page = await store.profiles.list({ limit: 500, ...(after ? { after } : {}) });
    const found = page.items.find((p) => p.name.toLowerCase() === key.trim().toLowerCase());
    if (found) return found.id;
    if (!page.nextCursor) throw new NotFoundError('email server profile', key);
    after = page.nextCursor;
  }
}

function describe(mailbox: Mailbox, result: AuditRequestResult): string {
  const name = mailbox.emailAddress || mailbox.id;
  if (result.status === 'queued') {
    return `${name}: not audited yet: no worker ran the audit within the wait; it stays queued for the mailbox's next cycle (is a worker running?)\n`;
  }
  const audit = result.audit!;
  if (audit.status === 'failed') return `${name}: the audit failed: ${audit.error ?? 'unknown error'}\n`;
  return `${name}: ${counts(audit)}\n${missingLines(audit)}`;
}

function counts(audit: AuditRun): string {
  const rules = Object.entries(audit.filteredByRule)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([rule, n]) => `${rule} ${n}`)
    .join(', ');
  return (
    `${audit.onServer} on the server, ${audit.tracked} tracked, ${audit.filtered} filtered${rules ? ` (${rules})` : ''}, ` +
    `${audit.failed} failed, ${audit.missing} missing` +
    (audit.gapBeganAt ? `; the gap began ${audit.gapBeganAt}` : '') +
    (audit.outOfScope > 0 ? ` [${audit.outOfScope} before Process Email From not counted]` : '')
  );
}

function missingLines(audit: AuditRun): string {
  if (audit.missing === 0) return '';
  const lines = audit.missingMessages.map((m) => `  missing: ${describeMissing(m)}\n`);
  if (audit.missing > audit.missingMessages.length) lines.push(`  and ${audit.missing - audit.missingMessages.length} more\n`);
  return `${lines.join('')}  queued: the next synchronization processes them\n`;
}
