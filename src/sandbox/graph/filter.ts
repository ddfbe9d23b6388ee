/**
 * The $filter clauses the sandbox understands on message lists, joined with `and`: receivedDateTime compared
 * (ge, gt, le, lt, eq) with a date-time, internetMessageId eq '…', isRead eq true|false, and
 * singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…'). Anything else is refused as
 * Graph refuses what it cannot parse, rather than ignored.
 */
import type { Item } from '../state/model.js';
import { badRequest, GraphError } from './errors.js';
import { extendedKey } from './messages.js';

export type Clause =
  | { kind: 'received'; op: 'ge' | 'gt' | 'le' | 'lt' | 'eq'; at: number }
  | { kind: 'messageId'; value: string }
  | { kind: 'isRead'; value: boolean }
  | { kind: 'extended'; key: string; value: string };

const invalid = (text: string) => new GraphError(400, 'BadRequest', `Invalid filter clause: ${text}`);
const quoted = (text: string) => text.replace(/''/g, "'");

export function parseFilter(text: string): Clause[] {
  const clauses: Clause[] = [];
  let rest = text.trim();
  const any = /singleValueExtendedProperties\/any\(\s*(\w+)\s*:\s*\1\/id\s+eq\s+'((?:[^']|'')*)'\s+and\s+\1\/value\s+eq\s+'((?:[^']|'')*)'\s*\)/gi;
  rest = rest.replace(any, (_m, _v: string, id: string, value: string) => {
    clauses.push({ kind: 'extended', key: extendedKey(quoted(id)).key, value: quoted(value) });
    return '\u0000';
  });
  const parts = rest.split(/\s+and\s+/i).map((p) => p.trim()).filter((p) => p && p !== '\u0000');
  for (const part of parts) {
    if (part.includes('\u0000')) throw invalid(text);
    let m = /^\(?\s*receivedDateTime\s+(ge|gt|le|lt|eq)\s+(\S+?)\s*\)?$/i.exec(part);
    if (m) {
      const at = Date.parse(m[2]!.replace(/^'|'$/g, ''));
      if (Number.isNaN(at)) throw badRequest(`The DateTimeOffset text '${m[2]}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zz|Z)?' and each field value is within valid range.`);
      clauses.push({ kind: 'received', op: m[1]!.toLowerCase() as 'ge', at });
      continue;
    }
    m = /^internetMessageId\s+eq\s+'((?:[^']|'')*)'$/i.exec(part);
    if (m) {
      clauses.push({ kind: 'messageId', value: quoted(m[1]!) });
      continue;
    }
    m = /^isRead\s+eq\s+(true|false)$/i.exec(part);
    if (m) {
      clauses.push({ kind: 'isRead', value: m[1]!.toLowerCase() === 'true' });
      continue;
    }
    throw invalid(text);
  }
  if (clauses.length === 0) throw invalid(text);
  return clauses;
}

function matches(item: Item, clause: Clause): boolean {
  switch (clause.kind) {
    case 'received': {
      // Graph compares to the second, as it stores received times.
      const at = Math.floor(Date.parse(item.props.dateTimeReceived) / 1000) * 1000;
      return { ge: at >= clause.at, gt: at > clause.at, le: at <= clause.at, lt: at < clause.at, eq: at === clause.at }[clause.op];
    }
    case 'messageId':
      return item.props.internetMessageId === clause.value;
    case 'isRead':
      return item.props.isRead === clause.value;
    case 'extended':
      return item.props.extended.some((e) => e.key === clause.key && e.value === clause.value);
  }
}

export function filterMessages(items: Item[], clauses: Clause[]): Item[] {
  return items.filter((item) => clauses.every((c) => matches(item, c)));
}
