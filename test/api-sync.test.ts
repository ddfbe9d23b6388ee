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

    test("a mailbox's own login: its owner sets it, the password is never shown, other users may not, and only mailbox-login profiles take it", async () => {
      const path = `/api/v1/mailboxes/${api.user.mailboxId}/login`;
      const set = await api.call('PUT', path, { token: api.userToken, body: { username: ' pat ', password: 'pat-secret' } });
      assert.equal(set.statusCode, 200, set.body);
      assert.deepEqual([set.json().loginUsername, set.json().loginPasswordSet], ['pat', true]);
      assert.doesNotMatch(set.body, /pat-secret/);
      assert.deepEqual(await api.t.store.mailboxes.loginOf(api.user.mailboxId!), { username: 'pat', password: 'pat-secret' });
      const read = await api.call('GET', `/api/v1/mailboxes/${api.user.mailboxId}`, { token: api.userToken });
      assert.doesNotMatch(read.body, /pat-secret/);

      const other = await api.call('PUT', `/api/v1/mailboxes/${api.admin.mailboxId}/login`, { token: api.userToken, body: { username: 'x', password: 'y' } });
      assert.ok([403, 404].includes(other.statusCode), other.body);
      assert.equal((await api.call('PUT', path, { token: api.userToken, body: { username: 'pat' } })).statusCode, 400);

      const master = await api.t.store.profiles.create({ name: 'IMAP master', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', ownerId: api.admin.id, username: 'liaison', password: 'master-secret' });
      await api.t.store.mailboxes.update(api.admin.mailboxId!, { profileId: master.id });
      const refused = await api.call('PUT', `/api/v1/mailboxes/${api.admin.mailboxId}/login`, { body: { username: 'a', password: 'b' } });
      assert.equal(refused.statusCode, 400);
      assert.match(refused.body, /master user/);
      await api.t.store.mailboxes.update(api.admin.mailboxId!, { profileId });

      const removed = await api.call('DELETE', path, { token: api.userToken });
      assert.equal(removed.statusCode, 200, removed.body);
      assert.deepEqual([removed.json().loginUsername, removed.json().loginPasswordSet], [null, false]);
      assert.equal(await api.t.store.mailboxes.loginOf(api.user.mailboxId!), null);
    });

    test('an email whose delivery is uncertain waits for a person: delivered marks it sent, not delivered sends it again', async () => {
      async function uncertainEmail(subject: string): Promise<string> {
        const draft = await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { subject, to: ['carla@fabrikam.test'] } });
        assert.equal(draft.statusCode, 201, draft.body);
        const id = draft.json().id as string;
        assert.equal((await api.call('POST', `/api/v1/email-activities/${id}/send`, { token: api.userToken })).statusCode, 200);
        const lease = await leaseOf(api.user.mailboxId!);
        const claimed = await api.t.store.sync.claimOutgoing(lease, 10);
        assert.ok(claimed.some((e) => e.activityId === id));
        await api.t.store.sync.markDeliveryUncertain(lease, id, 'delivery uncertain: the answer was lost', {
          level: 'warning', scope: 'mailbox', code: 'send.delivery-uncertain', message: 'uncertain', serverResponse: null, fix: null, activityId: id, mailboxId: api.user.mailboxId!, profileId,
        });
        await api.t.store.sync.release(lease, FAR);
        return id;
      }
      const first = await uncertainEmail('Renewal');
      const shown = (await api.call('GET', `/api/v1/email-activities/${first}`, { token: api.userToken })).json();
      assert.deepEqual([shown.status, shown.failureReason], ['delivery-uncertain', 'delivery uncertain: the answer was lost']);
      assert.equal((await api.call('POST', `/api/v1/email-activities/${first}/delivery`, { token: api.userToken, body: {} })).statusCode, 400);
      const delivered = await api.call('POST', `/api/v1/email-activities/${first}/delivery`, { token: api.userToken, body: { delivered: true } });
      assert.equal(delivered.statusCode, 200, delivered.body);
      assert.equal(delivered.json().status, 'sent');
      assert.ok(delivered.json().sentAt);
      const again = await api.call('POST', `/api/v1/email-activities/${first}/delivery`, { token: api.userToken, body: { delivered: true } });
      assert.equal(again.statusCode, 409, 'a sent email waits for no decision');

      const second = await uncertainEmail('Quote');
      const resend = await api.call('POST', `/api/v1/email-activities/${second}/delivery`, { token: api.userToken, body: { delivered: false } });
      assert.equal(resend.statusCode, 200, resend.body);
      assert.deepEqual([resend.json().status, resend.json().failureReason], ['pending-send', null]);
    });
  });
}
