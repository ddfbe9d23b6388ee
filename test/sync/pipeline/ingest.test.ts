import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ingest } from '../../../src/sync/pipeline/ingest.js';
import type { IncomingOutcome } from '../../../src/sync/ports.js';
import { input } from './fixtures.js';
import { lookupsDouble, pipelineContext } from './lookups-double.js';

const quote = { type: 'account' as const, id: 'acc-fabrikam' };
const store = () =>
  lookupsDouble({
    activities: { '<crm-sent-0001@contoso.test>': { activityId: 'act-sent-1', regarding: quote } },
    tokens: { 'CRM:0000042': { activityId: 'act-sent-1', regarding: quote } },
    records: {
      'anna.berg@fabrikam.test': [{ type: 'contact', id: 'con-anna' }],
      'sam@contoso.test': [{ type: 'user', id: 'user-sam' }],
    },
  });

function tracked(outcome: IncomingOutcome | undefined) {
  assert.equal(outcome?.kind, 'tracked', JSON.stringify(outcome));
  return (outcome as Extract<IncomingOutcome, { kind: 'tracked' }>).activity;
}

const CORPUS = [
  'reply-in-reply-to.eml',
  'reply-references-only.eml',
  'reply-token-only.eml',
  'outlook-thread-index.eml',
  'auto-reply-rfc3834.eml',
  'exchange-automatic-reply.eml',
  'distribution-list-mail.eml',
  'ndr-delivery-report.eml',
  'no-message-id.eml',
  'iso-8859-1.eml',
  'attachment-over-limit.eml',
  'blocked-exe.eml',
  'garbage.bin',
];

