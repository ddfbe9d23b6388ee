/**
 * A small line-oriented dialogue with an IMAP, POP3 or SMTP server, for diagnosis only: Test Connection, Test &
 * Enable and `liaison analyze` walk the protocol one command at a time so that each step can report the server's
 * own reply line verbatim (a library such as imapflow or nodemailer turns it into an exception message). The
 * connectors that synchronize mail use those libraries; this file never fetches or sends a message (no FETCH,
 * RETR or DATA).
 *
 * TLS is as everywhere in Liaison: the certificate is verified for the profile's host name (also when `--resolve`
 * dials elsewhere), against the system CAs plus the profile's. The socket is opened with Node's own rejection off
 * so that a refused certificate can still be described (its names, its issuer); the verdict is ours, and a socket
 * that did not verify is destroyed before a byte is written on it. Nothing is ever sent in plain text beyond the
 * greeting's capabilities and STARTTLS: a STARTTLS endpoint upgrades before any login.
 *
 * Passwords never reach the transcript: commands that carry one are recorded with it replaced.
 */
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { tlsOptionsFor, type MailEndpoint, type MailProtocol } from '../connectors/mail/endpoint.js';
import { describeCertificate, explainTlsFailure, type CertificateInfo, type TlsVerificationError } from '../net/tls.js';

/** What went wrong below the protocol: the connection, TLS, or a server that stopped answering. */
export type DialogueFailure =
  | 'dns' /* the host name does not resolve */
  | 'refused' /* ECONNREFUSED: nothing listens */
  | 'connect-timeout'
  | 'connect' /* another socket error while connecting */
  | 'tls-verify' /* the certificate did not verify: `tls` says why */
  | 'tls-handshake' /* TLS did not complete (a plain-text port, a reset, no common protocol) */
  | 'timeout' /* the server did not answer a command (or greet) in time */
  | 'closed' /* the server closed the connection */
  | 'too-long'; /* a line or reply beyond what a diagnosis reads */

export class DialogueError extends Error {
  constructor(
    readonly kind: DialogueFailure,
    message: string,
    readonly details: {
      /** Node's or OpenSSL's code (ECONNREFUSED, ENOTFOUND, ERR_SSL_WRONG_VERSION_NUMBER, …). */
      code?: string;
      /** The command that was waiting for an answer, as the transcript shows it; absent: the greeting or the connect. */
      command?: string;
      tls?: TlsVerificationError;
    } = {},
  ) {
    super(message);
    this.name = 'DialogueError';
  }
}

/** One reply of the server: every line of it (bounded), the line that ended it, and whether it was a success. */
export interface ServerReply {
  ok: boolean;
  /** The line that ends the reply: IMAP's tagged line, POP3's +OK/-ERR, SMTP's last line. Verbatim. */
  line: string;
  /** The lines before it that explain it (IMAP untagged responses, SMTP's continuation lines, a POP3 listing). */
  lines: string[];
  /** Listing lines counted but not kept (a POP3 UIDL of a large mailbox). */
  more: number;
}

export interface Capabilities {
  reply: ServerReply;
  /** The capability keywords as the server spelled them (IMAP CAPABILITY, POP3 CAPA, SMTP EHLO keywords). */
  list: string[];
  /** SASL mechanisms offered (AUTH=PLAIN, SASL PLAIN LOGIN, AUTH PLAIN LOGIN), upper-cased. */
  auth: string[];
  startTls: boolean;
  /** IMAP LOGINDISABLED: the server refuses LOGIN on this connection. */
  loginDisabled: boolean;
  /** POP3 USER is listed; IMAP and SMTP: true (LOGIN, AUTH) */
  userPass: boolean;
  /** The server answered the capability command at all (a POP3 server may not know CAPA). */
  known: boolean;
}

export interface LoginAttempt {
  reply: ServerReply;
  /** How the login was made: "LOGIN", "AUTHENTICATE PLAIN", "USER/PASS", "AUTH PLAIN", "AUTH LOGIN". */
  method: string;
}

