/**
 * One mailbox over IMAP (imapflow underneath), with its sends over SMTP. A session holds one IMAP connection,
 * logged in as the mailbox (its own login, or the profile's master user for it), used by one command at a time.
 *
 * The cursor of a folder is its UIDVALIDITY and the highest UID seen: new mail is what has a higher UID. When
 * UIDVALIDITY changes, the UIDs mean other messages: listChanges throws InvalidCursorError, the engine starts the
 * folder again from scratch, and its Message-ID rule keeps anything from being tracked twice.
 *
 * A server id is `uidvalidity:uid:folder path`, so that a fetch or a move knows its folder.
 */
import { ImapFlow, type FetchMessageObject, type ListResponse } from 'imapflow';
import type { ChangePage, FetchedMessage, FolderRef, InventoryPage, MailboxSession, MessageChange, MessageFailure, OutgoingMessage, SendReceipt, WellKnownFolder } from '../connector.js';
import type { MailLogin } from '../mail/credentials.js';
import { tlsOptionsFor, type MailEndpoint } from '../mail/endpoint.js';
import { submissionOf } from '../mail/outgoing.js';
import type { SmtpSender } from '../smtp/types.js';
import { imapInventory } from './inventory.js';

/** The cursor is stale: the folder's UIDVALIDITY changed, so its UIDs name other messages now. */
export class InvalidCursorError extends Error {
  constructor(
    readonly folder: string,
    readonly was: string,
    readonly now: string,
  ) {
    super(`the UIDVALIDITY of ${folder} changed from ${was} to ${now}: the folder is read again from the start`);
    this.name = 'InvalidCursorError';
  }
}

/** A message the session cannot read (gone, the server would not give it whole, or it is over the size limit). */
export class MessageUnavailableError extends Error {
  constructor(
    message: string,
    readonly serverResponse: string | null,
    /** 'too-large': the server announced more than ImapLimits.maxMessageBytes; nothing of it was read. */
    readonly reason: 'unavailable' | 'too-large' = 'unavailable',
  ) {
    super(message);
    this.name = 'MessageUnavailableError';
  }
}

/**
 * imapflow's codes for a connection it dropped because of what the server sent: over a limit, or unreadable.
 * The command in flight then fails with only "Connection not available"; the session puts the reason back.
 */
export const HOSTILE_IMAP_CODES = new Set(['Deadline', 'LiteralTooLarge', 'LineTooLarge', 'ResponseTooLarge', 'TooManyTokens', 'ParserError', 'ProtocolError']);

const dropped = new WeakMap<ImapFlow, Error>();

/** The reason a client's connection was dropped, when it was the server's doing; else the error itself. */
function reasonOf(error: unknown, client: ImapFlow | null): unknown {
  const own = (error as { code?: string } | null)?.code;
  if (own && (HOSTILE_IMAP_CODES.has(own) || /^ParserError/.test(own))) return error;
  const why = client ? dropped.get(client) : undefined;
  return why ?? error;
}

function isHostileCode(code: string | undefined): boolean {
  return !!code && (HOSTILE_IMAP_CODES.has(code) || /^ParserError/.test(code));
}

/**
 * A keyword on the Sent copy of a message whose SMTP answer was lost after its last byte: the copy says the message
 * may have gone, and findSent answers "cannot tell" for it (a person decides), never "sent" nor "not sent".
 */
export const UNCONFIRMED_KEYWORD = '$LiaisonUnconfirmed';

export interface ImapSessionOptions {
  address: string;
  endpoint: MailEndpoint;
  login: MailLogin;
  trustedCaPem: string | null;
  timeoutMs: number;
  /** The server puts its own copy of what is submitted in Sent (Gmail, some hosted servers): Liaison appends none. */
  serverSavesSentCopy: boolean;
  /** The SMTP side, opened when the first send needs it. */
  smtp: () => Promise<SmtpSender>;
  /** Whether an error thrown by the SMTP sender is an uncertain outcome (lost after the message went). */
  isUncertain: (error: unknown) => boolean;
  /** What is read at most from the server (default DEFAULT_IMAP_LIMITS). */
  limits?: ImapLimits;
}

