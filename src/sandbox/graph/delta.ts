/**
 * messages/delta on one folder. A token encodes where the client is in the folder's change log (as the EWS
 * side's SyncFolderItems state does): `since` (the mailbox change sequence the previous round ended at), and for
 * a page within a round, `upto` (where this round ends) and `after` (the last change already given). Signed with
 * the state's secret, so a token the sandbox did not make, or one for another folder, is SyncStateNotFound.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Mailbox } from '../state/mailbox.js';
import type { Folder, Item } from '../state/model.js';
import { GraphError, SYNC_STATE_NOT_FOUND } from './errors.js';
import { folderIdFor, immutableId, messageIdFor } from './ids.js';
import { renderMessage, type RenderOptions } from './messages.js';
import type { GraphAnswer, GraphRequest } from './api.js';
import type { GraphService } from './service.js';

interface Token {
  /** Folder id. */
  f: string;
  since: number;
  /** Set on a $skiptoken: the round's end and the last change sequence given. */
  upto?: number;
  after?: number;
  /** When the round began (ms), for graphDeltaTokenLifetimeSeconds. */
  at: number;
  /** The $select of the first request, kept for the whole round as Graph keeps it. */
  sel?: string | null;
  imm?: boolean;
}

const DEFAULT_PAGE = 10;

function sign(graph: GraphService, token: Token): string {
  const body = Buffer.from(JSON.stringify(token)).toString('base64url');
  const mac = createHmac('sha256', graph.runtime.state.secret).update(`delta:${body}`).digest('base64url').slice(0, 22);
  return `${body}.${mac}`;
}

function read(graph: GraphService, text: string): Token | null {
  const [body, mac] = text.split('.');
  if (!body || !mac) return null;
  const expected = createHmac('sha256', graph.runtime.state.secret).update(`delta:${body}`).digest('base64url').slice(0, 22);
  if (mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) return null;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Token;
  } catch {
    return null;
  }
}

const gone = () => new GraphError(410, 'SyncStateNotFound', SYNC_STATE_NOT_FOUND);

/** Whether an item that left the folder went on living elsewhere (moved: "changed") or was deleted. */
function removalReason(mailbox: Mailbox, item: Item): 'deleted' | 'changed' {
  const original = item.originalId ?? item.id;
  for (const other of mailbox.items.values()) if (other.deletedSeq === null && other !== item && (other.originalId ?? other.id) === original) return 'changed';
  return 'deleted';
}

export function delta(graph: GraphService, mailbox: Mailbox, folder: Folder, userId: string, req: GraphRequest, options: RenderOptions, preferenceApplied: string[]): GraphAnswer {
  const q = req.query;
  const skip = q.get('$skiptoken');
  const deltaToken = q.get('$deltatoken');
  let token: Token;
  if (skip !== null || deltaToken !== null) {
    const rule = graph.runtime.faults.take({ operation: 'graph.delta', mailbox: mailbox.address, host: graph.hosts.graph }, ['expireDelta']);
    if (rule) throw gone();
    const parsed = read(graph, (skip ?? deltaToken)!);
    if (!parsed || parsed.f !== folder.id) throw gone();
    const lifetime = graph.runtime.settings.graphDeltaTokenLifetimeSeconds;
    if (lifetime !== null && Date.now() - parsed.at > lifetime * 1000) throw gone();
    token = deltaToken !== null ? { f: folder.id, since: parsed.since, at: Date.now(), sel: parsed.sel ?? null, imm: parsed.imm } : parsed;
  } else {
    token = { f: folder.id, since: 0, at: Date.now(), sel: q.get('$select'), imm: options.immutable };
  }
  const upto = token.upto ?? mailbox.seq;
  const after = token.after ?? token.since;
  // The select of the round's first request, unless this one names its own.
  const select = q.get('$select') !== null ? options.select : token.sel ? new Set(token.sel.split(',').map((s) => s.trim())) : null;
  const immutable = options.immutable || token.imm === true;
  const render: RenderOptions = { ...options, select, immutable };

  const preference = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(req.headers.prefer ?? '');
  const size = preference ? Math.max(1, Math.min(1000, Number(preference[1]))) : DEFAULT_PAGE;
  if (preference) preferenceApplied.push(`odata.maxpagesize=${size}`);

  // The last change of each item within (since, upto], in change order.
  const last = new Map<string, number>();
  for (const entry of folder.log) if (entry.seq > token.since && entry.seq <= upto) last.set(entry.id, entry.seq);
  const changes = [...last.entries()].filter(([, seq]) => seq > after).sort((a, b) => a[1] - b[1]);

  const value: unknown[] = [];
  let lastGiven = after;
  let more = false;
  for (const [id, seq] of changes) {
    if (value.length >= size) {
      more = true;
      break;
    }
    lastGiven = seq;
    const item = mailbox.items.get(id);
    if (!item) continue;
    const live = item.deletedSeq === null && item.folderId === folder.id;
    if (live) {
      value.push({ '@odata.type': '#microsoft.graph.message', ...renderMessage(mailbox, item, render) });
    } else if (item.createdSeq <= token.since) {
      // Only what the client could have seen is reported gone.
      value.push({ '@odata.type': '#microsoft.graph.message', id: immutable ? immutableId(item) : messageIdFor(item, false), '@removed': { reason: removalReason(mailbox, item) } });
    }
  }
  const base = `${graph.graphUrl()}/v1.0/users/${encodeURIComponent(userId)}/mailFolders('${folderIdFor(folder)}')/messages/delta`;
  const out: Record<string, unknown> = { '@odata.context': `${graph.graphUrl()}/v1.0/$metadata#Collection(message)` };
  if (more) out['@odata.nextLink'] = `${base}?$skiptoken=${sign(graph, { ...token, upto, after: lastGiven, sel: token.sel ?? null })}`;
  else out['@odata.deltaLink'] = `${base}?$deltatoken=${sign(graph, { f: folder.id, since: upto, at: Date.now(), sel: token.sel ?? null, imm: immutable })}`;
  out.value = value;
  return { status: 200, headers: {}, json: out };
}
