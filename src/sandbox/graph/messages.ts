/**
 * Messages and folders as Graph's JSON shows them (property names and formats of the v1.0 metadata: times to
 * the second with a Z, recipients as {emailAddress: {name, address}}, body {contentType, content}), and the
 * singleValueExtendedProperties ids Graph uses ("String {guid} Name x", "String 0x007D") read into the
 * sandbox's extended-property keys, so that what one side sets the other sees.
 */
import { createHash } from 'node:crypto';
import { conversationId, isoSeconds } from '../ews/shapes.js';
import type { Mailbox } from '../state/mailbox.js';
import type { Address, ExtendedValue, Folder, Item } from '../state/model.js';
import { badRequest } from './errors.js';
import { folderIdFor, messageIdFor, toRest } from './ids.js';

export const WELL_KNOWN_FOLDERS: Record<string, string> = {
  inbox: 'inbox',
  sentitems: 'sentitems',
  drafts: 'drafts',
  deleteditems: 'deleteditems',
  junkemail: 'junkemail',
  outbox: 'outbox',
  archive: 'archivemsgfolderroot',
  msgfolderroot: 'msgfolderroot',
  conversationhistory: 'conversationhistory',
  recoverableitemsdeletions: 'recoverableitemsdeletions',
  syncissues: 'syncissues',
  conflicts: 'conflicts',
  localfailures: 'localfailures',
  serverfailures: 'serverfailures',
};

/** The properties a message has in Graph's default answer, in Graph's order. */
export const MESSAGE_DEFAULT = [
  'id',
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'categories',
  'receivedDateTime',
  'sentDateTime',
  'hasAttachments',
  'internetMessageId',
  'subject',
  'bodyPreview',
  'importance',
  'parentFolderId',
  'conversationId',
  'conversationIndex',
  'isDeliveryReceiptRequested',
  'isReadReceiptRequested',
  'isRead',
  'isDraft',
  'webLink',
  'inferenceClassification',
  'body',
  'sender',
  'from',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'replyTo',
  'flag',
] as const;
/** What $select can also name (Graph returns these only when asked). */
export const MESSAGE_SELECTABLE = new Set<string>([...MESSAGE_DEFAULT, 'internetMessageHeaders', 'uniqueBody']);

const seconds = (iso: string) => isoSeconds(new Date(iso).toISOString());
const recipient = (a: Address | null) => (a ? { emailAddress: { name: a.name, address: a.address } } : null);
const recipients = (list: Address[]) => list.map((a) => ({ emailAddress: { name: a.name, address: a.address } }));

function plainText(item: Item): string {
  const text = item.props.bodyType === 'HTML' ? item.props.body.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ').replace(/&nbsp;/g, ' ') : item.props.body;
  return text.replace(/\s+/g, ' ').trim().slice(0, 255);
}

export interface RenderOptions {
  immutable: boolean;
  /** The properties $select named; null for the default set. */
  select: Set<string> | null;
  /** Extended properties $expand asked for: null for none, else the ids to return (empty: all). */
  expandExtended: string[] | null;
  owaHost: string;
}

export function etag(mailbox: Mailbox, item: Item): string {
  return `W/"${mailbox.changeKey(item)}"`;
}

export function renderMessage(mailbox: Mailbox, item: Item, options: RenderOptions): Record<string, unknown> {
  const p = item.props;
  const id = messageIdFor(item, options.immutable);
  const all: Record<string, () => unknown> = {
    id: () => id,
    createdDateTime: () => seconds(p.dateTimeCreated),
    lastModifiedDateTime: () => seconds(p.lastModifiedTime),
    changeKey: () => mailbox.changeKey(item),
    categories: () => [...p.categories],
    receivedDateTime: () => seconds(p.dateTimeReceived),
    sentDateTime: () => seconds(p.dateTimeSent),
    hasAttachments: () => p.attachments.some((a) => !a.isInline),
    internetMessageId: () => p.internetMessageId,
    subject: () => p.subject,
    bodyPreview: () => plainText(item),
    importance: () => p.importance.toLowerCase(),
    parentFolderId: () => folderIdFor(mailbox.folders.get(item.folderId)!),
    conversationId: () => toRest(conversationId(item, mailbox)),
    conversationIndex: () => p.conversationIndex ?? '',
    isDeliveryReceiptRequested: () => p.isDeliveryReceiptRequested,
    isReadReceiptRequested: () => p.isReadReceiptRequested,
    isRead: () => p.isRead,
    isDraft: () => p.isDraft,
    webLink: () => `https://${options.owaHost}/owa/?ItemID=${encodeURIComponent(item.id)}&exvsurl=1&viewmodel=ReadMessageItem`,
    inferenceClassification: () => 'focused',
    body: () => ({ contentType: p.bodyType === 'HTML' ? 'html' : 'text', content: p.body }),
    uniqueBody: () => ({ contentType: p.bodyType === 'HTML' ? 'html' : 'text', content: p.body }),
    sender: () => recipient(p.sender),
    from: () => recipient(p.from),
    toRecipients: () => recipients(p.toRecipients),
    ccRecipients: () => recipients(p.ccRecipients),
    bccRecipients: () => recipients(p.bccRecipients),
    replyTo: () => recipients(p.replyTo),
    flag: () => ({ flagStatus: p.flag.status.charAt(0).toLowerCase() + p.flag.status.slice(1) }),
    internetMessageHeaders: () => p.headers.map((h) => ({ name: h.name, value: h.value })),
  };
  const out: Record<string, unknown> = { '@odata.etag': etag(mailbox, item) };
  const wanted = options.select ? ['id', ...[...options.select].filter((k) => k !== 'id')] : [...MESSAGE_DEFAULT];
  for (const key of wanted) if (all[key]) out[key] = all[key]();
  if (options.expandExtended !== null) {
    const ids = options.expandExtended.map((i) => extendedKey(i).key);
    out.singleValueExtendedProperties = p.extended
      .filter((e) => !Array.isArray(e.value) && (ids.length === 0 || ids.includes(e.key)))
      .map((e) => ({ id: graphExtendedId(e), value: e.value as string }));
  }
  return out;
}

