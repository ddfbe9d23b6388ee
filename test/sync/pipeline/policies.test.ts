import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SENDER_MATCH_LIMIT } from '../../../src/domain/activity.js';
import { OrganizationAttachmentPolicy } from '../../../src/sync/pipeline/attachment-policy.js';
import { HeaderAutoReplyDetector } from '../../../src/sync/pipeline/auto-reply-detector.js';
import { HeaderTokenConversationCorrelator } from '../../../src/sync/pipeline/correlator.js';
import { OptionIncomingFilter } from '../../../src/sync/pipeline/filter.js';
import { parseIncoming } from '../../../src/sync/pipeline/parse.js';
import { RecordPartyResolver } from '../../../src/sync/pipeline/party-resolver.js';
import type { ParsedEmail } from '../../../src/sync/pipeline/types.js';
import { input } from './fixtures.js';
import { lookupsDouble, ORGANIZATION, pipelineContext } from './lookups-double.js';

async function email(name: string, extra: Parameters<typeof input>[1] = {}): Promise<ParsedEmail> {
  const result = await parseIncoming(input(name, extra));
  if (!result.ok) throw new Error(result.failure.message);
  return result.email;
}

const quote = { type: 'account' as const, id: 'acc-fabrikam' };
const sent = { activityId: 'act-sent-1', regarding: quote };
const first = { activityId: 'act-first-0', regarding: { type: 'contact' as const, id: 'con-anna' } };

describe('auto-reply detector', () => {
  const detector = new HeaderAutoReplyDetector();
  test('names the header of each kind of machine reply in the corpus', async () => {
    assert.equal(detector.detect(await email('auto-reply-rfc3834.eml')), 'Auto-Submitted auto-replied');
    assert.match(detector.detect(await email('exchange-automatic-reply.eml')) ?? '', /^X-Auto-Response-Suppress All/);
    assert.equal(detector.detect(await email('ndr-delivery-report.eml')), 'multipart/report delivery-status');
  });
  test('a person writing through a distribution list is not one', async () => {
    assert.equal(detector.detect(await email('distribution-list-mail.eml')), null);
    assert.equal(detector.detect(await email('reply-in-reply-to.eml')), null);
  });
});

describe('correlator', () => {
  const correlator = new HeaderTokenConversationCorrelator();

  test('In-Reply-To first: the email answered, with its regarding record', async () => {
    const lookups = lookupsDouble({ activities: { '<crm-sent-0001@contoso.test>': sent, '<crm-first-0000@contoso.test>': first } });
    const found = await correlator.correlate(await email('reply-in-reply-to.eml'), pipelineContext(lookups));
    assert.deepEqual(found, { activityId: 'act-sent-1', regarding: quote, by: 'in-reply-to' });
  });

  test('References from the newest: the last known id wins over an older one and skips unknown ones', async () => {
    const lookups = lookupsDouble({ activities: { '<crm-sent-0001@contoso.test>': sent, '<crm-first-0000@contoso.test>': first } });
    const found = await correlator.correlate(await email('reply-references-only.eml'), pipelineContext(lookups));
    assert.deepEqual(found, { activityId: 'act-sent-1', regarding: quote, by: 'references' });
    const older = lookupsDouble({ activities: { '<crm-first-0000@contoso.test>': first } });
    assert.equal((await correlator.correlate(await email('reply-references-only.eml'), pipelineContext(older)))?.activityId, 'act-first-0');
  });

  test('the tracking token when the headers name nothing known, with the organization prefix', async () => {
    const lookups = lookupsDouble({ tokens: { 'CRM:0000042': sent } });
    const found = await correlator.correlate(await email('reply-token-only.eml'), pipelineContext(lookups));
    assert.deepEqual(found, { activityId: 'act-sent-1', regarding: quote, by: 'tracking-token' });
  });

  test('no token lookup when the organization does not use tokens, or uses another prefix', async () => {
    const lookups = lookupsDouble({ tokens: { 'CRM:0000042': sent } });
    const off = pipelineContext(lookups, { organization: { ...ORGANIZATION, useTrackingToken: false } });
    assert.equal(await correlator.correlate(await email('reply-token-only.eml'), off), null);
    const other = pipelineContext(lookups, { organization: { ...ORGANIZATION, trackingTokenPrefix: 'TKT#' } });
    assert.equal(await correlator.correlate(await email('reply-token-only.eml'), other), null);
    assert.equal(lookups.calls.filter((c) => c.lookup === 'activityByTrackingToken').length, 0);
  });

  test('the conversation last: an Outlook reply by Thread-Index alone', async () => {
    const outlook = await email('outlook-thread-index.eml');
    const lookups = lookupsDouble({ conversations: { [outlook.conversationId!]: sent } });
    assert.deepEqual(await correlator.correlate(outlook, pipelineContext(lookups)), { activityId: 'act-sent-1', regarding: quote, by: 'conversation' });
  });

  test('In-Reply-To beats the token and the conversation', async () => {
    const reply = await email('reply-in-reply-to.eml', { conversationId: 'conv-1' });
    reply.subject = 'RE: Quote CRM:0000042';
    const lookups = lookupsDouble({
      activities: { '<crm-sent-0001@contoso.test>': sent },
      tokens: { 'CRM:0000042': first },
      conversations: { 'conv-1': first },
    });
    assert.equal((await correlator.correlate(reply, pipelineContext(lookups)))?.by, 'in-reply-to');
  });

  test("a message is never correlated to its own activity (tracked from another mailbox)", async () => {
    const outlook = await email('outlook-thread-index.eml');
    const own = { activityId: 'act-own', regarding: null };
    const lookups = lookupsDouble({ activities: { [outlook.internetMessageId]: own }, conversations: { [outlook.conversationId!]: own } });
    assert.equal(await correlator.correlate(outlook, pipelineContext(lookups)), null);
  });

  test('nothing known: no correlation', async () => {
    assert.equal(await correlator.correlate(await email('reply-in-reply-to.eml'), pipelineContext(lookupsDouble({}))), null);
  });
});

