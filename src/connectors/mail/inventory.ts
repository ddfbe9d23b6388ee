/** What the IMAP and POP3 inventories (the missing-mail audit's listing) share. */

/** A sender as the audit shows it: "Name <address>", or whichever of the two the message gives. */
export function addressText(name: string | undefined, address: string | undefined): string | undefined {
  const n = name?.trim();
  const a = address?.trim();
  if (n && a && n !== a) return `${n} <${a}>`;
  return a || n || undefined;
}

/** The page size an inventory works with: at least 1, a whole number, whatever the caller asked. */
export function pageSize(max: number): number {
  return Number.isFinite(max) ? Math.max(1, Math.floor(max)) : 1;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** RFC 5322 4.3's obsolete zones; the military letters are read as -0000 ("SHOULD be considered equivalent"). */
const ZONES: Record<string, number> = { ut: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };

/**
 * A Date header (RFC 5322 3.3, with 4.3's obsolete years and zones) as an instant; null when it is not one.
 * Strict on purpose: a header nobody can read is left out rather than guessed (mailparser puts the time of
 * parsing in its place).
 */
export function parseDateHeader(value: string): Date | null {
  // Comments (a zone's name, "(CET)") and folding are spaces.
  const text = value.replace(/\([^()]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  const match = /^(?:(?:mon|tue|wed|thu|fri|sat|sun) ?, ?)?(\d{1,2}) ([a-z]{3}) (\d{2,4}) (\d{2}):(\d{2})(?::(\d{2}))? ([+-]\d{4}|[a-z]{1,3})$/i.exec(text);
  if (!match) return null;
  const [, dayText, monthText, yearText, hourText, minuteText, secondText, zoneText] = match;
  const month = MONTHS.indexOf(monthText!.toLowerCase());
  if (month < 0) return null;
  let year = Number(yearText);
  if (yearText!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (yearText!.length === 3) year += 1900;
  const [day, hour, minute, second] = [Number(dayText), Number(hourText), Number(minuteText), Number(secondText ?? 0)];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offset: number;
  const zone = zoneText!.toLowerCase();
  if (/^[+-]\d{4}$/.test(zone)) {
    const hh = Number(zone.slice(1, 3));
    const mm = Number(zone.slice(3));
    if (mm > 59) return null;
    offset = (zone[0] === '-' ? -1 : 1) * (hh * 60 + mm);
  } else if (zone in ZONES) offset = ZONES[zone]!;
  else if (/^[a-ik-z]$/.test(zone)) offset = 0;
  else return null;
  const utc = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60_000;
  // 31 Feb and the like roll over in Date.UTC: not a date.
  if (new Date(Date.UTC(year, month, day)).getUTCDate() !== day) return null;
  return new Date(utc);
}
