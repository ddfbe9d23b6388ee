/**
 * The default PartyResolver: each from/to/cc/bcc address to the email-enabled records it belongs to. A sender
 * resolves to one record (domain/activity.ts resolveSender); a recipient is listed once per record it matches.
 * An address with no match, or with so many that it says too little, stays an unresolved address.
 */
import { resolveRecipient, resolveSender, SENDER_MATCH_LIMIT } from '../../domain/activity.js';
import type { ResolvedParty } from '../ports.js';
import type { ParsedEmail, PartyResolver, PipelineContext } from './types.js';

const ROLES = ['from', 'to', 'cc', 'bcc'] as const;

/** Every address of a message, lower-cased as the store keys them. */
export function emailAddresses(email: ParsedEmail): string[] {
  return ROLES.flatMap((role) => email[role].map((party) => party.address.trim().toLowerCase()));
}

export class RecordPartyResolver implements PartyResolver {
  async resolve(email: ParsedEmail, context: PipelineContext): Promise<ResolvedParty[]> {
    const addresses = emailAddresses(email);
    const records = addresses.length > 0 ? await context.lookups.recordsByAddress(addresses) : new Map();
    const parties: ResolvedParty[] = [];
    for (const role of ROLES) {
      for (const { address, displayName } of email[role]) {
        const matches = records.get(address.trim().toLowerCase()) ?? [];
        if (role === 'from') {
          parties.push({ role, address, displayName, record: resolveSender(matches) });
          continue;
        }
        // The sender's limit holds for recipients too: an address shared by a hundred records names none of them.
        const resolved = matches.length >= SENDER_MATCH_LIMIT ? [null] : resolveRecipient(matches);
        for (const record of resolved) parties.push({ role, address, displayName, record });
      }
    }
    return parties;
  }
}
