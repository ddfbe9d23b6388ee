/** ResolveNames (the sandbox's mailboxes are its directory) and ConvertId (between the id formats). */
import { attr, child, children, resolveQName } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { decodeId } from '../../state/ids.js';
import type { Mailbox } from '../../state/mailbox.js';
import type { DistributionList } from '../../state/model.js';
import { readAlternateId, writeAlternateId, type IdFormat } from '../alternate-ids.js';
import { answerEach } from '../context.js';
import { EwsError, failure, responseRoot, success, TEXT, warning } from '../soap.js';
import type { Operation } from './types.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';

const MAX_RESOLUTIONS = 100;

function resolution(mailbox: Mailbox, fullContact: boolean) {
  return el(
    't:Resolution',
    null,
    el(
      't:Mailbox',
      null,
      el('t:Name', null, mailbox.displayName),
      el('t:EmailAddress', null, mailbox.address),
      el('t:RoutingType', null, 'SMTP'),
      el('t:MailboxType', null, 'Mailbox'),
    ),
    fullContact
      ? el(
          't:Contact',
          null,
          el('t:DisplayName', null, mailbox.displayName),
          el('t:EmailAddresses', null, el('t:Entry', { Key: 'EmailAddress1' }, `SMTP:${mailbox.address}`)),
          el('t:ContactSource', null, 'ActiveDirectory'),
        )
      : null,
  );
}

function listResolution(list: DistributionList, fullContact: boolean) {
  return el(
    't:Resolution',
    null,
    el('t:Mailbox', null, el('t:Name', null, list.name), el('t:EmailAddress', null, list.address), el('t:RoutingType', null, 'SMTP'), el('t:MailboxType', null, 'PublicDL')),
    fullContact
      ? el(
          't:Contact',
          null,
          el('t:DisplayName', null, list.name),
          el('t:EmailAddresses', null, el('t:Entry', { Key: 'EmailAddress1' }, `SMTP:${list.address}`)),
          el('t:ContactSource', null, 'ActiveDirectory'),
        )
      : null,
  );
}

export const resolveNames: Operation = {
  name: 'ResolveNames',
  handle(context, request) {
    const entry = (child(request, NS.messages, 'UnresolvedEntry')?.text ?? '').trim().replace(/^smtp:/i, '').toLowerCase();
    const full = xsBoolean(attr(request, 'ReturnFullContactData')) === true;
    const all = [...context.state.mailboxes.values()];
    const exact = all.filter((m) => m.owns(entry));
    const matches =
      exact.length > 0
        ? exact
        : all.filter((m) => m.address.toLowerCase().startsWith(entry) || m.displayName.toLowerCase().split(/\s+/).some((w) => w.startsWith(entry)));
    // Distribution lists resolve too (MailboxType PublicDL): an exact address alone, else by the start of a word.
    const lists = context.state.distributionLists;
    const exactLists = lists.filter((d) => d.address.toLowerCase() === entry);
    const listMatches =
      exact.length > 0 ? [] : exactLists.length > 0 ? exactLists : lists.filter((d) => d.address.toLowerCase().startsWith(entry) || d.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(entry)));
    const found = [...(exactLists.length > 0 ? [] : matches).map((m) => resolution(m, full)), ...listMatches.map((d) => listResolution(d, full))];
    const shown = found.slice(0, MAX_RESOLUTIONS);
    const set = el('m:ResolutionSet', { TotalItemsInView: found.length, IncludesLastItemInRange: String(shown.length === found.length) }, shown);
    let message;
    if (found.length === 0) message = failure('ResolveNames', new EwsError('ErrorNameResolutionNoResults', TEXT.nameResolutionNone));
    else if (found.length === 1) message = success('ResolveNames', set);
    else message = warning('ResolveNames', 'ErrorNameResolutionMultipleResults', TEXT.nameResolutionMultiple, set);
    return responseRoot('ResolveNames', [message]);
  },
};

// ---- ConvertId ----

const ID_PREFIX_LENGTH = 4;

