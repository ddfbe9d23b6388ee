/**
 * Request versioning (the RequestServerVersion SOAP header), as Exchange 2016 answers it:
 *
 * - a value the server does not know (not one of its ExchangeVersionType values, e.g. "Exchange2019" or
 *   "V2018_01_08") is the SOAP fault ErrorInvalidRequest, "The request is invalid." (HTTP 500): that is what an
 *   Exchange 2016/2019 (schema V2017_07_11) answers, and what clients that guess the version step down on;
 * - a request without the header is handled as Exchange 2007 (initial release): Exchange Online still answers a
 *   client that sends none "The Current ExchangeVersion is Exchange2007." (thunderbird/ews-rs#41, before the
 *   client sent the header, ews-rs#32), as the Exchange 2007 SP1 reference ("Versioning Requests") says;
 * - an operation, or an element, introduced after the requested version is the SOAP fault
 *   ErrorIncorrectSchemaVersion.
 */
import { attr, child, type XmlElement } from '../../xml/parse.js';
import { NS } from '../../xml/namespaces.js';
import { EwsFault } from './soap.js';

/** ExchangeVersionType of the V2017_07_11 schema (types.xsd), oldest first. */
export const EXCHANGE_VERSIONS = [
  'Exchange2007',
  'Exchange2007_SP1',
  'Exchange2009',
  'Exchange2010',
  'Exchange2010_SP1',
  'Exchange2010_SP2',
  'Exchange2012',
  'Exchange2013',
  'Exchange2013_SP1',
  'Exchange2015',
  'Exchange2016',
  'V2015_10_05',
  'V2016_01_06',
  'V2016_04_13',
  'V2016_07_13',
  'V2016_10_10',
  'V2017_01_07',
  'V2017_04_14',
  'V2017_07_11',
] as const;

export type ExchangeVersion = (typeof EXCHANGE_VERSIONS)[number];

/** Requests without a RequestServerVersion header are handled as Exchange 2007 (initial release). */
export const DEFAULT_VERSION: ExchangeVersion = 'Exchange2007';

const INCORRECT_SCHEMA_VERSION =
  'The request is valid but does not specify the correct server version in the RequestServerVersion SOAP header.  Ensure that the RequestServerVersion SOAP header is set with the correct RequestServerVersionValue.';

/**
 * The first schema version of each operation that is newer than Exchange 2007, from the table of
 * "EWS operations in Exchange" (the EWS reference); the others are in Exchange 2007.
 */
const INTRODUCED: Readonly<Record<string, ExchangeVersion>> = {
  ConvertId: 'Exchange2007_SP1',
  AddDelegate: 'Exchange2007_SP1',
  GetDelegate: 'Exchange2007_SP1',
  RemoveDelegate: 'Exchange2007_SP1',
  UpdateDelegate: 'Exchange2007_SP1',
  ...Object.fromEntries(
    [
      'CreateUserConfiguration',
      'DeleteUserConfiguration',
      'GetUserConfiguration',
      'UpdateUserConfiguration',
      'DisconnectPhoneCall',
      'GetPhoneCallInformation',
      'EmptyFolder',
      'FindMessageTrackingReport',
      'GetMessageTrackingReport',
      'GetMailTips',
      'GetRoomLists',
      'GetRooms',
      'GetServerTimeZones',
      'GetServiceConfiguration',
      'GetSharingFolder',
      'GetSharingMetadata',
      'RefreshSharingFolder',
    ].map((name) => [name, 'Exchange2010']),
  ),
  ...Object.fromEntries(
    [
      'ApplyConversationAction',
      'ExportItems',
      'UploadItems',
      'FindConversation',
      'GetInboxRules',
      'UpdateInboxRules',
      'GetPasswordExpirationDate',
      'GetStreamingEvents',
    ].map((name) => [name, 'Exchange2010_SP1']),
  ),
  ...Object.fromEntries(
    [
      'AddDistributionGroupToImList',
      'AddImContactToGroup',
      'AddImGroup',
      'AddNewImContactToGroup',
      'AddNewTelUriContactToGroup',
      'ArchiveItem',
      'CreateFolderPath',
      'DisableApp',
      'FindPeople',
      'GetAppManifests',
      'GetAppMarketplaceUrl',
      'GetClientAccessToken',
      'GetConversationItems',
      'GetDiscoverySearchConfiguration',
      'GetHoldOnMailboxes',
      'GetImItemList',
      'GetImItems',
      'GetNonIndexableItemDetails',
      'GetNonIndexableItemStatistics',
      'GetPersona',
      'GetReminders',
      'GetSearchableMailboxes',
      'GetUserPhoto',
      'GetUserRetentionPolicyTags',
      'InstallApp',
      'MarkAllItemsAsRead',
      'MarkAsJunk',
      'PerformReminderAction',
      'RemoveContactFromImList',
      'RemoveDistributionGroupFromImList',
      'RemoveImContactFromGroup',
      'RemoveImGroup',
      'SearchMailboxes',
      'SetHoldOnMailboxes',
      'SetImGroup',
      'UninstallApp',
    ].map((name) => [name, 'Exchange2013']),
  ),
} as Record<string, ExchangeVersion>;

/** Request elements introduced after their operation: (operation, child of the request) → first version. */
const INTRODUCED_ELEMENTS: ReadonlyArray<{ operation: string; element: string; version: ExchangeVersion }> = [
  // Streaming notifications came with Exchange 2010 SP1 (StreamingSubscriptionRequest reference page).
  { operation: 'Subscribe', element: 'StreamingSubscriptionRequest', version: 'Exchange2010_SP1' },
];

function rank(version: ExchangeVersion): number {
  return EXCHANGE_VERSIONS.indexOf(version);
}

/**
 * The version a request asks for. A value outside the server's list is refused before anything else of the
 * request is looked at, as Exchange does (it answers ErrorInvalidRequest, not a schema error).
 */
export function requestVersionOf(header: XmlElement | undefined): ExchangeVersion {
  const element = child(header, NS.types, 'RequestServerVersion');
  if (!element) return DEFAULT_VERSION;
  const value = attr(element, 'Version');
  // Without the attribute the header breaks the schema; schema validation says so.
  if (value === undefined) return DEFAULT_VERSION;
  if (!(EXCHANGE_VERSIONS as readonly string[]).includes(value)) throw new EwsFault('ErrorInvalidRequest', 'The request is invalid.');
  return value as ExchangeVersion;
}

/** Refuses an operation (or a part of it) that the requested schema version does not have. */
export function assertVersionFor(operation: string, body: XmlElement, version: ExchangeVersion): void {
  const needed = [INTRODUCED[operation], ...INTRODUCED_ELEMENTS.filter((e) => e.operation === operation && child(body, NS.messages, e.element)).map((e) => e.version)];
  if (needed.some((v) => v !== undefined && rank(version) < rank(v))) throw new EwsFault('ErrorIncorrectSchemaVersion', INCORRECT_SCHEMA_VERSION);
}
