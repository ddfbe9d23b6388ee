/** graph.<domain>/v1.0: users, folders, messages ($select, $top, paging, $filter), $value, drafts and sending, move, access policies, and the same message over EWS. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { attr } from '../../src/xml/parse.js';
import { find, ok } from '../helpers/sandbox.js';
import { type GraphSandbox, startGraphSandbox } from './graph-support.js';

let s: GraphSandbox;
before(async () => {
  s = await startGraphSandbox();
});
after(() => s.close());

const DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

async function deliver(to: string, fields: Record<string, unknown>) {
  const answer = await s.control<{ itemId: string; internetMessageId: string }>('POST', `/mailboxes/${to}/messages`, { from: 'jane.doe@fabrikam.test', to, ...fields });
  assert.equal(answer.status, 201);
  return answer.json;
}

test('a user, its folders and child folders, with Graph property names', async () => {
  const user = await s.graph('GET', '/users/alice@contoso.test');
  assert.equal(user.status, 200);
  assert.equal(user.json.userPrincipalName, 'alice@contoso.test');
  assert.equal(user.json.displayName, 'Alice Adams');
  assert.match(user.json.id, /^[0-9a-f-]{36}$/);
  assert.equal((await s.graph('GET', `/users/${user.json.id}/mailFolders/inbox`)).json.displayName, 'Inbox');

  const folders = await s.graph('GET', '/users/alice@contoso.test/mailFolders?$top=100');
  const names = folders.json.value.map((f: { displayName: string }) => f.displayName);
  for (const name of ['Inbox', 'Drafts', 'Sent Items', 'Deleted Items', 'Junk Email']) assert.ok(names.includes(name), name);
  const inbox = await s.graph('GET', "/users/alice@contoso.test/mailFolders('inbox')");
  assert.deepEqual(Object.keys(inbox.json).sort(), ['@odata.context', 'childFolderCount', 'displayName', 'id', 'isHidden', 'parentFolderId', 'totalItemCount', 'unreadItemCount'].sort());
  assert.equal(inbox.json.totalItemCount, 2);

  const created = await s.graph('POST', '/users/alice@contoso.test/mailFolders/inbox/childFolders', { body: { displayName: 'Customers' } });
  assert.equal(created.status, 201);
  assert.equal(created.json.parentFolderId, inbox.json.id);
  const again = await s.graph('POST', '/users/alice@contoso.test/mailFolders/inbox/childFolders', { body: { displayName: 'Customers' } });
  assert.equal(again.status, 409);
  assert.equal(again.json.error.code, 'ErrorFolderExists');
  const children = await s.graph('GET', `/users/alice@contoso.test/mailFolders/${inbox.json.id}/childFolders`);
  assert.deepEqual(children.json.value.map((f: { displayName: string }) => f.displayName), ['Customers']);
});

test('a folder created with isHidden true is hidden: isHidden in its answers, left out of lists unless includeHiddenFolders=true', async () => {
  const hidden = await s.graph('POST', '/users/dave@contoso.test/mailFolders', { body: { displayName: 'Hidden box', isHidden: true } });
  assert.equal(hidden.status, 201, hidden.text);
  assert.equal(hidden.json.isHidden, true);
  const shown = await s.graph('POST', '/users/dave@contoso.test/mailFolders', { body: { displayName: 'Shown box' } });
  assert.equal(shown.json.isHidden, false);
  assert.equal((await s.graph('GET', `/users/dave@contoso.test/mailFolders/${hidden.json.id}`)).json.isHidden, true);
  const names = async (query: string) => (await s.graph('GET', `/users/dave@contoso.test/mailFolders?$top=100${query}`)).json.value.map((f: { displayName: string }) => f.displayName) as string[];
  const plain = await names('');
  assert.ok(plain.includes('Shown box') && !plain.includes('Hidden box'), plain.join(', '));
  assert.ok((await names('&includeHiddenFolders=true')).includes('Hidden box'));
  // The same below a folder; and a hidden folder works as any other.
  const child = await s.graph('POST', `/users/dave@contoso.test/mailFolders/${shown.json.id}/childFolders`, { body: { displayName: 'Hidden child', isHidden: true } });
  assert.equal(child.json.isHidden, true);
  const kids = async (query: string) => (await s.graph('GET', `/users/dave@contoso.test/mailFolders/${shown.json.id}/childFolders${query}`)).json.value.length as number;
  assert.equal(await kids(''), 0);
  assert.equal(await kids('?includeHiddenFolders=true'), 1);
  assert.equal((await s.graph('GET', `/users/dave@contoso.test/mailFolders/${hidden.json.id}/messages`)).status, 200);
  const bad = await s.graph('POST', '/users/dave@contoso.test/mailFolders', { body: { displayName: 'Bad', isHidden: 'yes' } });
  assert.equal(bad.status, 400);
});

test('unknown users and mailbox-less accounts answer as Graph does', async () => {
  const unknown = await s.graph('GET', '/users/nobody@contoso.test/messages');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'ErrorInvalidUser');
  const service = await s.graph('GET', `/users/${s.info.serviceAccount!.username}/messages`);
  assert.equal(service.status, 404);
  assert.equal(service.json.error.code, 'MailboxNotEnabledForRESTAPI');
  assert.equal(service.json.error.message, 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
  const message = await s.graph('GET', '/users/alice@contoso.test/messages/AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwAiIsqMbYjsT5e-T7KzowPTAAAAAAEMAAAiIsqMbYjsT5e-T7KzowPTAAAYbvZDAAA=');
  assert.equal(message.status, 404);
  assert.equal(message.json.error.code, 'ErrorItemNotFound');
});

test('messages: Graph shapes, $select (id always, internetMessageHeaders only when selected), $top and nextLink paging, $orderby', async () => {
  for (let i = 0; i < 5; i++) await deliver('carol@contoso.test', { subject: `Paging ${i}`, receivedAt: new Date(Date.UTC(2026, 0, 10 + i, 9)).toISOString(), messageId: `<paging-${i}@fabrikam.test>` });
  const full = await s.graph('GET', "/users/carol@contoso.test/mailFolders('inbox')/messages?$top=1");
  const m = full.json.value[0];
  assert.match(full.json['@odata.context'], /\$metadata#users\('carol@contoso\.test'\)\/mailFolders\('inbox'\)\/messages$/);
  assert.match(m['@odata.etag'], /^W\/"CQAAABYAAA.+"$/);
  assert.match(m.receivedDateTime, DATE);
  assert.match(m.sentDateTime, DATE);
  assert.deepEqual(m.from, { emailAddress: { name: 'jane.doe@fabrikam.test', address: 'jane.doe@fabrikam.test' } });
  assert.deepEqual(m.toRecipients, [{ emailAddress: { name: 'carol@contoso.test', address: 'carol@contoso.test' } }]);
  assert.deepEqual(Object.keys(m.body).sort(), ['content', 'contentType']);
  assert.equal(m.isRead, false);
  assert.equal(m.hasAttachments, false);
  assert.equal(typeof m.conversationId, 'string');
  assert.equal('internetMessageHeaders' in m, false);
  // Newest first by default.
  assert.equal(m.subject, 'Paging 4');

  const selected = await s.graph('GET', '/users/carol@contoso.test/mailFolders/inbox/messages?$select=subject,internetMessageHeaders&$top=2&$orderby=receivedDateTime asc');
  assert.deepEqual(Object.keys(selected.json.value[0]).sort(), ['@odata.etag', 'id', 'internetMessageHeaders', 'subject']);
  assert.ok(selected.json.value[0].internetMessageHeaders.some((h: { name: string }) => h.name === 'Message-ID'));
  const subjects: string[] = selected.json.value.map((v: { subject: string }) => v.subject);
  let next: string | undefined = selected.json['@odata.nextLink'];
  assert.match(next!, /^https:\/\/graph\.contoso\.test:\d+\/v1\.0\//);
  while (next) {
    const pageAnswer = await s.graph('GET', next);
    subjects.push(...pageAnswer.json.value.map((v: { subject: string }) => v.subject));
    next = pageAnswer.json['@odata.nextLink'];
  }
  assert.deepEqual(subjects.filter((x) => x.startsWith('Paging')), ['Paging 0', 'Paging 1', 'Paging 2', 'Paging 3', 'Paging 4']);

  const preferred = await s.graph('GET', '/users/carol@contoso.test/mailFolders/inbox/messages?$select=id', { headers: { prefer: 'odata.maxpagesize=2' } });
  assert.equal(preferred.json.value.length, 2);
  assert.equal(preferred.headers['preference-applied'], 'odata.maxpagesize=2');
  assert.match(preferred.json['@odata.nextLink'], /\$skip=2/);

  const bad = await s.graph('GET', '/users/carol@contoso.test/mailFolders/inbox/messages?$select=nonsense');
  assert.equal(bad.status, 400);
  const tooMany = await s.graph('GET', '/users/carol@contoso.test/mailFolders/inbox/messages?$top=1001');
  assert.equal(tooMany.status, 400);
});

test('$filter on receivedDateTime, internetMessageId and an extended property; other filters are 400', async () => {
  const range = await s.graph('GET', '/users/carol@contoso.test/mailFolders/inbox/messages?$filter=receivedDateTime ge 2026-01-11T09:00:00Z and receivedDateTime lt 2026-01-13T09:00:00Z&$select=subject');
  assert.deepEqual(range.json.value.map((v: { subject: string }) => v.subject).sort(), ['Paging 1', 'Paging 2']);
  const byId = await s.graph('GET', `/users/carol@contoso.test/mailFolders/inbox/messages?$filter=${encodeURIComponent("internetMessageId eq '<paging-3@fabrikam.test>'")}`);
  assert.deepEqual(byId.json.value.map((v: { subject: string }) => v.subject), ['Paging 3']);
  const invalid = await s.graph('GET', `/users/carol@contoso.test/mailFolders/inbox/messages?$filter=${encodeURIComponent("startswith(subject,'P')")}`);
  assert.equal(invalid.status, 400);
  assert.equal(invalid.json.error.code, 'BadRequest');
  assert.match(invalid.json.error.message, /^Invalid filter clause/);
});

test('$value is the MIME as it was put in', async () => {
  const mime = 'From: Raj <raj.patel@adatum.test>\r\nTo: dave@contoso.test\r\nSubject: Raw\r\nMessage-ID: <raw-1@adatum.test>\r\nDate: Mon, 05 Jan 2026 10:00:00 +0000\r\n\r\nBody line\r\n';
  await s.control('POST', '/mailboxes/dave@contoso.test/messages', { mime });
  const list = await s.graph('GET', `/users/dave@contoso.test/mailFolders/inbox/messages?$filter=${encodeURIComponent("internetMessageId eq '<raw-1@adatum.test>'")}&$select=id`);
  const id = list.json.value[0].id as string;
  const value = await s.graph('GET', `/users/dave@contoso.test/messages/${id}/$value`);
  assert.equal(value.status, 200);
  assert.equal(value.text, mime);
});

test('a draft with an x- header and an extended property, sent: in the recipient Inbox and in the sender Sent Items, header and property kept', async () => {
  const prop = 'String {00020329-0000-0000-C000-000000000046} Name LiaisonId';
  const draft = await s.graph('POST', '/users/alice@contoso.test/messages', {
    body: {
      subject: 'Your quote',
      body: { contentType: 'HTML', content: '<p>Attached.</p>' },
      toRecipients: [{ emailAddress: { name: 'Bob', address: 'bob@contoso.test' } }],
      internetMessageHeaders: [{ name: 'x-liaison-id', value: 'L-42' }],
      singleValueExtendedProperties: [{ id: prop, value: 'L-42' }],
    },
  });
  assert.equal(draft.status, 201);
  assert.equal(draft.json.isDraft, true);
  const drafts = await s.control<Array<{ subject: string }>>('GET', '/mailboxes/alice@contoso.test/folders/drafts/items');
  assert.ok(drafts.json.some((d) => d.subject === 'Your quote'));

  const sent = await s.graph('POST', `/users/alice@contoso.test/messages/${draft.json.id}/send`);
  assert.equal(sent.status, 202);
  const inbox = await s.graph('GET', `/users/bob@contoso.test/mailFolders/inbox/messages?$select=subject,internetMessageHeaders,internetMessageId&$filter=${encodeURIComponent("internetMessageId eq '" + draft.json.internetMessageId + "'")}`);
  assert.equal(inbox.json.value.length, 1);
  assert.ok(inbox.json.value[0].internetMessageHeaders.some((h: { name: string; value: string }) => h.name.toLowerCase() === 'x-liaison-id' && h.value === 'L-42'));

  const filter = `singleValueExtendedProperties/Any(ep: ep/id eq '${prop}' and ep/value eq 'L-42')`;
  const copy = await s.graph('GET', `/users/alice@contoso.test/mailFolders/sentitems/messages?$filter=${encodeURIComponent(filter)}&$expand=${encodeURIComponent(`singleValueExtendedProperties($filter=id eq '${prop}')`)}`);
  assert.equal(copy.status, 200);
  assert.equal(copy.json.value.length, 1);
  assert.equal(copy.json.value[0].isDraft, false);
  assert.equal(copy.json.value[0].internetMessageId, draft.json.internetMessageId);
  assert.deepEqual(copy.json.value[0].singleValueExtendedProperties, [{ id: 'String {00020329-0000-0000-c000-000000000046} Name LiaisonId', value: 'L-42' }]);
  assert.equal((await s.control<unknown[]>('GET', '/mailboxes/alice@contoso.test/folders/drafts/items')).json.length, 0);

  const refused = await s.graph('POST', '/users/alice@contoso.test/messages', { body: { subject: 'x', internetMessageHeaders: [{ name: 'Subject', value: 'no' }] } });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.code, 'InvalidInternetMessageHeader');
});

test('sendMail (JSON, and base64 MIME) delivers and saves to Sent Items unless saveToSentItems is false', async () => {
  const before = (await s.control<unknown[]>('GET', '/mailboxes/sales@contoso.test/folders/sentitems/items')).json.length;
  const json = await s.graph('POST', '/users/sales@contoso.test/sendMail', {
    body: { message: { subject: 'Price list', body: { contentType: 'Text', content: 'Here.' }, toRecipients: [{ emailAddress: { address: 'carol@contoso.test' } }, { emailAddress: { address: 'x@outside.test' } }] } },
  });
  assert.equal(json.status, 202);
  const quiet = await s.graph('POST', '/users/sales@contoso.test/sendMail', { body: { message: { subject: 'No copy', toRecipients: [{ emailAddress: { address: 'carol@contoso.test' } }] }, saveToSentItems: false } });
  assert.equal(quiet.status, 202);
  const mime = 'From: sales@contoso.test\r\nTo: carol@contoso.test\r\nSubject: MIME send\r\n\r\nhello\r\n';
  const raw = await s.graph('POST', '/users/sales@contoso.test/sendMail', { raw: Buffer.from(mime).toString('base64'), contentType: 'text/plain' });
  assert.equal(raw.status, 202);
  const carol = (await s.control<Array<{ subject: string }>>('GET', '/mailboxes/carol@contoso.test/folders/inbox/items')).json.map((i) => i.subject);
  for (const subject of ['Price list', 'No copy', 'MIME send']) assert.ok(carol.includes(subject), subject);
  const sentItems = (await s.control<Array<{ subject: string }>>('GET', '/mailboxes/sales@contoso.test/folders/sentitems/items')).json;
  assert.equal(sentItems.length, before + 2);
  assert.ok(!sentItems.some((i) => i.subject === 'No copy'));
  const outbound = await s.control<Array<{ recipients: string[]; subject: string }>>('GET', '/outbound');
  assert.ok(outbound.json.some((o) => o.subject === 'Price list' && o.recipients.includes('x@outside.test')));
});

/** The messages of a folder with a subject, as Graph lists them, and their MIME. */
async function copiesOf(user: string, folder: string, subject: string) {
  const list = await s.graph('GET', `/users/${user}/mailFolders/${folder}/messages?$select=subject,hasAttachments&$top=100`);
  assert.equal(list.status, 200);
  const found = list.json.value.filter((m: { subject: string }) => m.subject === subject) as Array<{ id: string; hasAttachments: boolean }>;
  return Promise.all(found.map(async (m) => ({ ...m, mime: (await s.graph('GET', `/users/${user}/messages/${m.id}/$value`)).text })));
}

