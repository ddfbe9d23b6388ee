/**
 * `liaison worker`: the sync engine alone, for deployments beyond one machine (any number of workers against
 * one PostgreSQL --database-url, sharing the mailboxes through leases). SIGTERM or SIGINT finishes the cycles
 * in hand and releases their leases before the process ends.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { Store } from '../store/store.js';
import { describeEngineEvent, startEngine } from './engine-host.js';
import { addPublicUrlOption, addResolveOption, addStoreOptions, type StoreFlags, storeOptionsFrom } from './options.js';

interface WorkerFlags extends StoreFlags {
  resolve: string[];
  concurrency: number;
  push: boolean;
  workerId?: string;
  leaseSeconds: number;
  auditIntervalHours?: number;
  publicUrl?: string;
}

function parseLeaseSeconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 2 || n > 3600) throw new InvalidArgumentError('must be a whole number of seconds from 2 to 3600');
  return n;
}

function parseAuditHours(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 24 * 365) throw new InvalidArgumentError('must be a number of hours, 0 or more');
  return n;
}

function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000) throw new InvalidArgumentError('must be a whole number from 1 to 1000');
  return n;
}

export function workerCommand(program: Command): void {
  const command = program
    .command('worker')
    .description('run only the sync engine: claim due mailboxes, track incoming email, send outgoing email (no API)')
    .addOption(new Option('--concurrency <n>', 'mailboxes this worker cycles at once').env('LIAISON_WORKER_CONCURRENCY').default(16).argParser(parseConcurrency))
    .addOption(new Option('--no-push', 'poll only: no push subscriptions (new mail waits for the next poll)'))
    .addOption(
      new Option('--lease-seconds <s>', "how long a mailbox stays leased without renewal: how long a dead worker's mailboxes wait for another")
        .env('LIAISON_LEASE_SECONDS')
        .default(60)
        .argParser(parseLeaseSeconds),
    )
    .addOption(
      new Option('--audit-interval-hours <h>', "how often each mailbox's missing-mail audit runs (0: on demand only; default 24)")
        .env('LIAISON_AUDIT_INTERVAL_HOURS')
        .argParser(parseAuditHours),
    )
    .addOption(new Option('--worker-id <id>', 'name of this worker in leases (default: host name, process id and a random part)').env('LIAISON_WORKER_ID'));
  addStoreOptions(command);
  addResolveOption(command, 'LIAISON_RESOLVE');
  addPublicUrlOption(command);
  command.action(async (flags: WorkerFlags) => {
    // A worker joins an existing deployment: a mistyped --data or --database-url is refused, not started empty.
    const store = await Store.open(storeOptionsFrom(flags, { mustExist: true }));
    const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    // The handlers come first, so a signal that arrives while the engine starts still stops it cleanly.
    let stopping: string | null = null;
    let wakeStop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => {
      wakeStop = resolve;
    });
    const onSignal = (signal: string) => {
      if (stopping) return;
      stopping = signal;
      wakeStop();
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    const engine = startEngine(store, {
      resolve: flags.resolve,
      concurrency: flags.concurrency,
      push: flags.push,
      publicUrl: flags.publicUrl ?? null,
      leaseMs: flags.leaseSeconds * 1000,
      ...(flags.auditIntervalHours !== undefined ? { auditIntervalMs: flags.auditIntervalHours * 3_600_000 } : {}),
      ...(flags.workerId ? { workerId: flags.workerId } : {}),
      onEvent: (event) => {
        const line = describeEngineEvent(event);
        if (line) log(line);
      },
    });
    log(`worker ${engine.workerId} started on ${store.database.location} (${store.database.dialect}); up to ${flags.concurrency} mailboxes at once, push ${flags.push ? 'on' : 'off'}`);
    if (store.database.dialect === 'sqlite') log('on SQLite one process does the work: run a single worker (or serve) per data folder');
    log(
      flags.publicUrl
        ? `Exchange Online push: Microsoft Graph notifies ${flags.publicUrl}/graph/notifications (served by liaison serve at that URL)`
        : 'Exchange Online push: off (no --public-url); Exchange Online mailboxes are polled',
    );
    await stopped;
    log(`${stopping}: finishing the cycles in hand and releasing their leases`);
    await engine.stop();
    await store.close();
    log('stopped');
  });
}