export interface TlsState {
  protocol: string;
  cipher: string;
  certificate: CertificateInfo | null;
}

export interface DialogueOptions {
  trustedCaPem: string | null;
  /** Connecting, the TLS handshake, and each reply, in ms. */
  timeoutMs: number;
  /** The name given in SMTP EHLO; default this machine's name when it is a domain, else its address literal. */
  clientName?: string;
}

/** Lines kept from a listing; the rest are counted. */
const KEPT_LINES = 40;
/** No line of a diagnosis dialogue comes near this; a server that sends more is not speaking the protocol. */
const MAX_LINE_BYTES = 64 * 1024;
const MAX_TRANSCRIPT = 200;
/**
 * All that answers one command (or the greeting) may come to: far above a CAPA, a LIST or a UIDL of a test
 * mailbox. A server that sends short lines forever, each in time, ends here rather than never.
 */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** The socket under a dialogue: connect (with implicit TLS), lines in, lines out, STARTTLS's upgrade. */
class LineSocket {
  private socket: Socket | TLSSocket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private ended: DialogueError | null = null;
  /** Bytes read since the last command was written (MAX_REPLY_BYTES). */
  private replyBytes = 0;
  readonly transcript: string[] = [];
  tls: TlsState | null = null;
  /** The address and port actually connected to. */
  remote: { address: string; port: number } | null = null;
  localAddress: string | null = null;

  private constructor(
    readonly endpoint: MailEndpoint,
    private readonly options: DialogueOptions,
    socket: Socket,
  ) {
    this.socket = socket;
  }

