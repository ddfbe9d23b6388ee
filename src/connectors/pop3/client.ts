/**
 * A small, strict POP3 client for the pop3-smtp profiles: RFC 1939, with CAPA and response codes (RFC 2449), STLS
 * (RFC 2595) and the [AUTH]/[SYS/…] codes (RFC 3206). Why Liaison has its own: docs/POP3.md.
 *
 * - TLS always: implicit from the first byte, or STLS before anything else; no user name or password is ever sent
 *   on a connection that is not TLS with a verified certificate (promise 5), and a refused certificate is reported
 *   with the names it carries.
 * - One command at a time (calls queue up); every reply's first line must be +OK or -ERR, anything else ends the
 *   connection as a protocol error; multi-line replies are dot-unstuffed and kept byte for byte (CRLF included).
 * - Every command is bounded: in time (no byte of its answer for `timeoutMs`), and in size (a message over
 *   `maxMessageBytes`, a listing over LISTING_LIMIT, a reply line over LINE_LIMIT).
 * - Every failure is a Pop3Error naming the phase, the command (never the password) and the server's line verbatim.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { describeEndpoint, type MailEndpoint, tlsOptionsFor } from '../mail/endpoint.js';
import { explainTlsFailure, type TlsVerificationError, TrustedCaError } from '../../net/tls.js';

export type Pop3Phase = 'connect' | 'tls' | 'greeting' | 'capa' | 'stls' | 'auth' | 'transaction';

/**
 * What went wrong, as a hint for classification: `auth` the login was refused; `network` the connection failed,
 * closed or timed out; `tls` the certificate did not verify or TLS could not start; `protocol` the server said
 * something that is not POP3; `server` any other -ERR; `no-uidl` and `no-stls` the server lacks what Liaison
 * requires; `too-large` a reply over its size limit.
 */
export type Pop3ErrorKind = 'auth' | 'network' | 'tls' | 'protocol' | 'server' | 'no-uidl' | 'no-stls' | 'too-large';

export interface Pop3ErrorDetails {
  kind: Pop3ErrorKind;
  phase: Pop3Phase;
  /** The command as sent, the password masked ("PASS ****"); null for the greeting and the connection itself. */
  command: string | null;
  /** The server's line, verbatim, when there is one. */
  response?: string | null;
  /** Node's code for network failures (ECONNREFUSED, ECONNRESET, ENOTFOUND…), ETIMEDOUT, or CLOSED. */
  networkCode?: string | null;
  /** The certificate that did not verify, with its names and dates (kind 'tls'). */
  tlsFailure?: TlsVerificationError | null;
  /** The user name of a refused login (kind 'auth'). */
  username?: string | null;
  cause?: unknown;
}

export class Pop3Error extends Error {
  readonly kind: Pop3ErrorKind;
  readonly phase: Pop3Phase;
  readonly command: string | null;
  readonly response: string | null;
  /** The RFC 2449 response code of the -ERR line, upper-cased: "IN-USE", "LOGIN-DELAY", "SYS/TEMP", "AUTH"… */
  readonly responseCode: string | null;
  readonly networkCode: string | null;
  readonly tlsFailure: TlsVerificationError | null;
  readonly username: string | null;
  /** Which server, for messages: "pop3s://mail.example.com:995". */
  readonly server: string;

  constructor(message: string, server: string, details: Pop3ErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'Pop3Error';
    this.server = server;
    this.kind = details.kind;
    this.phase = details.phase;
    this.command = details.command;
    this.response = details.response ?? null;
    this.responseCode = responseCodeOf(this.response);
    this.networkCode = details.networkCode ?? null;
    this.tlsFailure = details.tlsFailure ?? null;
    this.username = details.username ?? null;
  }
}

/** The server answered -ERR to UIDL: Liaison cannot tell new mail from old there. */
export class Pop3NoUidlError extends Pop3Error {
  constructor(message: string, server: string, details: Omit<Pop3ErrorDetails, 'kind'>) {
    super(message, server, { ...details, kind: 'no-uidl' });
    this.name = 'Pop3NoUidlError';
  }
}