const HELLO = Buffer.from('Hello World!').toString('base64');
const fileAttachment = { '@odata.type': '#microsoft.graph.fileAttachment', name: 'attachment.txt', contentType: 'text/plain', contentBytes: HELLO };

test('sendMail with a fileAttachment: the delivered copy and the Sent Items copy carry it (hasAttachments, the MIME part)', async () => {
  const sent = await s.graph('POST', '/users/alice@contoso.test/sendMail', {
    body: { message: { subject: 'With a file', body: { contentType: 'Text', content: 'See attached.' }, toRecipients: [{ emailAddress: { address: 'bob@contoso.test' } }], attachments: [fileAttachment] } },
  });
  assert.equal(sent.status, 202, sent.text);
  for (const [user, folder] of [['bob@contoso.test', 'inbox'], ['alice@contoso.test', 'sentitems']] as const) {
    const copies = await copiesOf(user, folder, 'With a file');
    assert.equal(copies.length, 1, `${user} ${folder}`);
    assert.equal(copies[0]!.hasAttachments, true, `${user} ${folder}: hasAttachments`);
    assert.match(copies[0]!.mime, /Content-Type: text\/plain; name=attachment\.txt/i);
    assert.match(copies[0]!.mime, /Content-Disposition: attachment; filename=attachment\.txt/i);
    assert.ok(copies[0]!.mime.includes(HELLO), `${user} ${folder}: the attachment's bytes`);
    assert.match(copies[0]!.mime, /See attached\./);
  }
});

