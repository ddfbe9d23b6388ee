/**
 * What Test Connection, Test & Enable and the connectivity analyzer report: the same shapes in the API, the
 * console and the CLI's --json, so the three never disagree.
 */
import type { ServerAnswer } from '../connectors/ews/explain.js';

export type StepName = 'autodiscover' | 'ews' | 'mailbox';
export type StepStatus = 'success' | 'failure' | 'skipped';

export const STEP_TITLES: Record<StepName, string> = {
  autodiscover: 'Autodiscover / HTTPS connection',
  ews: 'EWS connection',
  mailbox: 'Mailbox connection',
};

/** The server's side of a failure: one shape, kept beside the connector that reads the answers. */
export type { ServerAnswer } from '../connectors/ews/explain.js';

export interface StepResult {
  step: StepName;
  title: string;
  status: StepStatus;
  elapsedMs: number;
  /** One line: what happened ("Found https://mail.contoso.test/EWS/Exchange.asmx by Autodiscover (SOAP)"). */
  summary: string;
  /** The request made (method and URL), when the step made one. */
  request?: { method: string; url: string };
  serverAnswer?: ServerAnswer;
  /** The likely fix, when the step failed. */
  fix?: string;
  /** Further lines: every Autodiscover URL tried and what it answered, certificate names, … */
  details?: string[];
  /** A stable code for the diagnosis (basic-auth-disabled, impersonation-denied, tls-name-mismatch, …). */
  code?: string;
}

export interface ConnectionTestResult {
  status: 'success' | 'failure';
  startedAt: string;
  elapsedMs: number;
  /** The mailbox address tested in step 3. */
  mailbox: string;
  /** The EWS URL used (found or configured), when known. */
  ewsUrl?: string;
  steps: StepResult[];
}

/** Live progress for the analyzer's spinner: a step starts, then ends with its result. */
export type StepEvent = { type: 'start'; step: StepName; title: string } | { type: 'end'; result: StepResult };