/** A STLS endpoint whose server does not offer STLS: no login is sent in plain text. */
export class Pop3StlsMissingError extends Pop3Error {
  constructor(
    message: string,
    server: string,
    details: Omit<Pop3ErrorDetails, 'kind'>,
    /** What CAPA did list (empty when CAPA was refused). */
    readonly capabilities: string[],
  ) {
    super(message, server, { ...details, kind: 'no-stls' });
    this.name = 'Pop3StlsMissingError';
  }
}

export interface Pop3ConnectOptions {
  endpoint: MailEndpoint;
  trustedCaPem: string | null;
  /** The connection (TCP, TLS, greeting), and each command: how long without a byte of the server's answer. */
  timeoutMs: number;
  /** The largest message RETR or TOP accepts, in bytes; a larger one ends the connection. Default 64 MiB. */
  maxMessageBytes?: number;
  /**
   * How long one command may take in all, however steadily its answer arrives (a RETR dripped a line at a
   * time); exceeding it ends the connection. Default: 10 × timeoutMs, at least a minute.
   */
  commandDeadlineMs?: number;
}

export interface Pop3Stat {
  count: number;
  size: number;
}

export interface Pop3UidlEntry {
  number: number;
  uid: string;
}

export interface Pop3ListEntry {
  number: number;
  size: number;
}

/** A reply line: RFC 2449 allows 512 octets; this leaves room for servers that say more, and no more. */
const LINE_LIMIT = 8192;
/** CAPA, UIDL and LIST answers: UIDL of half a million messages is about 13 MB. */
const LISTING_LIMIT = 64 * 1024 * 1024;
const DEFAULT_MESSAGE_LIMIT = 64 * 1024 * 1024;
/** RFC 1939 §7: a unique-id is 1 to 70 characters of 0x21 to 0x7E. */
const UID = /^[\x21-\x7e]{1,70}$/;

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = Buffer.alloc(0);

/** "[IN-USE]" in "-ERR [IN-USE] Mailbox locked" (RFC 2449 §8), upper-cased; null when the line has none. */
export function responseCodeOf(line: string | null): string | null {
  if (!line) return null;
  const match = /^(?:\+OK|-ERR) \[([^\]\s]+)[^\]]*\]/.exec(line);
  return match ? match[1]!.toUpperCase() : null;
}

/** Response codes that mean "not now" rather than "not with these credentials". */
const TEMPORARY_CODES = new Set(['IN-USE', 'LOGIN-DELAY', 'SYS/TEMP']);

interface Reply {
  ok: boolean;
  /** The status line verbatim, without its CRLF. */
  line: string;
  /** What follows "+OK " or "-ERR ". */
  text: string;
  /** The multi-line body, dot-unstuffed, CRLFs kept, without the final ".". */
  body: Buffer | null;
  /** The body was cut at the limit (a `truncate` exchange): the rest was read and dropped. */
  truncated?: boolean;
}

interface Pending {
  command: string | null;
  phase: Pop3Phase;
  multiline: boolean;
  limit: number;
  status: string | null;
  parts: Buffer[];
  size: number;
  /** Past the limit, drop the rest of the body (still read to its end) instead of ending the connection. */
  truncate?: boolean;
  truncated?: boolean;
  /** The start of the line being read was dropped (truncate): its end is not the start of a line. */
  midLine?: boolean;
  timer: NodeJS.Timeout;
  /** The command's total deadline: not moved by bytes arriving, so a reply dripped forever still ends. */
  deadline: NodeJS.Timeout;
  resolve(reply: Reply): void;
  reject(error: Pop3Error): void;
}

function parseStatus(line: string): { ok: boolean; text: string } | null {
  const match = /^(\+OK|-ERR)(?: (.*))?$/.exec(line);
  return match ? { ok: match[1] === '+OK', text: match[2] ?? '' } : null;
}

function lines(body: Buffer): string[] {
  const text = body.toString('utf8');
  if (text === '') return [];
  const all = text.split('\r\n');
  all.pop(); // the body ends with CRLF
  return all;
}

function checkNumber(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`POP3 ${what}: a message number is a positive integer, not ${n}`);
}

function checkArgument(value: string, what: string): void {
  if (value === '' || /[\r\n\0]/.test(value)) throw new RangeError(`POP3: the ${what} must be non-empty and hold no CR, LF or NUL`);
}

function networkText(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'the connection was refused: nothing listens there, or a firewall rejects it';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the connection was reset by the server or a device on the way';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return `the host name could not be resolved (DNS: ${error.code})`;
    default:
      return error.message;
  }
}

