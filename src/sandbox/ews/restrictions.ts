/**
 * Restrictions (FindItem, FindFolder): the search expressions a sync service uses (comparisons, Contains,
 * Exists, And/Or/Not) over the properties the sandbox keeps.
 */
import { attr, child, type XmlElement } from '../../xml/parse.js';
import { NS } from '../../xml/namespaces.js';
import type { Mailbox } from '../state/mailbox.js';
import type { Folder, Item } from '../state/model.js';
import { readExtendedField } from './extended-properties.js';
import { EwsError } from './soap.js';
import { xsBoolean } from '../../xml/xs-boolean.js';

export type Value = string | number | boolean | Date | string[] | null;

const ITEM_READERS: Record<string, (item: Item) => Value> = {
  'item:Subject': (i) => i.props.subject,
  'item:ItemClass': (i) => i.props.itemClass,
  'item:DateTimeReceived': (i) => new Date(i.props.dateTimeReceived),
  'item:DateTimeSent': (i) => new Date(i.props.dateTimeSent),
  'item:DateTimeCreated': (i) => new Date(i.props.dateTimeCreated),
  'item:LastModifiedTime': (i) => new Date(i.props.lastModifiedTime),
  'item:Size': (i) => i.props.size,
  'item:HasAttachments': (i) => i.props.attachments.some((a) => !a.isInline),
  'item:Importance': (i) => i.props.importance,
  'item:Sensitivity': (i) => i.props.sensitivity,
  'item:Body': (i) => i.props.body,
  'item:ReminderIsSet': (i) => i.props.reminderIsSet,
  'item:ReminderMinutesBeforeStart': (i) => i.props.reminderMinutesBeforeStart,
  // Exchange accepts a filter on these and matches nothing with it (python exchangelib's test suite,
  // test_queryset_nonsearchable_fields: "Filtering is accepted but doesn't work").
  'item:ReminderDueBy': () => null,
  'message:ConversationIndex': () => null,
  'item:Categories': (i) => i.props.categories,
  'item:InReplyTo': (i) => i.props.inReplyTo,
  'item:IsDraft': (i) => i.props.isDraft,
  'item:ParentFolderId': (i) => i.folderId,
  'message:InternetMessageId': (i) => i.props.internetMessageId,
  'message:IsRead': (i) => i.props.isRead,
  'message:IsReadReceiptRequested': (i) => i.props.isReadReceiptRequested,
  'message:IsDeliveryReceiptRequested': (i) => i.props.isDeliveryReceiptRequested,
  'message:IsResponseRequested': (i) => i.props.isResponseRequested,
  'message:From': (i) => i.props.from?.address ?? null,
  'message:Sender': (i) => i.props.sender?.address ?? null,
  'message:ConversationTopic': (i) => i.props.conversationTopic,
  'message:References': (i) => i.props.references,
};

/** The path of an extended property, as restrictions name it: `extended:` and the property's key. */
const EXTENDED = 'extended:';

/** Whether restrictions and sort orders can use this item property. */
export function queryableItemUri(uri: string): boolean {
  return uri in ITEM_READERS || uri.startsWith(EXTENDED);
}

function extendedValue(item: Item, key: string): Value {
  const stored = item.props.extended.find((e) => e.key === key);
  if (!stored) return null;
  if (Array.isArray(stored.value)) return stored.value;
  const type = key.slice(key.lastIndexOf(':') + 1);
  if (['Short', 'Integer', 'Long', 'Currency', 'Double', 'Float', 'ApplicationTime'].includes(type)) return Number(stored.value);
  if (type === 'Boolean') return stored.value === 'true';
  if (type === 'SystemTime') return new Date(stored.value);
  return stored.value;
}

export function itemValue(item: Item, uri: string): Value | undefined {
  if (uri.startsWith(EXTENDED)) return extendedValue(item, uri.slice(EXTENDED.length));
  return ITEM_READERS[uri]?.(item);
}

const FOLDER_URIS = new Set(['folder:DisplayName', 'folder:FolderClass', 'folder:TotalCount', 'folder:UnreadCount', 'folder:ChildFolderCount']);

/** Whether restrictions can use this folder property. */
export function queryableFolderUri(uri: string): boolean {
  return FOLDER_URIS.has(uri);
}

export function folderValue(folder: Folder, uri: string, mailbox: Mailbox): Value | undefined {
  switch (uri) {
    case 'folder:DisplayName':
      return folder.displayName;
    case 'folder:FolderClass':
      return folder.folderClass;
    case 'folder:TotalCount':
      return mailbox.counts(folder).total;
    case 'folder:UnreadCount':
      return mailbox.counts(folder).unread;
    case 'folder:ChildFolderCount':
      return mailbox.counts(folder).children;
    default:
      return undefined;
  }
}

