/**
 * Writing items and folders the way a response shape asks (IdOnly, Default, AllProperties, plus
 * AdditionalProperties), in the element order the schema's sequences demand: ItemType's elements, then
 * MessageType's; BaseFolderType's, then FolderType's.
 */
import { attr, child, children, type XmlElement } from '../../xml/parse.js';
import { NS } from '../../xml/namespaces.js';
import { el, type Xml, type XmlChild } from '../../xml/write.js';
import { xsBoolean } from '../../xml/xs-boolean.js';
import type { Mailbox } from '../state/mailbox.js';
import { encodeAttachmentId } from '../state/ids.js';
import { topicConversationGuid } from '../state/conversation.js';
import type { Address, AttachmentInfo, Folder, Item } from '../state/model.js';
import type { SandboxState } from '../state/sandbox-state.js';
import { type ExtendedField, readExtendedField, writeExtendedProperty, writeFolderExtendedProperty } from './extended-properties.js';
import { EwsError } from './soap.js';

export type BaseShape = 'IdOnly' | 'Default' | 'AllProperties';

export interface ItemShape {
  base: BaseShape;
  includeMime: boolean;
  bodyType: 'Best' | 'HTML' | 'Text';
  additional: Set<string>;
  /** Extended properties asked for by ExtendedFieldURI, in the order asked. */
  extended: ExtendedField[];
  /** A path in the shape that Exchange refuses (an invalid ExtendedFieldURI): the answer for each item. */
  problem: EwsError | null;
}

/** Where the items are written: GetItem answers with bodies; FindItem and SyncFolderItems never do. */
export type ItemContext = 'get' | 'find' | 'sync';

function baseShape(text: string): BaseShape {
  // PcxPeopleSearch is for people search; the sandbox answers it as Default.
  return text === 'IdOnly' || text === 'AllProperties' ? text : 'Default';
}

function additionalUris(shape: XmlElement | undefined): Set<string> {
  const result = new Set<string>();
  for (const path of children(child(shape, NS.types, 'AdditionalProperties'), NS.types)) {
    if (path.local === 'FieldURI') result.add(attr(path, 'FieldURI') ?? '');
    if (path.local === 'IndexedFieldURI') result.add(attr(path, 'FieldURI') ?? '');
  }
  return result;
}

export function readItemShape(shape: XmlElement | undefined): ItemShape {
  const body = child(shape, NS.types, 'BodyType')?.text.trim();
  const { extended, problem } = extendedPaths(shape);
  return {
    base: baseShape(child(shape, NS.types, 'BaseShape')?.text.trim() ?? 'Default'),
    includeMime: xsBoolean(child(shape, NS.types, 'IncludeMimeContent')?.text) === true,
    bodyType: body === 'HTML' || body === 'Text' ? body : 'Best',
    additional: additionalUris(shape),
    extended,
    problem,
  };
}

export interface FolderShape {
  base: BaseShape;
  additional: Set<string>;
  extended: ExtendedField[];
  problem: EwsError | null;
}

/** The ExtendedFieldURIs of a shape; the first invalid one is kept as the answer for each item or folder. */
function extendedPaths(shape: XmlElement | undefined): { extended: ExtendedField[]; problem: EwsError | null } {
  const extended: ExtendedField[] = [];
  let problem: EwsError | null = null;
  for (const path of children(child(shape, NS.types, 'AdditionalProperties'), NS.types, 'ExtendedFieldURI')) {
    try {
      extended.push(readExtendedField(path));
    } catch (error) {
      if (!(error instanceof EwsError)) throw error;
      problem ??= error;
    }
  }
  return { extended, problem };
}

export function readFolderShape(shape: XmlElement | undefined): FolderShape {
  return { base: baseShape(child(shape, NS.types, 'BaseShape')?.text.trim() ?? 'Default'), additional: additionalUris(shape), ...extendedPaths(shape) };
}

// ---- items ----

function mailboxElement(address: Address): Xml {
  return el('t:Mailbox', null, el('t:Name', null, address.name), el('t:EmailAddress', null, address.address), el('t:RoutingType', null, 'SMTP'), el('t:MailboxType', null, 'OneOff'));
}

function recipients(name: string, list: Address[]): Xml | null {
  return list.length === 0 ? null : el(name, null, list.map(mailboxElement));
}

function single(name: string, address: Address | null): Xml | null {
  return address ? el(name, null, mailboxElement(address)) : null;
}

function display(list: Address[]): string {
  return list.map((a) => a.name).join('; ');
}

