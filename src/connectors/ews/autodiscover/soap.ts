/**
 * SOAP Autodiscover (`/autodiscover/autodiscover.svc`, Exchange 2010 and later, Exchange Online): the
 * GetUserSettings request and the reading of its answer.
 *
 * Request shape: ms-docs web-service-reference/getusersettings-operation-soap.md and
 * exchange-web-services/how-to-get-user-settings-from-exchange-by-using-autodiscover.md (the fixtures
 * getusersettings-operation-soap__01.xml and how-to-get-user-settings-…__02.xml): a SOAP 1.1 envelope whose
 * header carries `a:RequestedServerVersion` and the WS-Addressing `Action` and `To`, and whose body is
 * `a:GetUserSettingsRequestMessage/a:Request` with `Users/User/Mailbox` and `RequestedSettings/Setting`.
 *
 * Answer shape: `GetUserSettingsResponseMessage/Response` with `ErrorCode` (the request's), then
 * `UserResponses/UserResponse` with its own `ErrorCode` (`NoError`, `RedirectAddress`, `RedirectUrl`,
 * `InvalidUser`, `ServerBusy`, …), `RedirectTarget`, `UserSettingErrors` and `UserSettings/UserSetting{Name,Value}`
 * (handling-autodiscover-error-messages.md; the fixtures listed in test/connectors/ews/autodiscover.test.ts).
 */
import { NS } from '../../../xml/namespaces.js';
import { child, children, parseXml, textOf, type XmlElement, XmlParseError } from '../../../xml/parse.js';
import { el, XML_DECLARATION } from '../../../xml/write.js';
import { type AutodiscoverAnswer, AutodiscoverReadError, type AutodiscoverSettings } from './answer.js';

export const SOAP_ACTION = `${NS.autodiscoverSoap}/Autodiscover/GetUserSettings`;

/**
 * The version asked for. Exchange2013 as the docs' own Exchange 2013 example sends it (how-to-get-user-settings-…__02);
 * Autodiscover answers EWS URLs the same way for every version since Exchange 2010.
 */
export const AUTODISCOVER_REQUESTED_VERSION = 'Exchange2013';

/**
 * What Liaison asks for: the two EWS URLs, who the mailbox is, what the server speaks, and GroupingInformation,
 * which with the EWS URL groups mailboxes whose notification subscriptions share a Mailbox server (ms-docs
 * how-to-maintain-affinity-…; Exchange 2013 SP1 and later give it, older servers answer an InvalidSetting error).
 */
export const REQUESTED_SETTINGS = ['InternalEwsUrl', 'ExternalEwsUrl', 'UserDisplayName', 'AutoDiscoverSMTPAddress', 'EwsSupportedSchemas', 'CasVersion', 'GroupingInformation'] as const;

export function buildGetUserSettingsRequest(address: string, url: string, settings: readonly string[] = REQUESTED_SETTINGS): string {
  return (
    XML_DECLARATION +
    el(
      'soap:Envelope',
      { 'xmlns:a': NS.autodiscoverSoap, 'xmlns:wsa': NS.wsa, 'xmlns:xsi': NS.xsi, 'xmlns:soap': NS.soap },
      el(
        'soap:Header',
        null,
        el('a:RequestedServerVersion', null, AUTODISCOVER_REQUESTED_VERSION),
        el('wsa:Action', null, SOAP_ACTION),
        el('wsa:To', null, url),
      ),
      el(
        'soap:Body',
        null,
        el(
          'a:GetUserSettingsRequestMessage',
          null,
          el(
            'a:Request',
            null,
            el('a:Users', null, el('a:User', null, el('a:Mailbox', null, address))),
            el(
              'a:RequestedSettings',
              null,
              settings.map((s) => el('a:Setting', null, s)),
            ),
          ),
        ),
      ),
    ).serialized
  );
}

/**
 * HTTP headers of the request. SOAP 1.1 §6.1.1: "An HTTP client MUST use this header field when issuing a SOAP
 * HTTP Request" (SOAPAction); its value is the operation's WS-Addressing action.
 */
export function soapRequestHeaders(): Record<string, string> {
  return { 'content-type': 'text/xml; charset=utf-8', accept: 'text/xml', soapaction: `"${SOAP_ACTION}"` };
}

const A = NS.autodiscoverSoap;

function serverVersionOf(envelope: XmlElement): { serverVersion?: string; serverBuild?: string } {
  const info = child(child(envelope, NS.soap, 'Header'), A, 'ServerVersionInfo');
  if (!info) return {};
  const parts = ['MajorVersion', 'MinorVersion', 'MajorBuildNumber', 'MinorBuildNumber'].map((n) => textOf(child(info, A, n)));
  const version = textOf(child(info, A, 'Version'));
  return {
    ...(version ? { serverVersion: version } : {}),
    ...(parts.every((p) => p !== '') ? { serverBuild: parts.join('.') } : {}),
  };
}

/**
 * Reads a GetUserSettings answer (one user asked about). Unknown elements are skipped; a setting whose value
 * is not a plain `Value` (a URL collection) is kept as its text.
 */
