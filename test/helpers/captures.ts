/**
 * Reading recorded Exchange traffic and comparing the sandbox's answers with it: the reference folder, fixture
 * files (a provenance comment before the XML declaration), HTTP traces ("> " request lines, "< " response
 * lines), the outcome of an answer (fault code, or class and code per response message), the element tree of
 * an answer, and the map from a recorded server's ids to the sandbox's.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NS } from '../../src/xml/namespaces.js';
import { attr, type XmlElement } from '../../src/xml/parse.js';

// ---- where the recordings are ----

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The reference folder: $LIAISON_REFERENCE_DIR, else <repo>/../shared/reference, else /work/shared/reference. */
export function findReferenceDir(): string | null {
  const candidates = [process.env.LIAISON_REFERENCE_DIR, path.join(REPO_ROOT, '..', 'shared', 'reference'), '/work/shared/reference'];
  return candidates.find((dir): dir is string => !!dir && existsSync(path.join(dir, 'exchange', 'fixtures'))) ?? null;
}

/** A fixture file's XML: the provenance comment some files start with (before the XML declaration) removed. */
export function readFixture(file: string): string {
  return readFileSync(file, 'utf8').replace(/^\uFEFF?\s*<!--[\s\S]*?-->\s*/, '');
}

export function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
}

// ---- HTTP traces ----

export interface HttpMessage {
  startLine: string;
  headers: Array<[string, string]>;
  body: string;
}

export interface TraceExchange {
  request: HttpMessage;
  response: HttpMessage;
  /** The response's HTTP status. */
  status: number;
}

function readMessage(lines: string[]): HttpMessage {
  const blank = lines.indexOf('');
  const head = blank < 0 ? lines : lines.slice(0, blank);
  const headers = head.slice(1).map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  return { startLine: head[0] ?? '', headers, body: blank < 0 ? '' : lines.slice(blank + 1).join('\n') };
}

/**
 * Splits a trace into request/response pairs. Each message is a run of lines with the same marker ("> " for
 * the client, "< " for the server): start line, headers, a blank line, the body. Runs are separated by lines
 * holding only spaces.
 */
export function parseTrace(text: string): TraceExchange[] {
  const runs: Array<{ side: '>' | '<'; lines: string[] }> = [];
  let current: { side: '>' | '<'; lines: string[] } | null = null;
  for (const line of text.split(/\r?\n/)) {
    const side = line.startsWith('> ') || line === '>' ? '>' : line.startsWith('< ') || line === '<' ? '<' : null;
    if (!side) {
      current = null;
      continue;
    }
    if (!current || current.side !== side) {
      current = { side, lines: [] };
      runs.push(current);
    }
    current.lines.push(line.slice(2));
  }
  const exchanges: TraceExchange[] = [];
  for (let i = 0; i + 1 < runs.length; i += 1) {
    if (runs[i]!.side !== '>' || runs[i + 1]!.side !== '<') continue;
    const response = readMessage(runs[i + 1]!.lines);
    exchanges.push({ request: readMessage(runs[i]!.lines), response, status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(response.startLine)?.[1] ?? 0) });
    i += 1;
  }
  return exchanges;
}

// ---- reading answers by local name (recordings use any prefix, or none) ----

export function childNamed(element: XmlElement | undefined, local: string): XmlElement | undefined {
  return element?.children.find((c) => c.local === local);
}

export function childrenNamed(element: XmlElement | undefined, local: string): XmlElement[] {
  return element?.children.filter((c) => c.local === local) ?? [];
}

/** The operation's element of an EWS answer (or the root of a POX one). */
export function payload(doc: XmlElement): XmlElement | undefined {
  return doc.local === 'Envelope' ? childNamed(doc, 'Body')?.children[0] : doc;
}

/**
 * What an answer says, in a few lines: "Fault <code>" for a SOAP fault; "<message> <class> <code>" per EWS
 * response message; the ErrorCodes of an Autodiscover SOAP answer; the Action or ErrorCode of a POX one.
 */
