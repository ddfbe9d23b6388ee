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

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * `--public-url`: the URL at which Microsoft Graph reaches this Liaison's API server (Graph change notifications go
 * to it + /graph/notifications). https, as Graph demands; http only for a loopback host (the sandbox, tests). No
 * user name, query or fragment; a trailing slash is dropped (a path, for a reverse proxy's prefix, is kept).
 */
export function parsePublicUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL; give the https:// address at which Microsoft reaches this server, e.g. https://liaison.contoso.com`);
  }
  const loopback = LOOPBACK_HOST.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new InvalidArgumentError(
      `must start with https:// (Microsoft Graph delivers notifications over https only); http:// is accepted only for a loopback host such as 127.0.0.1, for the sandbox and tests`,
    );
  }
  if (url.username || url.password) throw new InvalidArgumentError('must not carry a user name or password');
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) {
    throw new InvalidArgumentError('must not have a query (?…) or a fragment (#…): /graph/notifications is added to it');
  }
  return url.href.replace(/\/+$/, '');
}

/** `--public-url URL` / LIAISON_PUBLIC_URL on the commands that run the sync engine. */
export function addPublicUrlOption(command: Command): Command {
  return command.addOption(
    new Option(
      '--public-url <url>',
      "the URL at which Microsoft Graph reaches this Liaison's API server; Exchange Online push notifications are delivered to it + /graph/notifications. " +
        'https only (http is accepted for loopback hosts, for the sandbox and tests). Without it Exchange Online mailboxes are polled',
    )
      .env('LIAISON_PUBLIC_URL')
      .argParser(parsePublicUrl),
  );
}