  static async open(endpoint: MailEndpoint, options: DialogueOptions): Promise<LineSocket> {
    const where = `${endpoint.dialHost}:${endpoint.dialPort}`;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const raw = netConnect({ host: endpoint.dialHost, port: endpoint.dialPort });
      const timer = setTimeout(() => {
        raw.destroy();
        reject(new DialogueError('connect-timeout', `Connecting to ${where} timed out after ${options.timeoutMs} ms`, { code: 'CONNECT_TIMEOUT' }));
      }, Math.min(options.timeoutMs, 30_000));
      raw.once('connect', () => {
        clearTimeout(timer);
        raw.removeAllListeners('error');
        resolve(raw);
      });
      raw.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        raw.destroy();
        const code = error.code ?? 'ERROR';
        if (code === 'ENOTFOUND' || code.startsWith('EAI_')) reject(new DialogueError('dns', `The host name ${endpoint.dialHost} could not be resolved (${code})`, { code }));
        else if (code === 'ECONNREFUSED') reject(new DialogueError('refused', `The connection to ${where} was refused (ECONNREFUSED)`, { code }));
        else reject(new DialogueError('connect', `Connecting to ${where} failed: ${error.message}`, { code }));
      });
    });
    const line = new LineSocket(endpoint, options, socket);
    line.remote = { address: socket.remoteAddress ?? endpoint.dialHost, port: socket.remotePort ?? endpoint.dialPort };
    line.localAddress = socket.localAddress ?? null;
    if (endpoint.tls === 'implicit') await line.startTls(socket);
    else line.listen(socket);
    return line;
  }

  private listen(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => this.end(new DialogueError('closed', `The connection failed: ${error.message}`, { code: error.code ?? 'ERROR' })));
    socket.on('close', () => this.end(new DialogueError('closed', 'The server closed the connection')));
  }

  private end(error: DialogueError): void {
    this.ended ??= error;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.resolve();
  }

  /**
   * Upgrades to TLS (implicit TLS at connect, or after STARTTLS). Bytes the server sent before the handshake are
   * thrown away, never read as if they had come over TLS (the STARTTLS command-injection flaw).
   */
  async startTls(plain: Socket = this.socket as Socket): Promise<void> {
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    this.buffer = Buffer.alloc(0);
    const { host, port } = this.endpoint;
    const secure = tlsOptionsFor(this.endpoint, this.options.trustedCaPem);
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const tls = tlsConnect({
        socket: plain,
        ...(secure.servername ? { servername: secure.servername } : {}),
        ca: secure.ca,
        minVersion: secure.minVersion,
        // Checked below, by us, so that a refused certificate can be described; nothing is written before.
        rejectUnauthorized: false,
      });
      const timer = setTimeout(() => {
        tls.destroy();
        reject(new DialogueError('timeout', `The TLS handshake with ${host}:${port} did not finish within ${this.options.timeoutMs} ms`, { code: 'TLS_TIMEOUT' }));
      }, this.options.timeoutMs);
      tls.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        tls.destroy();
        reject(new DialogueError('tls-handshake', `The TLS handshake with ${host}:${port} failed: ${error.message.split('\n')[0]}`, { code: error.code ?? 'ERROR' }));
      });
      tls.once('secureConnect', () => {
        clearTimeout(timer);
        const peer = tls.getPeerCertificate(true);
        let code: string | null = null;
        if (!tls.authorized) code = String(tls.authorizationError ?? 'UNKNOWN');
        else {
          const identity = checkServerIdentity(host, peer);
          if (identity) code = (identity as NodeJS.ErrnoException).code ?? 'ERR_TLS_CERT_ALTNAME_INVALID';
        }
        if (code !== null) {
          tls.destroy();
          const explained = explainTlsFailure(host, port, code, peer?.raw ? peer : null);
          reject(new DialogueError('tls-verify', explained.message, { code, tls: explained }));
          return;
        }
        tls.removeAllListeners('error');
        resolve(tls);
      });
    });
    const peer = socket.getPeerCertificate();
    this.tls = {
      protocol: socket.getProtocol() ?? 'TLS',
      cipher: socket.getCipher()?.name ?? '',
      certificate: peer?.raw ? describeCertificate(new X509Certificate(peer.raw)) : null,
    };
    this.listen(socket);
  }

  /** Sends one line; `shown` is what the transcript records instead (a password replaced). */
  write(line: string, shown: string = line): void {
    this.replyBytes = 0;
    this.record(`C: ${shown}`);
    this.socket.write(`${line}\r\n`);
  }

  record(entry: string): void {
    if (this.transcript.length < MAX_TRANSCRIPT) this.transcript.push(entry);
  }

  /**
   * The next line, without its CR LF; `command` names what waits, for the timeout's message. A `quiet` line is not
   * recorded (the long tail of a listing).
   */
  async readLine(command?: string, quiet = false): Promise<string> {
    const deadline = Date.now() + this.options.timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf(0x0a);
      if (end >= 0) {
        this.replyBytes += end + 1;
        if (this.replyBytes > MAX_REPLY_BYTES) {
          throw new DialogueError('too-long', `The server's answer${command ? ` to ${command}` : ''} is longer than ${MAX_REPLY_BYTES} bytes and does not end`, command ? { command } : {});
        }
        const line = this.buffer.subarray(0, end).toString('utf8').replace(/\r$/, '');
        this.buffer = this.buffer.subarray(end + 1);
        if (!quiet) this.record(`S: ${line}`);
        return line;
      }
      if (this.buffer.length > MAX_LINE_BYTES) {
        throw new DialogueError('too-long', `The server sent a line of more than ${MAX_LINE_BYTES} bytes`, command ? { command } : {});
      }
      if (this.ended) {
        const partial = this.buffer.toString('utf8');
        throw new DialogueError(this.ended.kind, `${this.ended.message}${partial ? ` after "${partial}"` : ''}`, { ...this.ended.details, ...(command ? { command } : {}) });
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DialogueError('timeout', `The server did not answer${command ? ` ${command}` : ''} within ${this.options.timeoutMs} ms`, command ? { command } : {});
      }
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = null;
          resolve();
        }, left);
        this.waiter = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject,
        };
      });
    }
  }

  /** Exactly `count` bytes (an IMAP literal), bounded like a line. */
  async readBytes(count: number, command?: string): Promise<Buffer> {
    if (count > MAX_LINE_BYTES) throw new DialogueError('too-long', `The server announced a literal of ${count} bytes`, command ? { command } : {});
    const deadline = Date.now() + this.options.timeoutMs;
    while (this.buffer.length < count) {
      if (this.ended) throw new DialogueError(this.ended.kind, this.ended.message, { ...this.ended.details, ...(command ? { command } : {}) });
      const left = deadline - Date.now();
      if (left <= 0) throw new DialogueError('timeout', `The server did not answer${command ? ` ${command}` : ''} within ${this.options.timeoutMs} ms`, command ? { command } : {});
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.waiter = null;
          resolve();
        }, left);
        this.waiter = { resolve: () => (clearTimeout(timer), resolve()), reject: () => resolve() };
      });
    }
    const bytes = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(count);
    return bytes;
  }

  close(): void {
    this.socket.destroy();
  }
}

