/**
 * Where an IMAP, POP3 or SMTP server is, and how its TLS is set up: the one place the connectors, Test
 * Connection and the analyzer read a profile's server locations. TLS is never optional: a port is either implicit
 * TLS (993, 995, 465, or an imaps://, pop3s://, smtps:// location) or STARTTLS, required before any login.
 */
import { MAIL_SCHEMES, parseMailServer, type ProfileSettings } from '../../domain/profile.js';
import { HostOverrides } from '../../net/resolve.js';
import { trustedCas } from '../../net/tls.js';

export type MailProtocol = 'imap' | 'pop3' | 'smtp';
export type MailTls = 'implicit' | 'starttls';

export interface MailEndpoint {
  protocol: MailProtocol;
  /** The server's name as the profile gives it: what TLS checks the certificate against. */
  host: string;
  port: number;
  tls: MailTls;
  /** What to dial: the `--resolve` override's address and port, or host and port themselves. */
  dialHost: string;
  dialPort: number;
}

/** Ports that speak TLS from the first byte when no scheme says otherwise. */
const IMPLICIT_TLS_PORTS = new Set([993, 995, 465]);

/** The TLS mode of a port given without a scheme. */
export function tlsForPort(port: number): MailTls {
  return IMPLICIT_TLS_PORTS.has(port) ? 'implicit' : 'starttls';
}

/** Builds an endpoint from a host, port and mode (the analyzer's flags), with the host overrides applied. */
export function endpointOf(protocol: MailProtocol, host: string, port: number, tls: MailTls, resolve: readonly string[] = []): MailEndpoint {
  const dial = new HostOverrides(resolve).target(host, port);
  return { protocol, host: host.toLowerCase(), port, tls, dialHost: dial.address, dialPort: dial.port };
}

/**
 * The incoming (IMAP or POP3) or outgoing (SMTP) server of a saved IMAP/POP3 profile. Throws when the profile
 * has none (a saved profile always has both: the save-time rules require them).
 */
export function mailEndpoint(profile: ProfileSettings, direction: 'incoming' | 'outgoing', resolve: readonly string[] = []): MailEndpoint {
  const protocol: MailProtocol = direction === 'outgoing' ? 'smtp' : profile.serverType === 'pop3-smtp' ? 'pop3' : 'imap';
  const location = direction === 'incoming' ? profile.incomingServer : profile.outgoingServer;
  const savedPort = direction === 'incoming' ? profile.incomingPort : profile.outgoingPort;
  if (!location) throw new Error(`profile "${profile.name}" has no ${direction} server`);
  const parsed = parseMailServer(location);
  if (typeof parsed === 'string') throw new Error(`profile "${profile.name}": ${parsed}`);
  const scheme = parsed.scheme === null ? null : MAIL_SCHEMES[parsed.scheme]!;
  const port = savedPort ?? parsed.port ?? scheme?.port ?? (protocol === 'imap' ? 993 : protocol === 'pop3' ? 995 : 587);
  const tls = scheme?.tls ?? tlsForPort(port);
  return endpointOf(protocol, parsed.host, port, tls, resolve);
}

/** Node TLS options for an endpoint: the system CAs plus the profile's, the certificate checked for `host`. */
export function tlsOptionsFor(endpoint: MailEndpoint, trustedCaPem: string | null): { servername: string | undefined; ca: string[]; minVersion: 'TLSv1.2'; rejectUnauthorized: true } {
  // SNI carries names only, never IP addresses (RFC 6066).
  const isAddress = /^[\d.]+$/.test(endpoint.host) || endpoint.host.includes(':');
  return { servername: isAddress ? undefined : endpoint.host, ca: trustedCas(trustedCaPem), minVersion: 'TLSv1.2', rejectUnauthorized: true };
}

/** "imaps://mail.example.com:993" style, for messages. */
export function describeEndpoint(endpoint: MailEndpoint): string {
  const scheme = endpoint.tls === 'implicit' ? `${endpoint.protocol}s` : endpoint.protocol;
  const via = endpoint.dialHost !== endpoint.host || endpoint.dialPort !== endpoint.port ? ` (dialled at ${endpoint.dialHost}:${endpoint.dialPort})` : '';
  return `${scheme}://${endpoint.host}:${endpoint.port}${endpoint.tls === 'starttls' ? ' with STARTTLS' : ''}${via}`;
}
