/**
 * Checks JSON payloads of the Graph sandbox (and the documentation's examples) against Microsoft Graph's
 * metadata: the trimmed v1.0 CSDL in the reference folder (graph/graph-v1.0-mail-trimmed.csdl.xml).
 *
 * What is checked, for an entity or complex type (and its base types, message → outlookItem → entity):
 *  - every property present is declared on the type; navigation properties only when the caller says they were
 *    expanded;
 *  - its JSON type matches the EDM type: Edm.String a string, Edm.Boolean a boolean, Edm.Int32/Int64 an integer
 *    in range (IEEE754Compatible=false: numbers, not strings), Edm.DateTimeOffset `YYYY-MM-DDTHH:MM:SS[.fffffff]Z`
 *    (Graph's mail docs: "ISO 8601 format and is always in UTC time"; the calendar date must exist), Edm.Guid,
 *    Edm.Binary base64, enum members as their names (exactly as declared), collections as arrays, complex types
 *    recursively; null only where the property is nullable;
 *  - `@odata.*` instance annotations (context, type, etag, id, nextLink, deltaLink …) are allowed and their values
 *    are strings; `@odata.type` must name the declared type or one derived from it; `name@odata.*` property
 *    annotations are allowed for declared properties; `@removed` only in delta answers, as `{reason: changed|deleted}`.
 *
 * Collection answers are `{ "@odata.context", value: [...], "@odata.nextLink"?, "@odata.deltaLink"? }` and
 * nothing else; a delta page carries exactly one of the two links.
 *
 * Two decisions about the CSDL itself, both stated where they act:
 *  - `message` is declared OpenType, which in OData admits any dynamic property. Graph puts none on a message, so
 *    a property the CSDL does not declare is reported (it is almost surely a misspelling). Only open types that
 *    declare no property of their own (resourceData, extension: property bags) accept anything.
 *  - The trimmed CSDL leaves out `directoryObject` (user's base type) and all of user's non-mail properties, so a
 *    user answer could not be checked at all. SUPPLEMENT below declares them, from Graph's user resource page
 *    (the default property set of GET /users/{id}, as in the documentation example auth-v2-service__04.json).
 *
 * Problems are returned as `{ path, message }` with JSON paths (`$.value[0].sender.emailAddress.address`,
 * `$['@odata.context']`); an empty list means the payload conforms.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { attr, parseXml, type XmlElement } from '../../src/xml/parse.js';
import { findReferenceDir } from './captures.js';

export interface CsdlProblem {
  path: string;
  message: string;
}

/** One problem the caller expects and accepts, by its exact path, with the reason (documentation examples). */
export interface CsdlExemption {
  path: string;
  reason: string;
}

export interface CheckOptions {
  /** Navigation properties that were expanded ($expand), as paths from the checked type: 'attachments', 'item'. */
  expand?: readonly string[];
  /** The answer is a delta page: `@removed` items are allowed, and exactly one of nextLink/deltaLink is required. */
  delta?: boolean;
  /**
   * The $select of the request: properties beyond these (and `id`, which Graph always returns) are reported.
   * Names are matched case-insensitively, as Graph does.
   */
  select?: readonly string[];
  /** `@odata.context` may be missing on a collection answer (only documentation examples abridge it). */
  contextOptional?: boolean;
}

interface PropertyDecl {
  name: string;
  /** The full type: 'Edm.String', 'microsoft.graph.recipient', or with collection: true the element type. */
  type: string;
  collection: boolean;
  nullable: boolean;
  navigation: boolean;
}

interface StructuredType {
  kind: 'entity' | 'complex';
  name: string;
  baseType: string | null;
  abstract: boolean;
  open: boolean;
  properties: Map<string, PropertyDecl>;
}

interface EnumDecl {
  name: string;
  members: Set<string>;
  flags: boolean;
}

const NAMESPACE = 'microsoft.graph';
const EDM = 'http://docs.oasis-open.org/odata/ns/edm';

