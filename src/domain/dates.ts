/** Reads an ISO 8601 date or date-time and returns it as UTC ISO text, or null when unreadable. */
export function toIsoDateTime(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) return null;
  const date = new Date(value.trim());
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export const DATE_TIME_HINT = 'an ISO 8601 date or date-time (e.g. 2026-01-31 or 2026-01-31T08:00:00Z)';