test('an inline fileAttachment keeps its Content-ID and does not count as an attachment (hasAttachments false, as Graph shows inline images)', async () => {
  const png = Buffer.from('89504e470d0a1a0a', 'hex').toString('base64');
  const sent = await s.graph('POST', '/users/alice@contoso.test/sendMail', {
    body: {
      message: {
        subject: 'Inline logo',
        body: { contentType: 'HTML', content: '<p><img src="cid:logo-1"></p>' },
        toRecipients: [{ emailAddress: { address: 'bob@contoso.test' } }],
        attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'logo.png', contentType: 'image/png', contentBytes: png, isInline: true, contentId: 'logo-1' }],
      },
    },
  });
  assert.equal(sent.status, 202, sent.text);
  const [copy] = await copiesOf('bob@contoso.test', 'inbox', 'Inline logo');
  assert.ok(copy);
  assert.equal(copy.hasAttachments, false);
  assert.match(copy.mime, /Content-ID: <logo-1>/i);
  assert.match(copy.mime, /Content-Disposition: inline; filename=logo\.png/i);
  assert.ok(copy.mime.includes(png));
});

test('a draft created with a fileAttachment keeps it, and send delivers it and files it in Sent Items', async () => {
  const draft = await s.graph('POST', '/users/alice@contoso.test/messages', {
    body: { subject: 'Draft with a file', body: { contentType: 'Text', content: 'Quote attached.' }, toRecipients: [{ emailAddress: { address: 'bob@contoso.test' } }], attachments: [{ ...fileAttachment, name: 'quote.txt' }] },
  });
  assert.equal(draft.status, 201, draft.text);
  assert.equal(draft.json.hasAttachments, true);
  assert.ok((await s.graph('GET', `/users/alice@contoso.test/messages/${draft.json.id}/$value`)).text.includes(HELLO));
  assert.equal((await s.graph('POST', `/users/alice@contoso.test/messages/${draft.json.id}/send`)).status, 202);
  for (const [user, folder] of [['bob@contoso.test', 'inbox'], ['alice@contoso.test', 'sentitems']] as const) {
    const copies = await copiesOf(user, folder, 'Draft with a file');
    assert.equal(copies.length, 1, `${user} ${folder}`);
    assert.equal(copies[0]!.hasAttachments, true);
    assert.match(copies[0]!.mime, /filename=quote\.txt/);
    assert.ok(copies[0]!.mime.includes(HELLO));
  }
});

