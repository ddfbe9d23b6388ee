/** An in-memory PipelineLookups for the pipeline's tests: what the store would answer, and every call made. */
import type { RecordRef, RegardingType } from '../../../src/domain/activity.js';
import type { PipelineContext } from '../../../src/sync/pipeline/types.js';
import type { OrganizationSettings, PipelineLookups, SyncMailbox } from '../../../src/sync/ports.js';

type Regarding = { type: RegardingType; id: string } | null;

export interface LookupsDouble extends PipelineLookups {
  calls: Array<{ lookup: keyof PipelineLookups; keys: string[] }>;
}

export function lookupsDouble(data: {
  activities?: Record<string, { activityId: string; regarding: Regarding; direction?: 'incoming' | 'outgoing' }>;
  tokens?: Record<string, { activityId: string; regarding: Regarding }>;
  conversations?: Record<string, { activityId: string; regarding: Regarding }>;
  records?: Record<string, RecordRef[]>;
  /** Every lookup rejects with this (the store is down). */
  failWith?: Error;
}): LookupsDouble {
  const calls: LookupsDouble['calls'] = [];
  const check = () => {
    if (data.failWith) throw data.failWith;
  };
  return {
    calls,
    async activitiesByMessageId(messageIds) {
      calls.push({ lookup: 'activitiesByMessageId', keys: [...messageIds] });
      check();
      const found = new Map();
      for (const id of messageIds) {
        const hit = data.activities?.[id];
        if (hit) found.set(id, { activityId: hit.activityId, regarding: hit.regarding, direction: hit.direction ?? 'outgoing' });
      }
      return found;
    },
    async activityByTrackingToken(token) {
      calls.push({ lookup: 'activityByTrackingToken', keys: [token] });
      check();
      return data.tokens?.[token] ?? null;
    },
    async activityByConversation(conversationId) {
      calls.push({ lookup: 'activityByConversation', keys: [conversationId] });
      check();
      return data.conversations?.[conversationId] ?? null;
    },
    async recordsByAddress(addresses) {
      calls.push({ lookup: 'recordsByAddress', keys: [...addresses] });
      check();
      const found = new Map<string, RecordRef[]>();
      for (const address of addresses) {
        const hit = data.records?.[address];
        if (hit) found.set(address, hit);
      }
      return found;
    },
  };
}

export const ORGANIZATION: OrganizationSettings = {
  useTrackingToken: true,
  trackingTokenPrefix: 'CRM:',
  trackingTokenDigits: 7,
  maxAttachmentBytes: 4096,
  blockedAttachmentExtensions: ['exe', 'js', 'vbs'],
  systemNotificationMailboxId: null,
};

export const MAILBOX: SyncMailbox = {
  id: 'mbx-sam',
  address: 'sam@contoso.test',
  type: 'user',
  ownerId: 'user-sam',
  profileId: 'profile-1',
  incoming: true,
  outgoing: true,
  processEmailFrom: null,
  ewsUrl: null,
  ewsUrlFoundAt: null,
  incomingStatus: 'success',
  outgoingStatus: 'success',
  consecutiveFailures: 0,
  lastSuccessAt: null,
  nextDueAt: null,
};

export function pipelineContext(lookups: PipelineLookups, overrides: Partial<PipelineContext> = {}): PipelineContext {
  return { mailbox: MAILBOX, organization: ORGANIZATION, filter: 'all', lookups, ...overrides };
}