function plain(username: string, password: string): string {
  return Buffer.from(`\0${username}\0${password}`, 'utf8').toString('base64');
}

const HIDDEN = '(credentials hidden)';

/** The dialogue's verbs, whatever the protocol: what the three steps are made of. */
export interface MailDialogue {
  readonly protocol: MailProtocol;
  readonly endpoint: MailEndpoint;
  readonly tls: TlsState | null;
  readonly remote: { address: string; port: number } | null;
  /** Every line sent (passwords replaced) and received, "C: …" and "S: …". */
  readonly transcript: readonly string[];
  greeting(): Promise<ServerReply>;
  capabilities(): Promise<Capabilities>;
  /** STARTTLS (STLS): the server's answer; on success the connection is TLS, verified, when this returns. */
  startTls(): Promise<ServerReply>;
  login(username: string, password: string, capabilities: Capabilities): Promise<LoginAttempt>;
  /** Says goodbye (LOGOUT, QUIT) and closes; never throws. */
  quit(): Promise<void>;
  close(): void;
}

/** How long a goodbye may take: the verdict is made by then, and a server that does not answer LOGOUT must not hold it up. */
const GOODBYE_MS = 3_000;

abstract class BaseDialogue {
  constructor(protected readonly io: LineSocket) {}

  /** Says goodbye with `say` (LOGOUT, QUIT), waiting at most GOODBYE_MS, then closes; never throws. */
  protected async farewell(say: () => Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([say().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, GOODBYE_MS)))]);
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }
  get endpoint(): MailEndpoint {
    return this.io.endpoint;
  }
  get tls(): TlsState | null {
    return this.io.tls;
  }
  get remote(): { address: string; port: number } | null {
    return this.io.remote;
  }
  get transcript(): readonly string[] {
    return this.io.transcript;
  }
  close(): void {
    this.io.close();
  }
}

// ---------------------------------------------------------------- IMAP (RFC 9051, RFC 3501)

/** An IMAP string for LOGIN: quoted when it can be, else a literal (8-bit or CR/LF characters). */
function imapQuotable(text: string): boolean {
  // TEXT-CHAR: any 7-bit character but NUL, CR and LF.
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code === 0 || code === 0x0a || code === 0x0d || code > 0x7f) return false;
  }
  return true;
}