test('attachments the sandbox cannot carry (itemAttachment, referenceAttachment) or that are incomplete are refused with a 400: nothing sent, nothing stored', async () => {
  const outboundBefore = (await s.control<unknown[]>('GET', '/outbound')).json.length;
  const draftsBefore = (await s.control<unknown[]>('GET', '/mailboxes/alice@contoso.test/folders/drafts/items')).json.length;
  const sentBefore = (await s.control<unknown[]>('GET', '/mailboxes/alice@contoso.test/folders/sentitems/items')).json.length;
  const cases: Array<[string, unknown, string]> = [
    ['itemAttachment', { '@odata.type': '#microsoft.graph.itemAttachment', name: 'Forwarded', item: { '@odata.type': '#microsoft.graph.message', subject: 'inner' } }, 'ErrorInvalidRequest'],
    ['referenceAttachment', { '@odata.type': '#microsoft.graph.referenceAttachment', name: 'Link', sourceUrl: 'https://contoso.sharepoint.test/x' }, 'ErrorInvalidRequest'],
    ['no contentBytes', { '@odata.type': '#microsoft.graph.fileAttachment', name: 'empty.txt' }, 'ErrorRequiredPropertyMissing'],
    ['no @odata.type', { name: 'untyped.txt', contentBytes: HELLO }, 'RequestBodyRead'],
    ['bad base64', { ...fileAttachment, contentBytes: '¡not base64!' }, 'ErrorInvalidRequest'],
  ];
  for (const [what, attachment, code] of cases) {
    const message = { subject: `Refused ${what}`, toRecipients: [{ emailAddress: { address: 'bob@contoso.test' } }, { emailAddress: { address: 'x@outside.test' } }], attachments: [fileAttachment, attachment] };
    const send = await s.graph('POST', '/users/alice@contoso.test/sendMail', { body: { message } });
    assert.equal(send.status, 400, `${what}: ${send.text}`);
    assert.equal(send.json.error.code, code, what);
    assert.equal(typeof send.json.error.message, 'string');
    assert.ok(send.json.error.innerError['request-id'], `${what}: Graph's error shape`);
    const draft = await s.graph('POST', '/users/alice@contoso.test/messages', { body: message });
    assert.equal(draft.status, 400, `${what} (draft): ${draft.text}`);
    assert.equal(draft.json.error.code, code, `${what} (draft)`);
  }
  const item = await s.graph('POST', '/users/alice@contoso.test/sendMail', { body: { message: { subject: 'x', toRecipients: [{ emailAddress: { address: 'bob@contoso.test' } }], attachments: [cases[0]![1]] } } });
  assert.match(item.json.error.message, /sandbox cannot carry a itemAttachment/);
  assert.equal((await s.control<unknown[]>('GET', '/outbound')).json.length, outboundBefore, 'nothing went out');
  assert.equal((await s.control<unknown[]>('GET', '/mailboxes/alice@contoso.test/folders/drafts/items')).json.length, draftsBefore, 'no draft stored');
  assert.equal((await s.control<unknown[]>('GET', '/mailboxes/alice@contoso.test/folders/sentitems/items')).json.length, sentBefore, 'no copy saved');
  const bob = (await s.control<Array<{ subject: string }>>('GET', '/mailboxes/bob@contoso.test/folders/inbox/items')).json;
  assert.ok(!bob.some((i) => i.subject.startsWith('Refused')), 'nothing delivered');
});