function bodyFor(item: Item, wanted: ItemShape['bodyType']): { type: 'HTML' | 'Text'; text: string } {
  const { bodyType, body } = item.props;
  if (wanted === 'Best' || wanted === bodyType) return { type: bodyType, text: body };
  if (wanted === 'HTML') {
    const escaped = body.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    return { type: 'HTML', text: `<html><body><pre>${escaped}</pre></body></html>` };
  }
  const text = body
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/p>|<\/div>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
  return { type: 'Text', text };
}

/**
 * A conversation's id as Exchange writes it: 00 04 24 00, the mailbox GUID, 00 10 00 and the conversation's 16
 * bytes: the GUID of the conversation index when it has a valid header, else the topic's MD5 ([MS-OXOMSG]
 * 2.2.1.2). Replies and forwards extend the original's index, so they share its conversation.
 */
export function conversationId(item: Item, mailbox: Mailbox): string {
  const index = item.props.conversationIndex ? Buffer.from(item.props.conversationIndex, 'base64') : Buffer.alloc(0);
  const guid = index.length >= 22 && index[0] === 1 ? index.subarray(6, 22) : topicConversationGuid(item.props.conversationTopic);
  return Buffer.concat([Buffer.from([0, 4, 0x24, 0]), Buffer.from(mailbox.guid, 'ascii'), Buffer.from([0, 0x10, 0]), guid]).toString('base64');
}

/** An attachment's id: its item's id and its key (for one inside an attached message, the keys down to it). */
export function attachmentIdFor(item: Item, attachment: AttachmentInfo): string {
  const embedded = (item as EmbeddedItem).embeddedIn;
  return embedded ? encodeAttachmentId(embedded.itemId, [...embedded.path, attachment.id]) : encodeAttachmentId(item.id, [attachment.id]);
}

/** A message inside an attachment, shaped as an item so that it can be written as one. */
export interface EmbeddedItem extends Item {
  embeddedIn?: { itemId: string; path: string[] };
}

/** An attached message (an ItemAttachment); data saved before the flag existed says so by its MIME type. */
export function isItemAttachment(a: AttachmentInfo): boolean {
  return a.isItem ?? a.contentType === 'message/rfc822';
}

/** An attachment as GetItem lists it: no content (GetAttachment gives that). */
export function writeAttachmentSummary(item: Item, a: AttachmentInfo): Xml {
  const common = [
    el('t:AttachmentId', { Id: attachmentIdFor(item, a) }),
    el('t:Name', null, a.name),
    // An attached item has no MIME type of its own in Exchange's listing.
    isItemAttachment(a) ? null : el('t:ContentType', null, a.contentType),
    a.contentId ? el('t:ContentId', null, a.contentId.replace(/^<|>$/g, '')) : null,
    el('t:Size', null, a.size),
    // When it was attached: with the message, unless it was added later (CreateAttachment).
    el('t:LastModifiedTime', null, isoSeconds(a.lastModifiedTime ?? item.props.dateTimeCreated).replace(/Z$/, '')),
    el('t:IsInline', null, a.isInline),
  ];
  return isItemAttachment(a) ? el('t:ItemAttachment', null, common) : el('t:FileAttachment', null, common, el('t:IsContactPhoto', null, 'false'));
}

interface ItemProperty {
  uri: string;
  /** In the Default shape (for GetItem; FindItem and SyncFolderItems never get the heavy ones). */
  inDefault: boolean;
  /** Body, attachments, MIME, recipient lists, headers: only GetItem returns them. */
  heavy?: boolean;
  write(item: Item, mailbox: Mailbox, shape: ItemShape, state: SandboxState): XmlChild;
}

