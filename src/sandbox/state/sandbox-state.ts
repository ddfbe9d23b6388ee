/**
 * Everything the sandbox knows: accounts, mailboxes and their messages, Autodiscover redirects, and what was
 * sent to addresses outside it. In memory; with a data folder, saved there (state.json plus one file per MIME
 * message) a moment after each change, and read back on the next start.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Mailbox } from './mailbox.js';
import { composeMime, type ComposeInput, readMime } from './mime.js';
import type { Account, Address, AutodiscoverRedirect, CorruptItemCode, DistributionList, Folder, GraphData, Item, MailboxData, ServerName } from './model.js';

export interface OutboundMessage {
  at: string;
  from: string;
  recipients: string[];
  subject: string;
  internetMessageId: string;
  mimeRef: string;
}

interface Snapshot {
  version: 1;
  domain: string;
  secret: string;
  accounts: Account[];
  mailboxes: MailboxData[];
  redirects: AutodiscoverRedirect[];
  outbound: OutboundMessage[];
  /** Absent from files written before the sandbox had distribution lists. */
  distributionLists?: DistributionList[];
  /** Absent from files written before the sandbox had a Graph side. */
  graph?: GraphData;
}

const SAVE_DELAY_MS = 300;

export class SandboxStateError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class SandboxState {
  readonly accounts = new Map<string, Account>();
  readonly mailboxes = new Map<string, Mailbox>();
  readonly redirects: AutodiscoverRedirect[] = [];
  readonly outbound: OutboundMessage[] = [];
  readonly distributionLists: DistributionList[] = [];
  /** The Graph side's directory: the tenant, its app registrations and application access policies. */
  graph: GraphData = { tenantId: randomUUID(), signingKeyPem: null, apps: [], accessPolicies: [] };
  private readonly blobs = new Map<string, Buffer>();
  private saveTimer: NodeJS.Timeout | null = null;

  /** Signs SyncState blobs; kept with the data so states stay valid across restarts. */
  secret = randomBytes(32).toString('hex');

  private constructor(
    readonly domain: string,
    private readonly dataDir: string | null,
  ) {}

  /** A new, empty state, or the one saved in the data folder. */
  static open(domain: string, dataDir: string | null): SandboxState {
    const state = new SandboxState(domain, dataDir);
    if (dataDir) {
      mkdirSync(path.join(dataDir, 'mime'), { recursive: true });
      const file = path.join(dataDir, 'state.json');
      if (existsSync(file)) state.load(JSON.parse(readFileSync(file, 'utf8')) as Snapshot);
    }
    return state;
  }

  private load(snapshot: Snapshot): void {
    if (snapshot.domain !== this.domain) {
      throw new SandboxStateError(500, `the data folder holds a sandbox for ${snapshot.domain}, not ${this.domain}; use another --data or --domain ${snapshot.domain}`);
    }
    this.secret = snapshot.secret;
    for (const account of snapshot.accounts) this.accounts.set(account.username.toLowerCase(), account);
    for (const data of snapshot.mailboxes) {
      const mailbox = Mailbox.fromData(data);
      // A mailbox saved before the default tree had all its folders gets the missing ones now.
      mailbox.addDefaultFolders();
      this.attach(mailbox);
    }
    this.redirects.push(...snapshot.redirects);
    this.outbound.push(...snapshot.outbound);
    this.distributionLists.push(...(snapshot.distributionLists ?? []));
    if (snapshot.graph) this.graph = { ...this.graph, ...snapshot.graph };
  }

  private attach(mailbox: Mailbox): void {
    this.mailboxes.set(mailbox.address.toLowerCase(), mailbox);
    mailbox.on('change', () => this.changed());
  }