/**
 * Declarations the trimmed CSDL leaves out, written in its own syntax. From Graph's v1.0 user resource type:
 * directoryObject (base of user: id, deletedDateTime) and the user properties GET /users/{id} returns by default.
 */
const SUPPLEMENT = `<Schema xmlns="${EDM}" Namespace="microsoft.graph">
  <EntityType Name="directoryObject" BaseType="graph.entity" OpenType="true">
    <Property Name="deletedDateTime" Type="Edm.DateTimeOffset" />
  </EntityType>
  <EntityType Name="user" BaseType="graph.directoryObject" OpenType="true">
    <Property Name="businessPhones" Type="Collection(Edm.String)" Nullable="false" />
    <Property Name="displayName" Type="Edm.String" />
    <Property Name="givenName" Type="Edm.String" />
    <Property Name="jobTitle" Type="Edm.String" />
    <Property Name="mobilePhone" Type="Edm.String" />
    <Property Name="officeLocation" Type="Edm.String" />
    <Property Name="preferredLanguage" Type="Edm.String" />
    <Property Name="surname" Type="Edm.String" />
  </EntityType>
</Schema>`;

export function graphReferenceDir(): string | null {
  const reference = findReferenceDir();
  return reference ? path.join(reference, 'graph') : null;
}

function qualified(type: string): string {
  // The CSDL's alias `graph.` and the namespace `microsoft.graph.` name the same types; a bare name is in the namespace.
  if (type.startsWith('graph.')) return `${NAMESPACE}.${type.slice('graph.'.length)}`;
  if (!type.includes('.')) return `${NAMESPACE}.${type}`;
  return type;
}

function parseType(raw: string): { type: string; collection: boolean } {
  const m = /^Collection\((.+)\)$/.exec(raw);
  return m ? { type: qualified(m[1]!), collection: true } : { type: qualified(raw), collection: false };
}

export class GraphCsdl {
  private readonly types = new Map<string, StructuredType>();
  private readonly enums = new Map<string, EnumDecl>();

  /** Loads the reference CSDL (and the SUPPLEMENT). */
  static load(file?: string): GraphCsdl {
    const csdlFile = file ?? path.join(graphReferenceDir() ?? '/work/shared/reference/graph', 'graph-v1.0-mail-trimmed.csdl.xml');
    const csdl = new GraphCsdl();
    csdl.addSchema(parseXml(GraphCsdl.repair(readFileSync(csdlFile, 'utf8'))));
    csdl.addSchema(parseXml(SUPPLEMENT), true);
    return csdl;
  }

  /**
   * The trimmed file's <Schema> start tag carries the default namespace declaration twice (the trimmer's slip),
   * which XML forbids and the project's parser rightly refuses. The second, identical, copy is dropped; nothing
   * else is touched.
   */
  static repair(text: string): string {
    return text.replace(/(<Schema\b[^>]*?)(\s+xmlns="([^"]*)")([^>]*?)\s+xmlns="\3"/, '$1$2$4');
  }

  private addSchema(schema: XmlElement, supplement = false): void {
    if (schema.local !== 'Schema' || schema.ns !== EDM) throw new Error(`not a CSDL schema: <${schema.local}> in ${schema.ns}`);
    for (const element of schema.children) {
      const name = `${NAMESPACE}.${attr(element, 'Name') ?? ''}`;
      if (element.local === 'EnumType') {
        const members = new Set(element.children.filter((c) => c.local === 'Member').map((c) => attr(c, 'Name') ?? ''));
        this.enums.set(name, { name, members, flags: attr(element, 'IsFlags') === 'true' });
      } else if (element.local === 'EntityType' || element.local === 'ComplexType') {
        const existing = this.types.get(name);
        const properties = new Map<string, PropertyDecl>(existing?.properties ?? []);
        for (const p of element.children) {
          if (p.local !== 'Property' && p.local !== 'NavigationProperty') continue;
          const { type, collection } = parseType(attr(p, 'Type') ?? '');
          const propertyName = attr(p, 'Name') ?? '';
          properties.set(propertyName, { name: propertyName, type, collection, nullable: attr(p, 'Nullable') !== 'false', navigation: p.local === 'NavigationProperty' });
        }
        const base = attr(element, 'BaseType');
        // A supplement adds to a type the trimmed file declares (user) without changing its base or openness.
        this.types.set(name, {
          kind: element.local === 'EntityType' ? 'entity' : 'complex',
          name,
          baseType: supplement && existing ? existing.baseType : base ? qualified(base) : null,
          abstract: attr(element, 'Abstract') === 'true',
          open: supplement && existing ? existing.open : attr(element, 'OpenType') === 'true',
          properties,
        });
      }
    }
  }

