import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { find, ok, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

describe('sandbox control API', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox({ seed: null });
  });
  after(async () => {
    await s?.close();
  });

  test('without a seed the sandbox is empty', async () => {
    assert.deepEqual((await s.control('GET', '/mailboxes')).json, []);
    assert.deepEqual((await s.control('GET', '/accounts')).json, []);
    assert.equal(s.info.serviceAccount, undefined);
  });

  test('create a mailbox with its own sign-in, a service account, and grant impersonation', async () => {
    const mailbox = await s.control<{ address: string; server: string; ews: string }>('POST', '/mailboxes', {
      address: 'zoe@contoso.test',
      displayName: 'Zoe Zhang',
      server: 'mail2',
      password: 'zoe-secret',
    });
    assert.equal(mailbox.status, 201);
    assert.equal(mailbox.json.ews, `https://mail2.contoso.test:${s.info.listen.port}/EWS/Exchange.asmx`);
    const service = await s.control('POST', '/accounts', { username: 'svc@contoso.test', password: 'svc-secret', impersonation: true });
    assert.equal(service.status, 201);
    ok(
      await s.ews('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>', {
        user: 'svc@contoso.test',
        password: 'svc-secret',
        as: 'zoe@contoso.test',
        host: 'mail2.contoso.test',
      }),
    );
    const duplicate = await s.control<{ error: string }>('POST', '/mailboxes', { address: 'ZOE@contoso.test' });
    assert.equal(duplicate.status, 409);
    const bad = await s.control<{ error: string }>('POST', '/mailboxes', { address: 'not an address' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /not an email address/);
  });

  test('deliver a message as raw MIME or as from/to/subject/body, into a folder, and list it', async () => {
    const raw = await s.control<{ itemId: string; internetMessageId: string }>('POST', '/mailboxes/zoe@contoso.test/messages', {
      mime: 'From: Jane <jane.doe@fabrikam.test>\nTo: zoe@contoso.test\nSubject: Raw one\nMessage-ID: <raw-1@fabrikam.test>\n\nHello\n',
    });
    assert.equal(raw.status, 201);
    assert.equal(raw.json.internetMessageId, '<raw-1@fabrikam.test>');
    const folder = await s.control('POST', '/mailboxes/zoe@contoso.test/folders', { parent: 'inbox', displayName: 'Leads' });
    assert.equal(folder.status, 201);
    const composed = await s.control('POST', '/mailboxes/zoe@contoso.test/messages', {
      from: { name: 'Raj', address: 'raj.patel@adatum.test' },
      to: ['zoe@contoso.test'],
      subject: 'Composed one',
      body: 'Hi',
      folder: 'Inbox/Leads',
      attachments: [{ filename: 'a.txt', contentType: 'text/plain', contentBase64: Buffer.from('A').toString('base64') }],
    });
    assert.equal(composed.status, 201);
    const inbox = await s.control<Array<{ subject: string; folder: string; isRead: boolean; from: string }>>('GET', '/mailboxes/zoe@contoso.test/folders/inbox/items');
    assert.deepEqual(inbox.json.map((m) => [m.subject, m.folder, m.isRead, m.from]), [['Raw one', 'Inbox', false, 'jane.doe@fabrikam.test']]);
    const leads = await s.control<Array<{ subject: string }>>('GET', `/mailboxes/zoe@contoso.test/folders/${encodeURIComponent('Inbox/Leads')}/items`);
    assert.deepEqual(leads.json.map((m) => m.subject), ['Composed one']);
    const folders = await s.control<Array<{ path: string; total: number }>>('GET', '/mailboxes/zoe@contoso.test/folders');
    assert.deepEqual(folders.json.find((f) => f.path === 'Inbox/Leads')?.total, 1);
    const missing = await s.control<{ error: string }>('POST', '/mailboxes/zoe@contoso.test/messages', { subject: 'no sender' });
    assert.equal(missing.status, 400);
    assert.match(missing.json.error, /"from" is required/);
    assert.equal((await s.control('GET', '/mailboxes/nobody@contoso.test/folders/inbox/items')).status, 404);
  });

  test('nothing of the control API is reachable through EWS or without the /_sandbox/ path', async () => {
    const answer = await s.ews('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>', {
      user: 'svc@contoso.test',
      password: 'svc-secret',
      as: 'zoe@contoso.test',
      host: 'mail2.contoso.test',
      headers: { 'X-Sandbox-Control': 'move' },
    });
    assert.equal(find(answer.doc(), 'ResponseCode')[0]!.text, 'NoError');
    assert.equal((await s.post('mail.contoso.test', '/EWS/_sandbox/mailboxes', '{}', { user: 'svc@contoso.test', password: 'svc-secret' })).status, 404);
    assert.equal((await s.control('GET', '/no-such-thing')).status, 404);
  });

  testTraffic(() => s.records, 2);
});