function imapQuote(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export interface ImapMailbox {
  reply: ServerReply;
  exists?: number;
  uidValidity?: number;
  uidNext?: number;
  readOnly: boolean;
}

export class ImapDialogue extends BaseDialogue implements MailDialogue {
  readonly protocol = 'imap' as const;
  private tag = 0;
  private capabilityCodes: string[] = [];

  /** Reads one response line, with any literal it announces ({n} at its end) read into it. */
  private async response(command?: string): Promise<string> {
    let line = await this.io.readLine(command);
    for (let literal = /\{(\d+)\+?\}$/.exec(line); literal; literal = /\{(\d+)\+?\}$/.exec(line)) {
      const bytes = await this.io.readBytes(Number(literal[1]), command);
      line = `${line}\r\n${bytes.toString('utf8')}${await this.io.readLine(command)}`;
    }
    return line;
  }

  async greeting(): Promise<ServerReply> {
    const line = await this.response();
    this.capabilityCodes = capabilityCode(line);
    return { ok: /^\* (OK|PREAUTH)\b/i.test(line), line, lines: [], more: 0 };
  }

  /**
   * Runs one tagged command. `parts` are sent in order: strings as they are, `{ literal }` as IMAP literals (a
   * synchronizing one waits for the server's "+"). `shown` is the transcript's version of the whole command.
   */
  private async command(parts: ReadonlyArray<string | { literal: string }>, shown: string, onContinue?: () => { line: string; shown: string }): Promise<ServerReply> {
    const tag = `a${++this.tag}`;
    const label = `${tag} ${shown}`;
    const lines: string[] = [];
    let more = 0;
    const keep = (line: string) => (lines.length < KEPT_LINES ? lines.push(line) : (more += 1));
    const literalPlus = this.capabilityCodes.includes('LITERAL+');
    // The transcript shows the command once, as `shown`; the lines that carry a literal's bytes as "(literal)".
    let first = true;
    const write = (text: string) => {
      this.io.write(text, first ? label : '(literal)');
      first = false;
    };
    let pending = `${tag} `;
    for (const part of parts) {
      if (typeof part === 'string') {
        pending += part;
        continue;
      }
      write(`${pending}{${Buffer.byteLength(part.literal, 'utf8')}${literalPlus ? '+' : ''}}`);
      if (!literalPlus) {
        for (;;) {
          const line = await this.response(label);
          if (line.startsWith('+')) break;
          if (line.startsWith(`${tag} `)) return { ok: new RegExp(`^${tag} OK\\b`, 'i').test(line), line, lines, more };
          keep(line);
        }
      }
      // The literal's bytes, then the rest of the command on the same line.
      pending = part.literal;
    }
    write(pending);
    let continued = false;
    for (;;) {
      const line = await this.response(label);
      if (line.startsWith(`${tag} `)) {
        const codes = capabilityCode(line);
        if (codes.length > 0) this.capabilityCodes = codes;
        return { ok: new RegExp(`^${tag} OK\\b`, 'i').test(line), line, lines, more };
      }
      if (line.startsWith('+') && onContinue) {
        if (!continued) {
          continued = true;
          const next = onContinue();
          this.io.write(next.line, next.shown);
        } else {
          // A second challenge where PLAIN has none: cancel the exchange, as RFC 9051 lets a client do with "*".
          this.io.write('*');
        }
        continue;
      }
      keep(line);
    }
  }

  async capabilities(): Promise<Capabilities> {
    const reply = await this.command(['CAPABILITY'], 'CAPABILITY');
    const untagged = reply.lines.find((l) => /^\* CAPABILITY /i.test(l));
    const list = untagged ? untagged.slice('* CAPABILITY '.length).trim().split(/\s+/) : this.capabilityCodes;
    if (untagged) this.capabilityCodes = list.map((c) => c.toUpperCase());
    const upper = list.map((c) => c.toUpperCase());
    return {
      reply,
      list,
      auth: upper.filter((c) => c.startsWith('AUTH=')).map((c) => c.slice(5)),
      startTls: upper.includes('STARTTLS'),
      loginDisabled: upper.includes('LOGINDISABLED'),
      userPass: !upper.includes('LOGINDISABLED'),
      known: reply.ok,
    };
  }

  async startTls(): Promise<ServerReply> {
    const reply = await this.command(['STARTTLS'], 'STARTTLS');
    if (reply.ok) {
      await this.io.startTls();
      // Capabilities learnt before TLS are forgotten (RFC 9051 6.2.1): an attacker could have forged them.
      this.capabilityCodes = [];
    }
    return reply;
  }

  async login(username: string, password: string, capabilities: Capabilities): Promise<LoginAttempt> {
    if (capabilities.auth.includes('PLAIN')) {
      const response = plain(username, password);
      const reply = capabilities.list.some((c) => c.toUpperCase() === 'SASL-IR')
        ? await this.command([`AUTHENTICATE PLAIN ${response}`], `AUTHENTICATE PLAIN ${HIDDEN}`)
        : await this.command(['AUTHENTICATE PLAIN'], 'AUTHENTICATE PLAIN', () => ({ line: response, shown: HIDDEN }));
      return { reply, method: 'AUTHENTICATE PLAIN' };
    }
    const shown = `LOGIN ${imapQuotable(username) ? imapQuote(username) : '(literal user name)'} (password hidden)`;
    if (imapQuotable(username) && imapQuotable(password)) {
      return { reply: await this.command([`LOGIN ${imapQuote(username)} ${imapQuote(password)}`], shown), method: 'LOGIN' };
    }
    const reply = await this.command(['LOGIN ', { literal: username }, ' ', { literal: password }, ''], shown);
    return { reply, method: 'LOGIN' };
  }

  /** EXAMINE INBOX: opens the Inbox read-only, so that the test changes nothing (no \Recent is cleared). */
  async examineInbox(): Promise<ImapMailbox> {
    const reply = await this.command(['EXAMINE INBOX'], 'EXAMINE INBOX');
    const number = (pattern: RegExp) => {
      for (const line of reply.lines) {
        const match = pattern.exec(line);
        if (match) return Number(match[1]);
      }
      return undefined;
    };
    const result: ImapMailbox = { reply, readOnly: /\[READ-ONLY\]/i.test(reply.line) };
    const exists = number(/^\* (\d+) EXISTS\b/i);
    const uidValidity = number(/\[UIDVALIDITY (\d+)\]/i);
    const uidNext = number(/\[UIDNEXT (\d+)\]/i);
    if (exists !== undefined) result.exists = exists;
    if (uidValidity !== undefined) result.uidValidity = uidValidity;
    if (uidNext !== undefined) result.uidNext = uidNext;
    return result;
  }

  async quit(): Promise<void> {
    await this.farewell(() => this.command(['LOGOUT'], 'LOGOUT'));
  }
}

/** The capabilities in a response code: "* OK [CAPABILITY IMAP4rev1 …] ready". */
function capabilityCode(line: string): string[] {
  const match = /\[CAPABILITY ([^\]]*)\]/i.exec(line);
  return match ? match[1]!.trim().split(/\s+/).map((c) => c.toUpperCase()) : [];
}

