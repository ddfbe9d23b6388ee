/**
 * Attachments: reading t:FileAttachment and t:ItemAttachment from a request (CreateItem, CreateAttachment), and
 * the GetAttachment, CreateAttachment and DeleteAttachment operations. An attachment is a part of the item's
 * MIME (an attached item a message/rfc822 part); adding or removing one edits that MIME in place and keeps the
 * other attachments' ids.
 */
import { randomBytes } from 'node:crypto';
import { attr, child, children, type XmlElement } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el, raw, type Xml } from '../../../xml/write.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import { decodeAttachmentId } from '../../state/ids.js';
import { appendPart, attachmentParts, type ComposeAttachment, lastPart, removePart, removeRootContent } from '../../state/mime-parts.js';
import { composeMime, readMime } from '../../state/mime.js';
import type { AttachmentInfo, Item } from '../../state/model.js';
import { answerEach, type EwsContext, resolveItemId } from '../context.js';
import { attachmentIdFor, type EmbeddedItem, isItemAttachment, type ItemShape, readItemShape, writeAttachmentSummary, writeItem } from '../shapes.js';
import { EwsError, TEXT } from '../soap.js';
import type { Operation } from './types.js';

/** Builds the MIME of the t:Message (or t:Item) inside an t:ItemAttachment. */
export type ItemComposer = (message: XmlElement) => Promise<Buffer>;

/** The item types an ItemAttachment may hold in Exchange; the sandbox composes messages (and plain items as messages). */
const MESSAGE_ELEMENTS = new Set(['Message', 'Item']);
const ITEM_ELEMENTS = new Set(['Item', 'Message', 'CalendarItem', 'Contact', 'Task', 'MeetingMessage', 'MeetingRequest', 'MeetingResponse', 'MeetingCancellation', 'PostItem', 'RoleMember', 'Network', 'Person']);

/** How deep item attachments may nest: "more than 10 nested attachments" is refused (responsecode.md). */
const MAX_NESTING = 10;

/** The levels of item attachments in an ItemAttachment, itself included. */
function nesting(element: XmlElement): number {
  let deepest = 0;
  const walk = (e: XmlElement, depth: number) => {
    for (const c of e.children) {
      const next = c.local === 'ItemAttachment' && c.ns === NS.types ? depth + 1 : depth;
      deepest = Math.max(deepest, next);
      walk(c, next);
    }
  };
  walk({ ...element, children: [element] }, 0);
  return deepest;
}

/** Exchange's answer when an attachment has no name (createattachment-operation.md, error response example). */
function nameMissing(): EwsError {
  return new EwsError('ErrorRequiredPropertyMissing', 'Required property is missing.', { xml: el('t:ExceptionFieldURI', { FieldURI: 'attachment:Name' }) });
}

/** One t:FileAttachment or t:ItemAttachment of a request, as a part to compose. */
export async function readAttachment(element: XmlElement, composeItem: ItemComposer): Promise<ComposeAttachment> {
  const name = child(element, NS.types, 'Name')?.text;
  if (name === undefined || name.trim() === '') throw nameMissing();
  const isInline = xsBoolean(child(element, NS.types, 'IsInline')?.text) === true;
  const contentId = child(element, NS.types, 'ContentId')?.text.trim() || undefined;
  if (element.local === 'ItemAttachment') {
    if (nesting(element) > MAX_NESTING) {
      throw new EwsError('ErrorAttachmentNestLevelLimitExceeded', 'The attachments are nested more than 10 levels deep.');
    }
    const inner = element.children.find((c) => c.ns === NS.types && ITEM_ELEMENTS.has(c.local));
    if (!inner) throw new EwsError('ErrorMissingItemForCreateItemAttachment', 'The item attachment has no item.');
    if (!MESSAGE_ELEMENTS.has(inner.local)) {
      throw new EwsError('ErrorInvalidItemForOperationCreateItemAttachment', `The sandbox stores messages only; it cannot attach a ${inner.local}.`);
    }
    return { filename: name, contentType: 'message/rfc822', content: await composeItem(inner), inline: isInline, contentId };
  }
  if (element.local !== 'FileAttachment') throw new EwsError('ErrorInvalidRequest', `The sandbox does not store a ${element.local}.`);
  return {
    filename: name,
    contentType: child(element, NS.types, 'ContentType')?.text.trim() || 'application/octet-stream',
    content: Buffer.from((child(element, NS.types, 'Content')?.text ?? '').replace(/\s+/g, ''), 'base64'),
    inline: isInline,
    contentId,
  };
}

export function readAttachments(container: XmlElement | undefined, composeItem: ItemComposer): Promise<ComposeAttachment[]> {
  return Promise.all(children(container, NS.types).map((a) => readAttachment(a, composeItem)));
}