  /** The declared types' names (qualified), for tests of the loader. */
  typeNames(): string[] {
    return [...this.types.keys(), ...this.enums.keys()];
  }

  /** A property declared on the type or one of its base types. */
  property(typeName: string, propertyName: string): PropertyDecl | undefined {
    for (let t = this.types.get(qualified(typeName)); t; t = t.baseType ? this.types.get(t.baseType) : undefined) {
      const p = t.properties.get(propertyName);
      if (p) return p;
    }
    return undefined;
  }

  private derivesFrom(typeName: string, ancestor: string): boolean {
    for (let t = this.types.get(typeName); t; t = t.baseType ? this.types.get(t.baseType) : undefined) if (t.name === ancestor) return true;
    return false;
  }

  private isPropertyBag(t: StructuredType): boolean {
    return t.open && t.properties.size === 0;
  }

  /** Checks one entity or complex value against a type ('message', 'microsoft.graph.mailFolder', …). */
  checkEntity(payload: unknown, typeName: string, options: CheckOptions = {}): CsdlProblem[] {
    const problems: CsdlProblem[] = [];
    this.checkStructured(payload, qualified(typeName), '$', options, problems, true);
    return problems;
  }

  /** Checks a collection answer whose items are of the type. */
  checkCollection(payload: unknown, itemType: string, options: CheckOptions = {}): CsdlProblem[] {
    const problems: CsdlProblem[] = [];
    if (!isObject(payload)) return [{ path: '$', message: `a collection answer is an object, not ${describe(payload)}` }];
    for (const [key, value] of Object.entries(payload)) {
      if (key === 'value') continue;
      if (key === '@odata.context' || key === '@odata.nextLink' || key === '@odata.deltaLink') {
        if (typeof value !== 'string') problems.push({ path: pathOf('$', key), message: `${key} is a string, not ${describe(value)}` });
        else if (key !== '@odata.context' && !/^https?:\/\//.test(value)) problems.push({ path: pathOf('$', key), message: `${key} is an absolute URL, not ${JSON.stringify(value)}` });
        continue;
      }
      if (key === '@odata.count' && Number.isInteger(value)) continue;
      problems.push({ path: pathOf('$', key), message: `a collection answer has @odata.context, value, @odata.nextLink and @odata.deltaLink only, not ${JSON.stringify(key)}` });
    }
    if (!('@odata.context' in payload) && !options.contextOptional) problems.push({ path: pathOf('$', '@odata.context'), message: 'the collection answer has no @odata.context' });
    const hasNext = '@odata.nextLink' in payload;
    const hasDelta = '@odata.deltaLink' in payload;
    if (hasNext && hasDelta) problems.push({ path: '$', message: 'a page has either @odata.nextLink or @odata.deltaLink, not both' });
    if (options.delta && !hasNext && !hasDelta) problems.push({ path: '$', message: 'a delta page ends with @odata.nextLink or @odata.deltaLink; this one has neither' });
    if (!options.delta && hasDelta) problems.push({ path: pathOf('$', '@odata.deltaLink'), message: '@odata.deltaLink in an answer that is not a delta query' });
    const items = payload.value;
    if (!Array.isArray(items)) {
      problems.push({ path: '$.value', message: `value is an array, not ${describe(items)}` });
      return problems;
    }
    const type = qualified(itemType);
    items.forEach((item, i) => this.checkStructured(item, type, `$.value[${i}]`, options, problems, true));
    return problems;
  }

  private checkStructured(value: unknown, typeName: string, at: string, options: CheckOptions, problems: CsdlProblem[], top: boolean): void {
    let type = this.types.get(typeName);
    if (!type) {
      problems.push({ path: at, message: `the type ${typeName} is not in the CSDL` });
      return;
    }
    if (!isObject(value)) {
      problems.push({ path: at, message: `a ${short(typeName)} is an object, not ${describe(value)}` });
      return;
    }
    // @odata.type may name a derived type (a fileAttachment where attachment is declared).
    const odataType = value['@odata.type'];
    if (typeof odataType === 'string' && !this.isPropertyBag(type)) {
      const named = odataType.replace(/^#/, '');
      const resolved = qualified(named);
      if (!this.types.has(resolved)) problems.push({ path: pathOf(at, '@odata.type'), message: `@odata.type ${JSON.stringify(odataType)} names no type of the CSDL` });
      else if (!this.derivesFrom(resolved, typeName)) problems.push({ path: pathOf(at, '@odata.type'), message: `@odata.type ${JSON.stringify(odataType)} is not ${short(typeName)} or derived from it` });
      else type = this.types.get(resolved)!;
      if (!odataType.startsWith('#')) problems.push({ path: pathOf(at, '@odata.type'), message: `@odata.type in a payload starts with '#': ${JSON.stringify(odataType)}` });
    }
    const removed = top && options.delta && '@removed' in value;
    const selected = top && options.select ? new Set(['id', ...options.select].map((s) => s.toLowerCase())) : null;
    for (const [key, v] of Object.entries(value)) {
      const here = pathOf(at, key);
      if (key.startsWith('@')) {
        if (key === '@removed') {
          if (!options.delta || !top) problems.push({ path: here, message: '@removed appears only on the items of a delta answer' });
          else checkRemoved(v, here, problems);
        } else if (key.startsWith('@odata.')) {
          if (typeof v !== 'string' && !(key === '@odata.count' && Number.isInteger(v))) problems.push({ path: here, message: `${key} is a string, not ${describe(v)}` });
        } else {
          problems.push({ path: here, message: `the instance annotation ${key} is neither @odata.* nor (in delta answers) @removed` });
        }
        continue;
      }
      const at2 = key.indexOf('@');
      if (at2 > 0) {
        const base = key.slice(0, at2);
        if (!this.property(type.name, base)) problems.push({ path: here, message: `an annotation of ${JSON.stringify(base)}, which ${short(type.name)} does not declare` });
        else if (!key.slice(at2).startsWith('@odata.')) problems.push({ path: here, message: `the property annotation ${key} is not @odata.*` });
        continue;
      }
      const decl = this.property(type.name, key);
      if (!decl) {
        if (this.isPropertyBag(type)) continue;
        const near = this.nearest(type.name, key);
        problems.push({ path: here, message: `${short(type.name)} declares no property ${JSON.stringify(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}` });
        continue;
      }
      if (selected && !selected.has(key.toLowerCase())) problems.push({ path: here, message: `${key} was not in $select (${options.select!.join(',')})` });
      if (decl.navigation) {
        const pathFromTop = here.replace(/^\$(\.value\[\d+\])?\.?/, '').replace(/\[\d+\]/g, '');
        if (!(options.expand ?? []).includes(pathFromTop)) {
          problems.push({ path: here, message: `${key} is a navigation property of ${short(type.name)}: it appears only when expanded` });
          continue;
        }
      }
      this.checkValue(v, decl, here, options, problems);
    }
    if (removed) {
      const extra = Object.keys(value).filter((k) => k !== 'id' && !k.startsWith('@'));
      if (extra.length > 0) problems.push({ path: at, message: `a removed item carries its id and @removed only, not ${extra.join(', ')}` });
      if (typeof value.id !== 'string') problems.push({ path: pathOf(at, 'id'), message: 'a removed item carries its id' });
    }
    if (type.abstract && typeof odataType !== 'string') {
      // An abstract declared type (attachment) is always sent as a concrete one, named by @odata.type.
      problems.push({ path: at, message: `${short(type.name)} is abstract: the payload names its concrete type in @odata.type` });
    }
  }

  private checkValue(v: unknown, decl: PropertyDecl, at: string, options: CheckOptions, problems: CsdlProblem[]): void {
    if (v === null) {
      if (!decl.nullable || decl.collection) problems.push({ path: at, message: `${decl.name} is not nullable` });
      return;
    }
    if (decl.collection) {
      if (!Array.isArray(v)) {
        problems.push({ path: at, message: `${decl.name} is Collection(${short(decl.type)}): an array, not ${describe(v)}` });
        return;
      }
      v.forEach((element, i) => {
        if (element === null) problems.push({ path: `${at}[${i}]`, message: `a collection of ${short(decl.type)} holds no nulls` });
        else this.checkSingle(element, decl, `${at}[${i}]`, options, problems);
      });
      return;
    }
    this.checkSingle(v, decl, at, options, problems);
  }

  private checkSingle(v: unknown, decl: PropertyDecl, at: string, options: CheckOptions, problems: CsdlProblem[]): void {
    const type = decl.type;
    if (type.startsWith('Edm.')) {
      const problem = checkPrimitive(v, type);
      if (problem) problems.push({ path: at, message: `${decl.name}: ${problem}` });
      return;
    }
    const enumDecl = this.enums.get(type);
    if (enumDecl) {
      if (typeof v !== 'string') problems.push({ path: at, message: `${decl.name} is the enum ${short(type)}: a member name as a string, not ${describe(v)}` });
      else {
        const names = enumDecl.flags ? v.split(',').map((s) => s.trim()) : [v];
        for (const n of names) {
          if (!enumDecl.members.has(n)) problems.push({ path: at, message: `${decl.name}: ${JSON.stringify(n)} is not a member of ${short(type)} (${[...enumDecl.members].join(', ')})` });
        }
      }
      return;
    }
    if (this.types.has(type)) {
      this.checkStructured(v, type, at, options, problems, false);
      return;
    }
    problems.push({ path: at, message: `${decl.name} is of type ${type}, which the CSDL does not declare` });
  }

  /** The declared property closest to a misspelt name (case-insensitive match first, then one edit away). */
  private nearest(typeName: string, key: string): string | null {
    const names: string[] = [];
    for (let t = this.types.get(typeName); t; t = t.baseType ? this.types.get(t.baseType) : undefined) names.push(...t.properties.keys());
    const lower = key.toLowerCase();
    return names.find((n) => n.toLowerCase() === lower) ?? names.find((n) => editDistance(n.toLowerCase(), lower) <= 2) ?? null;
  }
}

function checkRemoved(v: unknown, at: string, problems: CsdlProblem[]): void {
  if (!isObject(v)) {
    problems.push({ path: at, message: `@removed is an object {reason}, not ${describe(v)}` });
    return;
  }
  for (const [k, r] of Object.entries(v)) {
    if (k !== 'reason') problems.push({ path: pathOf(at, k), message: `@removed carries reason only, not ${JSON.stringify(k)}` });
    else if (r !== 'changed' && r !== 'deleted') problems.push({ path: pathOf(at, k), message: `@removed.reason is "changed" or "deleted", not ${JSON.stringify(r)}` });
  }
}

const DATE_TIME_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,7})?Z$/;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$|^[A-Za-z0-9_-]*$/;

