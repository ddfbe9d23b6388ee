/**
 * The API over what the sync engine keeps: organization settings, incoming filters, mailbox health, and
 * activities linked to every mailbox that received them, with replies threaded. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Lease } from '../src/sync/ports.js';
import { openApi, type TestApi } from './helpers/api.js';
import { DATABASES } from './helpers/stores.js';

const FAR = new Date('2100-01-01T00:00:00.000Z');

for (const kind of DATABASES) {
  describe(`sync API on ${kind.name}`, kind.suite, () => {
    let api: TestApi;
    let profileId: string;
    before(async () => {
      api = await openApi(kind);
      const profile = await api.t.store.profiles.create({ name: 'IMAP', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', ownerId: api.admin.id });
      profileId = profile.id;
      for (const id of [api.admin.mailboxId!, api.user.mailboxId!]) {
        await api.t.store.mailboxes.update(id, { profileId, approvalStatus: 'approved', enabled: true });
      }
    });
    after(async () => api?.close());

    async function leaseOf(mailboxId: string): Promise<Lease> {
      for (let i = 0; i < 20; i += 1) {
        const [granted] = await api.t.store.sync.claimDue('api-test', 1, 60_000, new Date());
        if (!granted) break;
        if (granted.lease.mailboxId === mailboxId) return granted.lease;
        await api.t.store.sync.release(granted.lease, FAR);
      }
      throw new Error(`mailbox ${mailboxId} was not claimable`);
    }

    test('organization settings: everyone reads them, administrators change them, bad values are refused with the field', async () => {
      const read = await api.call('GET', '/api/v1/organization', { token: api.userToken });
      assert.equal(read.statusCode, 200);
      const settings = read.json();
      assert.deepEqual(
        [settings.useTrackingToken, settings.trackingTokenPrefix, settings.trackingTokenDigits, settings.maxAttachmentBytes, settings.systemNotificationMailboxId],
        [true, 'CRM:', 7, 5 * 1024 * 1024, null],
      );
      assert.ok(settings.blockedAttachmentExtensions.includes('exe'));

      assert.equal((await api.call('PATCH', '/api/v1/organization', { token: api.userToken, body: { useTrackingToken: false } })).statusCode, 403);
      const unknownMailbox = await api.call('PATCH', '/api/v1/organization', { body: { systemNotificationMailboxId: '01234567-89ab-7cde-8f01-23456789abcd' } });
      assert.equal(unknownMailbox.statusCode, 400);
      assert.match(unknownMailbox.body, /systemNotificationMailboxId/);
      assert.match(unknownMailbox.body, /no mailbox has id/);
      for (const body of [{ trackingTokenDigits: 0 }, { trackingTokenPrefix: 'has space' }, { maxAttachmentBytes: -1 }, { blockedAttachmentExtensions: ['ok', 'not/ok'] }, { surprise: 1 }]) {
        const refused = await api.call('PATCH', '/api/v1/organization', { body });
        assert.equal(refused.statusCode, 400, JSON.stringify(body));
        assert.match(refused.body, new RegExp(Object.keys(body)[0]!), JSON.stringify(body));
      }

      const changed = await api.call('PATCH', '/api/v1/organization', {
        body: { trackingTokenPrefix: 'TKT#', trackingTokenDigits: 5, blockedAttachmentExtensions: ['.EXE', 'bat'], systemNotificationMailboxId: api.admin.mailboxId },
      });
      assert.equal(changed.statusCode, 200, changed.body);
      assert.deepEqual(changed.json(), { ...settings, trackingTokenPrefix: 'TKT#', trackingTokenDigits: 5, blockedAttachmentExtensions: ['bat', 'exe'], systemNotificationMailboxId: api.admin.mailboxId });
      assert.deepEqual((await api.call('GET', '/api/v1/organization', { token: api.userToken })).json(), changed.json());
      assert.deepEqual(await api.t.store.sync.organization(), changed.json(), 'the engine reads what the API wrote');
      await api.call('PATCH', '/api/v1/organization', { body: { trackingTokenPrefix: 'CRM:', trackingTokenDigits: 7, systemNotificationMailboxId: null } });
    });

    test('incoming filters: users default to responses to CRM email, queues to all; a user changes their own only', async () => {
      const me = await api.call('GET', '/api/v1/users/me', { token: api.userToken });
      assert.equal(me.json().incomingFilter, 'responses-to-crm-email');
      const own = await api.call('PATCH', `/api/v1/users/${api.user.id}`, { token: api.userToken, body: { incomingFilter: 'from-crm-records' } });
      assert.equal(own.statusCode, 200, own.body);
      assert.equal(own.json().incomingFilter, 'from-crm-records');
      assert.equal(await api.t.store.sync.incomingFilter(api.user.mailboxId!), 'from-crm-records');
      assert.equal((await api.call('PATCH', `/api/v1/users/${api.user.id}`, { token: api.userToken, body: { incomingFilter: 'all', name: 'Renamed' } })).statusCode, 403);
      assert.equal((await api.call('PATCH', `/api/v1/users/${api.admin.id}`, { token: api.userToken, body: { incomingFilter: 'none' } })).statusCode, 403);
      const bad = await api.call('PATCH', `/api/v1/users/${api.user.id}`, { token: api.userToken, body: { incomingFilter: 'everything' } });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.body, /incomingFilter/);

      const queue = await api.call('POST', '/api/v1/queues', { body: { name: 'Sales', email: 'sales@contoso.test' } });
      assert.equal(queue.statusCode, 201, queue.body);
      assert.equal(queue.json().incomingFilter, 'all');
      const changed = await api.call('PATCH', `/api/v1/queues/${queue.json().id}`, { body: { incomingFilter: 'from-email-enabled-records' } });
      assert.equal(changed.json().incomingFilter, 'from-email-enabled-records');
      assert.equal(await api.t.store.sync.incomingFilter(queue.json().mailboxId), 'from-email-enabled-records');
    });

    test('a mailbox shows its sync health', async () => {
      const lease = await leaseOf(api.user.mailboxId!);
      await api.t.store.sync.recordCycle(lease, { direction: 'incoming', status: 'failure', consecutiveFailures: 2, lastError: 'ews.timeout: no answer in 100 s', disable: false, alert: null }, new Date());
      await api.t.store.sync.release(lease, new Date('2099-05-01T00:00:00.000Z'));
      const read = await api.call('GET', `/api/v1/mailboxes/${api.user.mailboxId}`, { token: api.userToken });
      assert.equal(read.statusCode, 200);
      const mailbox = read.json();
      assert.deepEqual(
        [mailbox.incomingStatus, mailbox.consecutiveFailures, mailbox.lastError, mailbox.nextDueAt, mailbox.lastSuccessAt],
        ['failure', 2, 'ews.timeout: no answer in 100 s', '2099-05-01T00:00:00.000Z', null],
      );
      const listed = (await api.call('GET', '/api/v1/mailboxes', { token: api.userToken })).json().items[0];
      assert.equal(listed.consecutiveFailures, 2);
    });

    test('an email received by two mailboxes shows both, its owner sees it, and a reply to it threads', async () => {
      // Test & Enable passing makes a mailbox due again, whenever its next cycle was planned.
      for (const u of [api.admin, api.user]) await api.t.store.mailboxes.recordTestOutcome(u.mailboxId!, { profileId, emailAddress: u.email }, { passed: true });
      const contact = await api.t.store.records.create('contact', { name: 'Carla', emailAddresses: ['carla@fabrikam.test'] });
      const email = {
        internetMessageId: '<hello@fabrikam.test>',
        subject: 'Hello both',
        bodyText: 'Hi',
        bodyHtml: null,
        parties: [{ role: 'from' as const, address: 'carla@fabrikam.test', displayName: 'Carla', record: { type: 'contact' as const, id: contact.id } }],
        inReplyTo: null,
        references: ['<earlier@fabrikam.test>'],
        conversationId: 'AAQkAD-conv',
        trackingToken: null,
        regarding: { type: 'contact' as const, id: contact.id },
        correlatedActivityId: null,
        sentAt: null,
        receivedAt: new Date().toISOString(),
        attachments: [],
        notes: ['"setup.exe" was left out: .exe files are blocked'],
      };
      const adminLease = await leaseOf(api.admin.mailboxId!);
      const created = await api.t.store.sync.commitIncoming(adminLease, { folder: 'inbox', cursor: 'x', outcomes: [{ kind: 'tracked', serverId: 'a', activity: email }] });
      await api.t.store.sync.release(adminLease, FAR);
      const userLease = await leaseOf(api.user.mailboxId!);
      await api.t.store.sync.commitIncoming(userLease, { folder: 'inbox', cursor: 'y', outcomes: [{ kind: 'tracked', serverId: 'b', activity: email }] });
      await api.t.store.sync.release(userLease, FAR);
      const id = created.created[0]!;

      const read = await api.call('GET', `/api/v1/email-activities/${id}`, { token: api.userToken });
      assert.equal(read.statusCode, 200, read.body);
      const activity = read.json();
      assert.equal(activity.mailboxId, api.admin.mailboxId);
      assert.deepEqual(activity.mailboxIds, [api.admin.mailboxId, api.user.mailboxId]);
      assert.deepEqual([activity.references, activity.conversationId, activity.notes, activity.failureReason], [['<earlier@fabrikam.test>'], 'AAQkAD-conv', email.notes, null]);
      const list = (await api.call('GET', '/api/v1/email-activities?direction=incoming', { token: api.userToken })).json();
      assert.ok(list.items.some((i: { id: string; mailboxIds: string[] }) => i.id === id && i.mailboxIds.length === 2));
      const inUserMailbox = (await api.call('GET', `/api/v1/email-activities?mailboxId=${api.user.mailboxId}`, { token: api.userToken })).json();
      assert.ok(inUserMailbox.items.some((i: { id: string }) => i.id === id), 'listed under the mailbox it was linked to');

      const reply = await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { subject: 'Re: Hello both', to: ['carla@fabrikam.test'], inReplyToActivityId: id } });
      assert.equal(reply.statusCode, 201, reply.body);
      assert.deepEqual(
        [reply.json().inReplyTo, reply.json().references, reply.json().regarding, reply.json().mailboxIds],
        ['<hello@fabrikam.test>', ['<earlier@fabrikam.test>', '<hello@fabrikam.test>'], { type: 'contact', id: contact.id }, [api.user.mailboxId]],
      );
      const missing = await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { inReplyToActivityId: '01234567-89ab-7cde-8f01-23456789abcd' } });
      assert.equal(missing.statusCode, 400);
      assert.match(missing.body, /inReplyToActivityId/);
    });
  });
}
