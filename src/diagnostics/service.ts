/**
 * What the API, the console and the CLI ask of the diagnostics: the contract the Exchange implementation
 * (src/diagnostics/exchange.ts) fulfils, and that tests replace with a double where they test the plumbing only.
 */
import type { ConnectionTestResult, StepEvent } from './types.js';

export interface ExchangeTarget {
  email: string;
  username: string;
  password: string;
  auth: 'basic' | 'ntlm';
  url: string | null /* fixed EWS URL when Autodiscover is off */;
  autodiscover: boolean;
  trustedCaPem: string | null;
  resolve: readonly string[];
  timeoutMs: number;
  maxConcurrentConnections: number;
}

export interface MailboxTestOptions {
  createUndeliverable: boolean;
  cachedEwsUrl?: string | null;
}

export interface MailboxTestResult extends ConnectionTestResult {
  /* same steps; plus */ ewsUrl?: string;
}

export interface DiagnosticsService {
  testConnection(target: ExchangeTarget, onEvent?: (e: StepEvent) => void): Promise<ConnectionTestResult>;
  testMailbox(target: ExchangeTarget, options: MailboxTestOptions, onEvent?: (e: StepEvent) => void): Promise<MailboxTestResult>;
}
