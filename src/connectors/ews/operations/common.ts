/**
 * What the EWS operations share: ids of items and folders, property paths (FieldURI, ExtendedFieldURI), the
 * response shapes, and the readers of the items and folders that answers carry. Writers emit the m:/t:
 * prefixes the envelope declares; readers match namespace URIs and local names and skip what they do not know.
 */
import { NS } from '../../../xml/namespaces.js';
import { attr, child, children, type XmlElement } from '../../../xml/parse.js';
import { el, type Xml, type XmlChild } from '../../../xml/write.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import type { EwsResponseError } from '../soap/errors.js';

// ---- ids ----

export interface ItemId {
  id: string;
  changeKey?: string;
}

/** A folder by id, or a distinguished folder (inbox, sentitems, msgfolderroot…) of a mailbox. */
export type FolderRef = { id: string; changeKey?: string } | { distinguishedId: DistinguishedFolderName; mailbox?: string; changeKey?: string };

export type DistinguishedFolderName =
  | 'inbox'
  | 'sentitems'
  | 'deleteditems'
  | 'drafts'
  | 'outbox'
  | 'junkemail'
  | 'msgfolderroot'
  | 'root'
  | 'calendar'
  | 'contacts'
  | 'tasks'
  | 'notes'
  | 'journal'
  | 'searchfolders'
  | 'conversationhistory'
  | 'recoverableitemsroot'
  | 'recoverableitemsdeletions'
  | (string & {});

/** One result per requested thing, in request order: the value, or the server's error for that thing. */
export type PerItem<T> = T | EwsResponseError;

export function itemIdXml(id: ItemId, name = 't:ItemId'): Xml {
  return el(name, { Id: id.id, ChangeKey: id.changeKey });
}

export function folderRefXml(ref: FolderRef): Xml {
  if ('distinguishedId' in ref) {
    return el('t:DistinguishedFolderId', { Id: ref.distinguishedId, ChangeKey: ref.changeKey }, ref.mailbox ? el('t:Mailbox', null, el('t:EmailAddress', null, ref.mailbox)) : null);
  }
  return el('t:FolderId', { Id: ref.id, ChangeKey: ref.changeKey });
}

export function readItemId(e: XmlElement | undefined): ItemId | null {
  const id = attr(e, 'Id');
  if (!id) return null;
  const changeKey = attr(e, 'ChangeKey');
  return changeKey ? { id, changeKey } : { id };
}

// ---- property paths ----

export type MapiPropertyType =
  | 'String'
  | 'StringArray'
  | 'Integer'
  | 'IntegerArray'
  | 'Boolean'
  | 'SystemTime'
  | 'SystemTimeArray'
  | 'Long'
  | 'LongArray'
  | 'Short'
  | 'ShortArray'
  | 'Binary'
  | 'BinaryArray'
  | 'CLSID'
  | 'CLSIDArray'
  | 'Double'
  | 'DoubleArray'
  | 'Float'
  | 'FloatArray'
  | 'Currency'
  | 'CurrencyArray'
  | 'ApplicationTime'
  | 'ApplicationTimeArray';

/** An extended (MAPI) property: by tag, or by property set and name or id. */
export interface ExtendedFieldUri {
  propertyTag?: string;
  distinguishedPropertySetId?: 'Common' | 'PublicStrings' | 'InternetHeaders' | 'Address' | 'Appointment' | 'Meeting' | 'Task' | (string & {});
  propertySetId?: string;
  propertyName?: string;
  propertyId?: number;
  propertyType: MapiPropertyType;
}

/** `'message:IsRead'` (a FieldURI), an indexed field, or an extended property. */
export type PropertyPath = string | { indexed: string; index: string } | { extended: ExtendedFieldUri };

export function extendedFieldXml(uri: ExtendedFieldUri): Xml {
  return el('t:ExtendedFieldURI', {
    DistinguishedPropertySetId: uri.distinguishedPropertySetId,
    PropertySetId: uri.propertySetId,
    PropertyTag: uri.propertyTag,
    PropertyName: uri.propertyName,
    PropertyId: uri.propertyId,
    PropertyType: uri.propertyType,
  });
}