/** The attachments of a stored message, ready to compose into another (a forward carries them). */
export async function carriedAttachments(mime: Buffer): Promise<ComposeAttachment[]> {
  return (await attachmentParts(mime)).map((p) => ({
    filename: p.filename,
    contentType: p.contentType,
    content: p.content,
    inline: p.inline,
    contentId: p.contentId ?? undefined,
  }));
}

interface Found {
  root: Item;
  /** The message the attachment belongs to (the root item, or an attached message inside it). */
  holder: Item;
  mime: Buffer;
  index: number;
  attachment: AttachmentInfo;
}

function invalidAttachmentId(): EwsError {
  return new EwsError('ErrorInvalidAttachmentId', 'The attachment could not be found.');
}

/** An embedded message as an item of its root's folder (ids left out when it is written). */
async function embedded(root: Item, mime: Buffer, path: string[]): Promise<EmbeddedItem> {
  const props = await readMime(mime, new Date(root.props.dateTimeCreated));
  return { ...root, props, embeddedIn: { itemId: root.id, path } };
}

/**
 * Finds an attachment by id: ErrorInvalidIdMalformed for an id the sandbox could not have made, ErrorItemNotFound
 * when its item is gone (as for an item id; exchangelib's live tests expect both), ErrorInvalidAttachmentId when
 * the item has no such attachment (responsecode.md).
 */
async function findAttachment(context: EwsContext, element: XmlElement): Promise<Found> {
  const decoded = decodeAttachmentId(attr(element, 'Id') ?? '');
  if (!decoded) throw new EwsError('ErrorInvalidIdMalformed', TEXT.idMalformed);
  if ('foreignMailboxGuid' in decoded) {
    // Well formed but naming no attachment the sandbox made: not found. exchangelib's live
    // test_streaming_file_attachment_error sends a fixed id of this shape, whose mailbox GUID is no test
    // account's, and gets ErrorItemNotFound from Exchange.
    const owner = context.state.mailboxByGuid(decoded.foreignMailboxGuid);
    if (owner && owner !== context.mailbox) throw new EwsError('ErrorAccessDenied', TEXT.accessDenied);
    throw new EwsError('ErrorItemNotFound', TEXT.itemNotFound);
  }
  const root = resolveItemId(context, decoded.itemId);
  let holder: Item = root;
  let mime = context.state.mime(root.mimeRef);
  for (let depth = 0; ; depth += 1) {
    const key = decoded.path[depth]!;
    const index = holder.props.attachments.findIndex((a) => a.id === key);
    if (index < 0) throw invalidAttachmentId();
    const attachment = holder.props.attachments[index]!;
    if (depth === decoded.path.length - 1) return { root, holder, mime, index, attachment };
    if (!isItemAttachment(attachment)) throw invalidAttachmentId();
    mime = (await attachmentParts(mime))[index]!.content;
    holder = await embedded(root, mime, decoded.path.slice(0, depth + 1));
  }
}

// ---- writing ----

/** Takes the ids out of an embedded message's XML: an attached item is not an item of the store. */
function withoutIds(xml: Xml): Xml {
  return raw(xml.serialized.replace(/<t:ItemId [^>]*\/>/, '').replace(/<t:ParentFolderId [^>]*\/>/, ''));
}

/** An AttachmentShape, as the item shape an attached item is written with: all its properties (getattachment-operation.md). */
function readAttachmentShape(shape: XmlElement | undefined): ItemShape {
  const body = child(shape, NS.types, 'BodyType')?.text.trim();
  const additional = new Set<string>();
  for (const path of children(child(shape, NS.types, 'AdditionalProperties'), NS.types)) additional.add(attr(path, 'FieldURI') ?? '');
  return {
    ...readItemShape(undefined),
    base: 'AllProperties',
    includeMime: xsBoolean(child(shape, NS.types, 'IncludeMimeContent')?.text) === true,
    bodyType: body === 'HTML' || body === 'Text' ? body : 'Best',
    additional,
  };
}

export const getAttachment: Operation = {
  name: 'GetAttachment',
  handle(context, request) {
    const shape = readAttachmentShape(child(request, NS.messages, 'AttachmentShape'));
    return answerEach(
      'GetAttachment',
      children(child(request, NS.messages, 'AttachmentIds'), NS.types),
      async (idElement) => {
        const found = await findAttachment(context, idElement);
        const part = (await attachmentParts(found.mime))[found.index];
        if (!part) throw invalidAttachmentId();
        const summary = writeAttachmentSummary(found.holder, found.attachment).serialized;
        if (!isItemAttachment(found.attachment)) {
          // GetAttachment gives the whole attachment (getattachment-operation.md): the listing plus Content.
          return el('m:Attachments', null, raw(summary.replace(/<\/t:FileAttachment>$/, `${el('t:Content', null, part.content.toString('base64'))}</t:FileAttachment>`)));
        }
        // An item attachment carries its item with all its properties, as GetItem's AllProperties would.
        const path = [...((found.holder as EmbeddedItem).embeddedIn?.path ?? []), found.attachment.id];
        const message = await embedded(found.root, part.content, path);
        message.mimeRef = context.state.putMime(part.content);
        const written = withoutIds(writeItem(message, context.mailbox, shape, 'get', context.state));
        return el('m:Attachments', null, raw(summary.replace(/<\/t:ItemAttachment>$/, `${written.serialized}</t:ItemAttachment>`)));
      },
      () => el('m:Attachments'),
    );
  },
};