describe('ingest', () => {
  test('the corpus under the default filter: one outcome per message, in order, each with its reason', async () => {
    const lookups = store();
    const outcomes = await ingest(CORPUS.map((name) => input(name)), pipelineContext(lookups, { filter: 'responses-to-crm-email' }));
    assert.deepEqual(
      outcomes.map((o) => [o.serverId, o.kind, o.kind === 'filtered' ? o.rule : o.kind === 'failed' ? o.error.code : '']),
      [
        ['item:reply-in-reply-to.eml', 'tracked', ''],
        ['item:reply-references-only.eml', 'tracked', ''],
        ['item:reply-token-only.eml', 'tracked', ''],
        ['item:outlook-thread-index.eml', 'filtered', 'filter:responses-to-crm-email:not-a-response'],
        ['item:auto-reply-rfc3834.eml', 'filtered', 'auto-reply:Auto-Submitted auto-replied'],
        ['item:exchange-automatic-reply.eml', 'filtered', 'auto-reply:X-Auto-Response-Suppress All (with X-MS-Exchange-Inbox-Rules-Loop)'],
        ['item:distribution-list-mail.eml', 'tracked', ''],
        ['item:ndr-delivery-report.eml', 'filtered', 'auto-reply:multipart/report delivery-status'],
        ['item:no-message-id.eml', 'filtered', 'filter:responses-to-crm-email:not-a-response'],
        ['item:iso-8859-1.eml', 'filtered', 'filter:responses-to-crm-email:not-a-response'],
        ['item:attachment-over-limit.eml', 'filtered', 'filter:responses-to-crm-email:not-a-response'],
        ['item:blocked-exe.eml', 'filtered', 'filter:responses-to-crm-email:not-a-response'],
        ['item:garbage.bin', 'failed', 'mime.not-a-message'],
      ],
    );
    const failed = outcomes.at(-1);
    assert.ok(failed?.kind === 'failed');
    assert.equal(failed.error.serverResponse, null);
    assert.equal(failed.internetMessageId, null);
  });

  test("lookups are batched: one call each for the batch's Message-IDs and addresses, not one per message", async () => {
    const lookups = store();
    await ingest(CORPUS.map((name) => input(name)), pipelineContext(lookups, { filter: 'all' }));
    const byLookup = (name: string) => lookups.calls.filter((c) => c.lookup === name);
    assert.equal(byLookup('activitiesByMessageId').length, 1);
    assert.equal(byLookup('recordsByAddress').length, 1);
    assert.ok(byLookup('activitiesByMessageId')[0]!.keys.includes('<crm-sent-0001@contoso.test>'));
    const addresses = byLookup('recordsByAddress')[0]!.keys;
    assert.equal(new Set(addresses).size, addresses.length, 'each address asked for once');
    assert.ok(addresses.includes('anna.berg@fabrikam.test') && addresses.includes('joerg.mueller@fabrikam.test'));
    // Token and conversation lookups are one key each by contract, and each distinct key is asked once.
    assert.equal(byLookup('activityByTrackingToken').length, 1);
  });

  test('a tracked reply is complete: parties, regarding, correlation, token, body, dates', async () => {
    const [outcome] = await ingest([input('reply-in-reply-to.eml', { receivedAt: '2026-12-01T09:15:05.000Z' })], pipelineContext(store(), { filter: 'responses-to-crm-email' }));
    const activity = tracked(outcome);
    assert.equal(activity.internetMessageId, '<b2c4e6a8.1001@mail.fabrikam.test>');
    assert.equal(activity.subject, 'RE: Quote for 40 licences');
    assert.equal(activity.correlatedActivityId, 'act-sent-1');
    assert.deepEqual(activity.regarding, quote);
    assert.equal(activity.trackingToken, null);
    assert.equal(activity.inReplyTo, '<crm-sent-0001@contoso.test>');
    assert.deepEqual(activity.references, ['<crm-first-0000@contoso.test>', '<crm-sent-0001@contoso.test>']);
    assert.deepEqual(activity.parties.map((p) => [p.role, p.address, p.record?.id ?? null]), [
      ['from', 'anna.berg@fabrikam.test', 'con-anna'],
      ['to', 'sam@contoso.test', 'user-sam'],
      ['cc', 'purchasing@fabrikam.test', null],
    ]);
    assert.equal(activity.sentAt, '2026-12-01T09:14:55.000Z');
    assert.equal(activity.receivedAt, '2026-12-01T09:15:05.000Z');
    assert.match(activity.bodyText ?? '', /40 licences/);
    assert.deepEqual(activity.attachments, []);
    assert.deepEqual(activity.notes, []);
  });

  test('a token-only reply carries the token it was found by', async () => {
    const [outcome] = await ingest([input('reply-token-only.eml')], pipelineContext(store(), { filter: 'responses-to-crm-email' }));
    const activity = tracked(outcome);
    assert.equal(activity.trackingToken, 'CRM:0000042');
    assert.equal(activity.correlatedActivityId, 'act-sent-1');
    assert.deepEqual(activity.regarding, quote);
  });

  test('under "all", attachments over the limit and blocked ones are left out with notes; the rest kept', async () => {
    const outcomes = await ingest([input('attachment-over-limit.eml'), input('blocked-exe.eml')], pipelineContext(store(), { filter: 'all' }));
    const big = tracked(outcomes[0]);
    assert.deepEqual(big.attachments.map((a) => [a.fileName, a.content.toString()]), [['notes.txt', 'small notes']]);
    assert.equal(big.notes.length, 1);
    assert.match(big.notes[0]!, /drawing\.pdf.*6,000 bytes.*limit/);
    const exe = tracked(outcomes[1]);
    assert.deepEqual(exe.attachments, []);
    assert.match(exe.notes[0]!, /Setup\.EXE.*\.exe files are blocked/);
    assert.equal(big.correlatedActivityId, null);
    assert.equal(big.regarding, null);
  });

  test('under "all", an auto-reply is tracked, and a message without Message-ID gets its derived id', async () => {
    const outcomes = await ingest([input('auto-reply-rfc3834.eml'), input('no-message-id.eml')], pipelineContext(store(), { filter: 'all' }));
    assert.equal(tracked(outcomes[0]).correlatedActivityId, 'act-sent-1');
    assert.match(tracked(outcomes[1]).internetMessageId, /@no-message-id\.liaison\.invalid>$/);
  });

  test('from CRM records: the contact is tracked, the user is not, and the rule says so', async () => {
    const lookups = lookupsDouble({ records: { 'anna.berg@fabrikam.test': [{ type: 'contact', id: 'con-anna' }], 'scanner@fabrikam.test': [{ type: 'user', id: 'u-scan' }] } });
    const outcomes = await ingest([input('reply-token-only.eml'), input('no-message-id.eml'), input('iso-8859-1.eml')], pipelineContext(lookups, { filter: 'from-crm-records' }));
    assert.equal(outcomes[0]!.kind, 'tracked');
    assert.deepEqual(outcomes.slice(1).map((o) => (o.kind === 'filtered' ? o.rule : o.kind)), ['filter:from-crm-records:sender-is-a-user', 'filter:from-crm-records:sender-unresolved']);
  });

  test('"none" filters everything, naming the option', async () => {
    const outcomes = await ingest([input('reply-in-reply-to.eml')], pipelineContext(store(), { filter: 'none' }));
    assert.deepEqual(outcomes.map((o) => (o.kind === 'filtered' ? o.rule : o.kind)), ['filter:none']);
  });

  test('the same Message-ID twice in one batch: the second is filtered, naming the first item', async () => {
    const outcomes = await ingest(
      [input('reply-in-reply-to.eml', { serverId: 'A' }), input('reply-in-reply-to.eml', { serverId: 'B' })],
      pipelineContext(store(), { filter: 'all' }),
    );
    assert.equal(outcomes[0]!.kind, 'tracked');
    assert.deepEqual(outcomes[1], { kind: 'filtered', serverId: 'B', internetMessageId: '<b2c4e6a8.1001@mail.fabrikam.test>', rule: 'duplicate-in-batch:same Message-ID as item A' });
  });

  test('a bad message never stops the others; its listed id is kept on the failure', async () => {
    const outcomes = await ingest([input('garbage.bin', { internetMessageId: 'x1@exch.test' }), input('reply-in-reply-to.eml')], pipelineContext(store(), { filter: 'all' }));
    assert.deepEqual(outcomes[0], {
      kind: 'failed',
      serverId: 'item:garbage.bin',
      internetMessageId: '<x1@exch.test>',
      error: { code: 'mime.not-a-message', message: outcomes[0]!.kind === 'failed' ? outcomes[0]!.error.message : '', serverResponse: null },
    });
    assert.equal(outcomes[1]!.kind, 'tracked');
  });

  test('a failing lookup rejects the whole batch: a cycle failure, nothing half-recorded', async () => {
    const down = lookupsDouble({ failWith: new Error('connection refused') });
    await assert.rejects(ingest([input('reply-in-reply-to.eml')], pipelineContext(down)), /connection refused/);
  });

  test('an empty batch asks the store nothing', async () => {
    const lookups = store();
    assert.deepEqual(await ingest([], pipelineContext(lookups)), []);
    assert.deepEqual(lookups.calls, []);
  });

  test('custom policies replace the defaults', async () => {
    const { defaultPolicies } = await import('../../../src/sync/pipeline/defaults.js');
    const policies = { ...defaultPolicies(), filter: { decide: () => 'custom:everything-out' } };
    const outcomes = await ingest([input('reply-in-reply-to.eml')], pipelineContext(store()), policies);
    assert.deepEqual(outcomes.map((o) => (o.kind === 'filtered' ? o.rule : o.kind)), ['custom:everything-out']);
  });
});