interface Cursor {
  v: string;
  u: number;
}

function parseCursor(text: string | null): Cursor | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<Cursor>;
    if (typeof value.v === 'string' && typeof value.u === 'number' && Number.isInteger(value.u) && value.u >= 0) return { v: value.v, u: value.u };
  } catch {
    // fall through
  }
  return null;
}

export function serverIdOf(path: string, uidValidity: string, uid: number): string {
  return `${uidValidity}:${uid}:${path}`;
}

function parseServerId(id: string): { uidValidity: string; uid: number; path: string } {
  const first = id.indexOf(':');
  const second = id.indexOf(':', first + 1);
  const uid = Number(id.slice(first + 1, second));
  if (first < 0 || second < 0 || !Number.isInteger(uid) || uid <= 0) throw new Error(`not an IMAP message id of Liaison's: ${id}`);
  return { uidValidity: id.slice(0, first), uid, path: id.slice(second + 1) };
}

export function messageIdOf(message: FetchMessageObject): string | undefined {
  const id = message.envelope?.messageId?.trim();
  return id ? id : undefined;
}

export function isoOf(date: Date | string | undefined): string | undefined {
  if (date === undefined) return undefined;
  const parsed = date instanceof Date ? date : new Date(date);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed.toISOString();
}

const SPECIAL_USE: Record<Exclude<WellKnownFolder, 'inbox'>, string> = {
  sent: '\\Sent',
  drafts: '\\Drafts',
  deleted: '\\Trash',
  junk: '\\Junk',
};

/**
 * What Liaison reads from an IMAP server at most (docs/MAIL.md, Hostile servers): a message (one literal) of
 * `maxMessageBytes`, a line of `maxLineBytes`; a response at most both. imapflow fails the connection at once when a
 * server announces more (a literal is refused from its {size}, before a byte of it is read).
 */
export interface ImapLimits {
  maxMessageBytes: number;
  maxLineBytes: number;
  /** How long one piece of work (a listing, a fetch batch) may take in all; default 10 × timeoutMs, at least a minute. */
  commandDeadlineMs?: number;
}

/** The session's work ran past its deadline (a server that keeps sending without ever finishing). */
export class ImapDeadlineError extends Error {
  readonly code = 'Deadline';
  constructor(message: string) {
    super(message);
    this.name = 'ImapDeadlineError';
  }
}

/** 64 MiB lets a 50 MB message through (Exchange's and Gmail's caps are below it); 8 MiB holds a SEARCH of a million UIDs. */
export const DEFAULT_IMAP_LIMITS: Readonly<ImapLimits> = { maxMessageBytes: 64 * 1024 * 1024, maxLineBytes: 8 * 1024 * 1024 };

