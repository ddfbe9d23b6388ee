/**
 * The explanations of Exchange failures live with the EWS connector (src/connectors/ews/explain.ts), which the
 * engine's error classification reads too; diagnostics use them from here so the two never disagree.
 */
export * from '../connectors/ews/explain.js';
