/**
 * Request validation. Bodies are checked strictly (no type coercion, unknown fields refused, so a typo is an
 * error rather than a silently ignored setting); query strings and path parameters are coerced from text.
 */
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ErrorObject } from 'ajv';
import type { FieldProblem } from '../domain/errors.js';

// Both packages are CommonJS with a default export; under NodeNext the class sits on `.default`.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

function makeAjv(coerce: boolean) {
  const ajv = new Ajv({
    allErrors: true,
    removeAdditional: false,
    useDefaults: coerce,
    coerceTypes: coerce ? 'array' : false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

const strictAjv = makeAjv(false);
const coercingAjv = makeAjv(true);

/**
 * Compiles a schema for one part of the request (body, querystring, params, headers). Beyond the schema, every
 * string anywhere in the part is checked for the NUL character, which PostgreSQL cannot store and SQLite would
 * keep, so both databases refuse it alike, here, naming the field; and a body that must be an object but is
 * not says what it is instead.
 */
export function validatorCompiler({ schema, httpPart }: { schema: object; httpPart?: string }) {
  const validate = (httpPart === 'body' ? strictAjv : coercingAjv).compile(schema);
  const wantsObject = httpPart === 'body' && (schema as { type?: unknown }).type === 'object';
  const check = (data: unknown): boolean => {
    if (wantsObject && (data === null || typeof data !== 'object' || Array.isArray(data))) {
      check.errors = [problem('', 'body', `the request body must be a JSON object, not ${kindOf(data)}`)];
      return false;
    }
    const valid = validate(data);
    const errors = validate.errors ?? [];
    // Ajv names an unknown field by its parent's path and the field; refuse the field's own path.
    const flagged = new Set(
      errors.map((e) => (e.keyword === 'additionalProperties' ? `${e.instancePath}/${pointerKey((e.params as { additionalProperty: string }).additionalProperty)}` : e.instancePath)),
    );
    const nuls = pathsWithNul(data, flagged);
    check.errors = [...errors, ...nuls.map((path) => problem(path, 'nul', 'must not contain the NUL character (U+0000)'))];
    return valid && nuls.length === 0;
  };
  check.errors = null as ErrorObject[] | null;
  return check;
}

function problem(instancePath: string, keyword: string, message: string): ErrorObject {
  return { instancePath, keyword, schemaPath: '', params: {}, message };
}

/** A key as a JSON pointer segment (RFC 6901), as Ajv writes instance paths. */
function pointerKey(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function kindOf(data: unknown): string {
  if (data === null || data === undefined) return 'null';
  if (Array.isArray(data)) return 'an array';
  return `a ${typeof data}`;
}

/**
 * The JSON pointers of every string (value or key) holding U+0000, leaving out what the schema already refused
 * (an unknown field is named once, not for what it holds). Walks with a list, not recursion: JSON.parse takes
 * nesting deeper than the call stack allows.
 */
function pathsWithNul(data: unknown, refused: ReadonlySet<string>): string[] {
  const found: string[] = [];
  const pending: Array<[unknown, string]> = [[data, '']];
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    if (refused.has(path)) continue;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) found.push(path);
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push([item, `${path}/${index}`]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        const childPath = `${path}/${pointerKey(key)}`;
        if (key.includes('\u0000')) found.push(childPath);
        else pending.push([child, childPath]);
      }
    }
  }
  return found.sort();
}

/** Turns Ajv's errors into field problems a person can act on. */
export function problemsFromAjv(errors: ErrorObject[], context: string | undefined): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const error of errors) {
    const path = error.instancePath.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.');
    const prefix = context === 'querystring' ? 'query ' : context === 'params' ? 'path ' : '';
    switch (error.keyword) {
      case 'required':
        problems.push({ field: joinPath(path, (error.params as { missingProperty: string }).missingProperty), message: 'is required' });
        break;
      case 'additionalProperties': {
        const field = (error.params as { additionalProperty: string }).additionalProperty;
        problems.push({ field: joinPath(path, field), message: `is not a ${prefix}field this API knows; check its spelling` });
        break;
      }
      case 'enum':
        problems.push({
          field: path,
          message: `must be one of ${((error.params as { allowedValues: unknown[] }).allowedValues ?? []).filter((v) => v !== null).join(', ')}`,
        });
        break;
      case 'format':
        problems.push({ field: path, message: formatMessage((error.params as { format: string }).format) });
        break;
      default:
        problems.push({ field: path, message: error.message ?? 'is not valid' });
    }
  }
  // allErrors can report one mistake twice (e.g. both branches of a type list); keep the first of each.
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.field}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function joinPath(path: string, field: string): string {
  return path ? `${path}.${field}` : field;
}

function formatMessage(format: string): string {
  switch (format) {
    case 'uuid':
      return 'must be a record id (a UUID such as 01234567-89ab-7cde-8f01-23456789abcd)';
    case 'date-time':
      return 'must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T08:00:00Z';
    default:
      return `must be a valid ${format}`;
  }
}
