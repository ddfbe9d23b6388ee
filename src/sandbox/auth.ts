/**
 * Authentication as an Exchange virtual directory does it: Basic (when enabled) next to Negotiate and NTLM,
 * which the sandbox offers but does not implement. A missing or wrong credential is a 401 with an empty body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Account } from './state/model.js';
import type { SandboxState } from './state/sandbox-state.js';

export function challenge(res: ServerResponse, host: string, basicAuth: boolean): void {
  const offers = ['Negotiate', 'NTLM'];
  if (basicAuth) offers.push(`Basic realm="${host}"`);
  res.writeHead(401, {
    'WWW-Authenticate': offers,
    'Content-Length': '0',
    Server: 'Microsoft-IIS/10.0',
    'X-Powered-By': 'ASP.NET',
  });
  res.end();
}

/** The account the request signs in as, or null (the caller answers 401). */
export function authenticate(req: IncomingMessage, state: SandboxState, basicAuth: boolean): Account | null {
  const header = req.headers.authorization ?? '';
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match || !basicAuth) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const account = state.account(decoded.slice(0, colon));
  if (!account || account.password !== decoded.slice(colon + 1)) return null;
  return account;
}