/** OpenSSL's handshake failures (a port that does not speak TLS, no protocol version in common). */
const isTlsLayerError = (error: NodeJS.ErrnoException) => typeof error.code === 'string' && /^ERR_SSL_|^ERR_TLS_/.test(error.code);

export class Pop3Client {
  readonly endpoint: MailEndpoint;
  private readonly server: string;
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly commandDeadlineMs: number;
  private socket: Socket | TLSSocket;
  private secure: boolean;
  private inbox: Buffer = EMPTY;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** Why the connection is over, once it is. */
  private ended: Pop3Error | null = null;
  private phase: Pop3Phase = 'greeting';
  private greetingLine = '';
  private readonly onData = (chunk: Buffer) => this.received(chunk);
  private readonly onError = (error: NodeJS.ErrnoException) => this.socketFailed(error);
  private readonly onClose = () => this.socketClosed();

  private constructor(options: Pop3ConnectOptions, socket: Socket | TLSSocket, secure: boolean) {
    this.endpoint = options.endpoint;
    this.server = describeEndpoint(options.endpoint);
    this.timeoutMs = options.timeoutMs;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MESSAGE_LIMIT;
    this.commandDeadlineMs = options.commandDeadlineMs ?? Math.max(10 * options.timeoutMs, 60_000);
    this.socket = socket;
    this.secure = secure;
    this.attach(socket);
  }