export function imapClientOptions(
  endpoint: MailEndpoint,
  login: MailLogin,
  trustedCaPem: string | null,
  timeoutMs: number,
  limits: ImapLimits = DEFAULT_IMAP_LIMITS,
): ConstructorParameters<typeof ImapFlow>[0] {
  const tls = tlsOptionsFor(endpoint, trustedCaPem);
  return {
    host: endpoint.dialHost,
    port: endpoint.dialPort,
    secure: endpoint.tls === 'implicit',
    ...(endpoint.tls === 'starttls' ? { doSTARTTLS: true } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
    tls: { ca: tls.ca, minVersion: tls.minVersion, rejectUnauthorized: true, ...(tls.servername ? { servername: tls.servername } : {}) },
    auth: { user: login.username, pass: login.password },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: timeoutMs,
    greetingTimeout: Math.min(timeoutMs, 30_000),
    socketTimeout: Math.max(timeoutMs, 60_000),
    maxLiteralSize: limits.maxMessageBytes,
    maxLineLength: limits.maxLineBytes,
    maxResponseSize: limits.maxMessageBytes + 2 * limits.maxLineBytes,
  };
}

export class ImapSession implements MailboxSession {
  readonly address: string;
  private client: ImapFlow | null = null;
  private connecting: Promise<ImapFlow> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private folders: ListResponse[] | null = null;
  private sender: SmtpSender | null = null;
  /** Set when the current work ran past its deadline: no new connection is opened for it. */
  private expired: ImapDeadlineError | null = null;

  constructor(private readonly options: ImapSessionOptions) {
    this.address = options.address;
  }

  /** Runs one piece of IMAP work at a time on the session's connection. */
  private exclusive<T>(work: (client: ImapFlow) => Promise<T>, extraMs = 0): Promise<T> {
    const run = this.queue.then(async () => {
      this.expired = null;
      const client = await this.connection();
      // However steadily the server sends (untagged junk forever, a literal dripped), the work ends by its deadline.
      const deadlineMs = (this.options.limits?.commandDeadlineMs ?? Math.max(10 * this.options.timeoutMs, 60_000)) + extraMs;
      const timer = setTimeout(() => {
        const expired = new ImapDeadlineError(`the IMAP work did not finish within ${deadlineMs} ms; the connection was closed`);
        this.expired = expired;
        const current = this.client ?? client;
        for (const c of new Set([client, current])) {
          if (!dropped.has(c)) dropped.set(c, expired);
          c.close();
        }
      }, deadlineMs);
      try {
        return await work(client);
      } catch (error) {
        throw reasonOf(error, this.expired ? (this.client ?? client) : client);
      } finally {
        clearTimeout(timer);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async connection(): Promise<ImapFlow> {
    if (this.expired) throw this.expired;
    if (this.client?.usable) return this.client;
    this.client = null;
    this.connecting ??= (async () => {
      const { endpoint, login, trustedCaPem, timeoutMs } = this.options;
      const client = new ImapFlow(imapClientOptions(endpoint, login, trustedCaPem, timeoutMs, this.options.limits));
      // An error after connect (a dropped socket) surfaces on the next command; the event must not crash the process.
      // What the server did to make imapflow drop the connection (a literal over the limit…) is kept for the
      // command that was in flight, which only sees "Connection not available".
      client.on('error', (error: Error & { code?: string }) => {
        if (isHostileCode(error?.code) && !dropped.has(client)) dropped.set(client, error);
      });
      await client.connect();
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async listFolders(client: ImapFlow): Promise<ListResponse[]> {
    this.folders ??= await client.list();
    return this.folders;
  }

  private async pathOf(client: ImapFlow, folder: WellKnownFolder | FolderRef): Promise<string> {
    if (typeof folder !== 'string') return folder.id;
    if (folder === 'inbox') return 'INBOX';
    const flag = SPECIAL_USE[folder];
    const found = (await this.listFolders(client)).find((f) => f.specialUse === flag || f.flags?.has(flag));
    if (!found) throw new MessageUnavailableError(`the mailbox ${this.address} has no folder marked ${flag} (special-use, RFC 6154)`, null);
    return found.path;
  }

  listChanges(folder: WellKnownFolder | FolderRef, cursorText: string | null, max: number): Promise<ChangePage> {
    return this.exclusive(async (client) => {
      const path = await this.pathOf(client, folder);
      const selectedBefore = client.mailbox ? client.mailbox.path === path : false;
      const lock = await client.getMailboxLock(path, { readOnly: true });
      try {
        // A folder that stayed selected from an earlier call knows only what the server last told: a NOOP lets it
        // report what arrived since (EXISTS). UIDNEXT is learnt only when the folder is selected, so it is trusted
        // only from a selection this call made; otherwise the search below says what is new.
        await client.noop();
        const mailbox = client.mailbox;
        if (!mailbox) throw new Error(`${path} could not be selected`);
        const uidValidity = String(mailbox.uidValidity);
        const cursor = parseCursor(cursorText);
        if (cursorText !== null && cursor === null) throw new InvalidCursorError(path, cursorText, uidValidity);
        if (cursor && cursor.v !== uidValidity) throw new InvalidCursorError(path, cursor.v, uidValidity);
        const after = cursor?.u ?? 0;
        const nextUid = Number(mailbox.uidNext ?? 0);
        if (mailbox.exists === 0 || (!selectedBefore && nextUid > 0 && after + 1 >= nextUid)) {
          return { changes: [], cursor: JSON.stringify({ v: uidValidity, u: after }), complete: true };
        }
        // `n:*` always names the highest message, even when its UID is below n: keep only what is above the cursor.
        const uids = ((await client.search({ uid: `${after + 1}:*` }, { uid: true })) || []).filter((uid) => uid > after).sort((a, b) => a - b);
        const page = uids.slice(0, Math.max(1, max));
        const changes: MessageChange[] = [];
        if (page.length > 0) {
          const listed = new Map<number, FetchMessageObject>();
          for await (const message of client.fetch(page.join(','), { uid: true, envelope: true, internalDate: true }, { uid: true })) listed.set(message.uid, message);
          for (const uid of page) {
            const message = listed.get(uid);
            const change: MessageChange = { kind: 'created', serverId: serverIdOf(path, uidValidity, uid) };
            const messageId = message ? messageIdOf(message) : undefined;
            if (messageId) change.internetMessageId = messageId;
            const receivedAt = isoOf(message?.internalDate);
            if (receivedAt) change.receivedAt = receivedAt;
            changes.push(change);
          }
        }
        const last = page.length > 0 ? page[page.length - 1]! : after;
        return { changes, cursor: JSON.stringify({ v: uidValidity, u: last }), complete: page.length === uids.length };
      } finally {
        lock.release();
      }
    });
  }

  /** The missing-mail audit's listing of a folder (inventory.ts): UID SEARCH SINCE, then FETCH ENVELOPE INTERNALDATE. */
  inventory(folder: WellKnownFolder | FolderRef, since: Date | null, page: string | null, max: number): Promise<InventoryPage> {
    return this.exclusive(async (client) => imapInventory(client, await this.pathOf(client, folder), since, page, max));
  }

  fetch(serverIds: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>> {
    return this.exclusive(async (client) => {
      const wanted = serverIds.map((id) => ({ id, ...parseServerId(id) }));
      const byPath = new Map<string, typeof wanted>();
      for (const w of wanted) byPath.set(w.path, [...(byPath.get(w.path) ?? []), w]);
      const results = new Map<string, FetchedMessage | MessageFailure>();
      for (const [path, items] of byPath) {
        const held = await client.getMailboxLock(path, { readOnly: true });
        let released = false;
        const lock = { release: () => void (released || ((released = true), held.release())) };
        try {
          const uidValidity = String(client.mailbox ? client.mailbox.uidValidity : '');
          const current = items.filter((i) => i.uidValidity === uidValidity);
          for (const stale of items.filter((i) => i.uidValidity !== uidValidity)) {
            results.set(stale.id, { serverId: stale.id, error: new MessageUnavailableError(`${path} was renumbered (UIDVALIDITY ${stale.uidValidity} → ${uidValidity}); the message is found again by the next listing`, null) });
          }
          const got = await this.fetchSources(client, current.map((i) => i.uid)).catch(async () => {
            // One message the server cannot give fails the whole command (Dovecot even ends the session): fetch
            // them one by one, on a new connection when the old one is gone, to tell which.
            lock.release();
            const one = new Map<number, FetchMessageObject | Error>();
            for (const item of current) {
              let fresh: ImapFlow | null = null;
              try {
                fresh = await this.connection();
                const single = await fresh.getMailboxLock(path, { readOnly: true });
                try {
                  const [message] = [...(await this.fetchSources(fresh, [item.uid])).values()];
                  if (message) one.set(item.uid, message);
                } finally {
                  single.release();
                }
              } catch (error) {
                one.set(item.uid, reasonOf(error, fresh) as Error);
              }
            }
            return one;
          });
          for (const item of current) {
            const message = got.get(item.uid);
            const tooLarge = message instanceof Error ? (message as { code?: string; literalSize?: number }) : null;
            if (tooLarge && (tooLarge.code === 'LiteralTooLarge' || tooLarge.code === 'ResponseTooLarge')) {
              const limit = this.options.limits?.maxMessageBytes ?? DEFAULT_IMAP_LIMITS.maxMessageBytes;
              const announced = Number.isFinite(tooLarge.literalSize) ? ` (the server announced ${tooLarge.literalSize} bytes)` : '';
              results.set(item.id, {
                serverId: item.id,
                error: new MessageUnavailableError(`message ${item.uid} of ${path} is larger than the ${limit} bytes Liaison reads${announced}; the connection was closed before it was read`, null, 'too-large'),
              });
            } else if (message instanceof Error) {
              const text = (message as { responseText?: string }).responseText ?? null;
              results.set(item.id, { serverId: item.id, error: new MessageUnavailableError(`the server would not give message ${item.uid} of ${path}: ${text ?? message.message}`, text) });
            } else if (!message?.source) {
              results.set(item.id, { serverId: item.id, error: new MessageUnavailableError(`message ${item.uid} of ${path} is no longer on the server`, null) });
            } else {
              const fetched: FetchedMessage = { serverId: item.id, mime: Buffer.from(message.source) };
              const messageId = messageIdOf(message);
              if (messageId) fetched.internetMessageId = messageId;
              const receivedAt = isoOf(message.internalDate);
              if (receivedAt) fetched.receivedAt = receivedAt;
              results.set(item.id, fetched);
            }
          }
        } finally {
          lock.release();
        }
      }
      return serverIds.map((id) => results.get(id)!);
    });
  }

  private async fetchSources(client: ImapFlow, uids: readonly number[]): Promise<Map<number, FetchMessageObject | Error>> {
    const got = new Map<number, FetchMessageObject | Error>();
    if (uids.length === 0) return got;
    for await (const message of client.fetch(uids.join(','), { uid: true, source: true, envelope: true, internalDate: true, size: true }, { uid: true })) {
      // A source shorter than the size the server announced is a message it could not give whole.
      if (message.source && message.size !== undefined && message.source.length < message.size) {
        got.set(message.uid, new Error(`the server gave ${message.source.length} of the message's ${message.size} bytes`));
      } else got.set(message.uid, message);
    }
    return got;
  }

  async send(message: OutgoingMessage): Promise<SendReceipt | void> {
    const { envelope, wire } = await submissionOf(message.mime, this.address);
    this.sender ??= await this.options.smtp();
    let uncertain = false;
    try {
      await this.sender.submit(envelope, wire);
    } catch (error) {
      uncertain = this.options.isUncertain(error);
      if (!uncertain) throw error;
      // The message may have gone: its Sent copy, marked unconfirmed, is what findSent finds before any resend.
      if (message.saveCopy) await this.appendSent(message.mime, true).catch(() => undefined);
      throw error;
    }
    if (!message.saveCopy || this.options.serverSavesSentCopy) return;
    try {
      await this.appendSent(message.mime, false);
    } catch (error) {
      const text = (error as { responseText?: string }).responseText ?? (error as Error).message;
      return { warning: `the email was sent, but its copy could not be saved in the Sent folder: ${text}` };
    }
  }

  private appendSent(mime: Buffer, unconfirmed: boolean): Promise<void> {
    return this.exclusive(async (client) => {
      const path = await this.pathOf(client, 'sent');
      const appended = await client.append(path, mime, unconfirmed ? ['\\Seen', UNCONFIRMED_KEYWORD] : ['\\Seen'], new Date());
      if (appended === false) throw new Error(`the server refused to append to ${path}`);
    });
  }

  findSent(internetMessageId: string): Promise<boolean | null> {
    return this.exclusive(async (client) => {
      const path = await this.pathOf(client, 'sent');
      const lock = await client.getMailboxLock(path, { readOnly: true });
      try {
        const uids = (await client.search({ header: { 'message-id': internetMessageId } }, { uid: true })) || [];
        if (uids.length === 0) return false;
        let unconfirmed = 0;
        for await (const found of client.fetch(uids.join(','), { uid: true, flags: true, envelope: true }, { uid: true })) {
          // SEARCH HEADER matches substrings: only the exact Message-ID counts.
          if (messageIdOf(found) !== internetMessageId) continue;
          if (found.flags?.has(UNCONFIRMED_KEYWORD)) unconfirmed += 1;
          else return true;
        }
        return unconfirmed > 0 ? null : false;
      } finally {
        lock.release();
      }
    });
  }

  ensureFolder(path: readonly string[], under?: WellKnownFolder): Promise<FolderRef & { created: boolean }> {
    return this.exclusive(async (client) => {
      const folders = await this.listFolders(client);
      const delimiter = folders.find((f) => f.path === 'INBOX')?.delimiter ?? folders[0]?.delimiter ?? '/';
      const parent = under ? await this.pathOf(client, under) : null;
      const full = [...(parent ? [parent] : []), ...path].join(delimiter);
      const existing = folders.find((f) => f.path === full || (f.path.toUpperCase() === full.toUpperCase() && full.toUpperCase().startsWith('INBOX')));
      if (existing) return { id: existing.path, displayName: existing.name, created: false };
      const result = await client.mailboxCreate(full);
      this.folders = null;
      return { id: result.path, displayName: path[path.length - 1] ?? result.path, created: result.created };
    });
  }

  move(serverIds: readonly string[], to: FolderRef | WellKnownFolder): Promise<string[]> {
    return this.exclusive(async (client) => {
      const destination = await this.pathOf(client, to);
      const moved: string[] = [];
      for (const id of serverIds) {
        const { path, uid, uidValidity } = parseServerId(id);
        const lock = await client.getMailboxLock(path);
        try {
          if (String(client.mailbox ? client.mailbox.uidValidity : '') !== uidValidity) throw new MessageUnavailableError(`${path} was renumbered; message ${uid} cannot be moved by its old UID`, null);
          // imapflow uses MOVE where the server offers it, else COPY + \Deleted + UID EXPUNGE.
          const result = await client.messageMove(String(uid), destination, { uid: true });
          if (result === false) throw new MessageUnavailableError(`the server did not move message ${uid} of ${path} to ${destination}`, null);
          const newUid = result.uidMap?.get(uid);
          moved.push(newUid !== undefined ? serverIdOf(destination, String(result.uidValidity ?? ''), newUid) : `${id}>${destination}`);
        } finally {
          lock.release();
        }
      }
      return moved;
    });
  }

  async waitForChange(folders: readonly WellKnownFolder[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    // A session waits on the Inbox only: IDLE watches one selected folder.
    void folders;
    return this.exclusive(async (client) => {
      const lock = await client.getMailboxLock('INBOX', { readOnly: true });
      try {
        const before = client.mailbox ? Number(client.mailbox.exists) : 0;
        let changed = false;
        // A NOOP ends the IDLE (imapflow sends DONE before any other command).
        const stop = () => void client.noop().catch(() => undefined);
        const onExists = () => {
          changed = true;
          stop();
        };
        client.on('exists', onExists);
        const timer = setTimeout(stop, timeoutMs);
        signal?.addEventListener('abort', stop, { once: true });
        try {
          await client.idle();
        } finally {
          clearTimeout(timer);
          signal?.removeEventListener('abort', stop);
          client.off('exists', onExists);
        }
        return changed || (client.mailbox ? Number(client.mailbox.exists) !== before : false);
      } finally {
        lock.release();
      }
      // IDLE lasts timeoutMs by design: the deadline comes on top of it.
    }, timeoutMs);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await Promise.allSettled([
      client?.usable ? client.logout().catch(() => client.close()) : Promise.resolve(client?.close()),
      this.sender?.close(),
    ]);
    this.sender = null;
  }
}