/** In ItemType's then MessageType's schema order. */
const ITEM_PROPERTIES: ItemProperty[] = [
  { uri: 'item:MimeContent', inDefault: false, heavy: true, write: (i, _m, _s, state) => el('t:MimeContent', { CharacterSet: 'UTF-8' }, state.mime(i.mimeRef).toString('base64')) },
  { uri: 'item:ItemId', inDefault: true, write: (i, m) => el('t:ItemId', { Id: i.id, ChangeKey: m.changeKey(i) }) },
  { uri: 'item:ParentFolderId', inDefault: true, write: (i, m) => el('t:ParentFolderId', { Id: i.folderId, ChangeKey: m.changeKey(m.folders.get(i.folderId)!) }) },
  { uri: 'item:ItemClass', inDefault: true, write: (i) => el('t:ItemClass', null, i.props.itemClass) },
  { uri: 'item:Subject', inDefault: true, write: (i) => el('t:Subject', null, i.props.subject) },
  { uri: 'item:Sensitivity', inDefault: true, write: (i) => el('t:Sensitivity', null, i.props.sensitivity) },
  {
    uri: 'item:Body',
    inDefault: true,
    heavy: true,
    write: (i, _m, s) => {
      const body = bodyFor(i, s.bodyType);
      return el('t:Body', { BodyType: body.type, IsTruncated: 'false' }, body.text);
    },
  },
  {
    uri: 'item:Attachments',
    inDefault: true,
    heavy: true,
    write: (i) => (i.props.attachments.length === 0 ? null : el('t:Attachments', null, i.props.attachments.map((a) => writeAttachmentSummary(i, a)))),
  },
  { uri: 'item:DateTimeReceived', inDefault: true, write: (i) => el('t:DateTimeReceived', null, isoSeconds(i.props.dateTimeReceived)) },
  { uri: 'item:Size', inDefault: true, write: (i) => el('t:Size', null, i.props.size) },
  { uri: 'item:Categories', inDefault: false, write: (i) => (i.props.categories.length === 0 ? null : el('t:Categories', null, i.props.categories.map((c) => el('t:String', null, c)))) },
  { uri: 'item:Importance', inDefault: true, write: (i) => el('t:Importance', null, i.props.importance) },
  { uri: 'item:InReplyTo', inDefault: false, write: (i) => (i.props.inReplyTo ? el('t:InReplyTo', null, i.props.inReplyTo) : null) },
  { uri: 'item:IsSubmitted', inDefault: true, write: (i) => el('t:IsSubmitted', null, i.props.isSubmitted) },
  { uri: 'item:IsDraft', inDefault: true, write: (i) => el('t:IsDraft', null, i.props.isDraft) },
  { uri: 'item:IsFromMe', inDefault: true, write: (i, m) => el('t:IsFromMe', null, i.props.from ? m.owns(i.props.from.address) : false) },
  { uri: 'item:IsResend', inDefault: true, write: () => el('t:IsResend', null, 'false') },
  { uri: 'item:IsUnmodified', inDefault: true, write: (i) => el('t:IsUnmodified', null, i.version === 1) },
  {
    uri: 'item:InternetMessageHeaders',
    inDefault: false,
    heavy: true,
    write: (i) => el('t:InternetMessageHeaders', null, i.props.headers.map((h) => el('t:InternetMessageHeader', { HeaderName: h.name }, h.value))),
  },
  { uri: 'item:DateTimeSent', inDefault: true, write: (i) => el('t:DateTimeSent', null, isoSeconds(i.props.dateTimeSent)) },
  { uri: 'item:DateTimeCreated', inDefault: true, write: (i) => el('t:DateTimeCreated', null, isoSeconds(i.props.dateTimeCreated)) },
  { uri: 'item:ReminderDueBy', inDefault: false, write: (i) => (i.props.reminderDueBy ? el('t:ReminderDueBy', null, isoSeconds(i.props.reminderDueBy)) : null) },
  { uri: 'item:ReminderIsSet', inDefault: false, write: (i) => el('t:ReminderIsSet', null, i.props.reminderIsSet) },
  { uri: 'item:ReminderMinutesBeforeStart', inDefault: false, write: (i) => el('t:ReminderMinutesBeforeStart', null, i.props.reminderMinutesBeforeStart) },
  { uri: 'item:DisplayCc', inDefault: true, write: (i) => el('t:DisplayCc', null, display(i.props.ccRecipients)) },
  { uri: 'item:DisplayTo', inDefault: true, write: (i) => el('t:DisplayTo', null, display(i.props.toRecipients)) },
  { uri: 'item:HasAttachments', inDefault: true, write: (i) => el('t:HasAttachments', null, i.props.attachments.some((a) => !a.isInline)) },
  // The extended properties asked for by ExtendedFieldURI go here in ItemType's sequence (never in a base shape).
  { uri: 'item:ExtendedProperty', inDefault: false, write: (i, _m, s) => s.extended.map((path) => writeExtendedProperty(i, path)) },
  { uri: 'item:Culture', inDefault: true, write: (i) => el('t:Culture', null, i.props.culture) },
  {
    uri: 'item:EffectiveRights',
    inDefault: false,
    write: () =>
      el(
        't:EffectiveRights',
        null,
        ['CreateAssociated', 'CreateContents', 'CreateHierarchy'].map((r) => el(`t:${r}`, null, 'false')),
        ['Delete', 'Modify', 'Read', 'ViewPrivateItems'].map((r) => el(`t:${r}`, null, 'true')),
      ),
  },
  { uri: 'item:LastModifiedName', inDefault: false, write: (_i, m) => el('t:LastModifiedName', null, m.displayName) },
  { uri: 'item:LastModifiedTime', inDefault: true, write: (i) => el('t:LastModifiedTime', null, isoSeconds(i.props.lastModifiedTime)) },
  { uri: 'item:IsAssociated', inDefault: false, write: () => el('t:IsAssociated', null, 'false') },
  {
    uri: 'item:WebClientReadFormQueryString',
    inDefault: false,
    write: (i) => el('t:WebClientReadFormQueryString', null, `?ItemID=${encodeURIComponent(i.id)}&exvsurl=1&viewmodel=ReadMessageItem`),
  },
  {
    uri: 'item:ConversationId',
    inDefault: false,
    write: (i, m) => el('t:ConversationId', { Id: conversationId(i, m) }),
  },
  {
    uri: 'item:Flag',
    inDefault: false,
    write: (i) => {
      const { status, startDate, dueDate, completeDate } = i.props.flag;
      const time = (name: string, value: string | null) => (value ? el(name, null, isoSeconds(value)) : null);
      return el('t:Flag', null, el('t:FlagStatus', null, status), time('t:StartDate', startDate), time('t:DueDate', dueDate), time('t:CompleteDate', completeDate));
    },
  },
  { uri: 'message:Sender', inDefault: true, write: (i) => single('t:Sender', i.props.sender) },
  { uri: 'message:ToRecipients', inDefault: false, heavy: true, write: (i) => recipients('t:ToRecipients', i.props.toRecipients) },
  { uri: 'message:CcRecipients', inDefault: false, heavy: true, write: (i) => recipients('t:CcRecipients', i.props.ccRecipients) },
  { uri: 'message:BccRecipients', inDefault: false, heavy: true, write: (i) => recipients('t:BccRecipients', i.props.bccRecipients) },
  { uri: 'message:IsReadReceiptRequested', inDefault: true, write: (i) => el('t:IsReadReceiptRequested', null, i.props.isReadReceiptRequested) },
  { uri: 'message:IsDeliveryReceiptRequested', inDefault: true, write: (i) => el('t:IsDeliveryReceiptRequested', null, i.props.isDeliveryReceiptRequested) },
  { uri: 'message:ConversationIndex', inDefault: true, write: (i) => (i.props.conversationIndex ? el('t:ConversationIndex', null, i.props.conversationIndex) : null) },
  { uri: 'message:ConversationTopic', inDefault: true, write: (i) => el('t:ConversationTopic', null, i.props.conversationTopic) },
  { uri: 'message:From', inDefault: true, write: (i) => single('t:From', i.props.from) },
  { uri: 'message:InternetMessageId', inDefault: true, write: (i) => el('t:InternetMessageId', null, i.props.internetMessageId) },
  { uri: 'message:IsRead', inDefault: true, write: (i) => el('t:IsRead', null, i.props.isRead) },
  { uri: 'message:IsResponseRequested', inDefault: false, write: (i) => el('t:IsResponseRequested', null, i.props.isResponseRequested) },
  { uri: 'message:References', inDefault: true, write: (i) => (i.props.references ? el('t:References', null, i.props.references) : null) },
  { uri: 'message:ReplyTo', inDefault: false, write: (i) => recipients('t:ReplyTo', i.props.replyTo) },
];

