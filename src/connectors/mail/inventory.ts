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
