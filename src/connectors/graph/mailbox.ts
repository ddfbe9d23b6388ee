/**
 * One Exchange Online mailbox through Microsoft Graph, app-only: the MailboxSession the engine uses.
 *
 * - listChanges: the folder's `messages/delta` with the few properties the pipeline needs; the cursor stored is
 *   the nextLink (more to come) or the deltaLink (caught up). A 410 / SyncStateNotFound is classified
 *   invalid-cursor: the engine starts the folder again and its recorded outcomes keep anything from being tracked
 *   twice. Delta does not tell a new message from a changed one: every entry but `@removed` is reported as
 *   created (the engine skips the server ids it already has; immutable ids keep them stable).
 * - fetch: each message's MIME from `messages/{id}/$value` and its ids, 10 messages (20 requests) per `$batch`,
 *   in four dependsOn chains so that no more than four run in the mailbox at once; a batch entry that fails is a
 *   MessageFailure, a throttled one (or one its chain skipped, 424) is fetched again on its own.
 * - send: a draft made from the MIME in the sender's Drafts, marked with Liaison's identifier (the Message-ID, in
 *   a single-value extended property), then `send`. A draft already marked (an earlier attempt stopped between
 *   the two) is sent instead of making a second. A connection lost after `send` left is GraphSendUncertainError;
 *   findSent then looks for the identifier in Sent Items, whose copy Exchange Online itself saves.
 */
import type { ChangePage, FetchedMessage, FolderRef, InventoryEntry, InventoryPage, MailboxSession, MessageChange, MessageFailure, OutgoingMessage, WellKnownFolder } from '../connector.js';
import { addressText, pageSize } from '../mail/inventory.js';
import { TransportError } from '../ews/transport/types.js';
import { type GraphClient, graphErrorOf, MAILBOX_CONCURRENCY, MAX_MIME_BYTES } from './client.js';
import { GraphError, GraphProtocolError, GraphSendUncertainError } from './errors.js';

/** Graph's well-known folder names. */
export const WELL_KNOWN: Record<WellKnownFolder, string> = {
  inbox: 'inbox',
  sent: 'sentitems',
  drafts: 'drafts',
  deleted: 'deleteditems',
  junk: 'junkemail',
};

/** The single-value extended property that carries Liaison's identifier (the Message-ID) on a draft and its sent copy. */
export const LIAISON_PROPERTY_ID = 'String {3f9d6a52-7c1e-4b8a-9e0d-5a2c4b7e1f63} Name LiaisonMessageId';

/** Graph's limit of requests in one $batch. */
export const BATCH_LIMIT = 20;
/** The most entries one delta or list page asks for. */
export const PAGE_LIMIT = 1000;

const DELTA_SELECT = 'id,internetMessageId,receivedDateTime,isRead,conversationId';
const INVENTORY_SELECT = 'id,internetMessageId,receivedDateTime,subject,from';

interface GraphMessage {
  id?: string;
  internetMessageId?: string;
  receivedDateTime?: string;
  isRead?: boolean;
  conversationId?: string;
  subject?: string;
  from?: { emailAddress?: { name?: string; address?: string } };
  '@removed'?: unknown;
}

interface ListAnswer<T> {
  value?: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

interface BatchAnswer {
  responses?: Array<{ id?: string; status?: number; headers?: Record<string, string>; body?: unknown }>;
}

const seg = (value: string) => encodeURIComponent(value);
/** An OData string literal: single quotes doubled. */
const odataString = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The Message-ID header of a MIME message (unfolded, trimmed), or null. */
export function messageIdOfMime(mime: Buffer): string | null {
  const text = mime.subarray(0, Math.min(mime.length, 256 * 1024)).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ');
  const match = /^message-id:[ \t]*(.+?)[ \t]*$/im.exec(head);
  return match ? match[1]! : null;
}

function list<T>(answer: ListAnswer<T>, operation: string): T[] {
  if (!Array.isArray(answer.value)) throw new GraphProtocolError(operation, 'the answer has no "value" array');
  return answer.value;
}

export class GraphMailboxSession implements MailboxSession {
  private readonly user: string;

  constructor(
    readonly address: string,
    private readonly client: GraphClient,
    private readonly wait: (timeoutMs: number, signal?: AbortSignal) => Promise<boolean>,
  ) {
    this.user = `/users/${seg(address)}`;
  }

  private folderPath(folder: WellKnownFolder | FolderRef): string {
    return `${this.user}/mailFolders/${seg(typeof folder === 'string' ? WELL_KNOWN[folder] : folder.id)}`;
  }

  private get<T>(path: string, operation: string, headers?: Record<string, string>): Promise<T> {
    return this.client.json<T>({ method: 'GET', path, mailbox: this.address, operation, ...(headers ? { headers } : {}) });
  }