/** The reason a JSON value is not of an EDM primitive type, or null. */
export function checkPrimitive(v: unknown, type: string): string | null {
  switch (type) {
    case 'Edm.String':
      return typeof v === 'string' ? null : `Edm.String is a string, not ${describe(v)}`;
    case 'Edm.Boolean':
      return typeof v === 'boolean' ? null : `Edm.Boolean is true or false, not ${describe(v)}`;
    case 'Edm.Int32':
      return Number.isInteger(v) && (v as number) >= -2147483648 && (v as number) <= 2147483647 ? null : `Edm.Int32 is an integer in 32 bits, not ${describe(v)}`;
    case 'Edm.Int64':
      return Number.isSafeInteger(v) ? null : `Edm.Int64 is an integer (a number: IEEE754Compatible=false), not ${describe(v)}`;
    case 'Edm.Double':
      return typeof v === 'number' || v === 'NaN' || v === 'INF' || v === '-INF' ? null : `Edm.Double is a number, not ${describe(v)}`;
    case 'Edm.Guid':
      return typeof v === 'string' && GUID.test(v) ? null : `Edm.Guid is 8-4-4-4-12 hexadecimal digits, not ${describe(v)}`;
    case 'Edm.Binary':
      return typeof v === 'string' && BASE64.test(v) ? null : `Edm.Binary is base64 text, not ${describe(v)}`;
    case 'Edm.DateTimeOffset': {
      if (typeof v !== 'string') return `Edm.DateTimeOffset is a string, not ${describe(v)}`;
      const m = DATE_TIME_OFFSET.exec(v);
      if (!m) return `Edm.DateTimeOffset in Graph is YYYY-MM-DDTHH:MM:SS[.fffffff]Z (UTC), not ${JSON.stringify(v)}`;
      const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
      const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
      if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return `${JSON.stringify(v)} is not a date and time that exists`;
      return null;
    }
    default:
      return `the primitive type ${type} is not supported by this checker`;
  }
}