  /**
   * Connects, reads the greeting and, on a STLS endpoint, requires STLS and upgrades to TLS, all before any login.
   * Resolves with a client ready for login().
   */
  static async connect(options: Pop3ConnectOptions): Promise<Pop3Client> {
    const { endpoint } = options;
    const server = describeEndpoint(endpoint);
    let tlsOptions: ReturnType<typeof tlsOptionsFor>;
    try {
      tlsOptions = tlsOptionsFor(endpoint, options.trustedCaPem);
    } catch (error) {
      if (!(error instanceof TrustedCaError)) throw error;
      throw new Pop3Error(`${server}: ${error.message}`, server, { kind: 'tls', phase: 'tls', command: null, cause: error });
    }
    const socket = await openSocket(endpoint, server, tlsOptions, options.timeoutMs);
    const client = new Pop3Client(options, socket, endpoint.tls === 'implicit');
    try {
      const greeting = await client.exchange(null, null, { phase: 'greeting' });
      client.greetingLine = greeting.line;
      if (!greeting.ok) {
        throw client.error(`${server} refused the connection in its greeting: ${greeting.line}`, { kind: 'server', phase: 'greeting', command: null, response: greeting.line });
      }
      if (endpoint.tls === 'starttls') await client.startTls(tlsOptions);
      client.phase = 'auth';
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  /** The server's greeting line, verbatim ("+OK Dovecot ready."). */
  get greeting(): string {
    return this.greetingLine;
  }

  /** CAPA's list, one capability a line ("UIDL", "SASL PLAIN LOGIN", "STLS"…); empty when CAPA is refused. */
  capabilities(): Promise<string[]> {
    return this.serial(async () => {
      const reply = await this.exchange('CAPA', 'CAPA', { phase: 'capa', multiline: true });
      return reply.ok ? lines(reply.body!) : [];
    });
  }

  /** USER and PASS. A refusal is a Pop3Error of kind 'auth' (or 'server' with [IN-USE], [SYS/TEMP]…) with the -ERR line. */
  async login(username: string, password: string): Promise<void> {
    checkArgument(username, 'user name');
    checkArgument(password, 'password');
    return this.serial(async () => {
      if (this.phase !== 'auth') throw new Error(`POP3 ${this.server}: login() in the ${this.phase} phase`);
      if (!this.secure) throw new Error(`POP3 ${this.server}: refusing to send a login on a connection without verified TLS`);
      for (const [line, shown] of [
        [`USER ${username}`, `USER ${username}`],
        [`PASS ${password}`, 'PASS ****'],
      ] as const) {
        const reply = await this.exchange(line, shown, { phase: 'auth' });
        if (!reply.ok) {
          const code = responseCodeOf(reply.line);
          const kind: Pop3ErrorKind = code !== null && (TEMPORARY_CODES.has(code) || code === 'SYS/PERM') ? 'server' : 'auth';
          throw this.error(`${this.server} refused the login ${username} at ${shown.split(' ')[0]}: ${reply.line}`, { kind, phase: 'auth', command: shown, response: reply.line, username });
        }
      }
      this.phase = 'transaction';
    });
  }

  /** STAT: how many messages (not counting those marked deleted) and their size in octets. */
  stat(): Promise<Pop3Stat> {
    return this.transaction('STAT', false, (reply) => {
      const match = /^(\d+) (\d+)(?: |$)/.exec(reply.text);
      if (!match) throw this.broken('STAT', reply.line, 'a STAT answer that is not "+OK count size"');
      return { count: Number(match[1]), size: Number(match[2]) };
    });
  }

  /** UIDL: each message's number in this session and its unique id. -ERR is a Pop3NoUidlError. */
  uidl(): Promise<Pop3UidlEntry[]> {
    return this.serial(async () => {
      this.requireTransaction('UIDL');
      const reply = await this.exchange('UIDL', 'UIDL', { phase: 'transaction', multiline: true });
      if (!reply.ok) {
        throw new Pop3NoUidlError(`${this.server} does not give unique ids (UIDL): ${reply.line}`, this.server, { phase: 'transaction', command: 'UIDL', response: reply.line });
      }
      const entries: Pop3UidlEntry[] = [];
      const numbers = new Set<number>();
      const uids = new Set<string>();
      for (const line of lines(reply.body!)) {
        const match = /^(\d+) (\S+)$/.exec(line);
        if (!match || !UID.test(match[2]!)) throw this.broken('UIDL', line, 'a UIDL line that is not "number unique-id"');
        const entry = { number: Number(match[1]), uid: match[2]! };
        // Two messages with one id would make one of them look already tracked: refuse rather than lose it.
        if (numbers.has(entry.number) || uids.has(entry.uid)) throw this.broken('UIDL', line, 'a UIDL listing that repeats a message number or unique id');
        numbers.add(entry.number);
        uids.add(entry.uid);
        entries.push(entry);
      }
      return entries;
    });
  }

  /** LIST: each message's number and size in octets. */
  list(): Promise<Pop3ListEntry[]> {
    return this.transaction('LIST', true, (reply) =>
      lines(reply.body!).map((line) => {
        const match = /^(\d+) (\d+)(?: |$)/.exec(line);
        if (!match) throw this.broken('LIST', line, 'a LIST line that is not "number size"');
        return { number: Number(match[1]), size: Number(match[2]) };
      }),
    );
  }

  /** RETR: the message exactly as the server gives it (dot-unstuffed, CRLFs kept). */
  async retr(n: number, options: { maxBytes?: number } = {}): Promise<Buffer> {
    checkNumber(n, 'RETR');
    return this.transaction(`RETR ${n}`, true, (reply) => reply.body!, options.maxBytes ?? this.maxMessageBytes);
  }

  /** TOP: the headers, the blank line and the first `bodyLines` lines of the body. */
  async top(n: number, bodyLines: number, options: { maxBytes?: number } = {}): Promise<Buffer> {
    checkNumber(n, 'TOP');
    if (!Number.isSafeInteger(bodyLines) || bodyLines < 0) throw new RangeError(`POP3 TOP: a line count is a non-negative integer, not ${bodyLines}`);
    return this.transaction(`TOP ${n} ${bodyLines}`, true, (reply) => reply.body!, options.maxBytes ?? this.maxMessageBytes);
  }

  /**
   * TOP n 0 for its header section, at most `maxBytes` of it kept: a longer one is cut at a line boundary (the
   * rest is read to its end and dropped, never buffered), and says so.
   */
  async topHeaders(n: number, maxBytes: number): Promise<{ header: Buffer; truncated: boolean }> {
    checkNumber(n, 'TOP');
    const command = `TOP ${n} 0`;
    return this.serial(async () => {
      this.requireTransaction('TOP');
      const reply = await this.exchange(command, command, { phase: 'transaction', multiline: true, limit: maxBytes, truncate: true });
      if (!reply.ok) throw this.error(`${this.server} answered ${command} with ${reply.line}`, { kind: 'server', phase: 'transaction', command, response: reply.line });
      return { header: reply.body!, truncated: reply.truncated === true };
    });
  }

  /** DELE: marks a message deleted; the server removes it only at QUIT. */
  async dele(n: number): Promise<void> {
    checkNumber(n, 'DELE');
    return this.transaction(`DELE ${n}`, false, () => undefined);
  }

  /** RSET: unmarks every message marked deleted in this session. */
  rset(): Promise<void> {
    return this.transaction('RSET', false, () => undefined);
  }

  /** NOOP: keeps the session alive. */
  noop(): Promise<void> {
    return this.transaction('NOOP', false, () => undefined);
  }

  /**
   * QUIT: the server removes the messages marked deleted (RFC 1939 §6), then the connection is closed. Resolves
   * only on the server's +OK: a failure here means the deletions may not have been made.
   */
  quit(): Promise<void> {
    return this.serial(async () => {
      try {
        const reply = await this.exchange('QUIT', 'QUIT', { phase: this.phase });
        if (!reply.ok) throw this.error(`${this.server} answered QUIT with ${reply.line}: messages marked deleted may not have been removed`, { kind: 'server', phase: this.phase, command: 'QUIT', response: reply.line });
      } finally {
        this.end(null);
      }
    });
  }

  /** Closes the connection without QUIT: nothing marked deleted is removed. A command in flight fails. */
  close(): void {
    this.end(this.error(`the connection to ${this.server} was closed by Liaison`, { kind: 'network', phase: this.phase, command: this.pending?.command ?? null, networkCode: 'CLOSED' }));
  }

  /** Whether the connection is over (QUIT, close(), or a failure). */
  get closed(): boolean {
    return this.ended !== null || this.socket.destroyed;
  }

  // --- the connection

  private async startTls(tlsOptions: ReturnType<typeof tlsOptionsFor>): Promise<void> {
    this.phase = 'capa';
    const capa = await this.exchange('CAPA', 'CAPA', { phase: 'capa', multiline: true });
    const capabilities = capa.ok ? lines(capa.body!) : [];
    if (!capabilities.some((c) => c.split(' ')[0]!.toUpperCase() === 'STLS')) {
      throw new Pop3StlsMissingError(
        `${this.server} does not offer STLS${capa.ok ? ` (CAPA lists ${capabilities.join(', ') || 'nothing'})` : ` (CAPA answered ${capa.line})`}: Liaison does not send a login without TLS`,
        this.server,
        { phase: 'stls', command: 'CAPA', response: capa.ok ? null : capa.line },
        capabilities,
      );
    }
    this.phase = 'stls';
    const reply = await this.exchange('STLS', 'STLS', { phase: 'stls' });
    if (!reply.ok) throw this.error(`${this.server} refused STLS: ${reply.line}`, { kind: 'server', phase: 'stls', command: 'STLS', response: reply.line });
    if (this.inbox.length > 0) {
      // Bytes after the STLS answer and before TLS would be read as if they came through TLS (CVE-2011-0411).
      throw this.broken('STLS', this.inbox.subarray(0, 200).toString('latin1'), 'data sent after the STLS answer, before TLS');
    }
    this.detach(this.socket);
    // From here on the TLS socket reports the connection's failures; the TCP socket must not throw its own.
    this.socket.on('error', () => undefined);
    this.socket = await upgrade(this.socket, this.endpoint, this.server, tlsOptions, this.timeoutMs);
    this.secure = true;
    this.attach(this.socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: Socket | TLSSocket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task, task);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private requireTransaction(command: string): void {
    if (this.phase !== 'transaction' && this.ended === null) throw new Error(`POP3 ${this.server}: ${command} before login`);
  }

  /** A transaction command whose -ERR is a Pop3Error of kind 'server'. */
  private transaction<T>(command: string, multiline: boolean, read: (reply: Reply) => T, limit = LISTING_LIMIT): Promise<T> {
    return this.serial(async () => {
      this.requireTransaction(command.split(' ')[0]!);
      const reply = await this.exchange(command, command, { phase: 'transaction', multiline, limit });
      if (!reply.ok) throw this.error(`${this.server} answered ${command} with ${reply.line}`, { kind: 'server', phase: 'transaction', command, response: reply.line });
      return read(reply);
    });
  }

  /** Sends one command (null: none, for the greeting) and reads its reply. */
  private exchange(line: string | null, shown: string | null, options: { phase: Pop3Phase; multiline?: boolean; limit?: number; truncate?: boolean }): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      if (this.ended) return reject(this.closedError(shown, options.phase));
      if (line !== null && this.inbox.length > 0) {
        // The server spoke unasked: Dovecot does so before it closes an idle session ("-ERR Disconnected for inactivity.").
        const said = this.inbox.subarray(0, Math.min(this.inbox.length, 500)).toString('utf8').split('\r\n')[0]!;
        const error = this.error(`${this.server} sent "${said}" before ${shown} was sent: the session is over`, { kind: 'network', phase: options.phase, command: shown, response: said, networkCode: 'CLOSED' });
        this.end(error);
        return reject(error);
      }
      const timer = setTimeout(() => this.timedOut(), this.timeoutMs);
      const deadline = setTimeout(() => this.pastDeadline(), this.commandDeadlineMs);
      this.pending = { command: shown, phase: options.phase, multiline: options.multiline ?? false, limit: options.limit ?? LISTING_LIMIT, status: null, parts: [], size: 0, timer, deadline, resolve, reject, ...(options.truncate ? { truncate: true } : {}) };
      if (line !== null) this.socket.write(`${line}\r\n`);
      else this.pump();
    });
  }

