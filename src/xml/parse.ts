/**
 * Safe XML parsing for what mail servers (and clients of the sandbox) send: namespace-aware, no DTDs, no
 * entities beyond XML's five, bounded depth and size. Everything that reads XML in Liaison goes through here.
 */
import { SaxesParser } from 'saxes';

export interface XmlAttribute {
  ns: string;
  local: string;
  prefix: string;
  value: string;
}

export interface XmlElement {
  ns: string;
  local: string;
  prefix: string;
  attributes: XmlAttribute[];
  children: XmlElement[];
  /** The element's own text (and CDATA), concatenated; children's text is theirs. */
  text: string;
  line: number;
  column: number;
  /** Prefix to namespace bindings in scope, for QName-valued content such as xsi:type or faultcode. */
  scope: Readonly<Record<string, string>>;
}

export interface XmlLimits {
  maxBytes: number;
  maxDepth: number;
  maxElements: number;
  maxAttributes: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxDepth: 128,
  maxElements: 2_000_000,
  maxAttributes: 256,
};

export class XmlParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'XmlParseError';
  }
}

export interface XmlParseOptions {
  /**
   * Prefixes bound before the document starts, for answers that use a prefix they never declare (a reader
   * decides which, e.g. WCF's `i` for XMLSchema-instance); the document's own declarations still win.
   */
  additionalNamespaces?: Readonly<Record<string, string>>;
}

/** Parses a whole document and returns its root element. Throws XmlParseError on anything unsafe or malformed. */
export function parseXml(input: string | Buffer, limits: Partial<XmlLimits> = {}, options: XmlParseOptions = {}): XmlElement {
  const { maxBytes, maxDepth, maxElements, maxAttributes } = { ...DEFAULT_XML_LIMITS, ...limits };
  const byteLength = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (byteLength > maxBytes) throw new XmlParseError(`the document is ${byteLength} bytes; at most ${maxBytes} are accepted`, 0, 0);
  let text = typeof input === 'string' ? input : input.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const parser = options.additionalNamespaces
    ? new SaxesParser({ xmlns: true, position: true, additionalNamespaces: { ...options.additionalNamespaces } })
    : new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let count = 0;
  let failure: XmlParseError | null = null;
  const fail = (message: string) => {
    failure ??= new XmlParseError(message, parser.line, parser.column);
    throw failure;
  };

  parser.on('doctype', () => fail('a DOCTYPE (DTD) is not accepted'));
  parser.on('opentag', (tag) => {
    count += 1;
    if (count > maxElements) fail(`more than ${maxElements} elements`);
    if (stack.length >= maxDepth) fail(`elements nested deeper than ${maxDepth}`);
    const attributes: XmlAttribute[] = [];
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === 'xmlns' || (a.prefix === '' && a.local === 'xmlns')) continue;
      attributes.push({ ns: a.uri, local: a.local, prefix: a.prefix, value: a.value });
    }
    if (attributes.length > maxAttributes) fail(`an element with more than ${maxAttributes} attributes`);
    const parent = stack[stack.length - 1];
    const declared = tag.ns ?? {};
    const inherited = parent?.scope ?? options.additionalNamespaces ?? {};
    const scope = Object.keys(declared).length > 0 ? { ...inherited, ...declared } : inherited;
    const element: XmlElement = {
      ns: tag.uri,
      local: tag.local,
      prefix: tag.prefix,
      attributes,
      children: [],
      text: '',
      line: parser.line,
      column: parser.column,
      scope,
    };
    if (parent) parent.children.push(element);
    else if (root) fail('more than one root element');
    else root = element;
    stack.push(element);
  });
  parser.on('text', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on('cdata', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('error', (error) => {
    failure ??= new XmlParseError(error.message.replace(/^\d+:\d+: /, ''), parser.line, parser.column);
    throw failure;
  });

  try {
    parser.write(text).close();
  } catch (error) {
    if (failure) throw failure;
    throw new XmlParseError((error as Error).message, parser.line, parser.column);
  }
  if (!root) throw new XmlParseError('the document has no root element', parser.line, parser.column);
  return root;
}

export function child(element: XmlElement | undefined, ns: string, local: string): XmlElement | undefined {
  return element?.children.find((c) => c.local === local && c.ns === ns);
}

export function children(element: XmlElement | undefined, ns?: string, local?: string): XmlElement[] {
  if (!element) return [];
  return element.children.filter((c) => (ns === undefined || c.ns === ns) && (local === undefined || c.local === local));
}

export function attr(element: XmlElement | undefined, local: string, ns = ''): string | undefined {
  return element?.attributes.find((a) => a.local === local && a.ns === ns)?.value;
}

/** The element's text, trimmed; '' when the element is absent. */
export function textOf(element: XmlElement | undefined): string {
  return element ? element.text.trim() : '';
}

/** Resolves a QName such as "t:AlternateIdType" against the element's namespace scope. */
export function resolveQName(element: XmlElement, qname: string): { ns: string; local: string } {
  const colon = qname.indexOf(':');
  const prefix = colon >= 0 ? qname.slice(0, colon) : '';
  return { ns: element.scope[prefix] ?? '', local: colon >= 0 ? qname.slice(colon + 1) : qname };
}
