/**
 * What one Autodiscover endpoint said about one address, whichever service (SOAP or POX) said it: the settings
 * (an EWS URL found), a redirect to another address or another Autodiscover URL, or an error in the payload.
 * Both services answer errors with HTTP 200 ("200 does not mean success",
 * ms-docs handling-autodiscover-error-messages.md), so these readers are where errors are found.
 */

export interface AutodiscoverSettings {
  kind: 'settings';
  /** The EWS URL to use: the external one first, then the internal one (see soap.ts and pox.ts for why). */
  ewsUrl: string | null;
  internalEwsUrl?: string;
  externalEwsUrl?: string;
  /** The address Autodiscover answered for (AutoDiscoverSMTPAddress), when it says. */
  smtpAddress?: string;
  displayName?: string;
  /**
   * The server's version as it reports it: SOAP's ServerVersionInfo `Version` (`Exchange2015`) with its build
   * (`15.1.2507.57`); POX's `ServerVersion` decoded (`15.1.543`, see pox.ts) with the hex it came as.
   */
  serverVersion?: string;
  serverBuild?: string;
  /** SOAP EwsSupportedSchemas, split (`Exchange2007`, …, `Exchange2016`). */
  ewsSupportedSchemas?: string[];
  casVersion?: string;
  /** The value that, with the EWS URL, groups mailboxes for notification affinity (SOAP setting, POX EXPR element). */
  groupingInformation?: string;
  /** Every setting the answer carried, name -> text. */
  settings: Record<string, string>;
  /** SOAP UserSettingErrors: settings the server did not give, with its code and text. */
  settingErrors: Array<{ setting: string; code: string; message: string }>;
}

export interface AutodiscoverRedirect {
  kind: 'redirect-address' | 'redirect-url';
  target: string;
  message?: string;
  serverVersion?: string;
}

export interface AutodiscoverAnswerError {
  kind: 'error';
  /** The Autodiscover error code: SOAP `InvalidUser`, `ServerBusy`, …; POX `500`, `600`, `601`; `SoapFault`. */
  code: string;
  message: string;
  /** Where the code was found: the whole response, the user's response, a SOAP fault, the POX Error element. */
  level: 'response' | 'user' | 'fault' | 'pox';
  serverVersion?: string;
}

export type AutodiscoverAnswer = AutodiscoverSettings | AutodiscoverRedirect | AutodiscoverAnswerError;

/** The answer is not an Autodiscover answer at all (not XML, another document, a truncated body). */
export class AutodiscoverReadError extends Error {
  constructor(
    readonly service: 'soap' | 'pox',
    message: string,
  ) {
    super(message);
    this.name = 'AutodiscoverReadError';
  }
}
