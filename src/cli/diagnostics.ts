/**
 * The diagnostics service the commands run (serve's Test Connection and Test & Enable, `liaison analyze`):
 * the one place that chooses the implementation.
 */
import type { DiagnosticsService } from '../diagnostics/service.js';

/**
 * The Exchange diagnostics, or null while this build has none (then serve answers Test Connection and Test &
 * Enable with 503, and analyze says so and exits 1). WIRING POINT: returns the implementation from
 * src/diagnostics/exchange.ts once it exists.
 */
export function diagnosticsService(): DiagnosticsService | null {
  return null;
}
