/**
 * Options every command that touches the store takes, with one precedence everywhere:
 * flags, then environment variables, then defaults.
 */
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseResolveList, ResolveEntryError } from '../net/resolve.js';

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

/**
 * Reads one --resolve value (several entries, comma-separated) onto the ones before it: each entry checked
 * (a mistake names it), kept as given. A later entry for the same host and port wins where they are used.
 */
export function collectResolve(value: string, previous: string[] = []): string[] {
  try {
    parseResolveList(value);
  } catch (error) {
    if (error instanceof ResolveEntryError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  return [...previous, ...value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')];
}

/**
 * `--resolve host:port:address[:port]` on a command that connects to mail servers, as curl's --resolve:
 * repeatable, each value possibly several entries separated by commas. `env` names the environment variable
 * that stands in for it (LIAISON_RESOLVE for the long-running commands).
 */
export function addResolveOption(command: Command, env?: string): Command {
  const option = new Option(
    '--resolve <entries>',
    'connect to host:port at address (and port) instead of asking DNS, as curl --resolve; TLS still checks the host name. ' +
      'Repeat it or separate entries with commas, e.g. mail.contoso.test:443:127.0.0.1:8443',
  )
    .argParser(collectResolve)
    .default([], 'none');
  return command.addOption(env ? option.env(env) : option);
}