test('with immutable ids, the draft id still opens the message after send: the Sent Items copy (as Graph documents)', async () => {
  const headers = { prefer: 'IdType="ImmutableId"' };
  const draft = await s.graph('POST', '/users/alice@contoso.test/messages', { headers, body: { subject: 'Immutable send', toRecipients: [{ emailAddress: { address: 'carol@contoso.test' } }] } });
  assert.equal((await s.graph('POST', `/users/alice@contoso.test/messages/${draft.json.id}/send`, { headers })).status, 202);
  const copy = await s.graph('GET', `/users/alice@contoso.test/messages/${draft.json.id}?$select=subject,isDraft,parentFolderId`, { headers });
  assert.equal(copy.status, 200);
  assert.equal(copy.json.isDraft, false);
  const sentItems = await s.graph('GET', '/users/alice@contoso.test/mailFolders/sentitems');
  assert.equal(copy.json.parentFolderId, sentItems.json.id);
});

test('a MIME draft (text/plain base64) is created in Drafts and can be sent', async () => {
  const mime = 'From: alice@contoso.test\r\nTo: bob@contoso.test\r\nSubject: MIME draft\r\nX-Liaison-Id: M-1\r\n\r\nhi\r\n';
  const draft = await s.graph('POST', '/users/alice@contoso.test/messages', { raw: Buffer.from(mime).toString('base64') });
  assert.equal(draft.status, 201);
  assert.equal(draft.json.subject, 'MIME draft');
  assert.equal((await s.graph('POST', `/users/alice@contoso.test/messages/${draft.json.id}/send`)).status, 202);
  const bob = (await s.control<Array<{ subject: string }>>('GET', '/mailboxes/bob@contoso.test/folders/inbox/items')).json.map((i) => i.subject);
  assert.ok(bob.includes('MIME draft'));
});