  private received(chunk: Buffer): void {
    if (this.ended) return;
    this.inbox = this.inbox.length === 0 ? chunk : Buffer.concat([this.inbox, chunk]);
    if (!this.pending) {
      if (this.inbox.length > LINE_LIMIT) this.end(this.error(`${this.server} sends data nobody asked for`, { kind: 'protocol', phase: this.phase, command: null }));
      return;
    }
    this.pending.timer.refresh();
    this.pump();
  }

  /** Reads as much of the pending reply as has arrived. */
  private pump(): void {
    const p = this.pending;
    if (!p) return;
    if (p.status === null) {
      const end = this.inbox.indexOf(LF);
      if (end < 0) {
        if (this.inbox.length > LINE_LIMIT) this.broken(p.command, this.inbox.subarray(0, 200).toString('utf8'), `a reply line longer than ${LINE_LIMIT} bytes`, p.phase);
        return;
      }
      const line = this.inbox.toString('utf8', 0, end > 0 && this.inbox[end - 1] === CR ? end - 1 : end);
      if (end === 0 || this.inbox[end - 1] !== CR) return void this.broken(p.command, line, 'a reply line not ended by CRLF', p.phase);
      this.inbox = this.inbox.subarray(end + 1);
      const status = parseStatus(line);
      if (!status) return void this.broken(p.command, line, 'an answer that is neither +OK nor -ERR', p.phase);
      if (!status.ok || !p.multiline) return this.settle(p, { ...status, line, body: null });
      p.status = line;
    }
    const buffer = this.inbox;
    let start = 0;
    for (;;) {
      const end = buffer.indexOf(LF, start);
      if (end < 0) break;
      const continued = p.midLine === true;
      p.midLine = false;
      if (!continued && end - start === 2 && buffer[start] === DOT && buffer[start + 1] === CR) {
        this.inbox = buffer.subarray(end + 1);
        const status = parseStatus(p.status)!;
        const body = p.truncated ? Buffer.concat(p.parts) : Buffer.concat(p.parts, p.size);
        return this.settle(p, { ...status, line: p.status, body, ...(p.truncated ? { truncated: true } : {}) });
      }
      // RFC 1939 §3: a line that starts with "." has had one more put in front of it.
      const part = buffer.subarray(!continued && buffer[start] === DOT ? start + 1 : start, end + 1);
      p.size += part.length;
      if (p.size > p.limit) {
        if (!p.truncate) return this.end(this.tooLarge(p));
        p.truncated = true;
      } else p.parts.push(part);
      start = end + 1;
    }
    this.inbox = buffer.subarray(start);
    if (p.size + this.inbox.length > p.limit + 1) {
      if (!p.truncate) this.end(this.tooLarge(p));
      else if (this.inbox.length > LINE_LIMIT) {
        // A line without end past the limit: dropped as it comes, its end still awaited.
        p.size += this.inbox.length;
        p.truncated = true;
        p.midLine = true;
        this.inbox = EMPTY;
      }
    }
  }