type Reader<T> = (target: T, uri: string) => Value | undefined;
/** Whether a property can be searched; a restriction on one that cannot is refused before any item is read. */
type Supports = (uri: string) => boolean;
type Predicate<T> = (target: T) => boolean;

/** The property a path element names, as restrictions and sort orders read it; an extended one by its key. */
export function propertyPath(path: XmlElement | undefined): string {
  // An invalid ExtendedFieldURI gets the ExtendedFieldURI errors.
  if (path?.local === 'ExtendedFieldURI') return EXTENDED + readExtendedField(path).key;
  return attr(path, 'FieldURI') ?? '';
}

function pathUri(expression: XmlElement): string {
  return propertyPath(expression.children.find((c) => c.ns === NS.types && /FieldURI$/.test(c.local)));
}

function unsupported(uri: string): never {
  throw new EwsError('ErrorUnsupportedPathForQuery', `The property path ${uri} is not supported for this query in the sandbox.`);
}

function coerce(constant: string, like: Value): Value {
  if (like instanceof Date) return new Date(constant);
  if (typeof like === 'number') return Number(constant);
  if (typeof like === 'boolean') return xsBoolean(constant.toLowerCase()) ?? false;
  return constant;
}

function compare(a: Value, b: Value): number {
  if (a === null || b === null) return a === b ? 0 : Number.NaN;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a).toLowerCase().localeCompare(String(b).toLowerCase());
}

const COMPARISONS: Record<string, (c: number) => boolean> = {
  IsEqualTo: (c) => c === 0,
  IsNotEqualTo: (c) => c !== 0,
  IsGreaterThan: (c) => c > 0,
  IsGreaterThanOrEqualTo: (c) => c >= 0,
  IsLessThan: (c) => c < 0,
  IsLessThanOrEqualTo: (c) => c <= 0,
};

function compile<T>(expression: XmlElement, read: Reader<T>, supports: Supports): Predicate<T> {
  const name = expression.local;
  if (name === 'And' || name === 'Or') {
    const parts = expression.children.filter((c) => c.ns === NS.types).map((c) => compile(c, read, supports));
    return name === 'And' ? (t) => parts.every((p) => p(t)) : (t) => parts.some((p) => p(t));
  }
  if (name === 'Not') {
    const inner = compile(expression.children.find((c) => c.ns === NS.types)!, read, supports);
    return (t) => !inner(t);
  }
  const uri = pathUri(expression);
  if (!supports(uri)) unsupported(uri);
  if (name === 'Exists') return (t) => {
    const value = read(t, uri);
    if (value === undefined) unsupported(uri);
    return value !== null && value !== '';
  };
  if (name in COMPARISONS) {
    const operand = child(expression, NS.types, 'FieldURIOrConstant');
    const constant = child(operand, NS.types, 'Constant');
    if (!constant) throw new EwsError('ErrorUnsupportedQueryFilter', 'The sandbox compares properties with constants only.');
    const text = attr(constant, 'Value') ?? '';
    const test = COMPARISONS[name]!;
    return (t) => {
      const value = read(t, uri);
      if (value === undefined) unsupported(uri);
      if (Array.isArray(value)) return value.some((v) => test(compare(v, text)));
      return test(compare(value, coerce(text, value)));
    };
  }
  if (name === 'Contains') {
    const text = (attr(child(expression, NS.types, 'Constant'), 'Value') ?? '').toLowerCase();
    const mode = attr(expression, 'ContainmentMode') ?? 'Substring';
    const exact = (attr(expression, 'ContainmentComparison') ?? 'IgnoreCase') === 'Exact';
    return (t) => {
      const value = read(t, uri);
      if (value === undefined) unsupported(uri);
      const values = Array.isArray(value) ? value : [String(value ?? '')];
      return values.some((v) => {
        const haystack = exact ? v : v.toLowerCase();
        const needle = exact ? (attr(child(expression, NS.types, 'Constant'), 'Value') ?? '') : text;
        switch (mode) {
          case 'FullString':
            return haystack === needle;
          case 'Prefixed':
            return haystack.startsWith(needle);
          case 'PrefixOnWords':
            return haystack.split(/\s+/).some((w) => w.startsWith(needle));
          default:
            return haystack.includes(needle);
        }
      });
    };
  }
  throw new EwsError('ErrorUnsupportedQueryFilter', `The sandbox does not support the ${name} restriction.`);
}

/** Reads m:Restriction; without one every target passes. */
export function readRestriction<T>(restriction: XmlElement | undefined, read: Reader<T>, supports: Supports): Predicate<T> {
  const expression = restriction?.children.find((c) => c.ns === NS.types);
  return expression ? compile(expression, read, supports) : () => true;
}
