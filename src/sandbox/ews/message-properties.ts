/**
 * The message properties a client can set, as CreateItem and UpdateItem read them from a t:Message: how each is
 * read, what deleting it leaves, whether it can be appended to, and whether it stays settable once the message
 * is sent. Appending is for recipient lists, ReplyTo and the body only, and a property a message must have
 * cannot be deleted ("EWS property-related errors"; ResponseCode in the EWS reference); recipients, From,
 * ReplyTo and the receipt requests are fixed once a message is sent, InternetMessageId once it is created (as
 * python exchangelib, tested against Exchange, marks them).
 */
import { attr, child, children, type XmlElement } from '../../xml/parse.js';
import { NS } from '../../xml/namespaces.js';
import { xsBoolean } from '../../xml/xs-boolean.js';
import { truncateSubject } from '../state/mime.js';
import type { Address, FlagInfo, MessageProps, Sensitivity } from '../state/model.js';
import { readExtendedProperty } from './extended-properties.js';

export function readAddresses(container: XmlElement | undefined): Address[] {
  return children(container, NS.types, 'Mailbox').map((m) => {
    const address = child(m, NS.types, 'EmailAddress')?.text.trim() ?? '';
    return { name: child(m, NS.types, 'Name')?.text.trim() || address, address };
  });
}

export interface SettableProperty {
  uri: string;
  /** The element that carries it inside t:Message. */
  element: string;
  read(element: XmlElement): Partial<MessageProps>;
  /** What DeleteItemField leaves; none: the property cannot be deleted. */
  cleared?: Partial<MessageProps>;
  /** AppendToItemField; none: the property cannot be appended to. */
  append?(current: MessageProps, element: XmlElement): Partial<MessageProps> | 'mismatch';
  /** Fixed once the message is sent (ErrorInvalidPropertyUpdateSentMessage). */
  fixedAfterSend?: boolean;
  /** Set when the message is created only. */
  createOnly?: boolean;
}

const text = (element: XmlElement) => element.text;
const bool = (element: XmlElement) => xsBoolean(element.text) ?? false;
const time = (element: XmlElement) => new Date(element.text.trim()).toISOString();

function readFlag(element: XmlElement): FlagInfo {
  const date = (name: string) => {
    const value = child(element, NS.types, name)?.text.trim();
    return value ? new Date(value).toISOString() : null;
  };
  const status = child(element, NS.types, 'FlagStatus')?.text.trim();
  return {
    status: status === 'Flagged' || status === 'Complete' ? status : 'NotFlagged',
    startDate: date('StartDate'),
    dueDate: date('DueDate'),
    completeDate: date('CompleteDate'),
  };
}

function recipientList(uri: string, element: string, key: 'toRecipients' | 'ccRecipients' | 'bccRecipients' | 'replyTo'): SettableProperty {
  return {
    uri,
    element,
    read: (e) => ({ [key]: readAddresses(e) }),
    cleared: { [key]: [] },
    append: (current, e) => ({ [key]: [...current[key], ...readAddresses(e)] }),
    fixedAfterSend: true,
  };
}

/** In the schema's order (ItemType's elements, then MessageType's). */
export const SETTABLE: SettableProperty[] = [
  { uri: 'item:Subject', element: 'Subject', read: (e) => ({ subject: truncateSubject(text(e)) }), cleared: { subject: '' } },
  { uri: 'item:Sensitivity', element: 'Sensitivity', read: (e) => ({ sensitivity: e.text.trim() as Sensitivity }) },
  {
    uri: 'item:Body',
    element: 'Body',
    read: (e) => ({ body: e.text, bodyType: attr(e, 'BodyType') === 'HTML' ? 'HTML' : 'Text' }),
    cleared: { body: '' },
    // Appending in another format than the stored body's is refused (ErrorInvalidPropertyAppend).
    append: (current, e) => ((attr(e, 'BodyType') === 'HTML' ? 'HTML' : 'Text') === current.bodyType ? { body: current.body + e.text } : 'mismatch'),
  },
  { uri: 'item:Categories', element: 'Categories', read: (e) => ({ categories: children(e, NS.types, 'String').map((s) => s.text) }), cleared: { categories: [] } },
  { uri: 'item:Importance', element: 'Importance', read: (e) => ({ importance: e.text.trim() as MessageProps['importance'] }) },
  { uri: 'item:InReplyTo', element: 'InReplyTo', read: (e) => ({ inReplyTo: text(e) }), cleared: { inReplyTo: null } },
  { uri: 'item:ReminderDueBy', element: 'ReminderDueBy', read: (e) => ({ reminderDueBy: time(e) }) },
  { uri: 'item:ReminderIsSet', element: 'ReminderIsSet', read: (e) => ({ reminderIsSet: bool(e) }) },
  { uri: 'item:ReminderMinutesBeforeStart', element: 'ReminderMinutesBeforeStart', read: (e) => ({ reminderMinutesBeforeStart: Number(e.text.trim()) }) },
  { uri: 'item:Culture', element: 'Culture', read: (e) => ({ culture: e.text.trim() }) },
  {
    uri: 'item:Flag',
    element: 'Flag',
    read: (e) => ({ flag: readFlag(e) }),
    cleared: { flag: { status: 'NotFlagged', startDate: null, dueDate: null, completeDate: null } },
  },
  recipientList('message:ToRecipients', 'ToRecipients', 'toRecipients'),
  recipientList('message:CcRecipients', 'CcRecipients', 'ccRecipients'),
  recipientList('message:BccRecipients', 'BccRecipients', 'bccRecipients'),
  { uri: 'message:IsReadReceiptRequested', element: 'IsReadReceiptRequested', read: (e) => ({ isReadReceiptRequested: bool(e) }), fixedAfterSend: true },
  { uri: 'message:IsDeliveryReceiptRequested', element: 'IsDeliveryReceiptRequested', read: (e) => ({ isDeliveryReceiptRequested: bool(e) }), fixedAfterSend: true },
  // A draft without a From is sent from the mailbox (python exchangelib deletes it from a draft it saves).
  { uri: 'message:From', element: 'From', read: (e) => ({ from: readAddresses(e)[0] ?? null }), cleared: { from: null }, fixedAfterSend: true },
  { uri: 'message:InternetMessageId', element: 'InternetMessageId', read: (e) => ({ internetMessageId: e.text.trim() }), createOnly: true },
  { uri: 'message:IsRead', element: 'IsRead', read: (e) => ({ isRead: bool(e) }) },
  { uri: 'message:IsResponseRequested', element: 'IsResponseRequested', read: (e) => ({ isResponseRequested: bool(e) }) },
  { uri: 'message:References', element: 'References', read: (e) => ({ references: text(e) }), cleared: { references: null } },
  recipientList('message:ReplyTo', 'ReplyTo', 'replyTo'),
];

export const SETTABLE_BY_URI = new Map(SETTABLE.map((p) => [p.uri, p]));

/** Every property a t:Message (of CreateItem) sets, extended properties included. */
export function readMessageProperties(message: XmlElement): Partial<MessageProps> {
  let props: Partial<MessageProps> = {};
  for (const property of SETTABLE) {
    const element = child(message, NS.types, property.element);
    if (element) props = { ...props, ...property.read(element) };
  }
  const extended = children(message, NS.types, 'ExtendedProperty').map(readExtendedProperty);
  if (extended.length > 0) {
    // A property named twice keeps its last value.
    props.extended = [...new Map(extended.map((e) => [e.key, e])).values()];
  }
  return props;
}
