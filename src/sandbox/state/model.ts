/** The sandbox's data: accounts, mailboxes, folders, messages. Plain data, so it can be saved as JSON. */

export type ServerName = 'mail' | 'mail2';
export const SERVER_NAMES: readonly ServerName[] = ['mail', 'mail2'];

export interface Account {
  /** As the account signs in: a UPN (svc@contoso.test) or DOMAIN\user. */
  username: string;
  password: string;
  /** Holds the ApplicationImpersonation role. */
  impersonation: boolean;
  /** The account's own mailbox, if it has one. */
  mailbox: string | null;
}

export interface Address {
  name: string;
  address: string;
}

export interface AttachmentInfo {
  id: string;
  name: string;
  contentType: string;
  size: number;
  isInline: boolean;
  contentId: string | null;
  /** An attached message (message/rfc822, an EWS ItemAttachment) rather than a file. */
  isItem?: boolean;
  /** When it was attached (else the item's LastModifiedTime stands for it). */
  lastModifiedTime?: string;
}

export type Sensitivity = 'Normal' | 'Personal' | 'Private' | 'Confidential';

/** A follow-up flag (t:Flag). Times are ISO strings. */
export interface FlagInfo {
  status: 'NotFlagged' | 'Flagged' | 'Complete';
  startDate: string | null;
  dueDate: string | null;
  completeDate: string | null;
}

/**
 * An extended MAPI property as a client set it: `key` names the property whatever form the client used
 * (tag, or property set and name or id, with the type); `field` keeps the ExtendedFieldURI attributes the
 * client wrote; `value` is one value, or a list for the array types.
 */
export interface ExtendedValue {
  key: string;
  field: Record<string, string>;
  value: string | string[];
}

export interface MessageProps {
  itemClass: string;
  subject: string;
  bodyType: 'HTML' | 'Text';
  body: string;
  attachments: AttachmentInfo[];
  dateTimeReceived: string;
  dateTimeSent: string;
  dateTimeCreated: string;
  lastModifiedTime: string;
  size: number;
  categories: string[];
  importance: 'Low' | 'Normal' | 'High';
  inReplyTo: string | null;
  references: string | null;
  internetMessageId: string;
  isRead: boolean;
  isDraft: boolean;
  isSubmitted: boolean;
  from: Address | null;
  sender: Address | null;
  toRecipients: Address[];
  ccRecipients: Address[];
  bccRecipients: Address[];
  replyTo: Address[];
  conversationTopic: string;
  conversationIndex: string | null;
  headers: Array<{ name: string; value: string }>;
  sensitivity: Sensitivity;
  reminderIsSet: boolean;
  reminderDueBy: string | null;
  reminderMinutesBeforeStart: number;
  isReadReceiptRequested: boolean;
  isDeliveryReceiptRequested: boolean;
  isResponseRequested: boolean;
  /** The message's language (PidTagMessageLocaleId as a culture name). */
  culture: string;
  flag: FlagInfo;
  extended: ExtendedValue[];
}

/** What a message has when nothing set these properties (and what a state saved before they existed lacks). */
export function messageDefaults(): Pick<
  MessageProps,
  'sensitivity' | 'reminderIsSet' | 'reminderDueBy' | 'reminderMinutesBeforeStart' | 'isReadReceiptRequested' | 'isDeliveryReceiptRequested' | 'isResponseRequested' | 'culture' | 'flag' | 'extended'
> {
  return {
    sensitivity: 'Normal',
    reminderIsSet: false,
    reminderDueBy: null,
    reminderMinutesBeforeStart: 0,
    isReadReceiptRequested: false,
    isDeliveryReceiptRequested: false,
    isResponseRequested: false,
    culture: 'en-US',
    flag: { status: 'NotFlagged', startDate: null, dueDate: null, completeDate: null },
    extended: [],
  };
}