export function outcome(doc: XmlElement): string[] {
  const body = payload(doc);
  if (!body) return ['(no body)'];
  if (body.local === 'Fault') return [`Fault ${childNamed(childNamed(body, 'detail'), 'ResponseCode')?.text.trim() ?? '(no code)'}`];
  const messages = childNamed(body, 'ResponseMessages');
  if (messages) return messages.children.map((m) => `${m.local} ${attr(m, 'ResponseClass') ?? ''} ${childNamed(m, 'ResponseCode')?.text.trim() ?? ''}`);
  if (body.local === 'GetUserSettingsResponseMessage') {
    const response = childNamed(body, 'Response');
    return [
      `Response ${childNamed(response, 'ErrorCode')?.text.trim()}`,
      ...childrenNamed(childNamed(response, 'UserResponses'), 'UserResponse').map((u) => `UserResponse ${childNamed(u, 'ErrorCode')?.text.trim()}`),
    ];
  }
  if (body.local === 'Autodiscover') {
    const response = childNamed(body, 'Response');
    const error = childNamed(response, 'Error');
    if (error) return [`Error ${childNamed(error, 'ErrorCode')?.text.trim()}`];
    return [`Action ${childNamed(childNamed(response, 'Account'), 'Action')?.text.trim()}`];
  }
  return [body.local];
}

// ---- element trees ----

const PREFIXES: Record<string, string> = {
  [NS.soap]: 's',
  [NS.messages]: 'm',
  [NS.types]: 't',
  [NS.errors]: 'e',
  [NS.xsi]: 'xsi',
  [NS.xml]: 'xml',
  [NS.wsa]: 'wsa',
  [NS.autodiscoverSoap]: 'a',
  [NS.poxResponse]: 'pox',
  [NS.poxOutlookResponse]: 'pox-a',
  [NS.poxRequest]: 'pox-req',
};

function qualified(ns: string, local: string): string {
  if (!ns) return local;
  return `${PREFIXES[ns] ?? `{${ns}}`}:${local}`;
}

/** An answer reduced to what is compared: element names (namespace + local name) and, optionally, attribute names. */
export interface Shape {
  name: string;
  attributes: string[];
  /** For m:MessageXml / t:MessageXml holding t:Value entries: their Names (clients look values up by Name). */
  values: string[] | null;
  children: Shape[];
}

export interface ShapeOptions {
  /** Compare attribute names too (real captures); documentation and client-test strings elide attributes freely. */
  attributes?: boolean;
  /** Local names whose content is not compared (data the sandbox does not have): the element itself still is. */
  opaque?: readonly string[];
  /** Local names left out of the comparison. */
  ignore?: readonly string[];
}

/**
 * The shape of an element. ServerVersionInfo (the server's build, which differs by design) is left out, and a
 * SOAP Header left empty by that too.
 */
export function shapeOf(element: XmlElement, options: ShapeOptions = {}): Shape {
  const walk = (e: XmlElement): Shape | null => {
    if (e.local === 'ServerVersionInfo' || options.ignore?.includes(e.local)) return null;
    const attributes = options.attributes === false ? [] : e.attributes.map((a) => qualified(a.ns, a.local)).sort();
    const opaque = options.opaque?.includes(e.local) ?? false;
    const isValues = !opaque && e.local === 'MessageXml' && e.children.length > 0 && e.children.every((c) => c.local === 'Value');
    const children = opaque || isValues ? [] : e.children.map(walk).filter((c): c is Shape => c !== null);
    if (e.local === 'Header' && e.ns === NS.soap && children.length === 0) return null;
    return { name: qualified(e.ns, e.local), attributes, values: isValues ? e.children.map((c) => attr(c, 'Name') ?? '').sort() : null, children };
  };
  return walk(element) ?? { name: '(ignored)', attributes: [], values: null, children: [] };
}