test('move: the REST id changes, the immutable id stays', async () => {
  const { internetMessageId } = await deliver('dave@contoso.test', { subject: 'Move me', messageId: '<move-me@fabrikam.test>' });
  const headers = { prefer: 'IdType="ImmutableId"' };
  const list = await s.graph('GET', `/users/dave@contoso.test/mailFolders/inbox/messages?$filter=${encodeURIComponent(`internetMessageId eq '${internetMessageId}'`)}`, { headers });
  assert.equal(list.headers['preference-applied'], 'IdType="ImmutableId"');
  const immutable = list.json.value[0].id as string;
  const rest = (await s.graph('GET', `/users/dave@contoso.test/mailFolders/inbox/messages?$filter=${encodeURIComponent(`internetMessageId eq '${internetMessageId}'`)}`)).json.value[0].id as string;
  assert.notEqual(immutable, rest);
  const archive = await s.graph('POST', '/users/dave@contoso.test/mailFolders', { body: { displayName: 'Archive 2026' } });
  const moved = await s.graph('POST', `/users/dave@contoso.test/messages/${immutable}/move`, { headers, body: { destinationId: archive.json.id } });
  assert.equal(moved.status, 201);
  assert.equal(moved.json.id, immutable);
  assert.equal(moved.json.parentFolderId, archive.json.id);
  const plain = await s.graph('POST', `/users/dave@contoso.test/messages/${immutable}/move`, { body: { destinationId: 'inbox' } });
  assert.notEqual(plain.json.id, rest);
  assert.equal((await s.graph('GET', `/users/dave@contoso.test/messages/${immutable}?$select=subject`)).json.subject, 'Move me');
  assert.equal((await s.graph('GET', `/users/dave@contoso.test/messages/${rest}`)).status, 404);
  // The action answers (move, copy) name their type, as message-move's documented answer does; a GET of the
  // messages entity set does not (message-get's documented answers).
  assert.equal(moved.json['@odata.type'], '#microsoft.graph.message');
  const copied = await s.graph('POST', `/users/dave@contoso.test/messages/${immutable}/copy`, { body: { destinationId: archive.json.id } });
  assert.equal(copied.status, 201);
  assert.equal(copied.json['@odata.type'], '#microsoft.graph.message');
  assert.equal('@odata.type' in (await s.graph('GET', `/users/dave@contoso.test/messages/${immutable}`, { headers })).json, false);
});

