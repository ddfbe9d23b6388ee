/**
 * Authentication as an Exchange virtual directory on IIS does it: Negotiate and NTLM (NTLM v2; Negotiate carrying
 * NTLM, wrapped in SPNEGO or not, as Windows clients send it without Kerberos) and Basic when enabled.
 *
 * NTLM authenticates the TCP connection, as IIS does: after a successful handshake, later requests on the same
 * connection need no Authorization header; a new connection authenticates again. A missing or wrong credential is
 * a 401 with an empty body and every offer again; the CHALLENGE step is a 401 that keeps the connection open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tlsServerEndPoint } from '../ntlm/bindings.js';
import { messageType, NtlmFormatError, type ServerIdentity } from '../ntlm/messages.js';
import { sign } from '../ntlm/signing.js';
import { DerError, NEG_STATE, OID_NTLM, readClientToken, writeServerToken } from '../ntlm/spnego.js';
import { type ExtendedProtection, type Pending, startHandshake, verifyAuthenticate } from './ntlm/server.js';
import type { Account } from './state/model.js';
import type { SandboxState } from './state/sandbox-state.js';

export interface AuthSettings {
  basicAuth: boolean;
  extendedProtection: ExtendedProtection;
}

/** What one TCP connection has done so far. */
interface ConnectionAuth {
  /** The account the connection signed in as with NTLM or Negotiate. */
  account?: string;
  /** The scheme it used, to answer later requests' tokens under it. */
  pending?: Pending & { scheme: 'NTLM' | 'Negotiate'; spnego: boolean; mechTypesDer: Buffer | null };
  /** A NegTokenInit whose first mechanism was not NTLM: NTLM was chosen, and the NTLM NEGOTIATE comes next. */
  spnegoSelected?: { mechTypesDer: Buffer };
  bindings?: Buffer | null;
}

const connections = new WeakMap<Socket, ConnectionAuth>();

function connection(req: IncomingMessage): ConnectionAuth {
  let state = connections.get(req.socket);
  if (!state) {
    state = {};
    connections.set(req.socket, state);
  }
  return state;
}

export function offers(host: string, basicAuth: boolean): string[] {
  const list = ['Negotiate', 'NTLM'];
  if (basicAuth) list.push(`Basic realm="${host}"`);
  return list;
}

export function challenge(res: ServerResponse, host: string, basicAuth: boolean, wwwAuthenticate: string[] = offers(host, basicAuth)): void {
  res.writeHead(401, {
    'WWW-Authenticate': wwwAuthenticate,
    'Content-Length': '0',
    Server: 'Microsoft-IIS/10.0',
    'X-Powered-By': 'ASP.NET',
  });
  res.end();
}

/** The NetBIOS domain of a mail domain: its first label, upper case (contoso.test: CONTOSO). */
export function netbiosDomain(domain: string): string {
  return domain.split('.')[0]!.toUpperCase().slice(0, 15);
}

/** How the sandbox's servers name themselves in NTLM: MAIL or MAIL2 in the sandbox's domain. */
export function serverIdentity(domain: string, computer: string): ServerIdentity {
  const nbComputer = computer.toUpperCase().slice(0, 15);
  return { nbDomain: netbiosDomain(domain), nbComputer, dnsDomain: domain, dnsComputer: `${computer.toLowerCase()}.${domain}` };
}

/**
 * The accounts a user name may mean: a UPN or mailbox address (alice@contoso.test), a name in the sandbox's
 * domain (CONTOSO\alice, contoso.test\alice, or the domain given apart as NTLM does), or the bare name (alice).
 */
export function accountsNamed(state: SandboxState, name: string, domainPart = ''): Account[] {
  let user = name.trim();
  let domain = domainPart.trim();
  const slash = user.indexOf('\\');
  if (slash >= 0) {
    domain = user.slice(0, slash);
    user = user.slice(slash + 1);
  }
  const ours = [netbiosDomain(state.domain), state.domain].map((d) => d.toLowerCase());
  if (domain && !ours.includes(domain.toLowerCase())) return [];
  const key = user.toLowerCase();
  if (key.includes('@')) {
    const account = state.account(key);
    return account ? [account] : [];
  }
  const local = (address: string | null) => address?.toLowerCase().split('@')[0];
  return [...state.accounts.values()].filter((a) => local(a.username) === key || local(a.mailbox) === key);
}

function basic(header: string, state: SandboxState): Account | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const password = decoded.slice(colon + 1);
  return accountsNamed(state, decoded.slice(0, colon)).find((a) => a.password === password) ?? null;
}

function expectedBindings(req: IncomingMessage, conn: ConnectionAuth): Buffer | null {
  if (conn.bindings === undefined) {
    const socket = req.socket as TLSSocket;
    const raw = typeof socket.getCertificate === 'function' ? (socket.getCertificate() as { raw?: Buffer } | null)?.raw : undefined;
    conn.bindings = raw ? tlsServerEndPoint(raw) : null;
  }
  return conn.bindings;
}

export type AuthResult =
  | { account: Account; wwwAuthenticate?: string }
  | { account: null; wwwAuthenticate: string[]; reason?: string };

