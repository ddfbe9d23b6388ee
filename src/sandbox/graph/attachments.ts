/**
 * A Graph message's `attachments` (sendMail, POST messages) read into the parts the sandbox's MIME composer
 * writes (state/mime-parts.ts, as the EWS side's t:FileAttachment is): a #microsoft.graph.fileAttachment becomes
 * a MIME part with its name, content type, bytes, inline disposition and Content-ID. Kinds the sandbox cannot
 * carry (itemAttachment, referenceAttachment) are refused with a 400, never accepted and dropped.
 */
import type { ComposeAttachment } from '../state/mime-parts.js';
import { badRequest, GraphError } from './errors.js';

const FILE = '#microsoft.graph.fileAttachment';
/** Attachment kinds of the v1.0 metadata the sandbox does not store. */
const NOT_CARRIED = new Set(['#microsoft.graph.itemattachment', '#microsoft.graph.referenceattachment']);

/** Graph's answer to a missing required property (seen for a fileAttachment without contentBytes). */
const missing = () => new GraphError(400, 'ErrorRequiredPropertyMissing', 'Required property is missing.');

function readOne(value: unknown): ComposeAttachment {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest('Each attachment must be an object.', 'RequestBodyRead');
  const a = value as Record<string, unknown>;
  const type = a['@odata.type'];
  if (type === undefined || type === null) {
    // Without a type it is the abstract microsoft.graph.attachment, which has no contentBytes (Graph's own words).
    const extra = Object.keys(a).find((k) => k === 'contentBytes' || k === 'contentId' || k === 'item' || k === 'sourceUrl');
    if (extra) throw badRequest(`The property '${extra}' does not exist on type 'microsoft.graph.attachment'. Make sure to only use property names that are defined by the type or mark the type as open type.`, 'RequestBodyRead');
    throw badRequest("An attachment needs an '@odata.type' (#microsoft.graph.fileAttachment).", 'RequestBodyRead');
  }
  if (typeof type !== 'string') throw badRequest("An attachment's '@odata.type' must be a string.", 'RequestBodyRead');
  if (NOT_CARRIED.has(type.toLowerCase())) {
    throw badRequest(`The sandbox cannot carry a ${type.replace(/^#microsoft\.graph\./i, '')}: only #microsoft.graph.fileAttachment attachments are stored. Nothing was sent or saved.`, 'ErrorInvalidRequest');
  }
  if (type.toLowerCase() !== FILE.toLowerCase()) throw badRequest(`A type named '${type.replace(/^#/, '')}' could not be resolved by the model.`, 'RequestBodyRead');
  if (typeof a.name !== 'string' || a.name.trim() === '' || typeof a.contentBytes !== 'string') throw missing();
  const text = a.contentBytes.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw badRequest('Invalid base64 string for contentBytes.', 'ErrorInvalidRequest');
  if (a.isInline !== undefined && a.isInline !== null && typeof a.isInline !== 'boolean') throw badRequest('isInline must be a boolean.', 'RequestBodyRead');
  if (a.contentId !== undefined && a.contentId !== null && typeof a.contentId !== 'string') throw badRequest('contentId must be a string.', 'RequestBodyRead');
  const contentType = typeof a.contentType === 'string' && a.contentType.trim() ? a.contentType.trim() : 'application/octet-stream';
  return {
    filename: a.name,
    contentType,
    content: Buffer.from(text, 'base64'),
    inline: a.isInline === true,
    ...(typeof a.contentId === 'string' && a.contentId.trim() ? { contentId: a.contentId.trim() } : {}),
  };
}

/** A message's `attachments` as parts to compose ([] when there are none). */
export function readGraphAttachments(value: unknown): ComposeAttachment[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest('attachments must be a collection.', 'RequestBodyRead');
  return value.map(readOne);
}