export function pathXml(path: PropertyPath): Xml {
  if (typeof path === 'string') return el('t:FieldURI', { FieldURI: path });
  if ('indexed' in path) return el('t:IndexedFieldURI', { FieldURI: path.indexed, FieldIndex: path.index });
  return extendedFieldXml(path.extended);
}

export function readExtendedFieldUri(e: XmlElement): ExtendedFieldUri {
  const id = attr(e, 'PropertyId');
  const out: ExtendedFieldUri = { propertyType: (attr(e, 'PropertyType') ?? 'String') as MapiPropertyType };
  const tag = attr(e, 'PropertyTag');
  const set = attr(e, 'DistinguishedPropertySetId');
  const setId = attr(e, 'PropertySetId');
  const name = attr(e, 'PropertyName');
  if (tag !== undefined) out.propertyTag = tag;
  if (set !== undefined) out.distinguishedPropertySetId = set;
  if (setId !== undefined) out.propertySetId = setId;
  if (name !== undefined) out.propertyName = name;
  if (id !== undefined && /^-?\d+$/.test(id)) out.propertyId = Number(id);
  return out;
}

function normalTag(tag: string): string {
  return /^0x/i.test(tag) ? `0x${Number.parseInt(tag, 16).toString(16)}` : `0x${Number(tag).toString(16)}`;
}

/** Whether two extended property paths name the same property (tags compared as numbers, GUIDs without case). */
export function sameExtendedField(a: ExtendedFieldUri, b: ExtendedFieldUri): boolean {
  if (a.propertyTag !== undefined || b.propertyTag !== undefined) {
    return a.propertyTag !== undefined && b.propertyTag !== undefined && normalTag(a.propertyTag) === normalTag(b.propertyTag);
  }
  const set = (u: ExtendedFieldUri) => (u.propertySetId ?? u.distinguishedPropertySetId ?? '').toLowerCase();
  return set(a) === set(b) && a.propertyName === b.propertyName && a.propertyId === b.propertyId;
}

// ---- shapes ----

export type BaseShape = 'IdOnly' | 'Default' | 'AllProperties';

export function additionalPropertiesXml(paths: readonly PropertyPath[] | undefined): Xml | null {
  return paths && paths.length > 0 ? el('t:AdditionalProperties', null, paths.map(pathXml)) : null;
}

export interface ItemShapeOptions {
  baseShape?: BaseShape;
  includeMimeContent?: boolean;
  bodyType?: 'Best' | 'HTML' | 'Text';
  properties?: readonly PropertyPath[];
}

/** ItemResponseShapeType, in schema order. */
export function itemShapeXml(name: string, shape: ItemShapeOptions, defaultBase: BaseShape): Xml {
  return el(
    name,
    null,
    el('t:BaseShape', null, shape.baseShape ?? defaultBase),
    shape.includeMimeContent === undefined ? null : el('t:IncludeMimeContent', null, shape.includeMimeContent),
    shape.bodyType ? el('t:BodyType', null, shape.bodyType) : null,
    additionalPropertiesXml(shape.properties),
  );
}

export function folderShapeXml(baseShape: BaseShape, properties: readonly PropertyPath[] | undefined): Xml {
  return el('m:FolderShape', null, el('t:BaseShape', null, baseShape), additionalPropertiesXml(properties));
}

// ---- restrictions and paging ----

export type ComparisonOperator = 'IsEqualTo' | 'IsNotEqualTo' | 'IsGreaterThan' | 'IsGreaterThanOrEqualTo' | 'IsLessThan' | 'IsLessThanOrEqualTo';

export type Restriction =
  | { op: ComparisonOperator; path: PropertyPath; value: string | number | boolean | Date }
  | { op: 'Exists'; path: PropertyPath }
  | {
      op: 'Contains';
      path: PropertyPath;
      value: string;
      mode?: 'FullString' | 'Prefixed' | 'Substring' | 'PrefixOnWords' | 'ExactPhrase';
      comparison?: 'Exact' | 'IgnoreCase' | 'IgnoreNonSpacingCharacters' | 'Loose' | 'IgnoreCaseAndNonSpaceChars' | 'LooseAndIgnoreCase' | 'LooseAndIgnoreNonSpace' | 'LooseAndIgnoreCaseAndIgnoreNonSpace';
    }
  | { op: 'And' | 'Or'; of: readonly Restriction[] }
  | { op: 'Not'; of: Restriction };