  async listChanges(folder: WellKnownFolder | FolderRef, cursor: string | null, max: number): Promise<ChangePage> {
    const path = cursor ?? `${this.folderPath(folder)}/messages/delta?$select=${DELTA_SELECT}`;
    const size = Math.max(1, Math.min(PAGE_LIMIT, Math.floor(max) || 1));
    const answer = await this.get<ListAnswer<GraphMessage>>(path, 'delta', { prefer: `odata.maxpagesize=${size}` });
    const changes = list(answer, 'delta').map((m, index): MessageChange => {
      if (typeof m.id !== 'string' || m.id === '') throw new GraphProtocolError('delta', `entry ${index + 1} has no id`);
      if (m['@removed'] !== undefined) return { kind: 'deleted', serverId: m.id };
      const change: MessageChange = { kind: 'created', serverId: m.id };
      if (m.internetMessageId) change.internetMessageId = m.internetMessageId;
      if (m.receivedDateTime) change.receivedAt = m.receivedDateTime;
      if (typeof m.isRead === 'boolean') change.isRead = m.isRead;
      return change;
    });
    const next = answer['@odata.nextLink'];
    const delta = answer['@odata.deltaLink'];
    if (typeof next === 'string' && next) {
      this.client.url(next, 'delta');
      return { changes, cursor: next, complete: false };
    }
    if (typeof delta === 'string' && delta) {
      this.client.url(delta, 'delta');
      return { changes, cursor: delta, complete: true };
    }
    throw new GraphProtocolError('delta', 'the answer has neither an @odata.nextLink nor an @odata.deltaLink');
  }

  async inventory(folder: WellKnownFolder | FolderRef, since: Date | null, page: string | null, max: number): Promise<InventoryPage> {
    const top = Math.min(PAGE_LIMIT, pageSize(max));
    const query = [
      ...(since ? [`$filter=${encodeURIComponent(`receivedDateTime ge ${since.toISOString()}`)}`] : []),
      `$orderby=${encodeURIComponent('receivedDateTime asc')}`,
      `$select=${INVENTORY_SELECT}`,
      `$top=${top}`,
    ].join('&');
    const answer = await this.get<ListAnswer<GraphMessage>>(page ?? `${this.folderPath(folder)}/messages?${query}`, 'list');
    const entries = list(answer, 'list').map((m, index): InventoryEntry => {
      if (typeof m.id !== 'string' || m.id === '') throw new GraphProtocolError('list', `entry ${index + 1} has no id`);
      const entry: InventoryEntry = { serverId: m.id };
      if (m.internetMessageId) entry.internetMessageId = m.internetMessageId;
      if (m.receivedDateTime) entry.receivedAt = m.receivedDateTime;
      if (typeof m.subject === 'string') entry.subject = m.subject;
      const from = addressText(m.from?.emailAddress?.name, m.from?.emailAddress?.address);
      if (from) entry.from = from;
      return entry;
    });
    const next = answer['@odata.nextLink'];
    if (typeof next === 'string' && next) {
      this.client.url(next, 'list');
      if (next === page) throw new GraphProtocolError('list', 'the next page link is the page just read');
      return { entries, next };
    }
    return { entries, next: null };
  }