// ---------------------------------------------------------------- POP3 (RFC 1939, RFC 2449, RFC 2595)

export interface Pop3Maildrop {
  stat: ServerReply;
  messages?: number;
  octets?: number;
  /** Absent when STAT failed. */
  uidl?: ServerReply;
  /** The messages UIDL listed. */
  uidlCount?: number;
}

export class Pop3Dialogue extends BaseDialogue implements MailDialogue {
  readonly protocol = 'pop3' as const;

  async greeting(): Promise<ServerReply> {
    const line = await this.io.readLine();
    return { ok: /^\+OK\b/i.test(line), line, lines: [], more: 0 };
  }

  private async simple(command: string, shown: string = command): Promise<ServerReply> {
    this.io.write(command, shown);
    const line = await this.io.readLine(shown);
    return { ok: /^\+OK\b/i.test(line), line, lines: [], more: 0 };
  }

  /** A command whose +OK is followed by a listing ending in ".": the listing is kept up to a bound, counted past it. */
  private async listing(command: string): Promise<ServerReply & { count: number }> {
    const head = await this.simple(command);
    if (!head.ok) return { ...head, count: 0 };
    const lines: string[] = [];
    let count = 0;
    for (;;) {
      const line = await this.io.readLine(command, count >= KEPT_LINES);
      if (line === '.') break;
      count += 1;
      if (lines.length < KEPT_LINES) lines.push(line.startsWith('..') ? line.slice(1) : line);
    }
    if (count > KEPT_LINES) this.io.record(`S: … ${count - KEPT_LINES} more lines, then "."`);
    return { ok: true, line: head.line, lines, more: count - lines.length, count };
  }