// ---- Graph's error answer (errors__02.json / errors__03.json: {error: odata.error {code, message, innererror}}) ----

/**
 * Checks an error answer: `{ "error": { "code": string, "message": string, "innerError"?: object, "details"?: [...],
 * "target"?: string } }` and nothing else. The documentation's JSON representation spells it `innererror`; Graph
 * itself writes `innerError` (errors__01.json, throttling__01): both are accepted, not both at once. The inner
 * error's members are strings (request-id, date, client-request-id, …) or a nested inner error.
 */
export function checkGraphError(payload: unknown): CsdlProblem[] {
  const problems: CsdlProblem[] = [];
  if (!isObject(payload)) return [{ path: '$', message: `an error answer is an object, not ${describe(payload)}` }];
  for (const key of Object.keys(payload)) if (key !== 'error') problems.push({ path: pathOf('$', key), message: `an error answer has only "error", not ${JSON.stringify(key)}` });
  const error = payload.error;
  if (!isObject(error)) {
    problems.push({ path: '$.error', message: `error is an object, not ${describe(error)}` });
    return problems;
  }
  checkErrorObject(error, '$.error', problems);
  return problems;
}

function checkErrorObject(error: Record<string, unknown>, at: string, problems: CsdlProblem[]): void {
  if (typeof error.code !== 'string' || error.code === '') problems.push({ path: `${at}.code`, message: `code is a non-empty string, not ${describe(error.code)}` });
  if (typeof error.message !== 'string') problems.push({ path: `${at}.message`, message: `message is a string, not ${describe(error.message)}` });
  if ('innerError' in error && 'innererror' in error) problems.push({ path: at, message: 'both innerError and innererror' });
  for (const [key, v] of Object.entries(error)) {
    const here = pathOf(at, key);
    if (key === 'code' || key === 'message') continue;
    if (key === 'innerError' || key === 'innererror') {
      if (!isObject(v)) problems.push({ path: here, message: `${key} is an object, not ${describe(v)}` });
      else checkInnerError(v, here, problems);
    } else if (key === 'target') {
      if (typeof v !== 'string') problems.push({ path: here, message: `target is a string, not ${describe(v)}` });
    } else if (key === 'details') {
      if (!Array.isArray(v)) problems.push({ path: here, message: `details is an array, not ${describe(v)}` });
      else v.forEach((d, i) => (isObject(d) ? checkErrorObject(d, `${here}[${i}]`, problems) : problems.push({ path: `${here}[${i}]`, message: `a detail is an object, not ${describe(d)}` })));
    } else if (!key.startsWith('@odata.')) {
      problems.push({ path: here, message: `an odata.error has code, message, target, details and innerError, not ${JSON.stringify(key)}` });
    }
  }
}