export interface Item {
  id: string;
  folderId: string;
  version: number;
  /** sha256 of the MIME content, the key of the stored blob. */
  mimeRef: string;
  props: MessageProps;
  /** The change sequence at which the item appeared in its folder, and (when gone) left it. */
  createdSeq: number;
  /** The change sequence of its last change: the change number of its change key. */
  changeSeq?: number;
  deletedSeq: number | null;
  /**
   * The item's id when it was first stored: kept when it moves (Graph's immutable id is made from it). Absent
   * until the item first moves, then the id it had before.
   */
  originalId?: string;
  /**
   * Set for a message whose content the store cannot read (delivered with `corrupt` through the control API):
   * GetItem answers this per-item error when it asks for the MIME content or the body.
   */
  corrupt?: CorruptItemCode;
}

/**
 * ErrorItemCorrupt: "the state of the object is corrupted and cannot be retrieved. When you are retrieving an
 * item, only certain elements will be in this state, such as Body and MimeContent" (responsecode.md).
 * ErrorMimeContentConversionFailed ("MIME content conversion failed."): what Exchange answers a GetItem with
 * IncludeMimeContent for a message it cannot turn into MIME (exchangelib issue #266).
 */
export const CORRUPT_ITEM_CODES = ['ErrorItemCorrupt', 'ErrorMimeContentConversionFailed'] as const;
export type CorruptItemCode = (typeof CORRUPT_ITEM_CODES)[number];

export type ChangeKind = 'create' | 'update' | 'read' | 'delete';

export interface ChangeEntry {
  seq: number;
  id: string;
  kind: ChangeKind;
}

export interface Folder {
  id: string;
  parentId: string | null;
  displayName: string;
  folderClass: string;
  distinguishedId: string | null;
  /** Created hidden (Graph's mailFolder isHidden, set once at creation): left out of folder lists unless asked. */
  isHidden?: boolean;
  version: number;
  createdSeq: number;
  /** The change sequence of its last change: the change number of its change key. */
  changeSeq?: number;
  deletedSeq: number | null;
  /** Every item ever in this folder, including those that left it (for synchronization). */
  itemIds: string[];
  /** Item changes, in sequence order. */
  log: ChangeEntry[];
}

export interface MailboxData {
  guid: string;
  address: string;
  displayName: string;
  server: ServerName;
  aliases: string[];
  nextCounter: number;
  seq: number;
  folders: Folder[];
  items: Item[];
  /** Folder changes, in sequence order. */
  hierarchyLog: ChangeEntry[];
  /** Out-of-office settings, once set (SetUserOofSettings). */
  oof?: OofSettings;
}

export interface OofSettings {
  state: 'Disabled' | 'Enabled' | 'Scheduled';
  externalAudience: 'None' | 'Known' | 'All';
  start: string;
  end: string;
  internalReply: string;
  externalReply: string;
}

/** A distribution group of the directory: its address, name and member addresses (ExpandDL, MailTips, sending). */
export interface DistributionList {
  address: string;
  name: string;
  members: string[];
}

/** Answers Autodiscover gives for an address instead of settings. */
export interface AutodiscoverRedirect {
  address: string;
  kind: 'address' | 'url';
  target: string;
}

/** An app registration of the sandbox's tenant (the Graph side's client-credentials clients). */
export interface GraphApp {
  clientId: string;
  displayName: string;
  /** Application permissions consented for it (Mail.ReadWrite, Mail.Send, ...): the token's roles. */
  permissions: string[];
  secrets: Array<{ value: string; expiresAt: string | null }>;
  /** Certificates for client assertions: the PEM and its SHA-1 and SHA-256 thumbprints (hex). */
  certificates: Array<{ pem: string; sha1: string; sha256: string }>;
  /** The object id of its service principal (the token's oid). */
  servicePrincipalId: string;
}

/** An application access policy as New-ApplicationAccessPolicy makes it. */
export interface GraphAccessPolicy {
  id: string;
  appId: string;
  accessRight: 'RestrictAccess' | 'DenyAccess';
  mailboxes: string[];
  description: string;
}

export interface GraphData {
  tenantId: string;
  /** The key access tokens are signed with (PKCS#8 PEM), made on first use. */
  signingKeyPem: string | null;
  apps: GraphApp[];
  accessPolicies: GraphAccessPolicy[];
}