  async capabilities(): Promise<Capabilities> {
    const reply = await this.listing('CAPA');
    const list = reply.ok ? reply.lines : [];
    const upper = list.map((l) => l.toUpperCase());
    const sasl = upper.find((l) => l === 'SASL' || l.startsWith('SASL '));
    return {
      reply,
      list,
      auth: sasl ? sasl.split(/\s+/).slice(1) : [],
      startTls: upper.includes('STLS'),
      loginDisabled: false,
      userPass: upper.includes('USER'),
      known: reply.ok,
    };
  }

  async startTls(): Promise<ServerReply> {
    const reply = await this.simple('STLS');
    if (reply.ok) await this.io.startTls();
    return reply;
  }

  /**
   * USER/PASS, as every POP3 server takes it; AUTH PLAIN (RFC 5034, initial response) when the server lists SASL
   * PLAIN and not USER. A USER the server refuses ends the attempt before the password is sent.
   */
  async login(username: string, password: string, capabilities: Capabilities): Promise<LoginAttempt> {
    if (capabilities.known && !capabilities.userPass && capabilities.auth.includes('PLAIN')) {
      return { reply: await this.simple(`AUTH PLAIN ${plain(username, password)}`, `AUTH PLAIN ${HIDDEN}`), method: 'AUTH PLAIN' };
    }
    const user = await this.simple(`USER ${username}`);
    if (!user.ok) return { reply: user, method: 'USER/PASS' };
    return { reply: await this.simple(`PASS ${password}`, 'PASS (password hidden)'), method: 'USER/PASS' };
  }

  /** STAT, then UIDL: Liaison tracks POP3 mail by each message's UIDL, so a server without it cannot be used. */
  async maildrop(): Promise<Pop3Maildrop> {
    const stat = await this.simple('STAT');
    const result: Pop3Maildrop = { stat };
    const match = /^\+OK (\d+) (\d+)/i.exec(stat.line);
    if (match) {
      result.messages = Number(match[1]);
      result.octets = Number(match[2]);
    }
    if (!stat.ok) return result;
    const uidl = await this.listing('UIDL');
    result.uidl = uidl;
    if (uidl.ok) result.uidlCount = uidl.count;
    return result;
  }

  async quit(): Promise<void> {
    await this.farewell(() => this.simple('QUIT'));
  }
}

// ---------------------------------------------------------------- SMTP (RFC 5321, RFC 3207, RFC 4954)

export interface SmtpSender {
  mailFrom: ServerReply;
  /** Absent when MAIL FROM was refused (nothing to reset). */
  rset?: ServerReply;
}

/** The EHLO name: this machine's name when it is a domain, else the address literal of the connection. */
function ehloName(options: DialogueOptions, localAddress: string | null): string {
  if (options.clientName) return options.clientName;
  const name = hostname();
  if (/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(name)) return name;
  if (!localAddress) return '[127.0.0.1]';
  return localAddress.includes(':') ? `[IPv6:${localAddress.replace(/^::ffff:/, '')}]` : `[${localAddress.replace(/^::ffff:/, '')}]`;
}

export class SmtpDialogue extends BaseDialogue implements MailDialogue {
  readonly protocol = 'smtp' as const;

  constructor(
    io: LineSocket,
    private readonly options: DialogueOptions,
  ) {
    super(io);
  }

  /** A reply: "250-…" lines continue it, "250 …" ends it. */
  private async reply(command?: string): Promise<ServerReply> {
    const lines: string[] = [];
    let more = 0;
    for (;;) {
      const line = await this.io.readLine(command);
      if (/^\d{3}-/.test(line)) {
        if (lines.length < KEPT_LINES) lines.push(line);
        else more += 1;
        continue;
      }
      return { ok: /^[23]\d\d/.test(line), line, lines, more };
    }
  }

