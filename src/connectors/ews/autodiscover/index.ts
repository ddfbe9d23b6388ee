/** Autodiscover: from a mailbox's address to its EWS URL, with a record of every URL asked. */
export { discoverEwsUrl, AutodiscoverError, MAX_REDIRECTS } from './discover.js';
export type { AutodiscoverAttempt, AutodiscoverResult, AutodiscoverMethod, AttemptMethod, AttemptOutcome, DiscoverOptions, SrvRecord } from './discover.js';
export { AutodiscoverReadError } from './answer.js';
export type { AutodiscoverAnswer, AutodiscoverSettings, AutodiscoverRedirect, AutodiscoverAnswerError } from './answer.js';
export { buildGetUserSettingsRequest, readGetUserSettingsResponse, REQUESTED_SETTINGS, SOAP_ACTION } from './soap.js';
export { buildPoxRequest, readPoxResponse, decodePoxServerVersion } from './pox.js';
