/**
 * Extended MAPI properties (t:ExtendedFieldURI, t:ExtendedProperty): which property a path names, whether the
 * path is a valid one, and values checked against their PropertyType, with the errors Exchange gives
 * (ExtendedFieldURI and ResponseCode in the EWS reference; "EWS property-related errors").
 */
import { attr, child, children, type XmlElement } from '../../xml/parse.js';
import { NS } from '../../xml/namespaces.js';
import { el, type Xml } from '../../xml/write.js';
import { xsBoolean } from '../../xml/xs-boolean.js';
import type { ExtendedValue, Folder, Item } from '../state/model.js';
import { EwsError } from './soap.js';

/** A property path as the client wrote it, and the property it names. */
export interface ExtendedField {
  key: string;
  type: string;
  /** The attributes of the client's ExtendedFieldURI, written back as they came. */
  field: Record<string, string>;
}

/** The GUIDs of the well-known property sets (MS-OXPROPS). */
const PROPERTY_SETS: Record<string, string> = {
  Meeting: '6ed8da90-450b-101b-98da-00aa003f1305',
  Appointment: '00062002-0000-0000-c000-000000000046',
  Common: '00062008-0000-0000-c000-000000000046',
  PublicStrings: '00020329-0000-0000-c000-000000000046',
  Address: '00062004-0000-0000-c000-000000000046',
  InternetHeaders: '00020386-0000-0000-c000-000000000046',
  CalendarAssistant: '11000e07-b51b-40d6-af21-caa85edab1d0',
  UnifiedMessaging: '4442858e-a9e3-4e80-b900-317a210cc15b',
  Task: '00062003-0000-0000-c000-000000000046',
  Sharing: '00062040-0000-0000-c000-000000000046',
};

/** Types that are only reported, never set or asked for ("EWS property-related errors": ErrorUnsupportedMapiPropertyType). */
const UNSUPPORTED_TYPES = new Set(['Error', 'Null', 'Object', 'ObjectArray']);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function invalid(field: Record<string, string>): EwsError {
  return new EwsError('ErrorInvalidExtendedProperty', 'The extended property attribute combination is invalid.', { xml: fieldElement(field) });
}

/** A PropertyTag or PropertyId: decimal or 0x-hexadecimal. */
function readNumber(text: string): number | null {
  const value = text.trim();
  if (/^0x[0-9a-f]+$/i.test(value)) return Number.parseInt(value.slice(2), 16);
  if (/^\d+$/.test(value)) return Number(value);
  return null;
}

export function fieldElement(field: Record<string, string>): Xml {
  return el('t:ExtendedFieldURI', field);
}

/** Reads a t:ExtendedFieldURI, refusing the combinations the reference says are invalid. */
export function readExtendedField(element: XmlElement): ExtendedField {
  const field: Record<string, string> = {};
  for (const name of ['DistinguishedPropertySetId', 'PropertySetId', 'PropertyTag', 'PropertyName', 'PropertyId', 'PropertyType']) {
    const value = attr(element, name);
    if (value !== undefined) field[name] = value;
  }
  const type = field.PropertyType ?? '';
  if (UNSUPPORTED_TYPES.has(type)) {
    throw new EwsError('ErrorUnsupportedMapiPropertyType', 'The MAPI property type is not supported.', { xml: fieldElement(field) });
  }
  const { DistinguishedPropertySetId: distinguished, PropertySetId: setId, PropertyTag: tag, PropertyName: name, PropertyId: id } = field;
  if (tag !== undefined) {
    if (distinguished !== undefined || setId !== undefined || name !== undefined || id !== undefined) throw invalid(field);
    const number = readNumber(tag);
    if (number === null || number > 0xffff) throw invalid(field);
    if (number >= 0x8000) {
      throw new EwsError('ErrorNoPropertyTagForCustomProperties', 'Property tags for custom properties cannot be used.', { xml: fieldElement(field) });
    }
    return { key: `tag:${number.toString(16).padStart(4, '0')}:${type}`, type, field };
  }
  if ((distinguished === undefined) === (setId === undefined)) throw invalid(field);
  if ((name === undefined) === (id === undefined)) throw invalid(field);
  let set: string;
  if (distinguished !== undefined) {
    set = PROPERTY_SETS[distinguished] ?? '';
    if (!set) throw invalid(field);
  } else {
    if (!GUID.test(setId!.trim())) throw invalid(field);
    set = setId!.trim().toLowerCase();
  }
  if (name !== undefined) {
    // Names in the Internet headers set are header names: case does not matter there.
    return { key: `${set}:name:${set === PROPERTY_SETS.InternetHeaders ? name.toLowerCase() : name}:${type}`, type, field };
  }
  const number = readNumber(id!);
  if (number === null) throw invalid(field);
  return { key: `${set}:id:${number}:${type}`, type, field };
}

function badValue(field: Record<string, string>): EwsError {
  return new EwsError('ErrorInvalidExtendedPropertyValue', 'The extended property value is invalid.', { xml: fieldElement(field) });
}

const INTEGER_RANGES: Record<string, [bigint, bigint]> = {
  Short: [-(2n ** 15n), 2n ** 15n - 1n],
  Integer: [-(2n ** 31n), 2n ** 31n - 1n],
  // Long is signed or unsigned 64-bit (ExtendedFieldURI, PropertyType).
  Long: [-(2n ** 63n), 2n ** 64n - 1n],
  Currency: [-(2n ** 63n), 2n ** 63n - 1n],
};

