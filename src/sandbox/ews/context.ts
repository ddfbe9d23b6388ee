/**
 * What an operation handler works with: the mailbox the request acts on (the caller's own, or the one it
 * impersonates), and helpers that turn the request's folder and item ids into the sandbox's objects with the
 * errors Exchange gives for bad ones.
 */
import { attr, child, type XmlElement } from '../../xml/parse.js';
import { NS } from '../../xml/namespaces.js';
import type { SandboxSettings } from '../behaviour.js';
import { decodeId, isWellFormedChangeKey } from '../state/ids.js';
import { type Mailbox, MailboxStateError } from '../state/mailbox.js';
import type { Account, Folder, Item, ServerName } from '../state/model.js';
import type { SandboxState } from '../state/sandbox-state.js';
import type { Xml, XmlChild } from '../../xml/write.js';
import { EwsError, failure, responseRoot, success, TEXT } from './soap.js';
import type { Subscriptions } from './subscriptions.js';
import type { ExchangeVersion } from './versions.js';

export interface EwsContext {
  state: SandboxState;
  settings: SandboxSettings;
  subscriptions: Subscriptions;
  account: Account;
  mailbox: Mailbox;
  /** The server that serves the request: the one that received it, or the one it was routed to. */
  server: ServerName;
  /** The request's RequestServerVersion, checked (Exchange2007 when the header has none, as Exchange reads it). */
  requestVersion?: ExchangeVersion;
}

/** The folder a t:FolderId or t:DistinguishedFolderId names. */
export function resolveFolder(context: EwsContext, element: XmlElement | undefined, notFound = 'ErrorItemNotFound'): Folder {
  if (!element) throw new EwsError('ErrorInvalidRequest', 'The request is invalid.');
  if (element.local === 'DistinguishedFolderId') {
    const owner = child(child(element, NS.types, 'Mailbox'), NS.types, 'EmailAddress')?.text.trim();
    if (owner && !context.mailbox.owns(owner)) {
      // Delegate access to another mailbox is not modelled: the caller has no rights on it.
      if (!context.state.mailbox(owner)) throw new EwsError('ErrorNonExistentMailbox', TEXT.nonExistentMailbox);
      throw new EwsError('ErrorAccessDenied', TEXT.accessDenied);
    }
    const folder = context.mailbox.distinguishedFolder(attr(element, 'Id') ?? '');
    // A name of the schema's list that this mailbox has no folder for (an archive's, public folders, voice mail):
    // Exchange's answer, as pasted from a real server in a FindPeople response, is this ErrorInvalidOperation.
    if (!folder) throw new EwsError('ErrorInvalidOperation', 'The distinguished folder name is unrecognized.');
    return folder;
  }
  if (element.local === 'FolderId') {
    const id = attr(element, 'Id') ?? '';
    const decoded = decodeId(id);
    if (!decoded || decoded.kind !== 'folder') throw new EwsError('ErrorInvalidIdMalformed', TEXT.idMalformed);
    assertChangeKey(element);
    if (decoded.mailboxGuid !== context.mailbox.guid) {
      if (!context.state.mailboxByGuid(decoded.mailboxGuid)) {
        // Exchange 2010 and later: a parent naming no mailbox is a parent not found (2007 answered ErrorNonExistentMailbox).
        if (notFound === 'ErrorParentFolderNotFound') throw new EwsError(notFound, TEXT.parentFolderNotFound);
        throw new EwsError('ErrorNonExistentMailbox', 'No mailbox with such guid.');
      }
      throw new EwsError('ErrorAccessDenied', TEXT.accessDenied);
    }
    const folder = context.mailbox.folder(id);
    if (!folder) throw new EwsError(notFound, notFound === 'ErrorParentFolderNotFound' ? TEXT.parentFolderNotFound : TEXT.itemNotFound);
    return folder;
  }
  throw new EwsError('ErrorInvalidRequest', `The sandbox does not support ${element.local} here.`);
}

/** The first folder-id element inside a container such as m:ParentFolderId or m:ToFolderId. */
export function folderIdIn(container: XmlElement | undefined): XmlElement | undefined {
  return container?.children.find((c) => c.ns === NS.types && (c.local === 'FolderId' || c.local === 'DistinguishedFolderId'));
}

/** A ChangeKey given with an id must be one that can be read, stale or not (Exchange: ErrorInvalidChangeKey). */
function assertChangeKey(element: XmlElement): void {
  const changeKey = attr(element, 'ChangeKey');
  if (changeKey !== undefined && !isWellFormedChangeKey(changeKey)) throw new EwsError('ErrorInvalidChangeKey', TEXT.invalidChangeKey);
}

/** The item a t:ItemId names. */
export function resolveItem(context: EwsContext, element: XmlElement): Item {
  if (element.local !== 'ItemId') throw new EwsError('ErrorInvalidRequest', `The sandbox does not support ${element.local} here.`);
  return resolveItemId(context, attr(element, 'Id') ?? '', element);
}

/**
 * The item an id names (from a t:ItemId, a t:ParentItemId or t:ReferenceItemId, or inside an attachment id);
 * `element`, when given, carries a ChangeKey to check.
 */
export function resolveItemId(context: EwsContext, id: string, element?: XmlElement): Item {
  const decoded = decodeId(id);
  if (!decoded || decoded.kind !== 'item') throw new EwsError('ErrorInvalidIdMalformed', TEXT.idMalformed);
  if (element) assertChangeKey(element);
  if (decoded.mailboxGuid !== context.mailbox.guid) {
    if (!context.state.mailboxByGuid(decoded.mailboxGuid)) throw new EwsError('ErrorNonExistentMailbox', 'No mailbox with such guid.');
    throw new EwsError('ErrorAccessDenied', TEXT.accessDenied);
  }
  const item = context.mailbox.item(id);
  if (!item) throw new EwsError('ErrorItemNotFound', TEXT.itemNotFound);
  return item;
}

/**
 * Runs one per-item step; an EwsError (or a refusal from the mailbox) becomes that item's error message,
 * anything else propagates.
 */
export async function perItem<T>(work: () => T | Promise<T>, onError: (error: EwsError) => T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof EwsError) return onError(error);
    if (error instanceof MailboxStateError) return onError(new EwsError(error.code, error.message));
    throw error;
  }
}

/**
 * The usual shape of an operation: one response message per input, in request order. An input that fails is
 * answered with an error message (carrying the operation's empty container, as Exchange sends it) and the
 * others go on. `work` returns the success message's payload.
 */
export async function answerEach(
  operation: string,
  inputs: readonly XmlElement[],
  work: (input: XmlElement) => XmlChild | Promise<XmlChild>,
  errorPayload: () => XmlChild = () => null,
): Promise<Xml> {
  const messages: Xml[] = [];
  for (const input of inputs) {
    messages.push(await perItem(async () => success(operation, await work(input)), (error) => failure(operation, error, errorPayload())));
  }
  return responseRoot(operation, messages);
}

/** An operation that answers with a single response message. */
export async function answerOne(operation: string, work: () => XmlChild | Promise<XmlChild>, errorPayload: () => XmlChild = () => null): Promise<Xml> {
  const message = await perItem(async () => success(operation, await work()), (error) => failure(operation, error, errorPayload()));
  return responseRoot(operation, [message]);
}
