/**
 * The diagnostics service the commands run (serve's Test Connection and Test & Enable, `liaison analyze`): Exchange
 * and IMAP/POP3/SMTP behind one service (src/diagnostics/index.ts).
 */
import { createDiagnostics } from '../diagnostics/index.js';
import type { DiagnosticsService } from '../diagnostics/service.js';

export function diagnosticsService(): DiagnosticsService {
  return createDiagnostics();
}
