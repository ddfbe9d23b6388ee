/**
 * Host-name overrides in curl's `--resolve` syntax, `host:port:address[:port]`: connections to `host` on
 * `port` go to `address` (on the second port, when given) without asking DNS, while TLS still checks the
 * certificate against `host`. This is how the tests and the demo reach the sandbox's contoso.test names, and
 * how an administrator tries a reverse proxy before DNS points at it.
 *
 * Liaison takes several entries in one value, comma-separated (LIAISON_RESOLVE, or one flag), so unlike curl an
 * entry names one address. An IPv6 address is written in brackets when a port follows it (`[::1]:8443`).
 */
import { isIP } from 'node:net';

export interface ResolveEntry {
  /** Lower-cased host name, as connections name it. */
  host: string;
  port: number;
  /** An IPv4 or IPv6 address (IPv6 without brackets). */
  address: string;
  /** The port to connect to instead of `port`; null keeps `port`. */
  targetPort: number | null;
}

export class ResolveSyntaxError extends Error {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`--resolve "${entry}": ${reason} (expected host:port:address[:port], e.g. mail.contoso.test:443:127.0.0.1:8443)`);
    this.name = 'ResolveSyntaxError';
  }
}

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function readPort(entry: string, text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new ResolveSyntaxError(entry, `${what} "${text}" is not a port number from 1 to 65535`);
  }
  return Number(text);
}

/** Reads one entry; throws ResolveSyntaxError naming what is wrong. */
export function parseResolveEntry(text: string): ResolveEntry {
  const entry = text.trim();
  if (entry.startsWith('+') || entry.startsWith('-')) {
    throw new ResolveSyntaxError(entry, "curl's + and - prefixes are not supported; give the entry itself");
  }
  const first = entry.indexOf(':');
  const second = first < 0 ? -1 : entry.indexOf(':', first + 1);
  if (first <= 0 || second < 0) throw new ResolveSyntaxError(entry, 'it needs a host, a port and an address');
  const host = entry.slice(0, first).toLowerCase();
  if (host.length > 253 || !host.replace(/\.$/, '').split('.').every((label) => HOST_LABEL.test(label))) {
    throw new ResolveSyntaxError(entry, `"${host}" is not a host name`);
  }
  const port = readPort(entry, entry.slice(first + 1, second), 'port');
  const rest = entry.slice(second + 1);
  let address: string;
  let targetPortText: string | null = null;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new ResolveSyntaxError(entry, 'the [ of the IPv6 address is not closed');
    address = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw new ResolveSyntaxError(entry, `"${after}" after the address is not :port`);
      targetPortText = after.slice(1);
    }
    if (isIP(address) !== 6) throw new ResolveSyntaxError(entry, `"${address}" is not an IPv6 address`);
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 1) [address, targetPortText] = rest.split(':') as [string, string];
    else address = rest;
    if (isIP(address) === 0) {
      throw new ResolveSyntaxError(
        entry,
        address === '' ? 'the address is missing' : `"${address}" is not an IP address (a host name is not allowed here; write IPv6 as [::1])`,
      );
    }
  }
  const targetPort = targetPortText === null ? null : readPort(entry, targetPortText, 'target port');
  return { host: host.replace(/\.$/, ''), port, address, targetPort };
}

/**
 * Reads every entry of every value (each value may hold several, comma-separated; empty pieces are ignored).
 * A later entry for the same host and port replaces an earlier one, as in curl.
 */
export function parseResolveList(values: readonly string[]): ResolveEntry[] {
  const byKey = new Map<string, ResolveEntry>();
  for (const value of values) {
    for (const piece of value.split(',')) {
      if (piece.trim() === '') continue;
      const entry = parseResolveEntry(piece);
      const key = `${entry.host}:${entry.port}`;
      byKey.delete(key);
      byKey.set(key, entry);
    }
  }
  return [...byKey.values()];
}

/** The entry in the syntax it was read from, so a parsed list can be handed on as strings. */
export function formatResolveEntry(entry: ResolveEntry): string {
  const address = entry.address.includes(':') ? `[${entry.address}]` : entry.address;
  return `${entry.host}:${entry.port}:${address}${entry.targetPort === null ? '' : `:${entry.targetPort}`}`;
}

/** Where a connection to host:port goes instead, or null to resolve the name as usual. */
export function findOverride(entries: readonly ResolveEntry[], host: string, port: number): { address: string; port: number } | null {
  const name = host.toLowerCase().replace(/\.$/, '');
  const found = entries.find((e) => e.host === name && e.port === port);
  return found ? { address: found.address, port: found.targetPort ?? found.port } : null;
}