/** Authenticates one request; a null account is a 401 with the given WWW-Authenticate values. */
export function authenticate(req: IncomingMessage, state: SandboxState, settings: AuthSettings, host: string, identity: ServerIdentity): AuthResult {
  const header = req.headers.authorization ?? '';
  const conn = connection(req);
  const refuse = (reason?: string): AuthResult => {
    delete conn.pending;
    delete conn.spnegoSelected;
    return { account: null, wwwAuthenticate: offers(host, settings.basicAuth), ...(reason ? { reason } : {}) };
  };

  if (!header) {
    const signedIn = conn.account ? state.account(conn.account) : undefined;
    return signedIn ? { account: signedIn } : refuse();
  }
  const scheme = /^(\S+)\s*(.*)$/.exec(header.trim());
  const name = scheme?.[1]?.toLowerCase();
  if (name === 'basic') {
    if (!settings.basicAuth) return refuse('Basic authentication is off');
    const account = basic(header, state);
    return account ? { account } : refuse('wrong Basic credentials');
  }
  if (name !== 'ntlm' && name !== 'negotiate') return refuse(`the scheme ${scheme?.[1]} is not offered`);
  const schemeName = name === 'ntlm' ? 'NTLM' : 'Negotiate';
  const token = Buffer.from(scheme![2]!, 'base64');
  try {
    let spnego = false;
    let ntlm: Buffer = token;
    let mechTypesDer: Buffer | null = null;
    let mechListMic: Buffer | null = null;
    if (schemeName === 'Negotiate' && messageType(token) === null) {
      const wrapped = readClientToken(token);
      if (!wrapped) return refuse('a Negotiate token that is neither SPNEGO nor NTLM (Kerberos is not available)');
      spnego = true;
      mechListMic = wrapped.mechListMic;
      if (wrapped.kind === 'init') {
        delete conn.account;
        delete conn.pending;
        if (!wrapped.mechTypes.includes(OID_NTLM)) return refuse('SPNEGO without NTLM among its mechanisms');
        mechTypesDer = wrapped.mechTypesDer;
        if (wrapped.mechTypes[0] !== OID_NTLM || !wrapped.mechToken) {
          // An optimistic token for another mechanism is dropped; NTLM is chosen and its first message asked for.
          conn.spnegoSelected = { mechTypesDer: wrapped.mechTypesDer! };
          const answer = writeServerToken(NEG_STATE.acceptIncomplete, { supportedMech: OID_NTLM });
          return { account: null, wwwAuthenticate: [`Negotiate ${answer.toString('base64')}`] };
        }
        ntlm = wrapped.mechToken;
      } else {
        if (!wrapped.mechToken) return refuse('a NegTokenResp without a token');
        ntlm = wrapped.mechToken;
        mechTypesDer = conn.pending?.mechTypesDer ?? conn.spnegoSelected?.mechTypesDer ?? null;
      }
    }
    const type = messageType(ntlm);
    if (type === 1) {
      delete conn.account;
      const pending = startHandshake(ntlm, identity);
      conn.pending = { ...pending, scheme: schemeName, spnego, mechTypesDer: mechTypesDer ?? conn.spnegoSelected?.mechTypesDer ?? null };
      delete conn.spnegoSelected;
      const answer = spnego
        ? writeServerToken(NEG_STATE.acceptIncomplete, { supportedMech: OID_NTLM, responseToken: pending.challenge.raw })
        : pending.challenge.raw;
      // IIS follows the NTLM challenge with the bare Negotiate offer (recorded Exchange 2010 SP2 traffic).
      return { account: null, wwwAuthenticate: [`${schemeName} ${answer.toString('base64')}`, ...(schemeName === 'NTLM' ? ['Negotiate'] : [])] };
    }
    if (type === 3) {
      const pending = conn.pending;
      if (!pending || pending.scheme !== schemeName) return refuse('an AUTHENTICATE without a CHALLENGE on this connection');
      delete conn.pending;
      const outcome = verifyAuthenticate(
        pending,
        ntlm,
        (user, domain) => accountsNamed(state, user, domain).map((account) => ({ account, password: account.password })),
        { mode: settings.extendedProtection, expected: settings.extendedProtection === 'none' ? null : expectedBindings(req, conn) },
      );
      if (!outcome.ok) return refuse(outcome.reason);
      const { account, flags, exportedSessionKey } = outcome.value;
      let wwwAuthenticate: string | undefined;
      if (pending.spnego) {
        // The client's mechListMIC signs the mechanism list it offered; the server answers with its own (RFC 4178 5).
        let serverMic: Buffer | undefined;
        if (mechListMic && pending.mechTypesDer) {
          if (!sign(exportedSessionKey, flags, 'client-to-server', pending.mechTypesDer).equals(mechListMic)) return refuse('the SPNEGO mechListMIC is wrong');
          serverMic = sign(exportedSessionKey, flags, 'server-to-client', pending.mechTypesDer);
        }
        wwwAuthenticate = `Negotiate ${writeServerToken(NEG_STATE.acceptCompleted, serverMic ? { mechListMic: serverMic } : {}).toString('base64')}`;
      }
      conn.account = account.username;
      return wwwAuthenticate ? { account, wwwAuthenticate } : { account };
    }
    return refuse('not an NTLM NEGOTIATE or AUTHENTICATE message');
  } catch (error) {
    if (error instanceof NtlmFormatError || error instanceof DerError) return refuse(error.message);
    if (error instanceof RangeError) return refuse('a malformed token');
    throw error;
  }
}