function checkInnerError(inner: Record<string, unknown>, at: string, problems: CsdlProblem[]): void {
  for (const [key, v] of Object.entries(inner)) {
    if (typeof v === 'string') continue;
    if ((key === 'innerError' || key === 'innererror') && isObject(v)) checkInnerError(v, pathOf(at, key), problems);
    else problems.push({ path: pathOf(at, key), message: `the inner error's ${key} is a string, not ${describe(v)}` });
  }
}

// ---- helpers ----

/** Removes the problems the exemptions name (exact paths); returns the rest and the exemptions nothing matched. */
export function applyExemptions(problems: readonly CsdlProblem[], exemptions: readonly CsdlExemption[]): { problems: CsdlProblem[]; unused: CsdlExemption[] } {
  const used = new Set<CsdlExemption>();
  const rest = problems.filter((p) => {
    const e = exemptions.find((x) => x.path === p.path);
    if (e) used.add(e);
    return !e;
  });
  return { problems: rest, unused: exemptions.filter((e) => !used.has(e)) };
}

export function formatProblems(problems: readonly CsdlProblem[]): string {
  return problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `the ${typeof v} ${String(v)}`;
}

function short(typeName: string): string {
  return typeName.startsWith(`${NAMESPACE}.`) ? typeName.slice(NAMESPACE.length + 1) : typeName;
}

