import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchLookups } from '../../../src/sync/pipeline/batch-lookups.js';
import { lookupsDouble } from './lookups-double.js';

const hit = { activityId: 'act-1', regarding: null };

describe('batch lookups', () => {
  test('what was asked up front is answered without another call, found or not', async () => {
    const store = lookupsDouble({ activities: { '<a@x>': hit }, records: { 'anna@x.test': [{ type: 'contact', id: 'c' }] } });
    const lookups = await batchLookups(store, { messageIds: ['<a@x>', '<b@x>', '<a@x>'], addresses: ['anna@x.test', 'bob@x.test'] });
    assert.deepEqual(store.calls, [
      { lookup: 'activitiesByMessageId', keys: ['<a@x>', '<b@x>'] },
      { lookup: 'recordsByAddress', keys: ['anna@x.test', 'bob@x.test'] },
    ]);
    assert.equal((await lookups.activitiesByMessageId(['<a@x>', '<b@x>'])).get('<a@x>')?.activityId, 'act-1');
    assert.equal((await lookups.activitiesByMessageId(['<b@x>'])).size, 0);
    assert.deepEqual((await lookups.recordsByAddress(['ANNA@X.test'])).get('anna@x.test'), [{ type: 'contact', id: 'c' }]);
    assert.equal(store.calls.length, 2);
  });

  test('a key not asked up front costs one call for the missing keys only', async () => {
    const store = lookupsDouble({ activities: { '<c@x>': hit } });
    const lookups = await batchLookups(store, { messageIds: ['<a@x>'], addresses: [] });
    const found = await lookups.activitiesByMessageId(['<a@x>', '<c@x>', '<d@x>']);
    assert.deepEqual([...found.keys()], ['<c@x>']);
    assert.deepEqual(store.calls.at(-1), { lookup: 'activitiesByMessageId', keys: ['<c@x>', '<d@x>'] });
    assert.equal(lookups.calls.recordsByAddress, 0, 'an empty prefetch asks nothing');
  });

  test('a token or a conversation is asked once however many messages name it', async () => {
    const store = lookupsDouble({ tokens: { 'CRM:0000001': hit } });
    const lookups = await batchLookups(store, { messageIds: [], addresses: [] });
    const answers = await Promise.all([lookups.activityByTrackingToken('CRM:0000001'), lookups.activityByTrackingToken('CRM:0000001'), lookups.activityByConversation('c1'), lookups.activityByConversation('c1')]);
    assert.deepEqual(answers, [hit, hit, null, null]);
    assert.deepEqual(lookups.calls, { activitiesByMessageId: 0, activityByTrackingToken: 1, activityByConversation: 1, recordsByAddress: 0 });
  });

  test('a failing store rejects the prefetch', async () => {
    await assert.rejects(batchLookups(lookupsDouble({ failWith: new Error('store down') }), { messageIds: ['<a@x>'], addresses: [] }), /store down/);
  });
});
