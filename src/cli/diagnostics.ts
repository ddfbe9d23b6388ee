/**
 * The diagnostics service the commands run (serve's Test Connection and Test & Enable, `liaison analyze`):
 * the one place that chooses the implementation.
 */
import { createExchangeDiagnostics } from '../diagnostics/exchange.js';
import type { DiagnosticsService } from '../diagnostics/service.js';

export function diagnosticsService(): DiagnosticsService {
  return createExchangeDiagnostics();
}
