/**
 * Email addresses as the CRM stores them: kept as typed, compared case-insensitively.
 * Only plain addr-spec (local@domain) is accepted; display names travel in their own field.
 */

const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Returns why the address is unusable, or null when it is a valid addr-spec. */
export function addressProblem(value: string): string | null {
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return `"${value}" is not an email address (expected name@domain)`;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local.length > 64) return `"${value}" has a local part longer than 64 characters`;
  if (!LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return `"${value}" has characters that are not allowed before the @`;
  }
  if (domain.length > 253 || !domain.split('.').every((label) => LABEL.test(label))) {
    return `"${value}" does not have a valid domain after the @`;
  }
  return null;
}

export function isAddress(value: string): boolean {
  return addressProblem(value) === null;
}

/** The comparison key: addresses match regardless of case. */
export function addressKey(value: string): string {
  return value.trim().toLowerCase();
}
