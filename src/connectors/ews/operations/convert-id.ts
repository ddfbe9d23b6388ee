/**
 * ConvertId: an item or folder id in another format (EwsId, EwsLegacyId, EntryId, HexEntryId, StoreId,
 * OwaId), one response message per id, in request order: a failed id does not fail the others.
 */
import { NS } from '../../../xml/namespaces.js';
import { attr, child, type XmlElement } from '../../../xml/parse.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import { el } from '../../../xml/write.js';
import { EwsProtocolError } from '../soap/errors.js';
import { responseMessages } from '../soap/response.js';
import type { PerItem } from './common.js';
import type { EwsOperation } from './operation.js';

export type IdFormat = 'EwsLegacyId' | 'EwsId' | 'EntryId' | 'HexEntryId' | 'StoreId' | 'OwaId';

export interface AlternateId {
  format: IdFormat;
  id: string;
  /** The mailbox's primary SMTP address. */
  mailbox: string;
  isArchive?: boolean;
}

/** A public folder's id (AlternatePublicFolderId) or a public folder item's (AlternatePublicFolderItemId), as a server may answer. */
export interface AlternatePublicFolderId {
  format: IdFormat;
  folderId: string;
  itemId?: string;
}

export interface ConvertIdRequest {
  destinationFormat: IdFormat;
  ids: readonly AlternateId[];
}

/** One per id sent, in order: the converted id, or the server's error for that id (PerItem). */
export type ConvertIdResult = PerItem<AlternateId | AlternatePublicFolderId>;

function readAlternateId(element: XmlElement): AlternateId | AlternatePublicFolderId {
  const format = (attr(element, 'Format') ?? '') as IdFormat;
  const folderId = attr(element, 'FolderId');
  if (folderId !== undefined && attr(element, 'Id') === undefined) {
    const itemId = attr(element, 'ItemId');
    return itemId === undefined ? { format, folderId } : { format, folderId, itemId };
  }
  const isArchive = xsBoolean(attr(element, 'IsArchive'));
  return { format, id: attr(element, 'Id') ?? '', mailbox: attr(element, 'Mailbox') ?? '', ...(isArchive !== undefined ? { isArchive } : {}) };
}

export const ConvertId: EwsOperation<ConvertIdRequest, ConvertIdResult[]> = {
  name: 'ConvertId',
  minVersion: 'Exchange2007_SP1',
  build(request) {
    if (request.ids.length === 0) throw new RangeError('ConvertId: no ids to convert');
    return el(
      'm:ConvertId',
      { DestinationFormat: request.destinationFormat },
      el(
        'm:SourceIds',
        null,
        request.ids.map((id) => el('t:AlternateId', { Format: id.format, Id: id.id, Mailbox: id.mailbox, IsArchive: id.isArchive === undefined ? undefined : String(id.isArchive) })),
      ),
    ).serialized;
  },
  read(response, context) {
    return responseMessages(response, context).map((message): ConvertIdResult => {
      if (!message.ok) return message.error;
      const alternate = child(message.element, NS.messages, 'AlternateId');
      if (!alternate) throw new EwsProtocolError(context.operation, `response message ${message.index + 1} is a success without an AlternateId`);
      return readAlternateId(alternate);
    });
  },
};
