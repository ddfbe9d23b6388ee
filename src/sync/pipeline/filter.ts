/** The default IncomingFilter: the mailbox owner's option, as domain/incoming-filter.ts rules it. */
import { incomingFilterRule } from '../../domain/incoming-filter.js';
import type { ResolvedParty } from '../ports.js';
import type { Correlation, IncomingFilter, ParsedEmail, PipelineContext } from './types.js';

export class OptionIncomingFilter implements IncomingFilter {
  decide(_email: ParsedEmail, facts: { parties: ResolvedParty[]; correlation: Correlation | null; autoReply: string | null }, context: PipelineContext): string | null {
    const sender = facts.parties.find((party) => party.role === 'from')?.record ?? null;
    return incomingFilterRule(context.filter, { autoReply: facts.autoReply, correlated: facts.correlation !== null, sender });
  }
}