const ITEM_URIS = new Set(ITEM_PROPERTIES.map((p) => p.uri));

/** Whether the sandbox can write this property (others are silently left out, as for a property never set). */
export function knownItemUri(uri: string): boolean {
  return ITEM_URIS.has(uri);
}

/** Exchange writes times to the second, with a Z. */
export function isoSeconds(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z');
}

export function writeItem(item: Item, mailbox: Mailbox, shape: ItemShape, context: ItemContext, state: SandboxState): Xml {
  const parts: XmlChild[] = [];
  for (const property of ITEM_PROPERTIES) {
    let wanted = property.uri === 'item:ItemId' || shape.additional.has(property.uri);
    if (property.uri === 'item:ExtendedProperty') wanted = shape.extended.length > 0;
    else if (shape.base === 'AllProperties') wanted = true;
    else if (shape.base === 'Default' && property.inDefault) wanted = true;
    if (property.uri === 'item:MimeContent') wanted = shape.includeMime || shape.additional.has(property.uri);
    if (property.heavy && context !== 'get') {
      // FindItem refuses bodies, attachments and MIME (assertShapeFor); SyncFolderItems leaves them out.
      wanted = false;
    }
    if (wanted) parts.push(property.write(item, mailbox, shape, state));
  }
  return el('t:Message', null, parts);
}