/** The ids of a new item's attachments, as CreateItem returns them next to the item's id. */
export function createdAttachmentIds(item: Item): Xml | null {
  if (item.props.attachments.length === 0) return null;
  return el(
    't:Attachments',
    null,
    item.props.attachments.map((a) => el(isItemAttachment(a) ? 't:ItemAttachment' : 't:FileAttachment', null, el('t:AttachmentId', { Id: attachmentIdFor(item, a) }))),
  );
}

/** Replaces an item's MIME with an edited one; the other attachments keep their keys (and so their ids). */
async function replaceMime(context: EwsContext, item: Item, mime: Buffer, keys: Array<{ id: string; lastModifiedTime?: string } | null>): Promise<AttachmentInfo[]> {
  const fresh = await readMime(mime, new Date(item.props.dateTimeReceived));
  const now = new Date().toISOString();
  const attachments = fresh.attachments.map((a, index) => {
    const kept = keys[index];
    return kept ? { ...a, id: kept.id, lastModifiedTime: kept.lastModifiedTime } : { ...a, id: randomBytes(6).toString('hex'), lastModifiedTime: now };
  });
  item.mimeRef = context.state.putMime(mime);
  // The body and the other properties stay as stored: only the attachments and the size change.
  context.mailbox.updateItem(item, { attachments, size: mime.length });
  return attachments;
}

export function createAttachmentOperation(composeItem: (context: EwsContext, message: XmlElement) => Promise<Buffer>): Operation {
  return {
    name: 'CreateAttachment',
    async handle(context, request) {
      const parentElement = child(request, NS.messages, 'ParentItemId');
      const elements = children(child(request, NS.messages, 'Attachments'), NS.types);
      return answerEach(
        'CreateAttachment',
        elements,
        async (element) => {
          if (!parentElement) throw new EwsError('ErrorInvalidRequest', 'The request is invalid.');
          const item = resolveItemId(context, attr(parentElement, 'Id') ?? '', parentElement);
          const attachment = await readAttachment(element, (message) => composeItem(context, message));
          // nodemailer writes a lone attachment as the last part of a small message; that part is what is added.
          const carrier = await composeMime({ from: { name: '', address: context.mailbox.address }, text: ' ', attachments: [attachment] });
          const before = item.props.attachments;
          const mime = appendPart(context.state.mime(item.mimeRef), lastPart(carrier));
          const after = await replaceMime(context, item, mime, before);
          if (after.length !== before.length + 1) throw new Error('the added attachment part was not read back as an attachment');
          const added = after[after.length - 1]!;
          const ref = context.mailbox.itemRef(item);
          const idXml = el('t:AttachmentId', { Id: attachmentIdFor(item, added), RootItemId: ref.id, RootItemChangeKey: ref.changeKey });
          return el('m:Attachments', null, el(attachment.contentType === 'message/rfc822' ? 't:ItemAttachment' : 't:FileAttachment', null, idXml));
        },
        () => el('m:Attachments'),
      );
    },
  };
}

export const deleteAttachment: Operation = {
  name: 'DeleteAttachment',
  handle(context, request) {
    return answerEach('DeleteAttachment', children(child(request, NS.messages, 'AttachmentIds'), NS.types), async (idElement) => {
      const found = await findAttachment(context, idElement);
      // Only the item's own attachments can go; an attached message is not changed.
      if (found.holder !== found.root) throw invalidAttachmentId();
      const parts = await attachmentParts(found.mime);
      const part = parts[found.index];
      if (!part) throw invalidAttachmentId();
      const keys = found.root.props.attachments.filter((_, i) => i !== found.index);
      // A message that is nothing but its attachment (no multipart) keeps an empty body.
      const edited = part.partId ? removePart(found.mime, part.partId) : removeRootContent(found.mime);
      await replaceMime(context, found.root, edited, keys);
      const ref = context.mailbox.itemRef(found.root);
      return el('m:RootItemId', { RootItemId: ref.id, RootItemChangeKey: ref.changeKey });
    });
  },
};