  async fetch(serverIds: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>> {
    const out: Array<FetchedMessage | MessageFailure> = [];
    const perBatch = BATCH_LIMIT / 2;
    for (let i = 0; i < serverIds.length; i += perBatch) out.push(...(await this.fetchBatch(serverIds.slice(i, i + perBatch))));
    return out;
  }

  /** One message on its own: its MIME and its ids, two requests. */
  private async fetchOne(serverId: string): Promise<FetchedMessage | MessageFailure> {
    try {
      const path = `${this.user}/messages/${seg(serverId)}`;
      const [meta, mime] = await Promise.all([
        this.get<GraphMessage>(`${path}?$select=internetMessageId,receivedDateTime,conversationId`, 'get'),
        this.client.request({ method: 'GET', path: `${path}/$value`, mailbox: this.address, operation: '$value', maxBytes: MAX_MIME_BYTES, headers: { accept: 'message/rfc822, */*' } }),
      ]);
      return this.fetched(serverId, meta, mime.body);
    } catch (error) {
      return { serverId, error: error as Error };
    }
  }

  private fetched(serverId: string, meta: GraphMessage, mime: Buffer): FetchedMessage {
    const message: FetchedMessage = { serverId, mime };
    if (meta.internetMessageId) message.internetMessageId = meta.internetMessageId;
    if (meta.receivedDateTime) message.receivedAt = meta.receivedDateTime;
    if (meta.conversationId) message.conversationId = meta.conversationId;
    return message;
  }

  private async fetchBatch(ids: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>> {
    if (ids.length === 1) return [await this.fetchOne(ids[0]!)];
    // Four chains (each request depends on the one four places before it): at most four run at once in the
    // mailbox, within Exchange Online's limit whether Graph runs a batch's requests in parallel or four at a time.
    const requests = ids
      .flatMap((id, index) => [
        { id: `m${index}`, method: 'GET', url: `${this.user}/messages/${seg(id)}?$select=internetMessageId,receivedDateTime,conversationId` },
        { id: `v${index}`, method: 'GET', url: `${this.user}/messages/${seg(id)}/$value` },
      ])
      .map((r, k, all) => (k >= MAILBOX_CONCURRENCY ? { ...r, dependsOn: [all[k - MAILBOX_CONCURRENCY]!.id] } : r));
    let answer: BatchAnswer;
    try {
      answer = await this.client.json<BatchAnswer>({ method: 'POST', path: '/$batch', mailbox: this.address, json: { requests }, operation: '$batch', weight: requests.length, maxBytes: MAX_MIME_BYTES });
    } catch (error) {
      // Too large an answer for one batch (big messages): each on its own, within the per-message limit.
      if (error instanceof TransportError && error.kind === 'too-large') return Promise.all(ids.map((id) => this.fetchOne(id)));
      throw error;
    }
    if (!Array.isArray(answer.responses)) throw new GraphProtocolError('$batch', 'the answer has no "responses" array');
    const byId = new Map(answer.responses.map((r) => [r.id, r]));
    return Promise.all(
      ids.map(async (serverId, index): Promise<FetchedMessage | MessageFailure> => {
        const meta = byId.get(`m${index}`);
        const value = byId.get(`v${index}`);
        if (!meta || !value) return { serverId, error: new GraphProtocolError('$batch', `no answer for message ${index + 1} of the batch`) };
        const failed = [meta, value].find((r) => typeof r.status !== 'number' || r.status < 200 || r.status >= 300);
        if (failed) {
          const status = typeof failed.status === 'number' ? failed.status : 0;
          // Throttled inside the batch, or not run because one before it in its chain failed (424): fetched again
          // on its own, where Retry-After is obeyed and its own answer is the one reported.
          if (status === 429 || status === 503 || status === 424) return this.fetchOne(serverId);
          const headers = Object.fromEntries(Object.entries(failed.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
          return { serverId, error: graphErrorOf(status, headers, JSON.stringify(failed.body ?? {}), failed === meta ? 'get' : '$value') };
        }
        const mime = this.batchBody(value);
        if (!mime) return { serverId, error: new GraphProtocolError('$batch', `the MIME of message ${index + 1} came back in a form that cannot be read`) };
        return this.fetched(serverId, (meta.body ?? {}) as GraphMessage, mime);
      }),
    );
  }

  /** A binary body inside a $batch answer comes base64-encoded as a JSON string (Graph's JSON batching). */
  private batchBody(entry: { headers?: Record<string, string>; body?: unknown }): Buffer | null {
    if (typeof entry.body !== 'string') return null;
    const type = Object.entries(entry.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
    if (/json/i.test(type)) return null;
    if (!/^[A-Za-z0-9+/=\r\n]*$/.test(entry.body)) return Buffer.from(entry.body, 'utf8');
    return Buffer.from(entry.body, 'base64');
  }

  async send(message: OutgoingMessage): Promise<void> {
    const messageId = messageIdOfMime(message.mime);
    if (!messageId) throw new Error('the message to send has no Message-ID header; Liaison cannot send it without one (its identifier in Sent Items)');
    const draftId = (await this.findMarked('drafts', messageId)) ?? (await this.createDraft(message.mime, messageId));
    try {
      await this.client.request({ method: 'POST', path: `${this.user}/messages/${seg(draftId)}/send`, mailbox: this.address, operation: 'send' });
    } catch (error) {
      const reason = uncertainReason(error);
      if (reason) throw new GraphSendUncertainError(this.address, error as Error, reason);
      throw error;
    }
  }

  /** A draft from the MIME (base64, text/plain, as Graph takes MIME), then marked with the identifier. */
  private async createDraft(mime: Buffer, messageId: string): Promise<string> {
    const draft = await this.client.json<GraphMessage>({
      method: 'POST',
      path: `${this.user}/messages`,
      mailbox: this.address,
      body: { data: mime.toString('base64'), contentType: 'text/plain' },
      operation: 'createMessage',
    });
    if (typeof draft.id !== 'string' || !draft.id) throw new GraphProtocolError('createMessage', 'the draft came back without an id');
    await this.client.request({
      method: 'PATCH',
      path: `${this.user}/messages/${seg(draft.id)}`,
      mailbox: this.address,
      json: { singleValueExtendedProperties: [{ id: LIAISON_PROPERTY_ID, value: messageId }] },
      operation: 'updateMessage',
    });
    return draft.id;
  }

  /** The id of a message in the folder marked with this identifier (or, failing that, with this internetMessageId). */
  private async findMarked(folder: 'drafts' | 'sent', messageId: string): Promise<string | null> {
    const base = `${this.folderPath(folder)}/messages`;
    const byProperty = `singleValueExtendedProperties/any(ep: ep/id eq ${odataString(LIAISON_PROPERTY_ID)} and ep/value eq ${odataString(messageId)})`;
    const found = await this.get<ListAnswer<GraphMessage>>(`${base}?$filter=${encodeURIComponent(byProperty)}&$select=id&$top=1`, 'list');
    const first = list(found, 'list')[0];
    if (first?.id) return first.id;
    const byHeader = await this.get<ListAnswer<GraphMessage>>(`${base}?$filter=${encodeURIComponent(`internetMessageId eq ${odataString(messageId)}`)}&$select=id&$top=1`, 'list');
    return list(byHeader, 'list')[0]?.id ?? null;
  }

  async findSent(internetMessageId: string): Promise<boolean> {
    return (await this.findMarked('sent', internetMessageId)) !== null;
  }

  async ensureFolder(path: readonly string[], under: WellKnownFolder = 'inbox'): Promise<FolderRef & { created: boolean }> {
    if (path.length === 0) throw new Error('ensureFolder needs a path of at least one folder');
    let parent = WELL_KNOWN[under];
    let ref: FolderRef | null = null;
    let created = false;
    for (const name of path) {
      const found = await this.childFolder(parent, name);
      if (found) {
        ref = found;
      } else {
        try {
          const made = await this.client.json<{ id?: string; displayName?: string }>({
            method: 'POST',
            path: `${this.user}/mailFolders/${seg(parent)}/childFolders`,
            mailbox: this.address,
            json: { displayName: name },
            operation: 'createFolder',
          });
          if (!made.id) throw new GraphProtocolError('createFolder', `the folder ${name} came back without an id`);
          ref = { id: made.id, displayName: made.displayName ?? name };
          created = true;
        } catch (error) {
          // Made by someone else in the meantime (another worker): use theirs.
          if (!(error instanceof GraphError && (error.status === 409 || error.code === 'ErrorFolderExists'))) throw error;
          const again = await this.childFolder(parent, name);
          if (!again) throw error;
          ref = again;
        }
      }
      parent = ref.id;
    }
    return { ...ref!, created };
  }

  private async childFolder(parent: string, name: string): Promise<FolderRef | null> {
    const filter = encodeURIComponent(`displayName eq ${odataString(name)}`);
    const answer = await this.get<ListAnswer<{ id?: string; displayName?: string }>>(`${this.user}/mailFolders/${seg(parent)}/childFolders?$filter=${filter}&$select=id,displayName`, 'list');
    const folders = list(answer, 'list').filter((f): f is { id: string; displayName?: string } => typeof f.id === 'string');
    // Exchange compares display names without regard to case; the exact one first.
    const hit = folders.find((f) => f.displayName === name) ?? folders.find((f) => f.displayName?.toLowerCase() === name.toLowerCase());
    return hit ? { id: hit.id, displayName: hit.displayName ?? name } : null;
  }

  async move(serverIds: readonly string[], to: FolderRef | WellKnownFolder): Promise<string[]> {
    const destinationId = typeof to === 'string' ? WELL_KNOWN[to] : to.id;
    return Promise.all(
      serverIds.map(async (id) => {
        const moved = await this.client.json<GraphMessage>({ method: 'POST', path: `${this.user}/messages/${seg(id)}/move`, mailbox: this.address, json: { destinationId }, operation: 'move' });
        if (typeof moved.id !== 'string' || !moved.id) throw new GraphProtocolError('move', 'the moved message came back without its id');
        return moved.id;
      }),
    );
  }

  /** Graph has no long poll: a change notification for this mailbox (this process's push endpoint) ends the wait. */
  waitForChange(_folders: readonly WellKnownFolder[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.wait(timeoutMs, signal);
  }
}

/** Whether a failure of the send request leaves its outcome unknown, and why; null when it certainly did not happen. */
export function uncertainReason(error: unknown): string | null {
  if (error instanceof TransportError) return ['reset', 'timeout', 'aborted', 'other'].includes(error.kind) && error.details.notSent !== true ? error.kind : null;
  if (error instanceof GraphError) return error.status === 502 || error.status === 504 ? `http-${error.status}` : null;
  return null;
}