/** The id's bytes from any of the formats the sandbox writes. */
function idBytes(format: string, id: string): Buffer | null {
  try {
    switch (format) {
      case 'EwsId':
      case 'EwsLegacyId':
        return Buffer.from(id, 'base64');
      case 'OwaId':
        return Buffer.from(id, 'base64url');
      case 'EntryId':
        return Buffer.concat([Buffer.from([0x00, 0x03, 0x24, 0x00]), Buffer.from(id, 'base64')]);
      case 'HexEntryId':
        return /^[0-9A-Fa-f]+$/.test(id) ? Buffer.concat([Buffer.from([0x00, 0x03, 0x24, 0x00]), Buffer.from(id, 'hex')]) : null;
      case 'StoreId':
        return Buffer.from(id, 'base64');
      default:
        return null;
    }
  } catch {
    return null;
  }
}

function formatId(format: string, bytes: Buffer): string {
  switch (format) {
    case 'OwaId':
      return bytes.toString('base64url');
    case 'EntryId':
      return bytes.subarray(ID_PREFIX_LENGTH).toString('base64');
    case 'HexEntryId':
      return bytes.subarray(ID_PREFIX_LENGTH).toString('hex').toUpperCase();
    default:
      return bytes.toString('base64');
  }
}

export const convertId: Operation = {
  name: 'ConvertId',
  handle(context, request) {
    const destination = attr(request, 'DestinationFormat') ?? 'EwsId';
    return answerEach('ConvertId', children(child(request, NS.messages, 'SourceIds'), NS.types), (source) => {
      if (source.local !== 'AlternateId') throw new EwsError('ErrorInvalidRequest', 'The sandbox converts mailbox ids only.');
      const type = attr(source, 'type', NS.xsi);
      if (type && resolveQName(source, type).local !== 'AlternateIdType') throw new EwsError('ErrorInvalidRequest', 'The sandbox converts mailbox ids only.');
      const address = attr(source, 'Mailbox') ?? '';
      if (!/^[^\s@]+@[^\s@]+$/.test(address)) throw new EwsError('ErrorInvalidSmtpAddress', TEXT.invalidSmtpAddress);
      const format = attr(source, 'Format') ?? '';
      const id = attr(source, 'Id') ?? '';
      const bytes = idBytes(format, id);
      const decoded = bytes ? decodeId(bytes.toString('base64')) : null;
      if (bytes && decoded) {
        const owner = context.state.mailbox(address);
        if (!owner || owner.guid !== decoded.mailboxGuid) throw new EwsError('ErrorInvalidIdMalformed', TEXT.idMalformed);
        return el('m:AlternateId', { 'xsi:type': 't:AlternateIdType', Format: destination, Id: formatId(destination, bytes), Mailbox: owner.address });
      }
      // Any other well-formed id, in Exchange's layouts. As on Exchange, an EwsId names its mailbox by GUID (the
      // answer carries that mailbox's address, whatever Mailbox said); the other formats take Mailbox as given,
      // and an EwsId is written for the mailbox Mailbox names.
      const canonical = readAlternateId(format, id);
      if (!canonical) throw new EwsError('ErrorInvalidIdMalformed', TEXT.idMalformed);
      const guid = canonical.mailboxGuid;
      const owner = guid ? [...context.state.mailboxes.values()].find((m) => m.guid === guid) : context.state.mailbox(address);
      // Exchange's answer for a GUID no mailbox has (ms-docs addnewimcontacttogroup-operation, exportitems-operation).
      if (guid && !owner) throw new EwsError('ErrorNonExistentMailbox', 'No mailbox with such guid.', { values: { MailboxGuid: guid } });
      // The primary address where Exchange looks the mailbox up (an EwsId read or written), else Mailbox as given.
      const mailbox = owner && (guid || destination === 'EwsId') ? owner.address : address;
      if (!owner && destination === 'EwsId') throw new EwsError('ErrorNonExistentMailbox', TEXT.nonExistentMailbox, { values: { SmtpAddress: address } });
      const text = writeAlternateId(destination as IdFormat, canonical.entryId, { guid: owner?.guid ?? '', address: mailbox });
      return el('m:AlternateId', { 'xsi:type': 't:AlternateIdType', Format: destination, Id: text, Mailbox: mailbox });
    });
  },
};
