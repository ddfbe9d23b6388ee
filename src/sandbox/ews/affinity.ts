/**
 * Notification affinity, as Exchange 2013+ keeps it ("Maintain affinity between a group of subscriptions and the
 * Mailbox server", EWS documentation): a Subscribe or GetStreamingEvents request with `X-PreferServerAffinity:
 * true` gets a `Set-Cookie: X-BackEndOverrideCookie=<back-end server FQDN>~<server version>`; later requests that
 * carry the cookie (with the same header) are served by the server it names, whatever X-AnchorMailbox says.
 * Without the cookie, X-AnchorMailbox routes the request. Subscriptions live on the server that made them.
 */
import type { IncomingMessage } from 'node:http';
import type { SandboxRuntime } from '../runtime.js';
import { SERVER_NAMES, type ServerName } from '../state/model.js';
import { SERVER_VERSION } from './soap.js';

export const AFFINITY_COOKIE = 'X-BackEndOverrideCookie';

/** The operations whose answer sets the cookie. */
export const AFFINITY_OPERATIONS: ReadonlySet<string> = new Set(['Subscribe', 'GetStreamingEvents']);

/**
 * The number after the "~": Exchange's integer form of its version, 0x70000000 | major << 22 | minor << 16 |
 * 0x8000 | build (the documentation's example cookie, "…~1941996295", is 15.0.775, the build its answer names).
 */
const VERSION_NUMBER = (0x70000000 | (SERVER_VERSION.major << 22) | (SERVER_VERSION.minor << 16) | 0x8000 | SERVER_VERSION.majorBuild) >>> 0;

export function prefersAffinity(req: IncomingMessage): boolean {
  const value = req.headers['x-preferserveraffinity'];
  return typeof value === 'string' && value.trim().toLowerCase() === 'true';
}

/** The server an X-BackEndOverrideCookie in the request names, if it names one of the sandbox's. */
export function cookieServer(runtime: SandboxRuntime, req: IncomingMessage): ServerName | null {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator < 0 || part.slice(0, separator).trim() !== AFFINITY_COOKIE) continue;
    const host = part.slice(separator + 1).trim().split('~')[0]!.toLowerCase();
    const server = SERVER_NAMES.find((name) => runtime.serverHost(name).toLowerCase() === host);
    if (server) return server;
  }
  return null;
}

/** The Set-Cookie value that pins later requests to a server. */
export function affinityCookie(runtime: SandboxRuntime, server: ServerName): string {
  return `${AFFINITY_COOKIE}=${runtime.serverHost(server)}~${VERSION_NUMBER}; path=/; secure; HttpOnly`;
}
