/**
 * Building XML as text. Names are written as given (prefix included); the caller declares the namespaces on an
 * ancestor. Text and attribute values are always escaped; raw() is for XML that is already serialized.
 */

export class Xml {
  constructor(readonly serialized: string) {}
  toString(): string {
    return this.serialized;
  }
}

export type XmlChild = Xml | string | number | boolean | null | undefined | readonly XmlChild[];
export type XmlAttributes = Record<string, string | number | boolean | null | undefined>;

// Characters XML 1.0 cannot carry at all; a server's data may hold them (a subject with a control character).
const INVALID_CHARS = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeText(value: string): string {
  return value.replace(INVALID_CHARS, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttribute(value: string): string {
  return escapeText(value).replace(/"/g, '&quot;').replace(/\r/g, '&#13;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

function append(out: string[], child: XmlChild): void {
  // null and undefined leave nothing; a boolean is text like a number ("true", "false").
  if (child === null || child === undefined) return;
  if (child instanceof Xml) out.push(child.serialized);
  else if (Array.isArray(child)) for (const c of child) append(out, c);
  else out.push(escapeText(String(child)));
}

/** An element; attributes whose value is null or undefined are left out; no children makes it self-closing. */
export function el(name: string, attributes?: XmlAttributes | null, ...content: XmlChild[]): Xml {
  let open = `<${name}`;
  if (attributes) {
    for (const [key, value] of Object.entries(attributes)) {
      if (value === null || value === undefined) continue;
      open += ` ${key}="${escapeAttribute(String(value))}"`;
    }
  }
  const inner: string[] = [];
  for (const c of content) append(inner, c);
  return new Xml(inner.length === 0 ? `${open}/>` : `${open}>${inner.join('')}</${name}>`);
}

export function raw(serialized: string): Xml {
  return new Xml(serialized);
}

/** Several nodes side by side, without an element around them. */
export function fragment(...content: XmlChild[]): Xml {
  const out: string[] = [];
  for (const c of content) append(out, c);
  return new Xml(out.join(''));
}

export const XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>';