  private async send(command: string, shown: string = command): Promise<ServerReply> {
    this.io.write(command, shown);
    return this.reply(shown);
  }

  async greeting(): Promise<ServerReply> {
    const reply = await this.reply();
    return { ...reply, ok: /^220/.test(reply.line) };
  }

  async capabilities(): Promise<Capabilities> {
    const reply = await this.send(`EHLO ${ehloName(this.options, this.io.localAddress)}`);
    // The first line is the server's name; each further one an extension keyword with its parameters.
    const list = reply.ok ? [...reply.lines.slice(1), reply.line].map((l) => l.slice(4)).filter(Boolean) : [];
    const upper = list.map((l) => l.toUpperCase());
    const auth = upper.filter((l) => /^AUTH[ =]/.test(l)).flatMap((l) => l.slice(5).trim().split(/\s+/));
    return { reply, list, auth: [...new Set(auth)], startTls: upper.includes('STARTTLS'), loginDisabled: false, userPass: true, known: reply.ok };
  }

  async startTls(): Promise<ServerReply> {
    const reply = await this.send('STARTTLS');
    if (/^220/.test(reply.line)) await this.io.startTls();
    return { ...reply, ok: /^220/.test(reply.line) };
  }

  /** AUTH PLAIN when offered, else AUTH LOGIN; the caller checks that one of them is. */
  async login(username: string, password: string, capabilities: Capabilities): Promise<LoginAttempt> {
    if (capabilities.auth.includes('PLAIN')) {
      return { reply: await this.send(`AUTH PLAIN ${plain(username, password)}`, `AUTH PLAIN ${HIDDEN}`), method: 'AUTH PLAIN' };
    }
    const start = await this.send('AUTH LOGIN');
    if (!/^334/.test(start.line)) return { reply: start, method: 'AUTH LOGIN' };
    const user = await this.send(Buffer.from(username, 'utf8').toString('base64'), '(user name, base64)');
    if (!/^334/.test(user.line)) return { reply: user, method: 'AUTH LOGIN' };
    return { reply: await this.send(Buffer.from(password, 'utf8').toString('base64'), '(password hidden)'), method: 'AUTH LOGIN' };
  }

  /** MAIL FROM for the address, then RSET: the server's word that it takes mail from it, and nothing is sent. */
  async sender(address: string, capabilities: Capabilities): Promise<SmtpSender> {
    // A non-ASCII address needs SMTPUTF8 (RFC 6531) where the server offers it.
    const utf8 = [...address].some((c) => c.codePointAt(0)! > 0x7f) && capabilities.list.some((c) => c.toUpperCase() === 'SMTPUTF8') ? ' SMTPUTF8' : '';
    const mailFrom = await this.send(`MAIL FROM:<${address}>${utf8}`);
    if (!mailFrom.ok) return { mailFrom };
    return { mailFrom, rset: await this.send('RSET') };
  }

  async quit(): Promise<void> {
    await this.farewell(() => this.send('QUIT'));
  }
}

export type AnyDialogue = ImapDialogue | Pop3Dialogue | SmtpDialogue;

const DIALOGUES: { [P in MailProtocol]: (io: LineSocket, options: DialogueOptions) => Extract<AnyDialogue, { protocol: P }> } = {
  imap: (io) => new ImapDialogue(io),
  pop3: (io) => new Pop3Dialogue(io),
  smtp: (io, options) => new SmtpDialogue(io, options),
};

/**
 * Connects to the endpoint (DNS, TCP, and TLS for an implicit-TLS endpoint) and returns the dialogue of its
 * protocol, before the greeting is read. Throws DialogueError.
 */
export async function openDialogue(endpoint: MailEndpoint, options: DialogueOptions): Promise<AnyDialogue> {
  const io = await LineSocket.open(endpoint, options);
  return DIALOGUES[endpoint.protocol](io, options);
}

