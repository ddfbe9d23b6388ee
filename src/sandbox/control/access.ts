/**
 * Who may use the control API. It holds every mailbox's password and can change anything, so it answers only
 * callers on the loopback address, unless the sandbox was given a control token: then callers from elsewhere
 * must send it as `Authorization: Bearer <token>`. The peer address of the TCP connection decides; headers such as
 * X-Forwarded-For are not believed.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';

/** 127.0.0.0/8, ::1, and the IPv4-mapped form of 127.0.0.0/8 that a dual-stack socket reports. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return address === '::1';
}

export interface Refusal {
  status: 401 | 403;
  error: string;
}

/** Null when the caller may go on; otherwise the answer to give. */
export function controlAccess(remoteAddress: string | undefined, authorization: string | undefined, token: string | null): Refusal | null {
  if (isLoopback(remoteAddress)) return null;
  if (token === null) {
    return {
      status: 403,
      error:
        'the sandbox control API answers only on the loopback address (127.0.0.1, ::1). To use it from another address, ' +
        'start the sandbox with --control-token TOKEN (serve: --sandbox-control-token, or LIAISON_SANDBOX_CONTROL_TOKEN) ' +
        'and send "Authorization: Bearer TOKEN"',
    };
  }
  const sent = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  const expected = Buffer.from(token);
  if (sent === undefined || Buffer.byteLength(sent) !== expected.length || !timingSafeEqual(Buffer.from(sent), expected)) {
    return {
      status: 401,
      error: `${sent === undefined ? 'no' : 'a wrong'} control token: from an address other than loopback, send "Authorization: Bearer TOKEN" with the sandbox's --control-token`,
    };
  }
  return null;
}