  private settle(p: Pending, reply: Reply): void {
    clearTimeout(p.timer);
    clearTimeout(p.deadline);
    this.pending = null;
    p.resolve(reply);
  }

  /** Ends the connection; a pending command fails with `error` (null: after QUIT's +OK). */
  private end(error: Pop3Error | null): void {
    this.ended ??= error ?? this.error(`the session with ${this.server} is over (QUIT)`, { kind: 'network', phase: this.phase, command: null, networkCode: 'CLOSED' });
    const p = this.pending;
    if (p) {
      clearTimeout(p.timer);
      clearTimeout(p.deadline);
      this.pending = null;
      p.reject(error ?? this.closedError(p.command, p.phase));
    }
    this.socket.destroy();
  }

  private timedOut(): void {
    const p = this.pending;
    if (!p) return;
    const what = p.command === null ? 'the greeting' : `an answer to ${p.command}`;
    this.end(this.error(`${this.server} sent no ${what} within ${this.timeoutMs} ms`, { kind: 'network', phase: p.phase, command: p.command, networkCode: 'ETIMEDOUT' }));
  }

  private pastDeadline(): void {
    const p = this.pending;
    if (!p) return;
    const what = p.command === null ? 'the greeting' : `the answer to ${p.command}`;
    this.end(this.error(`${this.server}: ${what} did not finish within ${this.commandDeadlineMs} ms (${p.size} bytes had come); the connection is closed`, { kind: 'network', phase: p.phase, command: p.command, networkCode: 'DEADLINE' }));
  }