/**
* FindItem "does not return any of the message body formats or the recipient lists" (EWS reference, FindItem):
 * asked for, they are left out, not refused (python exchangelib's test suite asks FindItem for item:Body,
 * test_text_field_settings, and passes against Exchange). MIME and attachments are refused there with
 * ErrorInvalidPropertyForOperation (WinRb/Viewpoint#191, Garethp/php-ews#149). SyncFolderItems takes every
 * GetItem-only property and leaves it out of its changes, as Exchange 2013 and later do (clients ask it for all).
 */
const LEFT_OUT_IN_FIND = new Set(['item:Body', 'message:ToRecipients', 'message:CcRecipients', 'message:BccRecipients']);

/** Properties of the item types other than messages. */
const FOREIGN_URI = /^(meeting|meetingRequest|calendar|contacts|distributionlist|postitem|task|persona):/;

/**
 * Refuses what Exchange refuses in a shape: an invalid ExtendedFieldURI, and in FindItem the properties only
 * GetItem returns (above). A property of another item type (a meeting's, a contact's, a task's) is no
 * reason to refuse: Exchange 2010 and later leave it out of a message. Exchange 2007, and a request in its version
 * (no RequestServerVersion, or Exchange2007*), refused it with ErrorInvalidPropertyRequest: the documented
 * GetItem example (getitem-operation-email-message, Exchange 8.0), python exchangelib issues 100 and 909,
 * thunderbird/ews-rs issue 41 ("The Current ExchangeVersion is Exchange2007").
 */
export function assertShapeFor(shape: ItemShape, context: ItemContext, requestVersion = 'Exchange2016'): void {
  if (shape.problem) throw shape.problem;
  if (/^Exchange2007/.test(requestVersion)) {
    const foreign = [...shape.additional].find((uri) => FOREIGN_URI.test(uri));
    if (foreign) throw new EwsError('ErrorInvalidPropertyRequest', 'Property is not valid for this object type.', { xml: el('t:FieldURI', { FieldURI: foreign }) });
  }
  if (context !== 'find') return;
  const refused = shape.includeMime
    ? 'item:MimeContent'
    : ITEM_PROPERTIES.find((p) => p.heavy && shape.additional.has(p.uri) && !LEFT_OUT_IN_FIND.has(p.uri))?.uri;
  if (refused) {
    throw new EwsError('ErrorInvalidPropertyForOperation', 'Property is not valid for this operation.', {
      xml: el('t:FieldURI', { FieldURI: refused }),
    });
  }
}

// ---- folders ----

interface FolderProperty {
  uri: string;
  inDefault: boolean;
  /** Only GetFolder writes it (SyncFolderHierarchy's AllProperties has no PermissionSet). */
  getOnly?: boolean;
  write(folder: Folder, mailbox: Mailbox, counts: () => FolderCounts, shape: FolderShape): XmlChild;
}

type FolderCounts = ReturnType<Mailbox['counts']>;

/** A folder permission entry with no rights, as Exchange lists Default and Anonymous on a new folder. */
function noRights(user: 'Default' | 'Anonymous'): Xml {
  const no = (name: string) => el(name, null, 'false');
  return el(
    't:Permission',
    null,
    el('t:UserId', null, el('t:DistinguishedUser', null, user)),
    no('t:CanCreateItems'),
    no('t:CanCreateSubFolders'),
    no('t:IsFolderOwner'),
    no('t:IsFolderVisible'),
    no('t:IsFolderContact'),
    el('t:EditItems', null, 'None'),
    el('t:DeleteItems', null, 'None'),
    el('t:ReadItems', null, 'None'),
    el('t:PermissionLevel', null, 'None'),
  );
}