/** One value checked against its type and written the way Exchange writes it back. */
function normalizeValue(base: string, text: string, field: Record<string, string>): string {
  const value = text.trim();
  const range = INTEGER_RANGES[base];
  if (range) {
    if (!/^[-+]?\d+$/.test(value)) throw badValue(field);
    const number = BigInt(value);
    if (number < range[0] || number > range[1]) throw badValue(field);
    return number.toString();
  }
  switch (base) {
    case 'Boolean': {
      const parsed = xsBoolean(value);
      if (parsed === undefined) throw badValue(field);
      return String(parsed);
    }
    case 'Double':
    case 'Float':
    case 'ApplicationTime': {
      const number = Number(value);
      if (value === '' || !Number.isFinite(number)) throw badValue(field);
      return value;
    }
    case 'SystemTime': {
      const time = Date.parse(value);
      if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(time)) throw badValue(field);
      return new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
    case 'CLSID':
      if (!GUID.test(value)) throw badValue(field);
      return value;
    case 'Binary':
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value.replace(/\s+/g, '')) || value.replace(/\s+/g, '').length % 4 !== 0) throw badValue(field);
      return value.replace(/\s+/g, '');
    default:
      // String keeps its text as given.
      return text;
  }
}

/** Reads a t:ExtendedProperty (its path and its value or values). */
export function readExtendedProperty(element: XmlElement): ExtendedValue {
  const path = child(element, NS.types, 'ExtendedFieldURI');
  if (!path) throw new EwsError('ErrorInvalidExtendedProperty', 'The extended property attribute combination is invalid.');
  const { key, type, field } = readExtendedField(path);
  const isArray = type.endsWith('Array');
  const base = isArray ? type.slice(0, -'Array'.length) : type;
  const single = child(element, NS.types, 'Value');
  const list = child(element, NS.types, 'Values');
  if (isArray) {
    if (!list || single) throw badValue(field);
    return { key, field, value: children(list, NS.types, 'Value').map((v) => normalizeValue(base, v.text, field)) };
  }
  if (!single || list) throw badValue(field);
  return { key, field, value: normalizeValue(base, single.text, field) };
}

/** MAPI properties the sandbox computes from a message, read by tag (MS-OXPROPS). */
const COMPUTED: Record<string, (item: Item) => string> = {
  'tag:0037:String': (i) => i.props.subject,
  'tag:0e1d:String': (i) => i.props.subject.replace(/^((re|fw|fwd|aw|wg|sv|vs)\s*:\s*)+/i, ''),
  'tag:0e08:Integer': (i) => String(i.props.size),
  'tag:1035:String': (i) => i.props.internetMessageId,
  'tag:001a:String': (i) => i.props.itemClass,
  'tag:0017:Integer': (i) => String(['Low', 'Normal', 'High'].indexOf(i.props.importance)),
  'tag:0036:Integer': (i) => String(['Normal', 'Personal', 'Private', 'Confidential'].indexOf(i.props.sensitivity)),
  // PidTagMessageFlags: read 0x1, unmodified 0x2, unsent (a draft) 0x8, has attachments 0x10.
  'tag:0e07:Integer': (i) =>
    String((i.props.isRead ? 0x1 : 0) | (i.version === 1 ? 0x2 : 0) | (i.props.isDraft ? 0x8 : 0) | (i.props.attachments.some((a) => !a.isInline) ? 0x10 : 0)),
};

/** The value of the property a path names on an item, written as Exchange writes it; null when the item has none. */
export function writeExtendedProperty(item: Item, path: ExtendedField): Xml | null {
  const stored = item.props.extended.find((e) => e.key === path.key);
  const computed = stored ? undefined : COMPUTED[path.key]?.(item);
  const value = stored ? stored.value : computed;
  if (value === undefined) return null;
  return el(
    't:ExtendedProperty',
    null,
    fieldElement(path.field),
    Array.isArray(value) ? el('t:Values', null, value.map((v) => el('t:Value', null, v))) : el('t:Value', null, value),
  );
}

/** What a folder's computed MAPI properties are read from. */
export interface FolderFacts {
  folder: Folder;
  total: number;
  unread: number;
  children: number;
  /** The sizes of its messages, added up. */
  size: number;
}

/** MAPI properties the sandbox computes for a folder, read by tag (MS-OXPROPS). */
const COMPUTED_FOLDER: Record<string, (facts: FolderFacts) => string> = {
  'tag:3001:String': (f) => f.folder.displayName,
  'tag:3613:String': (f) => f.folder.folderClass,
  'tag:3602:Integer': (f) => String(f.total),
  'tag:3603:Integer': (f) => String(f.unread),
  'tag:3638:Integer': (f) => String(f.children),
  'tag:360a:Boolean': (f) => String(f.children > 0),
  // PidTagMessageSizeExtended, and PidTagMessageSize as a 32-bit value.
  'tag:0e08:Long': (f) => String(f.size),
  'tag:0e08:Integer': (f) => String(Math.min(f.size, 2 ** 31 - 1)),
};

/** The value of a computed folder property a path names, written as Exchange writes it; null when there is none. */
export function writeFolderExtendedProperty(facts: () => FolderFacts, path: ExtendedField): Xml | null {
  const compute = COMPUTED_FOLDER[path.key];
  return compute ? el('t:ExtendedProperty', null, fieldElement(path.field), el('t:Value', null, compute(facts()))) : null;
}