export function renderShape(shape: Shape, indent = ''): string {
  const attributes = shape.attributes.length > 0 ? ` [${shape.attributes.join(' ')}]` : '';
  const values = shape.values ? ` {${shape.values.join(', ')}}` : '';
  return [`${indent}${shape.name}${attributes}${values}`, ...shape.children.map((c) => renderShape(c, `${indent}  `))].join('\n');
}

/**
 * Where `actual` departs from `expected`, or null. 'same': the same elements in the same order, at every level.
 * 'embeds': every element of `expected` is found in `actual`, in order (actual may have more), for recordings
 * that are abridged. In both, the MessageXml values of `expected` must be among those of `actual`.
 */
export function shapeMismatch(expected: Shape, actual: Shape, mode: 'same' | 'embeds', where = ''): string | null {
  const here = `${where}/${expected.name}`;
  if (expected.name !== actual.name) return `${where || '/'}: expected ${expected.name}, found ${actual.name}`;
  const missingAttributes = expected.attributes.filter((a) => !actual.attributes.includes(a));
  const extraAttributes = mode === 'same' ? actual.attributes.filter((a) => !expected.attributes.includes(a)) : [];
  if (missingAttributes.length > 0 || extraAttributes.length > 0) {
    return `${here}: attributes [${expected.attributes.join(' ')}] expected, [${actual.attributes.join(' ')}] found`;
  }
  const missingValues = (expected.values ?? []).filter((v) => !(actual.values ?? []).includes(v));
  if (missingValues.length > 0) return `${here}: MessageXml values {${missingValues.join(', ')}} missing`;
  if (mode === 'same') {
    if (expected.children.length !== actual.children.length || expected.children.some((c, i) => c.name !== actual.children[i]!.name)) {
      return `${here}: children (${expected.children.map((c) => c.name).join(' ')}) expected, (${actual.children.map((c) => c.name).join(' ')}) found`;
    }
    for (const [i, c] of expected.children.entries()) {
      const problem = shapeMismatch(c, actual.children[i]!, mode, here);
      if (problem) return problem;
    }
    return null;
  }
  let from = 0;
  for (const c of expected.children) {
    let found = -1;
    let firstProblem: string | null = null;
    for (let j = from; j < actual.children.length; j += 1) {
      if (actual.children[j]!.name !== c.name) continue;
      const problem = shapeMismatch(c, actual.children[j]!, mode, here);
      if (!problem) {
        found = j;
        break;
      }
      firstProblem ??= problem;
    }
    if (found < 0) return firstProblem ?? `${here}: ${c.name} expected (in order), not found among (${actual.children.map((x) => x.name).join(' ')})`;
    from = found + 1;
  }
  return null;
}

// ---- ids ----

/** Elements with an Id attribute (FolderId, ParentFolderId, ItemId, …), by their path (local names, same-name index). */
function idsByPath(element: XmlElement): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (e: XmlElement, where: string) => {
    const id = attr(e, 'Id');
    if (id && e.local.endsWith('Id')) found.set(where, id);
    const seen = new Map<string, number>();
    for (const c of e.children) {
      const n = seen.get(c.local) ?? 0;
      seen.set(c.local, n + 1);
      walk(c, `${where}/${c.local}[${n}]`);
    }
  };
  walk(element, element.local);
  return found;
}

/**
 * The recorded server's ids and the sandbox's ids for the same objects. Learned from answers: an id at the same
 * place in the recorded answer and in the sandbox's names the same object. Later requests are rewritten with it.
 */
export class IdMap {
  readonly ids = new Map<string, string>();

  set(recorded: string, sandbox: string): void {
    if (recorded !== sandbox) this.ids.set(recorded, sandbox);
  }

  learn(recorded: XmlElement, sandbox: XmlElement): void {
    const ours = idsByPath(sandbox);
    for (const [where, id] of idsByPath(recorded)) {
      const mine = ours.get(where);
      if (mine) this.set(id, mine);
    }
  }

  /** The request with every recorded id replaced by the sandbox's. */
  rewrite(text: string): string {
    let result = text;
    for (const [recorded, sandbox] of this.ids) result = result.split(recorded).join(sandbox);
    return result;
  }
}
