/** Paging views for FindItem and FindFolder, and the RootFolder attributes that report where a page ends. */
import { attr, type XmlElement } from '../../xml/parse.js';
import { NS } from '../../xml/namespaces.js';

export interface Paging {
  kind: 'none' | 'indexed' | 'fractional';
  max: number | null;
  offset: number;
  fromEnd: boolean;
  numerator: number;
  denominator: number;
}

export function readPaging(request: XmlElement): Paging {
  const view = request.children.find((c) => c.ns === NS.messages && /^(Indexed|Fractional)Page(Item|Folder)View$/.test(c.local));
  const max = attr(view, 'MaxEntriesReturned');
  if (!view) return { kind: 'none', max: null, offset: 0, fromEnd: false, numerator: 0, denominator: 1 };
  if (view.local.startsWith('Indexed')) {
    return { kind: 'indexed', max: max ? Number(max) : null, offset: Number(attr(view, 'Offset') ?? 0), fromEnd: attr(view, 'BasePoint') === 'End', numerator: 0, denominator: 1 };
  }
  return {
    kind: 'fractional',
    max: max ? Number(max) : null,
    offset: 0,
    fromEnd: false,
    numerator: Number(attr(view, 'Numerator') ?? 0),
    denominator: Math.max(1, Number(attr(view, 'Denominator') ?? 1)),
  };
}

export function page<T>(all: T[], paging: Paging): { items: T[]; attributes: Record<string, string | number> } {
  const total = all.length;
  if (paging.kind === 'fractional') {
    const start = Math.min(total, Math.floor((total * paging.numerator) / paging.denominator));
    const items = all.slice(start, paging.max === null ? undefined : start + paging.max);
    const end = start + items.length;
    return {
      items,
      attributes: { NumeratorOffset: end, AbsoluteDenominator: total, IncludesLastItemInRange: String(end >= total), TotalItemsInView: total },
    };
  }
  const count = paging.max ?? total;
  if (paging.fromEnd) {
    const end = Math.max(0, total - paging.offset);
    const start = Math.max(0, end - count);
    const items = all.slice(start, end);
    return { items, attributes: { IndexedPagingOffset: paging.offset + items.length, TotalItemsInView: total, IncludesLastItemInRange: String(start === 0) } };
  }
  const start = Math.min(total, paging.offset);
  const items = all.slice(start, start + count);
  return {
    items,
    attributes: { IndexedPagingOffset: start + items.length, TotalItemsInView: total, IncludesLastItemInRange: String(start + items.length >= total) },
  };
}