/** In BaseFolderType's then FolderType's schema order. */
const FOLDER_PROPERTIES: FolderProperty[] = [
  { uri: 'folder:FolderId', inDefault: true, write: (f, m) => el('t:FolderId', { Id: f.id, ChangeKey: m.changeKey(f) }) },
  {
    uri: 'folder:ParentFolderId',
    inDefault: false,
    write: (f, m) => {
      const parent = f.parentId ? m.folders.get(f.parentId) : undefined;
      return parent ? el('t:ParentFolderId', { Id: parent.id, ChangeKey: m.changeKey(parent) }) : null;
    },
  },
  { uri: 'folder:FolderClass', inDefault: false, write: (f) => (f.folderClass ? el('t:FolderClass', null, f.folderClass) : null) },
  { uri: 'folder:DisplayName', inDefault: true, write: (f) => el('t:DisplayName', null, f.displayName) },
  { uri: 'folder:TotalCount', inDefault: true, write: (_f, _m, counts) => el('t:TotalCount', null, counts().total) },
  { uri: 'folder:ChildFolderCount', inDefault: true, write: (_f, _m, counts) => el('t:ChildFolderCount', null, counts().children) },
  {
    uri: 'folder:ExtendedProperty',
    inDefault: false,
    write: (f, m, counts, shape) => {
      const facts = () => ({ folder: f, ...counts(), size: m.liveItems(f).reduce((sum, i) => sum + i.props.size, 0) });
      return shape.extended.map((path) => writeFolderExtendedProperty(facts, path));
    },
  },
  {
    uri: 'folder:EffectiveRights',
    inDefault: false,
    write: () =>
      el(
        't:EffectiveRights',
        null,
        el('t:CreateAssociated', null, 'true'),
        el('t:CreateContents', null, 'true'),
        el('t:CreateHierarchy', null, 'true'),
        el('t:Delete', null, 'true'),
        el('t:Modify', null, 'true'),
        el('t:Read', null, 'true'),
        el('t:ViewPrivateItems', null, 'true'),
      ),
  },
  { uri: 'folder:DistinguishedFolderId', inDefault: false, write: (f) => (f.distinguishedId ? el('t:DistinguishedFolderId', null, f.distinguishedId) : null) },
  { uri: 'folder:PermissionSet', inDefault: false, getOnly: true, write: () => el('t:PermissionSet', null, el('t:Permissions', null, noRights('Default'), noRights('Anonymous'))) },
  { uri: 'folder:UnreadCount', inDefault: true, write: (_f, _m, counts) => el('t:UnreadCount', null, counts().unread) },
];

export type FolderElement = 'Folder' | 'CalendarFolder' | 'ContactsFolder' | 'TasksFolder';

/**
 * The element Exchange writes a folder as, from its class: CalendarFolder, ContactsFolder, TasksFolder, else Folder
 * (the FindFolder example of how-to-work-with-folders-by-using-ews-in-exchange.md lists Calendar as a CalendarFolder
 * and Recipient Cache as a ContactsFolder).
 */
export function folderElement(folder: Folder): FolderElement {
  const folderClass = folder.folderClass;
  const is = (base: string) => folderClass === base || folderClass.startsWith(`${base}.`);
  if (is('IPF.Appointment')) return 'CalendarFolder';
  if (is('IPF.Contact')) return 'ContactsFolder';
  if (is('IPF.Task')) return 'TasksFolder';
  return 'Folder';
}

/** Properties of FolderType that CalendarFolderType and ContactsFolderType do not have (or have in another form). */
const FOLDER_TYPE_ONLY: Partial<Record<FolderElement, ReadonlySet<string>>> = {
  CalendarFolder: new Set(['folder:UnreadCount', 'folder:PermissionSet']),
  ContactsFolder: new Set(['folder:UnreadCount']),
};

export function writeFolder(folder: Folder, mailbox: Mailbox, shape: FolderShape, context: 'get' | 'list' = 'list'): Xml {
  if (shape.problem) throw shape.problem;
  const element = folderElement(folder);
  const parts: XmlChild[] = [];
  // Counting walks the folder's items: once per folder, however many count properties are asked for.
  let counted: FolderCounts | undefined;
  const counts = () => (counted ??= mailbox.counts(folder));
  for (const property of FOLDER_PROPERTIES) {
    if (property.getOnly && context !== 'get' && !shape.additional.has(property.uri)) continue;
    if (FOLDER_TYPE_ONLY[element]?.has(property.uri)) continue;
    const wanted =
      (property.uri === 'folder:ExtendedProperty' && shape.extended.length > 0) ||
      property.uri === 'folder:FolderId' ||
      shape.base === 'AllProperties' ||
      (shape.base === 'Default' && property.inDefault) ||
      shape.additional.has(property.uri);
    if (wanted) parts.push(property.write(folder, mailbox, counts, shape));
  }
  return el(`t:${element}`, null, parts);
}