function constantValue(value: string | number | boolean | Date): string {
  return value instanceof Date ? value.toISOString().replace(/\.\d{3}Z$/, 'Z') : String(value);
}

export function searchExpressionXml(r: Restriction): Xml {
  switch (r.op) {
    case 'Exists':
      return el('t:Exists', null, pathXml(r.path));
    case 'Contains':
      return el('t:Contains', { ContainmentMode: r.mode, ContainmentComparison: r.comparison }, pathXml(r.path), el('t:Constant', { Value: r.value }));
    case 'And':
    case 'Or':
      return el(`t:${r.op}`, null, r.of.map(searchExpressionXml));
    case 'Not':
      return el('t:Not', null, searchExpressionXml(r.of));
    default:
      return el(`t:${r.op}`, null, pathXml(r.path), el('t:FieldURIOrConstant', null, el('t:Constant', { Value: constantValue(r.value) })));
  }
}

export function restrictionXml(r: Restriction | undefined): Xml | null {
  return r ? el('m:Restriction', null, searchExpressionXml(r)) : null;
}

export interface IndexedPaging {
  maxEntriesReturned?: number;
  offset: number;
  basePoint?: 'Beginning' | 'End';
}

export function indexedPageXml(name: string, paging: IndexedPaging | undefined): Xml | null {
  return paging ? el(name, { MaxEntriesReturned: paging.maxEntriesReturned, Offset: paging.offset, BasePoint: paging.basePoint ?? 'Beginning' }) : null;
}

/** The paging attributes of a FindItem/FindFolder root folder. */
export interface PageInfo {
  totalItemsInView: number | null;
  includesLastItemInRange: boolean;
  indexedPagingOffset: number | null;
}

export function readPageInfo(rootFolder: XmlElement | undefined): PageInfo {
  const num = (name: string) => {
    const v = attr(rootFolder, name);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  };
  return {
    totalItemsInView: num('TotalItemsInView'),
    // Absent means the server said nothing more is coming; Exchange always sends it.
    includesLastItemInRange: xsBoolean(attr(rootFolder, 'IncludesLastItemInRange')) ?? true,
    indexedPagingOffset: num('IndexedPagingOffset'),
  };
}

// ---- items ----

export interface Mailbox {
  name?: string;
  emailAddress?: string;
  routingType?: string;
  mailboxType?: string;
}

export interface ExtendedPropertyValue {
  path: ExtendedFieldUri;
  /** The value, or the values of an array property. */
  value?: string;
  values?: string[];
}

export interface AttachmentInfo {
  kind: 'file' | 'item' | 'reference' | (string & {});
  attachmentId?: string;
  name?: string;
  contentType?: string;
  contentId?: string;
  size?: number;
  isInline?: boolean;
}

export interface EwsItem {
  /** The element's name: Message, MeetingRequest, Item, … */
  kind: string;
  itemId: ItemId | null;
  parentFolderId?: ItemId;
  itemClass?: string;
  subject?: string;
  mimeContent?: Buffer;
  body?: { type: string; text: string; isTruncated?: boolean };
  attachments?: AttachmentInfo[];
  dateTimeReceived?: string;
  dateTimeSent?: string;
  dateTimeCreated?: string;
  size?: number;
  categories?: string[];
  importance?: string;
  inReplyTo?: string;
  isDraft?: boolean;
  isFromMe?: boolean;
  hasAttachments?: boolean;
  internetMessageHeaders?: Array<{ name: string; value: string }>;
  extendedProperties: ExtendedPropertyValue[];
  conversationId?: ItemId;
  sender?: Mailbox;
  from?: Mailbox;
  toRecipients?: Mailbox[];
  ccRecipients?: Mailbox[];
  bccRecipients?: Mailbox[];
  replyTo?: Mailbox[];
  internetMessageId?: string;
  isRead?: boolean;
  references?: string;
  conversationTopic?: string;
}

const T = NS.types;

function text(e: XmlElement, local: string): string | undefined {
  const c = child(e, T, local);
  return c ? c.text.trim() : undefined;
}

function bool(e: XmlElement, local: string): boolean | undefined {
  return xsBoolean(text(e, local));
}

function int(e: XmlElement, local: string): number | undefined {
  const v = text(e, local);
  return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : undefined;
}