  private socketFailed(error: NodeJS.ErrnoException): void {
    const p = this.pending;
    const during = p ? (p.command === null ? ' while waiting for the greeting' : ` during ${p.command}`) : '';
    this.end(this.error(`${this.server}: ${networkText(error)}${during}`, { kind: 'network', phase: p?.phase ?? this.phase, command: p?.command ?? null, networkCode: error.code ?? 'ERROR', cause: error }));
  }

  private socketClosed(): void {
    const p = this.pending;
    if (!p) {
      this.ended ??= this.error(`${this.server} closed the connection`, { kind: 'network', phase: this.phase, command: null, networkCode: 'CLOSED' });
      return;
    }
    const during = p.command === null ? 'before its greeting' : `during ${p.command}`;
    this.end(this.error(`${this.server} closed the connection ${during}`, { kind: 'network', phase: p.phase, command: p.command, networkCode: 'CLOSED' }));
  }

  private closedError(command: string | null, phase: Pop3Phase): Pop3Error {
    const why = this.ended ? ` (${this.ended.message})` : '';
    return this.error(`the connection to ${this.server} is closed${command ? `: ${command} was not sent` : ''}${why}`, { kind: 'network', phase, command, networkCode: 'CLOSED', cause: this.ended ?? undefined });
  }

  private tooLarge(p: Pending): Pop3Error {
    return this.error(`${this.server}: the answer to ${p.command} is larger than ${p.limit} bytes; the connection is closed`, { kind: 'too-large', phase: p.phase, command: p.command, response: p.status });
  }

  /** A protocol error: the connection is ended with it, since the stream can no longer be trusted. */
  private broken(command: string | null, line: string, what: string, phase: Pop3Phase = this.phase): Pop3Error {
    const error = this.error(`${this.server} answered ${command ?? 'the connection'} with ${what}: "${line.slice(0, 200)}"`, { kind: 'protocol', phase, command, response: line });
    this.end(error);
    return error;
  }

  private error(message: string, details: Pop3ErrorDetails): Pop3Error {
    return new Pop3Error(message, this.server, details);
  }
}

// --- sockets

type TlsOptions = ReturnType<typeof tlsOptionsFor>;

