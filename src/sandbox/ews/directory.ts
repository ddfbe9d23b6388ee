/**
 * The sandbox's directory as the directory operations see it (ExpandDL, GetMailTips, the out-of-office and
 * delegate operations, rooms): its mailboxes and distribution lists, and the t:Mailbox element they are written as.
 */
import { el, type Xml } from '../../xml/write.js';
import type { Mailbox } from '../state/mailbox.js';
import type { EwsContext } from './context.js';
import { EwsError, TEXT } from './soap.js';

export function directoryMailbox(name: string, address: string, type: 'Mailbox' | 'PublicDL'): Xml {
  return el('t:Mailbox', null, el('t:Name', null, name), el('t:EmailAddress', null, address), el('t:RoutingType', null, 'SMTP'), el('t:MailboxType', null, type));
}

/**
 * The mailbox an operation about a user names, when the caller acts on it: the acting mailbox itself. Another
 * sandbox mailbox is ErrorAccessDenied (no delegate rights are modelled); an address of no mailbox,
 * ErrorNonExistentMailbox.
 */
export function actingMailbox(context: EwsContext, address: string): Mailbox {
  if (context.mailbox.owns(address)) return context.mailbox;
  if (!context.state.mailbox(address)) throw new EwsError('ErrorNonExistentMailbox', TEXT.nonExistentMailbox);
  throw new EwsError('ErrorAccessDenied', TEXT.accessDenied);
}
