/**
 * ResolveNames: who an address or the start of a name is, in the directory (and the acting mailbox's
 * contacts). Several matches are a Warning (ErrorNameResolutionMultipleResults) with all of them: a success
 * here. No match is the Error ErrorNameResolutionNoResults, thrown as EwsResponseError.
 */
import { NS } from '../../../xml/namespaces.js';
import { attr, child, children, textOf, type XmlElement } from '../../../xml/parse.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import { el } from '../../../xml/write.js';
import { EwsProtocolError } from '../soap/errors.js';
import { responseMessages } from '../soap/response.js';
import type { EwsOperation } from './operation.js';

export type ResolveNamesSearchScope = 'ActiveDirectory' | 'ActiveDirectoryContacts' | 'Contacts' | 'ContactsActiveDirectory';

export interface ResolveNamesRequest {
  /** An address, a name, or the start of one. */
  entry: string;
  /** Where to look; Exchange's default is ActiveDirectoryContacts. */
  searchScope?: ResolveNamesSearchScope;
}

export interface ResolvedMailbox {
  name: string;
  emailAddress: string;
  /** SMTP for a mailbox, EX for a legacy DN. */
  routingType: string;
  /** Mailbox, PublicDL, PrivateDL, Contact, PublicFolder, GroupMailbox, … */
  mailboxType: string;
  /** The contact's display name, when the server sent a Contact. */
  displayName?: string;
}

export interface ResolveNamesResult {
  resolutions: ResolvedMailbox[];
  /** The server found several (ResponseClass Warning, ErrorNameResolutionMultipleResults). */
  ambiguous: boolean;
  /** The ResolutionSet's paging attributes: Exchange returns at most 100. */
  totalItemsInView?: number;
  includesLastItemInRange?: boolean;
}

function readResolution(resolution: XmlElement): ResolvedMailbox {
  const mailbox = child(resolution, NS.types, 'Mailbox');
  const t = (local: string) => textOf(child(mailbox, NS.types, local));
  const displayName = textOf(child(child(resolution, NS.types, 'Contact'), NS.types, 'DisplayName'));
  return {
    name: t('Name'),
    emailAddress: t('EmailAddress'),
    routingType: t('RoutingType'),
    mailboxType: t('MailboxType'),
    ...(displayName ? { displayName } : {}),
  };
}

export const ResolveNames: EwsOperation<ResolveNamesRequest, ResolveNamesResult> = {
  name: 'ResolveNames',
  minVersion: 'Exchange2007_SP1',
  build(request) {
    if (request.entry.trim() === '') throw new RangeError('ResolveNames: the entry to resolve is empty');
    // Full contact data is a whole contact item per match: not needed to tell who an address is.
    return el('m:ResolveNames', { ReturnFullContactData: 'false', SearchScope: request.searchScope }, el('m:UnresolvedEntry', null, request.entry)).serialized;
  },
  read(response, context) {
    const [first] = responseMessages(response, context);
    if (!first) throw new EwsProtocolError(context.operation, 'the answer has no response message');
    if (!first.ok) throw first.error;
    const set = child(first.element, NS.messages, 'ResolutionSet');
    const total = attr(set, 'TotalItemsInView');
    const last = xsBoolean(attr(set, 'IncludesLastItemInRange'));
    return {
      resolutions: children(set, NS.types, 'Resolution').map(readResolution),
      ambiguous: first.responseClass === 'Warning' && first.responseCode === 'ErrorNameResolutionMultipleResults',
      ...(total !== undefined && /^\d+$/.test(total) ? { totalItemsInView: Number(total) } : {}),
      ...(last !== undefined ? { includesLastItemInRange: last } : {}),
    };
  },
};