/** The TCP (and, for implicit TLS, verified TLS) connection to the endpoint's dial address. */
function openSocket(endpoint: MailEndpoint, server: string, tlsOptions: TlsOptions, timeoutMs: number): Promise<Socket | TLSSocket> {
  return new Promise((resolve, reject) => {
    let connected = false;
    let socket: Socket | TLSSocket;
    const finish = (error: Pop3Error | null) => {
      clearTimeout(timer);
      socket.off('error', onError);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(socket);
    };
    const onError = (error: NodeJS.ErrnoException) => {
      const phase: Pop3Phase = connected || isTlsLayerError(error) ? 'tls' : 'connect';
      const kind = isTlsLayerError(error) ? 'tls' : 'network';
      const where = phase === 'tls' ? ' during the TLS handshake' : '';
      finish(new Pop3Error(`${server}: ${networkText(error)}${where}`, server, { kind, phase, command: null, networkCode: error.code ?? 'ERROR', cause: error }));
    };
    const timer = setTimeout(() => {
      const phase: Pop3Phase = connected ? 'tls' : 'connect';
      finish(new Pop3Error(`${server}: ${phase === 'tls' ? 'the TLS handshake' : 'connecting'} did not finish within ${timeoutMs} ms`, server, { kind: 'network', phase, command: null, networkCode: 'ETIMEDOUT' }));
    }, timeoutMs);

    if (endpoint.tls === 'starttls') {
      socket = netConnect({ host: endpoint.dialHost, port: endpoint.dialPort });
      socket.on('error', onError);
      socket.once('connect', () => finish(null));
      return;
    }
    const tls = tlsConnect({ host: endpoint.dialHost, port: endpoint.dialPort, ...verifiedBelow(tlsOptions) });
    socket = tls;
    tls.on('error', onError);
    tls.once('connect', () => (connected = true));
    tls.once('secureConnect', () => finish(verify(tls, endpoint, server)));
  });
}

/** STLS: TLS on the connection that is open, verified as for implicit TLS. */
function upgrade(plain: Socket | TLSSocket, endpoint: MailEndpoint, server: string, tlsOptions: TlsOptions, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket: plain, ...verifiedBelow(tlsOptions) });
    const finish = (error: Pop3Error | null) => {
      clearTimeout(timer);
      tls.off('error', onError);
      if (error) {
        tls.destroy();
        plain.destroy();
        reject(error);
      } else resolve(tls);
    };
    const onError = (error: NodeJS.ErrnoException) =>
      finish(
        new Pop3Error(`${server}: ${networkText(error)} during the TLS handshake after STLS`, server, {
          kind: isTlsLayerError(error) ? 'tls' : 'network',
          phase: 'tls',
          command: 'STLS',
          networkCode: error.code ?? 'ERROR',
          cause: error,
        }),
      );
    const timer = setTimeout(
      () => finish(new Pop3Error(`${server}: the TLS handshake after STLS did not finish within ${timeoutMs} ms`, server, { kind: 'network', phase: 'tls', command: 'STLS', networkCode: 'ETIMEDOUT' })),
      timeoutMs,
    );
    tls.on('error', onError);
    tls.once('secureConnect', () => finish(verify(tls, endpoint, server)));
  });
}

/**
 * The endpoint's TLS options with Node's own rejection and name check off: both are done in verify() instead,
 * against the endpoint's host, so that a refused certificate can be described (its names, issuer, dates), as
 * src/net/tls.ts does for HTTPS. Nothing is written on the socket before that verdict.
 */
function verifiedBelow(options: TlsOptions) {
  // Node's name check would use the dial address (or "localhost" under STLS) when the host is an IP address.
  return { ...options, rejectUnauthorized: false, checkServerIdentity: () => undefined };
}

/** Null when the certificate verifies for the endpoint's host; the explained refusal otherwise. */
function verify(socket: TLSSocket, endpoint: MailEndpoint, server: string): Pop3Error | null {
  const peer = socket.getPeerCertificate(true) as DetailedPeerCertificate | null;
  let code: string | null = null;
  if (!socket.authorized) code = String(socket.authorizationError ?? 'UNKNOWN');
  else if (!peer?.raw) code = 'NO_CERTIFICATE';
  else {
    const identity = checkServerIdentity(endpoint.host, peer);
    if (identity) code = (identity as NodeJS.ErrnoException).code ?? 'ERR_TLS_CERT_ALTNAME_INVALID';
  }
  if (code === null) return null;
  const failure = explainTlsFailure(endpoint.host, endpoint.port, code, peer?.raw ? peer : null);
  return new Pop3Error(`${server}: ${failure.message}`, server, { kind: 'tls', phase: 'tls', command: endpoint.tls === 'starttls' ? 'STLS' : null, networkCode: code, tlsFailure: failure, cause: failure });
}