test('the same message over EWS and over Graph', async () => {
  const { itemId } = await deliver('bob@contoso.test', { subject: 'Seen twice', body: 'Both sides.' });
  const graph = await s.graph('GET', `/users/bob@contoso.test/messages/${itemId.replace(/\+/g, '-').replace(/\//g, '_')}?$select=subject,internetMessageId,isRead`);
  assert.equal(graph.status, 200);
  assert.equal(graph.json.subject, 'Seen twice');
  const ews = ok(
    await s.ews(`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="message:InternetMessageId"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="${itemId}"/></m:ItemIds></m:GetItem>`, { as: 'bob@contoso.test' }),
  );
  assert.equal(find(ews, 'Subject')[0]!.text, 'Seen twice');
  assert.equal(find(ews, 'InternetMessageId')[0]!.text, graph.json.internetMessageId);
  assert.equal(attr(find(ews, 'ItemId')[0]!, 'Id'), itemId);
  // A change through Graph is seen over EWS.
  await s.graph('PATCH', `/users/bob@contoso.test/messages/${graph.json.id}`, { body: { isRead: true } });
  const again = ok(await s.ews(`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="message:IsRead"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="${itemId}"/></m:ItemIds></m:GetItem>`, { as: 'bob@contoso.test' }));
  assert.equal(find(again, 'IsRead')[0]!.text, 'true');
});