export function readGetUserSettingsResponse(text: string | Buffer): AutodiscoverAnswer {
  let envelope: XmlElement;
  try {
    // WCF writes the XMLSchema-instance prefix as `i`; a hand-written answer may use it without declaring it
    // (exchangelib's test_autodiscover settings_xml does). Bound in advance, the document's own binding wins.
    envelope = parseXml(text, { maxBytes: 1024 * 1024 }, { additionalNamespaces: { i: NS.xsi } });
  } catch (error) {
    const where = error instanceof XmlParseError ? ` (line ${error.line}, column ${error.column})` : '';
    throw new AutodiscoverReadError('soap', `the answer is not well-formed XML: ${(error as Error).message}${where}`);
  }
  if (envelope.ns !== NS.soap || envelope.local !== 'Envelope') {
    throw new AutodiscoverReadError('soap', `the answer is not a SOAP 1.1 envelope but <${envelope.local}> in "${envelope.ns}"`);
  }
  const version = serverVersionOf(envelope);
  const body = child(envelope, NS.soap, 'Body');
  const fault = child(body, NS.soap, 'Fault');
  if (fault) {
    return {
      kind: 'error',
      level: 'fault',
      code: textOf(child(fault, '', 'faultcode')) || 'SoapFault',
      message: textOf(child(fault, '', 'faultstring')),
      ...version,
    };
  }
  const message = child(body, A, 'GetUserSettingsResponseMessage');
  if (!message) {
    const first = body?.children[0];
    throw new AutodiscoverReadError('soap', first ? `the SOAP body holds <${first.local}>, not GetUserSettingsResponseMessage` : 'the SOAP body is empty');
  }
  const response = child(message, A, 'Response');
  if (!response) throw new AutodiscoverReadError('soap', 'GetUserSettingsResponseMessage has no Response');
  const responseCode = textOf(child(response, A, 'ErrorCode')) || 'NoError';
  if (responseCode !== 'NoError') {
    return { kind: 'error', level: 'response', code: responseCode, message: textOf(child(response, A, 'ErrorMessage')), ...version };
  }
  const user = children(child(response, A, 'UserResponses'), A, 'UserResponse')[0];
  if (!user) throw new AutodiscoverReadError('soap', 'the answer has no UserResponse');
  const code = textOf(child(user, A, 'ErrorCode')) || 'NoError';
  const userMessage = textOf(child(user, A, 'ErrorMessage'));
  if (code === 'RedirectAddress' || code === 'RedirectUrl') {
    const target = textOf(child(user, A, 'RedirectTarget'));
    if (!target) return { kind: 'error', level: 'user', code, message: `${code} without a RedirectTarget`, ...version };
    return { kind: code === 'RedirectAddress' ? 'redirect-address' : 'redirect-url', target, ...(userMessage ? { message: userMessage } : {}), ...version };
  }
  if (code !== 'NoError') return { kind: 'error', level: 'user', code, message: userMessage, ...version };

  const settings: Record<string, string> = {};
  for (const setting of children(child(user, A, 'UserSettings'), A, 'UserSetting')) {
    const name = textOf(child(setting, A, 'Name'));
    if (!name) continue;
    const value = child(setting, A, 'Value');
    settings[name] = value ? textOf(value) : allText(setting);
  }
  const settingErrors = children(child(user, A, 'UserSettingErrors'), A, 'UserSettingError').map((e) => ({
    setting: textOf(child(e, A, 'SettingName')),
    code: textOf(child(e, A, 'ErrorCode')),
    message: textOf(child(e, A, 'ErrorMessage')),
  }));
  // External first, then internal: what the EWS Managed API's ExchangeService.GetEwsUrlFromResponse does
  // ("AutoDiscover may not return an external protocol. First try external, then internal."; its TypeScript
  // port ews-javascript-api keeps the same comment). Liaison runs outside or inside the firewall; the external
  // URL is the one published for clients that are not domain members.
  const externalEwsUrl = settings.ExternalEwsUrl || undefined;
  const internalEwsUrl = settings.InternalEwsUrl || undefined;
  const answer: AutodiscoverSettings = {
    kind: 'settings',
    ewsUrl: externalEwsUrl ?? internalEwsUrl ?? null,
    settings,
    settingErrors,
    ...version,
  };
  if (externalEwsUrl) answer.externalEwsUrl = externalEwsUrl;
  if (internalEwsUrl) answer.internalEwsUrl = internalEwsUrl;
  if (settings.AutoDiscoverSMTPAddress) answer.smtpAddress = settings.AutoDiscoverSMTPAddress;
  if (settings.UserDisplayName) answer.displayName = settings.UserDisplayName;
  if (settings.CasVersion) answer.casVersion = settings.CasVersion;
  if (settings.GroupingInformation) answer.groupingInformation = settings.GroupingInformation;
  if (settings.EwsSupportedSchemas) {
    answer.ewsSupportedSchemas = settings.EwsSupportedSchemas.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return answer;
}

/** The text of a setting that is not a plain Value (other than its Name), for showing. */
function allText(setting: XmlElement): string {
  const out: string[] = [];
  const walk = (e: XmlElement) => {
    if (e.local !== 'Name' && e.text.trim()) out.push(e.text.trim());
    e.children.forEach(walk);
  };
  setting.children.forEach(walk);
  return out.join(' ');
}