describe('party resolver', () => {
  const resolver = new RecordPartyResolver();

  test('the sender to one record by priority, recipients to every record, the rest unresolved', async () => {
    const lookups = lookupsDouble({
      records: {
        'anna.berg@fabrikam.test': [{ type: 'lead', id: 'lead-anna' }, { type: 'contact', id: 'con-anna' }],
        'sam@contoso.test': [{ type: 'user', id: 'user-sam' }],
        'purchasing@fabrikam.test': [{ type: 'account', id: 'acc-fabrikam' }, { type: 'contact', id: 'con-purch' }],
      },
    });
    const parties = await resolver.resolve(await email('reply-in-reply-to.eml'), pipelineContext(lookups));
    assert.deepEqual(parties, [
      { role: 'from', address: 'anna.berg@fabrikam.test', displayName: 'Anna Berg', record: { type: 'contact', id: 'con-anna' } },
      { role: 'to', address: 'sam@contoso.test', displayName: 'Sam Sales', record: { type: 'user', id: 'user-sam' } },
      { role: 'cc', address: 'purchasing@fabrikam.test', displayName: null, record: { type: 'contact', id: 'con-purch' } },
      { role: 'cc', address: 'purchasing@fabrikam.test', displayName: null, record: { type: 'account', id: 'acc-fabrikam' } },
    ]);
  });

  test('addresses are looked up lower-cased and kept as written', async () => {
    const lookups = lookupsDouble({ records: { 'anna.berg@fabrikam.test': [{ type: 'contact', id: 'con-anna' }] } });
    const parties = await resolver.resolve(await email('reply-references-only.eml'), pipelineContext(lookups));
    assert.deepEqual(parties[0], { role: 'from', address: 'Anna.Berg@Fabrikam.test', displayName: 'Berg, Anna', record: { type: 'contact', id: 'con-anna' } });
    assert.deepEqual(parties[1], { role: 'to', address: 'sam@contoso.test', displayName: null, record: null });
    assert.deepEqual(lookups.calls, [{ lookup: 'recordsByAddress', keys: ['anna.berg@fabrikam.test', 'sam@contoso.test'] }]);
  });

  test('an address shared by too many records stays unresolved, as sender and as recipient', async () => {
    const many = Array.from({ length: SENDER_MATCH_LIMIT }, (_, i) => ({ type: 'contact' as const, id: `c${i}` }));
    const lookups = lookupsDouble({ records: { 'anna.berg@fabrikam.test': many, 'sam@contoso.test': many } });
    const parties = await resolver.resolve(await email('reply-in-reply-to.eml'), pipelineContext(lookups));
    assert.deepEqual(parties.slice(0, 2).map((p) => [p.role, p.record]), [['from', null], ['to', null]]);
    const fewer = lookupsDouble({ records: { 'sam@contoso.test': many.slice(1) } });
    const listed = await resolver.resolve(await email('reply-in-reply-to.eml'), pipelineContext(fewer));
    assert.equal(listed.filter((p) => p.role === 'to').length, SENDER_MATCH_LIMIT - 1);
  });
});

describe('filter policy', () => {
  const filter = new OptionIncomingFilter();
  test('reads the sender from the resolved parties and the option from the context', async () => {
    const reply = await email('reply-in-reply-to.eml');
    const parties = [{ role: 'from' as const, address: 'a@x', displayName: null, record: { type: 'user' as const, id: 'u' } }];
    const context = (filterOption: 'from-crm-records' | 'from-email-enabled-records') => pipelineContext(lookupsDouble({}), { filter: filterOption });
    assert.equal(filter.decide(reply, { parties, correlation: null, autoReply: null }, context('from-crm-records')), 'filter:from-crm-records:sender-is-a-user');
    assert.equal(filter.decide(reply, { parties, correlation: null, autoReply: null }, context('from-email-enabled-records')), null);
  });
});

describe('attachment policy', () => {
  const policy = new OrganizationAttachmentPolicy();

  test('an attachment over the limit is left out with a note naming file, size and reason', async () => {
    const { kept, notes } = policy.apply((await email('attachment-over-limit.eml')).attachments, ORGANIZATION);
    assert.deepEqual(kept.map((a) => a.fileName), ['notes.txt']);
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /"drawing\.pdf"/);
    assert.match(notes[0]!, /6,000 bytes/);
    assert.match(notes[0]!, /larger than the organization's limit of 4 KB/);
  });

  test('a blocked extension is left out whatever its case', async () => {
    const { kept, notes } = policy.apply((await email('blocked-exe.eml')).attachments, ORGANIZATION);
    assert.deepEqual(kept, []);
    assert.deepEqual(notes, ['Attachment "Setup.EXE" (202 bytes) was left out: .exe files are blocked by the organization.']);
  });

  test('a larger limit and no blocked extensions keep everything, without notes', async () => {
    const open = { ...ORGANIZATION, maxAttachmentBytes: 10_000, blockedAttachmentExtensions: [] };
    const { kept, notes } = policy.apply((await email('attachment-over-limit.eml')).attachments, open);
    assert.equal(kept.length, 2);
    assert.deepEqual(notes, []);
  });
});
