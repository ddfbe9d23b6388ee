/**
 * The store's lookups for one batch: every Message-ID and address the batch names is asked for in one call
 * each before the policies run, and the policies, which look up one message at a time, are answered from
 * what that call returned. A key that was not asked for up front (a custom policy's) costs one more call for
 * the keys missing then, never one per message. A failing lookup rejects, as the store's would.
 */
import type { PipelineLookups } from '../ports.js';

type ByMessageId = Awaited<ReturnType<PipelineLookups['activitiesByMessageId']>>;
type ByAddress = Awaited<ReturnType<PipelineLookups['recordsByAddress']>>;
type Single = Awaited<ReturnType<PipelineLookups['activityByTrackingToken']>>;

export interface BatchLookups extends PipelineLookups {
  /** Calls made to the store so far, per lookup (what the tests and the metrics read). */
  readonly calls: { activitiesByMessageId: number; activityByTrackingToken: number; activityByConversation: number; recordsByAddress: number };
}

function keyedCache<V>(fetch: (keys: readonly string[]) => Promise<Map<string, V>>, normalize: (key: string) => string) {
  const known = new Map<string, V | null>();
  return async (keys: readonly string[]): Promise<Map<string, V>> => {
    const wanted = [...new Set(keys.map(normalize))];
    const missing = wanted.filter((key) => !known.has(key));
    if (missing.length > 0) {
      const found = await fetch(missing);
      for (const key of missing) known.set(key, found.get(key) ?? null);
    }
    const result = new Map<string, V>();
    for (const key of wanted) {
      const value = known.get(key);
      if (value !== null && value !== undefined) result.set(key, value);
    }
    return result;
  };
}

function singleCache(fetch: (key: string) => Promise<Single>) {
  const known = new Map<string, Promise<Single>>();
  return (key: string): Promise<Single> => {
    let pending = known.get(key);
    if (!pending) {
      pending = fetch(key);
      known.set(key, pending);
    }
    return pending;
  };
}

/** Lookups over `lookups` that have already asked for `prefetch` (skip the calls for an empty list). */
export async function batchLookups(lookups: PipelineLookups, prefetch: { messageIds: readonly string[]; addresses: readonly string[] }): Promise<BatchLookups> {
  const calls = { activitiesByMessageId: 0, activityByTrackingToken: 0, activityByConversation: 0, recordsByAddress: 0 };
  const byMessageId = keyedCache<ByMessageId extends Map<string, infer V> ? V : never>((keys) => {
    calls.activitiesByMessageId += 1;
    return lookups.activitiesByMessageId(keys);
  }, (key) => key);
  // Addresses compare without case (the store keys them lower-cased).
  const byAddress = keyedCache<ByAddress extends Map<string, infer V> ? V : never>((keys) => {
    calls.recordsByAddress += 1;
    return lookups.recordsByAddress(keys);
  }, (key) => key.trim().toLowerCase());
  const byToken = singleCache((token) => {
    calls.activityByTrackingToken += 1;
    return lookups.activityByTrackingToken(token);
  });
  const byConversation = singleCache((conversationId) => {
    calls.activityByConversation += 1;
    return lookups.activityByConversation(conversationId);
  });
  await Promise.all([
    prefetch.messageIds.length > 0 ? byMessageId(prefetch.messageIds) : null,
    prefetch.addresses.length > 0 ? byAddress(prefetch.addresses) : null,
  ]);
  return {
    calls,
    activitiesByMessageId: byMessageId,
    recordsByAddress: byAddress,
    activityByTrackingToken: byToken,
    activityByConversation: byConversation,
  };
}