export function readMailbox(e: XmlElement | undefined): Mailbox | undefined {
  if (!e) return undefined;
  const out: Mailbox = {};
  const name = text(e, 'Name');
  const address = text(e, 'EmailAddress');
  const routing = text(e, 'RoutingType');
  const type = text(e, 'MailboxType');
  if (name !== undefined) out.name = name;
  if (address !== undefined) out.emailAddress = address;
  if (routing !== undefined) out.routingType = routing;
  if (type !== undefined) out.mailboxType = type;
  return out;
}

function single(e: XmlElement, local: string): Mailbox | undefined {
  return readMailbox(child(child(e, T, local), T, 'Mailbox'));
}

function list(e: XmlElement, local: string): Mailbox[] | undefined {
  const c = child(e, T, local);
  return c ? children(c, T, 'Mailbox').map((m) => readMailbox(m)!) : undefined;
}

export function readExtendedProperties(e: XmlElement): ExtendedPropertyValue[] {
  return children(e, T, 'ExtendedProperty').flatMap((p): ExtendedPropertyValue[] => {
    const uri = child(p, T, 'ExtendedFieldURI');
    if (!uri) return [];
    const values = child(p, T, 'Values');
    // An extended property's value is kept as sent: spaces may matter in a string property.
    if (values) return [{ path: readExtendedFieldUri(uri), values: children(values, T, 'Value').map((v) => v.text) }];
    const value = child(p, T, 'Value');
    return [{ path: readExtendedFieldUri(uri), value: value ? value.text : '' }];
  });
}

function readAttachments(e: XmlElement): AttachmentInfo[] | undefined {
  const c = child(e, T, 'Attachments');
  if (!c) return undefined;
  return c.children.map((a) => {
    const kind = a.local === 'FileAttachment' ? 'file' : a.local === 'ItemAttachment' ? 'item' : a.local === 'ReferenceAttachment' ? 'reference' : a.local;
    const out: AttachmentInfo = { kind };
    const id = attr(child(a, T, 'AttachmentId'), 'Id');
    if (id) out.attachmentId = id;
    const name = text(a, 'Name');
    if (name !== undefined) out.name = name;
    const contentType = text(a, 'ContentType');
    if (contentType !== undefined) out.contentType = contentType;
    const contentId = text(a, 'ContentId');
    if (contentId !== undefined) out.contentId = contentId;
    const size = int(a, 'Size');
    if (size !== undefined) out.size = size;
    const inline = bool(a, 'IsInline');
    if (inline !== undefined) out.isInline = inline;
    return out;
  });
}

/** Sets `key` on `out` when `value` is defined (keeps results free of explicit undefineds). */
function put<T extends object, K extends keyof T>(out: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) out[key] = value;
}

/** An item of an answer (Message, Item, MeetingRequest…): the properties that were asked for and are known. */
export function readItem(e: XmlElement): EwsItem {
  const item: EwsItem = { kind: e.local, itemId: readItemId(child(e, T, 'ItemId')), extendedProperties: readExtendedProperties(e) };
  const mime = child(e, T, 'MimeContent');
  if (mime) item.mimeContent = Buffer.from(mime.text.replace(/\s+/g, ''), 'base64');
  const parent = readItemId(child(e, T, 'ParentFolderId'));
  if (parent) item.parentFolderId = parent;
  put(item, 'itemClass', text(e, 'ItemClass'));
  put(item, 'subject', child(e, T, 'Subject')?.text);
  const body = child(e, T, 'Body');
  if (body) {
    const truncated = xsBoolean(attr(body, 'IsTruncated'));
    item.body = { type: attr(body, 'BodyType') ?? 'Text', text: body.text, ...(truncated === undefined ? {} : { isTruncated: truncated }) };
  }
  put(item, 'attachments', readAttachments(e));
  put(item, 'dateTimeReceived', text(e, 'DateTimeReceived'));
  put(item, 'dateTimeSent', text(e, 'DateTimeSent'));
  put(item, 'dateTimeCreated', text(e, 'DateTimeCreated'));
  put(item, 'size', int(e, 'Size'));
  const categories = child(e, T, 'Categories');
  if (categories) item.categories = children(categories, T, 'String').map((s) => s.text);
  put(item, 'importance', text(e, 'Importance'));
  put(item, 'inReplyTo', text(e, 'InReplyTo'));
  put(item, 'isDraft', bool(e, 'IsDraft'));
  put(item, 'isFromMe', bool(e, 'IsFromMe'));
  put(item, 'hasAttachments', bool(e, 'HasAttachments'));
  const headers = child(e, T, 'InternetMessageHeaders');
  if (headers) item.internetMessageHeaders = children(headers, T, 'InternetMessageHeader').map((h) => ({ name: attr(h, 'HeaderName') ?? '', value: h.text.trim() }));
  const conversation = readItemId(child(e, T, 'ConversationId'));
  if (conversation) item.conversationId = conversation;
  put(item, 'sender', single(e, 'Sender'));
  put(item, 'from', single(e, 'From'));
  put(item, 'toRecipients', list(e, 'ToRecipients'));
  put(item, 'ccRecipients', list(e, 'CcRecipients'));
  put(item, 'bccRecipients', list(e, 'BccRecipients'));
  put(item, 'replyTo', list(e, 'ReplyTo'));
  put(item, 'internetMessageId', text(e, 'InternetMessageId'));
  put(item, 'isRead', bool(e, 'IsRead'));
  put(item, 'references', text(e, 'References'));
  put(item, 'conversationTopic', child(e, T, 'ConversationTopic')?.text);
  return item;
}

