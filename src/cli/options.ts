/**
 * Options every command that touches the store takes, with one precedence everywhere:
 * flags, then environment variables, then defaults.
 */
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';

export interface StoreFlags {
  data: string;
  databaseUrl?: string;
}

export function addStoreOptions(command: Command): Command {
  return command
    .addOption(new Option('--data <dir>', 'data folder: the embedded database and the secret key file').env('LIAISON_DATA').default('./data'))
    .addOption(
      new Option('--database-url <url>', 'PostgreSQL URL (postgres://user@host:5432/db); leave out for the embedded SQLite database').env(
        'DATABASE_URL',
      ),
    );
}

/**
 * The store the flags name. `serve` and `migrate` create it when it does not exist yet; every other command
 * passes `mustExist`, so a mistyped --data or --database-url is refused instead of starting an empty store.
 */
export function storeOptionsFrom(flags: StoreFlags, use: { mustExist?: boolean } = {}) {
  return { dataDir: path.resolve(flags.data), databaseUrl: flags.databaseUrl ?? null, mustExist: use.mustExist ?? false };
}

/** A TCP port; 0 asks the system for any free one (the tests use that). */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('must be a port number from 1 to 65535 (or 0 for any free port)');
  return port;
}

export function parseBoolean(value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new InvalidArgumentError('must be true or false');
}