  /** Schedules a save; many changes in a burst make one write. */
  changed(): void {
    if (!this.dataDir || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.saveNow();
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  saveNow(): void {
    if (!this.dataDir) return;
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
    }
    const snapshot: Snapshot = {
      version: 1,
      domain: this.domain,
      secret: this.secret,
      accounts: [...this.accounts.values()],
      mailboxes: [...this.mailboxes.values()].map((m) => m.toData()),
      redirects: this.redirects,
      outbound: this.outbound,
      distributionLists: this.distributionLists,
      graph: this.graph,
    };
    const file = path.join(this.dataDir, 'state.json');
    writeFileSync(`${file}.tmp`, JSON.stringify(snapshot));
    renameSync(`${file}.tmp`, file);
  }

  // ---- MIME blobs ----

  /** Stores a message's MIME once, by its hash: on disk with a data folder (read back when asked), else in memory. */
  putMime(mime: Buffer): string {
    const ref = createHash('sha256').update(mime).digest('hex');
    if (this.dataDir) {
      const file = path.join(this.dataDir, 'mime', `${ref}.eml`);
      if (!existsSync(file)) writeFileSync(file, mime);
    } else if (!this.blobs.has(ref)) {
      this.blobs.set(ref, mime);
    }
    return ref;
  }

  mime(ref: string): Buffer {
    const cached = this.blobs.get(ref);
    if (cached) return cached;
    if (this.dataDir) {
      const file = path.join(this.dataDir, 'mime', `${ref}.eml`);
      if (existsSync(file)) return readFileSync(file);
    }
    throw new SandboxStateError(500, `the MIME content ${ref} is missing from the sandbox's data`);
  }

  // ---- accounts and mailboxes ----

  /** Finds an account by how it signs in: UPN, DOMAIN\user, or its mailbox's address. */
  account(username: string): Account | undefined {
    const key = username.trim().toLowerCase();
    const direct = this.accounts.get(key);
    if (direct) return direct;
    const slash = key.indexOf('\\');
    if (slash >= 0) {
      const user = key.slice(slash + 1);
      return [...this.accounts.values()].find((a) => a.username.toLowerCase().split('@')[0] === user);
    }
    return [...this.accounts.values()].find((a) => a.mailbox?.toLowerCase() === key);
  }

  addAccount(account: Account): Account {
    const key = account.username.toLowerCase();
    if (this.accounts.has(key)) throw new SandboxStateError(409, `an account ${account.username} exists already`);
    if (account.mailbox && !this.mailbox(account.mailbox)) throw new SandboxStateError(400, `no mailbox ${account.mailbox}`);
    this.accounts.set(key, account);
    this.changed();
    return account;
  }

  /** The mailbox with this address or alias. */
  mailbox(address: string): Mailbox | undefined {
    const key = address.trim().toLowerCase();
    return this.mailboxes.get(key) ?? [...this.mailboxes.values()].find((m) => m.owns(key));
  }

  mailboxByGuid(guid: string): Mailbox | undefined {
    return [...this.mailboxes.values()].find((m) => m.guid === guid);
  }

  addMailbox(address: string, displayName: string, server: ServerName = 'mail', aliases: string[] = []): Mailbox {
    if (!/^[^\s@]+@[^\s@]+$/.test(address)) throw new SandboxStateError(400, `"${address}" is not an email address`);
    for (const a of [address, ...aliases]) {
      if (this.mailbox(a)) throw new SandboxStateError(409, `${a} is already a mailbox's address`);
    }
    const mailbox = Mailbox.create(randomUUID(), address, displayName, server, aliases);
    this.attach(mailbox);
    this.changed();
    return mailbox;
  }

  /**
   * Removes a mailbox (as when its user leaves and it is deleted): from then on it is ErrorNonExistentMailbox to
   * EWS and InvalidUser to Autodiscover. Accounts that signed in as it keep signing in, without a mailbox.
   */
  removeMailbox(address: string): Mailbox {
    const mailbox = this.mailbox(address);
    if (!mailbox) throw new SandboxStateError(404, `no mailbox ${address}`);
    this.mailboxes.delete(mailbox.address.toLowerCase());
    mailbox.removeAllListeners('change');
    for (const account of this.accounts.values()) if (account.mailbox && mailbox.owns(account.mailbox)) account.mailbox = null;
    this.changed();
    return mailbox;
  }

  // ---- mail ----

  /** Puts a MIME message into a mailbox's folder, as delivered mail (unread). */
  async deliver(mailbox: Mailbox, mime: Buffer, folder?: Folder, received = new Date(), corrupt?: CorruptItemCode): Promise<Item> {
    const target = folder ?? mailbox.distinguishedFolder('inbox')!;
    const props = await readMime(mime, received);
    return mailbox.addItem(target, this.putMime(mime), props, true, corrupt);
  }

  async compose(input: ComposeInput, keepBcc = false): Promise<Buffer> {
    return composeMime(input, keepBcc);
  }

  /**
   * Sends a message from a mailbox: a copy into the Inbox of every sandbox mailbox among the recipients (Bcc
   * taken out), and a record for every address outside the sandbox.
   */
  async send(from: Mailbox, mime: Buffer, recipients: Address[]): Promise<void> {
    const delivered = stripBcc(mime);
    const outside: string[] = [];
    const seen = new Set<string>();
    // Mail to a distribution list goes to its members.
    const expanded = recipients.flatMap((r) => this.distributionList(r.address)?.members.map((address) => ({ name: address, address })) ?? [r]);
    for (const recipient of expanded) {
      const key = recipient.address.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      const local = this.mailbox(key);
      if (local) await this.deliver(local, delivered);
      else outside.push(recipient.address);
    }
    if (outside.length > 0) {
      const props = await readMime(delivered, new Date());
      this.outbound.push({
        at: new Date().toISOString(),
        from: from.address,
        recipients: outside,
        subject: props.subject,
        internetMessageId: props.internetMessageId,
        mimeRef: this.putMime(delivered),
      });
      this.changed();
    }
  }

  distributionList(address: string): DistributionList | undefined {
    const key = address.trim().toLowerCase();
    return this.distributionLists.find((d) => d.address.toLowerCase() === key);
  }

  /** Autodiscover's answer for an address that is redirected rather than served here. */
  redirectFor(address: string): AutodiscoverRedirect | undefined {
    return this.redirects.find((r) => r.address.toLowerCase() === address.trim().toLowerCase());
  }
}

/** Removes the Bcc header (and its folded lines) from a MIME message's header block. */
export function stripBcc(mime: Buffer): Buffer {
  const text = mime.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  if (end < 0) return mime;
  const lines = text.slice(0, end).split(/\r?\n/);
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (!dropping) kept.push(line);
      continue;
    }
    dropping = /^bcc\s*:/i.test(line);
    if (!dropping) kept.push(line);
  }
  if (kept.length === lines.length) return mime;
  return Buffer.from(kept.join('\r\n') + text.slice(end), 'latin1');
}