/** The items of an `m:Items` / `t:Items` container, in order. */
export function readItems(container: XmlElement | undefined): EwsItem[] {
  return container ? container.children.filter((c) => c.ns === T).map(readItem) : [];
}

/** The value of one extended property of an item, or undefined. */
export function extendedValue(item: Pick<EwsItem, 'extendedProperties'>, path: ExtendedFieldUri): ExtendedPropertyValue | undefined {
  return item.extendedProperties.find((p) => sameExtendedField(p.path, path));
}

// ---- folders ----

export interface EwsFolder {
  /** Folder, CalendarFolder, ContactsFolder, TasksFolder, SearchFolder. */
  kind: string;
  folderId: ItemId | null;
  parentFolderId?: ItemId;
  folderClass?: string;
  displayName?: string;
  totalCount?: number;
  childFolderCount?: number;
  unreadCount?: number;
  distinguishedFolderId?: string;
  extendedProperties: ExtendedPropertyValue[];
}

export function readFolder(e: XmlElement): EwsFolder {
  const folder: EwsFolder = { kind: e.local, folderId: readItemId(child(e, T, 'FolderId')), extendedProperties: readExtendedProperties(e) };
  const parent = readItemId(child(e, T, 'ParentFolderId'));
  if (parent) folder.parentFolderId = parent;
  put(folder, 'folderClass', text(e, 'FolderClass'));
  put(folder, 'displayName', child(e, T, 'DisplayName')?.text);
  put(folder, 'totalCount', int(e, 'TotalCount'));
  put(folder, 'childFolderCount', int(e, 'ChildFolderCount'));
  put(folder, 'unreadCount', int(e, 'UnreadCount'));
  put(folder, 'distinguishedFolderId', text(e, 'DistinguishedFolderId'));
  return folder;
}

export function readFolders(container: XmlElement | undefined): EwsFolder[] {
  return container ? container.children.filter((c) => c.ns === T).map(readFolder) : [];
}

/** Text content for a message's recipients list element (`t:ToRecipients`…). */
export function mailboxesXml(name: string, addresses: readonly (string | Mailbox)[] | undefined): Xml | null {
  if (!addresses || addresses.length === 0) return null;
  return el(name, null, addresses.map((a) => mailboxXml(a)));
}

export function mailboxXml(a: string | Mailbox): Xml {
  const m = typeof a === 'string' ? { emailAddress: a } : a;
  return el('t:Mailbox', null, m.name ? el('t:Name', null, m.name) : null, m.emailAddress ? el('t:EmailAddress', null, m.emailAddress) : null, m.routingType ? el('t:RoutingType', null, m.routingType) : null);
}

/** An `t:ExtendedProperty` with its value(s). */
export function extendedPropertyXml(p: ExtendedPropertyValue): Xml {
  const content: XmlChild = p.values ? el('t:Values', null, p.values.map((v) => el('t:Value', null, v))) : el('t:Value', null, p.value ?? '');
  return el('t:ExtendedProperty', null, extendedFieldXml(p.path), content);
}