test('application access policies: RestrictAccess admits only its mailboxes, DenyAccess all but its; the RAOP error', async () => {
  const policy = await s.control<{ id: string }>('POST', '/graph/access-policies', { appId: s.clientId, accessRight: 'RestrictAccess', mailboxes: ['alice@contoso.test'] });
  assert.equal(policy.status, 201);
  try {
    assert.equal((await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox/messages')).status, 200);
    const blocked = await s.graph('GET', '/users/bob@contoso.test/mailFolders/inbox/messages');
    assert.equal(blocked.status, 403);
    assert.equal(blocked.json.error.code, 'ErrorAccessDenied');
    assert.equal(blocked.json.error.message, 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.');
    assert.match(blocked.json.error.innerError['request-id'], /^[0-9a-f-]{36}$/);
  } finally {
    assert.equal((await s.control('DELETE', `/graph/access-policies/${policy.json.id}`)).status, 204);
  }
  const deny = await s.control<{ id: string }>('POST', '/graph/access-policies', { appId: s.clientId, accessRight: 'DenyAccess', mailboxes: ['alice@contoso.test'] });
  try {
    assert.equal((await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox/messages')).status, 403);
    assert.equal((await s.graph('GET', '/users/bob@contoso.test/mailFolders/inbox/messages')).status, 200);
  } finally {
    await s.control('DELETE', `/graph/access-policies/${deny.json.id}`);
  }
});