export function pathOf(at: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${at}.${key}` : `${at}[${JSON.stringify(key).replace(/^"|"$/g, "'")}]`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length]!;
}

// ---- the token endpoint's answer and the $batch envelope (no CSDL types: shapes from the documentation) ----

/**
 * A token answer of the v2.0 endpoint (auth-v2-service__01.json): token_type "Bearer", expires_in a number of
 * seconds, access_token a string; Azure AD also sends ext_expires_in (a number). Nothing else.
 */
export function checkTokenResponse(payload: unknown): CsdlProblem[] {
  if (!isObject(payload)) return [{ path: '$', message: `a token answer is an object, not ${describe(payload)}` }];
  const problems: CsdlProblem[] = [];
  if (payload.token_type !== 'Bearer') problems.push({ path: '$.token_type', message: `token_type is "Bearer", not ${describe(payload.token_type)}` });
  if (!Number.isInteger(payload.expires_in) || (payload.expires_in as number) <= 0) problems.push({ path: '$.expires_in', message: `expires_in is a positive number of seconds, not ${describe(payload.expires_in)}` });
  if (typeof payload.access_token !== 'string' || payload.access_token === '') problems.push({ path: '$.access_token', message: `access_token is a string, not ${describe(payload.access_token)}` });
  for (const key of Object.keys(payload)) {
    if (key === 'ext_expires_in' && !Number.isInteger(payload[key])) problems.push({ path: pathOf('$', key), message: `ext_expires_in is a number, not ${describe(payload[key])}` });
    else if (!['token_type', 'expires_in', 'ext_expires_in', 'access_token'].includes(key)) problems.push({ path: pathOf('$', key), message: `a client-credentials token answer has no ${JSON.stringify(key)}` });
  }
  return problems;
}

export interface BatchResponseItem {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** The $batch answer envelope (json-batching__04.json): {responses: [{id, status, headers?, body?}]}; bodies are the caller's. */
export function checkBatchResponse(payload: unknown): CsdlProblem[] {
  if (!isObject(payload)) return [{ path: '$', message: `a batch answer is an object, not ${describe(payload)}` }];
  const problems: CsdlProblem[] = [];
  for (const key of Object.keys(payload)) if (key !== 'responses' && !key.startsWith('@odata.')) problems.push({ path: pathOf('$', key), message: `a batch answer has responses only, not ${JSON.stringify(key)}` });
  if (!Array.isArray(payload.responses)) return [...problems, { path: '$.responses', message: `responses is an array, not ${describe(payload.responses)}` }];
  payload.responses.forEach((r, i) => {
    const at = `$.responses[${i}]`;
    if (!isObject(r)) return problems.push({ path: at, message: `a response is an object, not ${describe(r)}` });
    if (typeof r.id !== 'string') problems.push({ path: `${at}.id`, message: `id is a string, not ${describe(r.id)}` });
    if (!Number.isInteger(r.status)) problems.push({ path: `${at}.status`, message: `status is an integer, not ${describe(r.status)}` });
    if ('headers' in r) {
      if (!isObject(r.headers)) problems.push({ path: `${at}.headers`, message: `headers is an object, not ${describe(r.headers)}` });
      else for (const [h, v] of Object.entries(r.headers)) if (typeof v !== 'string') problems.push({ path: pathOf(`${at}.headers`, h), message: `a header value is a string, not ${describe(v)}` });
    }
    for (const key of Object.keys(r)) if (!['id', 'status', 'headers', 'body'].includes(key)) problems.push({ path: pathOf(at, key), message: `a batch response has id, status, headers and body, not ${JSON.stringify(key)}` });
    return undefined;
  });
  return problems;
}

// ---- the documentation examples (fixtures-from-docs/) ----

export interface DocHttp {
  /** 'request' (a method line), 'response' (a status line), or 'other' (syntax lines, bare bodies). */
  kind: 'request' | 'response' | 'other';
  method?: string;
  /** The request target as written (absolute URL or path). */
  target?: string;
  status?: number;
  headers: Record<string, string>;
  /** The text after the first blank line (or after the headers). */
  body: string;
  /** The request lines when the file lists several (syntax blocks such as "POST /me/sendMail\nPOST /users/{id}/sendMail"). */
  lines: string[];
}

/** Reads a *.http.txt documentation example: "METHOD target [HTTP/1.1]" or "[HTTP/1.1] 200 OK", headers, blank line, body. */
export function parseDocHttp(text: string): DocHttp {
  const all = text.replace(/\r\n/g, '\n').split('\n');
  const first = (all[0] ?? '').trim();
  const request = /^(GET|POST|PATCH|PUT|DELETE)\s+(\S+)(?:\s+HTTP\/1\.1)?$/.exec(first);
  const response = /^(?:HTTP\/1\.1\s+)?(\d{3})\b/.exec(first);
  const headers: Record<string, string> = {};
  const lines: string[] = [];
  let i = 1;
  if (request) {
    lines.push(first);
    while (i < all.length && /^(GET|POST|PATCH|PUT|DELETE)\s/.test(all[i]!.trim())) lines.push(all[i++]!.trim());
  }
  if (request || response) {
    for (; i < all.length; i++) {
      const line = all[i]!.trim();
      if (line === '') {
        i++;
        break;
      }
      const header = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/.exec(line);
      if (!header) break; // a body straight after the headers (some examples have no blank line)
      headers[header[1]!.toLowerCase()] = header[2]!;
    }
  } else i = 0;
  const body = all.slice(i).join('\n').trim();
  return {
    kind: request ? 'request' : response ? 'response' : 'other',
    ...(request ? { method: request[1]!, target: request[2]! } : {}),
    ...(response ? { status: Number(response[1]) } : {}),
    headers,
    body,
    lines,
  };
}
