/**
 * The diagnostics service the API, the console, the engine and the CLI hold: the one place that sends an Exchange
 * target to the Exchange steps, an IMAP/POP3/SMTP target to the mail steps and an Exchange Online target to the
 * Microsoft Graph steps, by the target's kind. Callers never
 * ask which kind they have.
 */
import { createExchangeDiagnostics } from './exchange.js';
import { createGraphDiagnostics } from './graph.js';
import { createMailDiagnostics } from './mail.js';
import type { DiagnosticTarget, DiagnosticsService, TargetDiagnostics } from './service.js';

export type DiagnosticsImplementations = { [K in DiagnosticTarget['kind']]: TargetDiagnostics<Extract<DiagnosticTarget, { kind: K }>> };

/** The service, with the real implementations unless a test gives its own (a wrapped transport, say). */
export function createDiagnostics(implementations: Partial<DiagnosticsImplementations> = {}): DiagnosticsService {
  const chosen: DiagnosticsImplementations = {
    exchange: implementations.exchange ?? createExchangeDiagnostics(),
    mail: implementations.mail ?? createMailDiagnostics(),
    graph: implementations.graph ?? createGraphDiagnostics(),
  };
  // The target's kind picks the implementation; the cast says what the mapped type already guarantees.
  const of = <T extends DiagnosticTarget>(target: T) => chosen[target.kind] as unknown as TargetDiagnostics<T>;
  return {
    testConnection: (target, onEvent) => of(target).testConnection(target, onEvent),
    testMailbox: (target, options, onEvent) => of(target).testMailbox(target, options, onEvent),
  };
}
