/**
 * Autodiscover: POX (/autodiscover/autodiscover.xml, schemas 2006/2006a) and SOAP
 * (/autodiscover/autodiscover.svc, GetUserSettings). Both answer with the EWS URL of the server that holds the
 * mailbox, or with the redirect (address or URL) configured for the address. Errors travel in the payload with
 * HTTP 200, as Exchange sends them ("200 does not mean success").
 */
import { child, children, parseXml, textOf, type XmlElement } from '../../xml/parse.js';
import { NS } from '../../xml/namespaces.js';
import { el, XML_DECLARATION, type Xml, type XmlChild } from '../../xml/write.js';
import type { SandboxRuntime } from '../runtime.js';
import type { Mailbox } from '../state/mailbox.js';
import { SERVER_NAMES } from '../state/model.js';

export interface AutodiscoverAnswer {
  status: number;
  body: string;
  operation: string;
}

const SERVER_VERSION = '73C1821F'; // Exchange 2016 CU, as POX writes ServerVersion (hex)

function deploymentId(runtime: SandboxRuntime): string {
  const hex = Buffer.from(runtime.domain).toString('hex').padEnd(32, '0').slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function serverDn(host: string): string {
  return `/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn=${host}`;
}

function legacyDn(mailbox: Mailbox): string {
  return `/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=${mailbox.address.split('@')[0]}`;
}

// ---- POX ----

function poxDocument(inner: XmlChild, outlookSchema: boolean): string {
  return (
    XML_DECLARATION +
    el('Autodiscover', { xmlns: NS.poxResponse }, el('Response', { xmlns: outlookSchema ? NS.poxOutlookResponse : NS.poxResponse }, inner)).serialized
  );
}

function poxError(code: number, message: string): string {
  const now = new Date();
  return poxDocument(
    el('Error', { Time: now.toISOString().slice(11, 23), Id: String(now.getTime() % 4294967296) }, el('ErrorCode', null, code), el('Message', null, message), el('DebugData')),
    false,
  );
}

export function answerPox(runtime: SandboxRuntime, text: string): AutodiscoverAnswer {
  let root: XmlElement;
  try {
    root = parseXml(text, { maxBytes: 1024 * 1024 });
  } catch {
    return { status: 200, body: poxError(600, 'Invalid Request'), operation: 'pox' };
  }
  const request = child(root, NS.poxRequest, 'Request');
  const address = textOf(child(request, NS.poxRequest, 'EMailAddress'));
  const schema = textOf(child(request, NS.poxRequest, 'AcceptableResponseSchema'));
  if (root.local !== 'Autodiscover' || !address) return { status: 200, body: poxError(600, 'Invalid Request'), operation: 'pox' };
  if (schema !== NS.poxOutlookResponse) return { status: 200, body: poxError(601, 'Provider is not available for the requested schema.'), operation: 'pox' };

  const redirect = runtime.state.redirectFor(address);
  if (redirect) {
    const account =
      redirect.kind === 'address'
        ? el('Account', null, el('AccountType', null, 'email'), el('Action', null, 'redirectAddr'), el('RedirectAddr', null, redirect.target))
        : el('Account', null, el('AccountType', null, 'email'), el('Action', null, 'redirectUrl'), el('RedirectUrl', null, redirect.target));
    return { status: 200, body: poxDocument(account, true), operation: 'pox' };
  }
  const mailbox = runtime.state.mailbox(address);
  if (!mailbox) return { status: 200, body: poxError(500, 'The email address can\'t be found.'), operation: 'pox' };
  const ews = runtime.ewsUrl(mailbox.server);
  const host = runtime.serverHost(mailbox.server);
  const base = runtime.baseUrl(host);
  const user = el(
    'User',
    null,
    el('DisplayName', null, mailbox.displayName),
    el('LegacyDN', null, legacyDn(mailbox)),
    el('AutoDiscoverSMTPAddress', null, mailbox.address),
    el('DeploymentId', null, deploymentId(runtime)),
  );
  // The internal (EXCH) and external (EXPR) protocols name the same services: the sandbox has one network.
  const serviceUrls = [
    el('ASUrl', null, `${base}/EWS/Exchange.asmx`),
    el('EwsUrl', null, ews),
    el('EmwsUrl', null, ews),
    ecpUrls(base, mailbox.address.split('@')[1] ?? runtime.domain),
    el('OOFUrl', null, ews),
    el('UMUrl', null, `${base}/EWS/UM2007Legacy.asmx`),
    el('OABUrl', null, `${base}/OAB/${deploymentId(runtime)}/`),
  ];
  const account = el(
    'Account',
    null,
    el('AccountType', null, 'email'),
    el('Action', null, 'settings'),
    el('MicrosoftOnline', null, 'False'),
    el(
      'Protocol',
      null,
      el('Type', null, 'EXCH'),
      el('Server', null, host),
      el('ServerDN', null, serverDn(host)),
      el('ServerVersion', null, SERVER_VERSION),
      el('MdbDN', null, `${serverDn(host)}/cn=Microsoft Private MDB`),
      el('PublicFolderServer', null, host),
      el('AD', null, `dc1.${runtime.domain}`),
      serviceUrls,
      el('ServerExclusiveConnect', null, 'Off'),
    ),
    el(
      'Protocol',
      null,
      el('Type', null, 'EXPR'),
      el('Server', null, host),
      el('SSL', null, 'On'),
      el('AuthPackage', null, runtime.settings.basicAuth ? 'Basic' : 'Ntlm'),
      serviceUrls,
      el('ServerExclusiveConnect', null, 'On'),
      // The certificate the sandbox presents names the host (certprincipalname-pox.md: msstd:<Server>).
      el('CertPrincipalName', null, `msstd:${host}`),
      // groupinginformation-pox.md: only in the Protocol of Type EXPR.
      el('GroupingInformation', null, groupingInformation(runtime, mailbox)),
    ),
    el('Protocol', null, el('Type', null, 'WEB'), el('Internal', null, el('OWAUrl', { AuthenticationMethod: 'Basic, Fba' }, `${base}/owa/`))),
  );
  return { status: 200, body: poxDocument([user, account], true), operation: 'pox' };
}

/**
 * The Exchange Control Panel's links as Exchange writes them in the Outlook settings: EcpUrl the base, each
 * EcpUrl-* a page relative to it (the sandbox serves no control panel; the URLs are there because clients that read
 * the settings expect the whole set, as with OABUrl and UMUrl).
 */
function ecpUrls(base: string, realm: string): Xml[] {
  const pages: Array<[string, string]> = [
    ['um', `?rfr=olk&p=customize/voicemail.aspx&exsvurl=1&realm=${realm}`],
    ['aggr', `?rfr=olk&p=personalsettings/EmailSubscriptions.slab&exsvurl=1&realm=${realm}`],
    ['mt', `PersonalSettings/DeliveryReport.aspx?rfr=olk&exsvurl=1&IsOWA=<IsOWA>&MsgID=<MsgID>&Mbx=<Mbx>&realm=${realm}`],
    ['ret', `?rfr=olk&p=organize/retentionpolicytags.slab&exsvurl=1&realm=${realm}`],
    ['sms', `?rfr=olk&p=sms/textmessaging.slab&exsvurl=1&realm=${realm}`],
    ['publish', `customize/calendarpublishing.slab?rfr=olk&exsvurl=1&FldID=<FldID>&realm=${realm}`],
    ['photo', `PersonalSettings/EditAccount.aspx?rfr=olk&chgPhoto=1&exsvurl=1&realm=${realm}`],
    ['tm', `?rfr=olk&ftr=TeamMailbox&exsvurl=1&realm=${realm}`],
    ['tmCreating', `?rfr=olk&ftr=TeamMailboxCreating&SPUrl=<SPUrl>&Title=<Title>&SPTMAppUrl=<SPTMAppUrl>&exsvurl=1&realm=${realm}`],
    ['tmEditing', `?rfr=olk&ftr=TeamMailboxEditing&Id=<Id>&exsvurl=1&realm=${realm}`],
    ['extinstall', `Extension/InstalledExtensions.slab?rfr=olk&exsvurl=1&realm=${realm}`],
  ];
  return [el('EcpUrl', null, `${base}/ecp/`), ...pages.map(([name, page]) => el(`EcpUrl-${name}`, null, page))];
}

// ---- SOAP ----

function soapDocument(action: string, body: Xml): string {
  return (
    XML_DECLARATION +
    el(
      's:Envelope',
      { 'xmlns:s': NS.soap, 'xmlns:a': NS.wsa },
      el(
        's:Header',
        null,
        el('a:Action', { 's:mustUnderstand': '1' }, `${NS.autodiscoverSoap}/Autodiscover/${action}`),
        el(
          'h:ServerVersionInfo',
          { 'xmlns:h': NS.autodiscoverSoap, 'xmlns:i': NS.xsi },
          el('h:MajorVersion', null, '15'),
          el('h:MinorVersion', null, '1'),
          el('h:MajorBuildNumber', null, '2507'),
          el('h:MinorBuildNumber', null, '57'),
          el('h:Version', null, 'Exchange2015'),
        ),
      ),
      el('s:Body', null, body),
    ).serialized
  );
}

function soapFault(code: string, message: string): string {
  return (
    XML_DECLARATION +
    el('s:Envelope', { 'xmlns:s': NS.soap }, el('s:Body', null, el('s:Fault', null, el('faultcode', null, `s:${code}`), el('faultstring', { 'xml:lang': 'en-US' }, message)))).serialized
  );
}

/**
 * GroupingInformation: the same for the mailboxes of one Mailbox server, so that a client groups their
 * notification subscriptions (with the EWS URL) as ms-docs how-to-maintain-affinity-… tells it to. Exchange's
 * value is opaque (the documentation's example is "CONTOSO-1"); the sandbox writes one like it per server.
 */
function groupingInformation(runtime: SandboxRuntime, mailbox: Mailbox): string {
  return `${runtime.domain.split('.')[0]!.toUpperCase()}-${SERVER_NAMES.indexOf(mailbox.server) + 1}`;
}

/** The user settings the sandbox can answer, by name. */
function settingValue(runtime: SandboxRuntime, mailbox: Mailbox, name: string): string | null {
  const host = runtime.serverHost(mailbox.server);
  switch (name) {
    case 'UserDisplayName':
      return mailbox.displayName;
    case 'UserDN':
      return legacyDn(mailbox);
    case 'UserDeploymentId':
      return deploymentId(runtime);
    case 'AutoDiscoverSMTPAddress':
      return mailbox.address;
    case 'InternalEwsUrl':
    case 'ExternalEwsUrl':
      return runtime.ewsUrl(mailbox.server);
    case 'EwsSupportedSchemas':
      return 'Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2015, Exchange2016';
    case 'CasVersion':
      return '15.01.2507.057';
    case 'GroupingInformation':
      return groupingInformation(runtime, mailbox);
    case 'InternalMailboxServer':
    case 'ExternalMailboxServer':
      return host;
    case 'MailboxDN':
      return `/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn=${host}/cn=Microsoft Private MDB`;
    case 'ActiveDirectoryServer':
      return `dc1.${runtime.domain}`;
    default:
      return null;
  }
}

function userResponse(runtime: SandboxRuntime, address: string, requested: string[]): Xml {
  const redirect = runtime.state.redirectFor(address);
  if (redirect) {
    const url = redirect.kind === 'url';
    return el(
      'UserResponse',
      null,
      el('ErrorCode', null, url ? 'RedirectUrl' : 'RedirectAddress'),
      el('ErrorMessage', null, url ? 'Redirection URL.' : 'Redirection address.'),
      el('RedirectTarget', null, redirect.target),
      el('UserSettingErrors'),
      el('UserSettings'),
    );
  }
  const mailbox = runtime.state.mailbox(address);
  if (!mailbox) {
    return el(
      'UserResponse',
      null,
      el('ErrorCode', null, 'InvalidUser'),
      el('ErrorMessage', null, `Invalid user: '${address}'`),
      el('RedirectTarget', { 'i:nil': 'true' }),
      el('UserSettingErrors'),
      el('UserSettings'),
    );
  }
  const settings: Xml[] = [];
  const errors: Xml[] = [];
  for (const name of requested) {
    const value = settingValue(runtime, mailbox, name);
    if (value === null) {
      errors.push(
        el('UserSettingError', null, el('ErrorCode', null, 'InvalidSetting'), el('ErrorMessage', null, `The requested setting, ${name}, is not valid or not available.`), el('SettingName', null, name)),
      );
    } else {
      settings.push(el('UserSetting', { 'i:type': 'StringSetting' }, el('Name', null, name), el('Value', null, value)));
    }
  }
  return el(
    'UserResponse',
    null,
    el('ErrorCode', null, 'NoError'),
    el('ErrorMessage', null, 'No error.'),
    el('RedirectTarget', { 'i:nil': 'true' }),
    el('UserSettingErrors', null, errors),
    el('UserSettings', null, settings),
  );
}

export function answerSoap(runtime: SandboxRuntime, text: string): AutodiscoverAnswer {
  let root: XmlElement;
  try {
    root = parseXml(text, { maxBytes: 1024 * 1024 });
  } catch (error) {
    return { status: 500, body: soapFault('Client', `The request is not well-formed XML: ${(error as Error).message}`), operation: 'soap' };
  }
  const body = child(root, NS.soap, 'Body');
  const request = body?.children[0];
  if (root.ns !== NS.soap || root.local !== 'Envelope' || !request) {
    return { status: 500, body: soapFault('Client', 'The request must be a SOAP 1.1 envelope.'), operation: 'soap' };
  }
  if (request.ns !== NS.autodiscoverSoap || request.local !== 'GetUserSettingsRequestMessage') {
    return { status: 500, body: soapFault('Client', `The sandbox's Autodiscover service answers GetUserSettings only, not ${request.local}.`), operation: 'soap' };
  }
  const inner = child(request, NS.autodiscoverSoap, 'Request');
  const users = children(child(inner, NS.autodiscoverSoap, 'Users'), NS.autodiscoverSoap, 'User').map((u) => textOf(child(u, NS.autodiscoverSoap, 'Mailbox')));
  const requested = children(child(inner, NS.autodiscoverSoap, 'RequestedSettings'), NS.autodiscoverSoap, 'Setting').map((s) => textOf(s));
  let response: Xml;
  if (users.length === 0 || requested.length === 0) {
    response = el(
      'Response',
      { 'xmlns:i': NS.xsi },
      el('ErrorCode', null, 'InvalidRequest'),
      el('ErrorMessage', null, users.length === 0 ? 'The request names no user.' : 'The request asks for no setting.'),
    );
  } else {
    response = el(
      'Response',
      { 'xmlns:i': NS.xsi },
      el('ErrorCode', null, 'NoError'),
      el('ErrorMessage'),
      el('UserResponses', null, users.map((u) => userResponse(runtime, u, requested))),
    );
  }
  return {
    status: 200,
    body: soapDocument('GetUserSettingsResponse', el('GetUserSettingsResponseMessage', { xmlns: NS.autodiscoverSoap }, response)),
    operation: 'GetUserSettings',
  };
}
