/**
 * Host overrides in the syntax of curl's `--resolve`: `host:port:address` sends connections for host:port to
 * the address without asking DNS; Liaison also accepts `host:port:address:port` to reach another port (a reverse
 * proxy under test, the sandbox on a free port). IPv6 addresses go in brackets, as in curl. The real host name is
 * still the one TLS checks (SNI and the certificate's names): only the address dialled changes.
 *
 * Not supported from curl's syntax: the `*` host, several addresses in one entry, the `+` and `-` prefixes.
 * A list (the LIAISON_RESOLVE environment variable) separates entries with commas.
 */
import { isIP } from 'node:net';

export interface ResolveEntry {
  /** Lower-cased host name as it appears in URLs. */
  host: string;
  port: number;
  /** IP address to dial (no brackets). */
  address: string;
  /** Port to dial: the entry's fourth field, or `port`. */
  targetPort: number;
}

export class ResolveEntryError extends Error {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`Bad --resolve entry "${entry}": ${reason}. The form is host:port:address or host:port:address:port (IPv6 addresses in brackets), as curl's --resolve.`);
    this.name = 'ResolveEntryError';
  }
}

const HOST = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?)*\.?$/i;

function port(text: string | undefined, entry: string, what: string): number {
  if (text === undefined || !/^\d{1,5}$/.test(text)) throw new ResolveEntryError(entry, `the ${what} must be a number from 1 to 65535, not "${text ?? ''}"`);
  const value = Number(text);
  if (value < 1 || value > 65535) throw new ResolveEntryError(entry, `the ${what} must be a number from 1 to 65535, not "${text}"`);
  return value;
}

/** Parses one `host:port:address[:port]` entry. */
export function parseResolveEntry(text: string): ResolveEntry {
  const entry = text.trim();
  if (!entry) throw new ResolveEntryError(text, 'it is empty');
  if (entry.startsWith('+') || entry.startsWith('-')) throw new ResolveEntryError(entry, "curl's + and - prefixes are not supported");
  const first = entry.indexOf(':');
  const second = first < 0 ? -1 : entry.indexOf(':', first + 1);
  if (first < 0 || second < 0) throw new ResolveEntryError(entry, 'it needs at least a host, a port and an address separated by colons');
  const host = entry.slice(0, first).toLowerCase();
  if (host === '*') throw new ResolveEntryError(entry, 'the * host is not supported; name the host');
  if (host.startsWith('[')) throw new ResolveEntryError(entry, 'the host must be a name; IP literals need no override');
  if (!HOST.test(host)) throw new ResolveEntryError(entry, `"${host}" is not a host name`);
  const hostPort = port(entry.slice(first + 1, second), entry, 'port');
  const rest = entry.slice(second + 1);

  let address: string;
  let after: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new ResolveEntryError(entry, 'the IPv6 address has no closing bracket');
    address = rest.slice(1, close);
    if (isIP(address) !== 6) throw new ResolveEntryError(entry, `"${address}" is not an IPv6 address`);
    after = rest.slice(close + 1);
    if (after && !after.startsWith(':')) throw new ResolveEntryError(entry, 'expected ":port" after the IPv6 address');
    after = after.slice(1);
    if (rest.slice(close + 1) === ':') throw new ResolveEntryError(entry, 'the target port is empty');
  } else {
    const colon = rest.indexOf(':');
    address = colon < 0 ? rest : rest.slice(0, colon);
    after = colon < 0 ? '' : rest.slice(colon + 1);
    if (colon >= 0 && after === '') throw new ResolveEntryError(entry, 'the target port is empty');
    if (!address) throw new ResolveEntryError(entry, 'the address is empty');
    if (isIP(address) === 0) {
      if (isIP(rest) === 6) throw new ResolveEntryError(entry, 'put the IPv6 address in brackets, e.g. [::1]');
      throw new ResolveEntryError(entry, `"${address}" is not an IP address`);
    }
    if (after.includes(':')) throw new ResolveEntryError(entry, 'too many fields (an IPv6 address needs brackets)');
  }
  const targetPort = after === '' ? hostPort : port(after, entry, 'target port');
  return { host: host.replace(/\.$/, ''), port: hostPort, address, targetPort };
}

/** Parses entries, each possibly a comma-separated list (the LIAISON_RESOLVE form); blank items are skipped. */
export function parseResolveList(values: string | readonly string[] | undefined | null): ResolveEntry[] {
  if (values === undefined || values === null) return [];
  const list = typeof values === 'string' ? [values] : values;
  const out: ResolveEntry[] = [];
  for (const value of list) {
    for (const item of value.split(',')) {
      if (item.trim() === '') continue;
      out.push(parseResolveEntry(item));
    }
  }
  return out;
}

/** The overrides of the LIAISON_RESOLVE environment variable. */
export function resolveFromEnvironment(env: NodeJS.ProcessEnv = process.env): ResolveEntry[] {
  return parseResolveList(env.LIAISON_RESOLVE);
}

export interface DialTarget {
  /** What to connect to: the override's address, or the host name itself (DNS). */
  address: string;
  port: number;
  /** Whether an override applied. */
  overridden: boolean;
}

/** Looks up host:port in the overrides; the last entry for a host:port wins, as with repeated curl flags. */
export class HostOverrides {
  private readonly map = new Map<string, ResolveEntry>();

  constructor(entries: readonly (ResolveEntry | string)[] = []) {
    for (const entry of entries) {
      const parsed = typeof entry === 'string' ? parseResolveList(entry) : [entry];
      for (const e of parsed) this.map.set(`${e.host}:${e.port}`, e);
    }
  }

  get size(): number {
    return this.map.size;
  }

  /** Where to dial for a host and port taken from a URL (host lower-cased, brackets and a trailing dot dropped). */
  target(host: string, port: number): DialTarget {
    const name = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
    const entry = this.map.get(`${name}:${port}`);
    return entry ? { address: entry.address, port: entry.targetPort, overridden: true } : { address: name, port, overridden: false };
  }
}
