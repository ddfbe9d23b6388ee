/**
 * The RequestServerVersion values the connector may send, newest it tries first. Exchange2013_SP1 is the
 * default: every on-premises Exchange Liaison supports (2013 SP1, 2016, 2019, SE) and Exchange Online accept it.
 * A server that refuses it (ErrorInvalidServerVersion, ErrorIncorrectSchemaVersion, a version-related
 * ErrorInvalidRequest) is stepped down along this list and the working value remembered.
 */
export const EXCHANGE_VERSIONS = [
  'Exchange2007_SP1',
  'Exchange2010',
  'Exchange2010_SP1',
  'Exchange2010_SP2',
  'Exchange2013',
  'Exchange2013_SP1',
  'Exchange2015',
  'Exchange2016',
] as const;

export type ExchangeVersion = (typeof EXCHANGE_VERSIONS)[number];

export const DEFAULT_REQUEST_VERSION: ExchangeVersion = 'Exchange2013_SP1';

/** The next older version to try, or null when there is none. */
export function olderVersion(version: ExchangeVersion): ExchangeVersion | null {
  const i = EXCHANGE_VERSIONS.indexOf(version);
  return i > 0 ? EXCHANGE_VERSIONS[i - 1]! : null;
}

export function atLeast(version: ExchangeVersion, min: ExchangeVersion): boolean {
  return EXCHANGE_VERSIONS.indexOf(version) >= EXCHANGE_VERSIONS.indexOf(min);
}