const GUID = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i;
const SINGLE_TYPES = new Set(['String', 'Integer', 'Boolean', 'SystemTime', 'Binary', 'Short', 'Long', 'Double', 'Float', 'Currency', 'CLSID', 'ApplicationTime']);

/** Reads a Graph extended property id ("String {guid} Name x", "String {guid} Id 0x8005", "String 0x007D"). */
export function extendedKey(graphId: string): { key: string; field: Record<string, string>; type: string } {
  const parts = graphId.trim().split(/\s+/);
  const type = parts[0] ?? '';
  const invalid = () => badRequest(`The property id '${graphId}' is invalid.`, 'ErrorInvalidProperty');
  if (!SINGLE_TYPES.has(type)) throw invalid();
  if (parts.length === 2 && /^0x[0-9a-f]{1,4}$/i.test(parts[1]!)) {
    const tag = Number.parseInt(parts[1]!.slice(2), 16);
    return { key: `tag:${tag.toString(16).padStart(4, '0')}:${type}`, field: { PropertyTag: `0x${tag.toString(16)}`, PropertyType: type }, type };
  }
  const set = GUID.exec(parts[1] ?? '')?.[1]?.toLowerCase();
  if (!set || parts.length < 4) throw invalid();
  const kind = parts[2]!.toLowerCase();
  const rest = graphId.trim().split(/\s+/).slice(3).join(' ');
  if (kind === 'name') {
    const name = set === '00020386-0000-0000-c000-000000000046' ? rest.toLowerCase() : rest;
    return { key: `${set}:name:${name}:${type}`, field: { PropertySetId: set, PropertyName: rest, PropertyType: type }, type };
  }
  if (kind === 'id' && /^(0x[0-9a-f]+|\d+)$/i.test(rest)) {
    const number = rest.startsWith('0x') || rest.startsWith('0X') ? Number.parseInt(rest.slice(2), 16) : Number(rest);
    return { key: `${set}:id:${number}:${type}`, field: { PropertySetId: set, PropertyId: String(number), PropertyType: type }, type };
  }
  throw invalid();
}

/** The Graph id of a stored extended property. */
export function graphExtendedId(e: ExtendedValue): string {
  const [first, second, third, ...rest] = e.key.split(':');
  if (first === 'tag') return `${third} 0x${Number.parseInt(second!, 16).toString(16).padStart(4, '0')}`;
  const type = rest.at(-1) ?? '';
  const middle = [third, ...rest.slice(0, -1)].join(':');
  if (second === 'name') return `${type} {${first}} Name ${e.field.PropertyName ?? middle}`;
  return `${type} {${first}} Id 0x${Number(middle).toString(16)}`;
}

export function readExtendedProperties(value: unknown): ExtendedValue[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest('singleValueExtendedProperties must be a collection.');
  return value.map((entry) => {
    if (!entry || typeof entry !== 'object' || typeof (entry as { id?: unknown }).id !== 'string' || typeof (entry as { value?: unknown }).value !== 'string') {
      throw badRequest('Each singleValueExtendedProperty needs a string "id" and a string "value".');
    }
    const { key, field } = extendedKey((entry as { id: string }).id);
    return { key, field, value: (entry as { value: string }).value };
  });
}

export function renderFolder(mailbox: Mailbox, folder: Folder): Record<string, unknown> {
  const counts = mailbox.counts(folder);
  const parent = folder.parentId ? mailbox.folders.get(folder.parentId) : undefined;
  return {
    id: folderIdFor(folder),
    displayName: folder.displayName,
    parentFolderId: parent ? folderIdFor(parent) : '',
    childFolderCount: counts.children,
    unreadItemCount: counts.unread,
    totalItemCount: counts.total,
    isHidden: folder.isHidden === true,
  };
}

/** A user as Graph's default answer shows one. */
export function renderUser(mailbox: Mailbox): Record<string, unknown> {
  const [given, ...rest] = mailbox.displayName.split(' ');
  return {
    businessPhones: [],
    displayName: mailbox.displayName,
    givenName: rest.length ? given : null,
    jobTitle: null,
    mail: mailbox.address,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: 'en-US',
    surname: rest.length ? rest.join(' ') : null,
    userPrincipalName: mailbox.address,
    id: mailbox.guid,
  };
}

/** A content hash, for tests and etags of things that have no change key. */
export function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 22);
}
