/** messages/delta: the initial round paged by nextLink, incremental rounds from the deltaLink, @removed, $select kept, expiry (410). */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ok } from '../helpers/sandbox.js';
import { type GraphAnswer, type GraphSandbox, startGraphSandbox } from './graph-support.js';

let s: GraphSandbox;
before(async () => {
  s = await startGraphSandbox();
});
after(() => s.close());

const BOX = 'dave@contoso.test';

async function deliver(subject: string) {
  return (await s.control<{ itemId: string }>('POST', `/mailboxes/${BOX}/messages`, { from: 'lee.wong@northwind.test', to: BOX, subject })).json;
}

/** Follows nextLinks to the deltaLink; gives every entry and the deltaLink. */
async function round(url: string, pageSize: number | null = 2): Promise<{ entries: Array<Record<string, unknown>>; deltaLink: string; pages: number }> {
  const entries: Array<Record<string, unknown>> = [];
  let next: string | undefined = url;
  let pages = 0;
  for (;;) {
    const answer: GraphAnswer = await s.graph('GET', next!, { headers: pageSize ? { prefer: `odata.maxpagesize=${pageSize}` } : {} });
    assert.equal(answer.status, 200, answer.text);
    if (pageSize) assert.equal(answer.headers['preference-applied'], `odata.maxpagesize=${pageSize}`);
    pages += 1;
    entries.push(...answer.json.value);
    if (answer.json['@odata.deltaLink']) {
      assert.equal(answer.json['@odata.nextLink'], undefined);
      return { entries, deltaLink: answer.json['@odata.deltaLink'], pages };
    }
    next = answer.json['@odata.nextLink'];
    assert.match(next!, /^https:\/\/graph\.contoso\.test:\d+\/v1\.0\/.*\$skiptoken=/);
  }
}

test('initial round: every message once, paged by the max page size; then incremental: new, changed and @removed', async () => {
  for (let i = 0; i < 4; i++) await deliver(`Delta ${i}`);
  const first = await round(`/users/${BOX}/mailFolders/inbox/messages/delta?$select=subject,isRead`);
  const subjects = first.entries.map((e) => e.subject);
  assert.equal(new Set(subjects).size, subjects.length);
  for (let i = 0; i < 4; i++) assert.ok(subjects.includes(`Delta ${i}`));
  assert.equal(first.pages, Math.ceil(first.entries.length / 2));
  assert.deepEqual(Object.keys(first.entries[0]!).sort(), ['@odata.etag', '@odata.type', 'id', 'isRead', 'subject']);
  assert.match(first.deltaLink, /\$deltatoken=/);

  // Nothing changed: an empty round.
  const quiet = await round(first.deltaLink);
  assert.deepEqual(quiet.entries, []);

  const added = await deliver('Delta new');
  const target = first.entries.find((e) => e.subject === 'Delta 1')!;
  await s.graph('PATCH', `/users/${BOX}/messages/${target.id}`, { body: { isRead: true } });
  const gone = first.entries.find((e) => e.subject === 'Delta 2')!;
  assert.equal((await s.graph('DELETE', `/users/${BOX}/messages/${gone.id}`)).status, 204);
  const movedAway = first.entries.find((e) => e.subject === 'Delta 3')!;
  await s.graph('POST', `/users/${BOX}/messages/${movedAway.id}/move`, { body: { destinationId: 'junkemail' } });

  const second = await round(quiet.deltaLink);
  const byId = new Map(second.entries.map((e) => [e.id, e]));
  assert.equal(byId.get(added.itemId.replace(/\+/g, '-').replace(/\//g, '_'))?.subject, 'Delta new');
  // $select is kept from the first request of the sync.
  assert.deepEqual(Object.keys(byId.get(target.id)!).sort(), ['@odata.etag', '@odata.type', 'id', 'isRead', 'subject']);
  assert.equal(byId.get(target.id)!.isRead, true);
  // Deleted Items and Junk Email are other folders: both left the Inbox.
  assert.ok(byId.get(gone.id)!['@removed']);
  assert.deepEqual(byId.get(movedAway.id)!['@removed'], { reason: 'changed' });
  assert.equal(second.entries.length, 4);
});

test('@removed: reason changed for what moved to another folder (Graph DELETE moves to Deleted Items), deleted for what is gone for good', async () => {
  const start = await round(`/users/${BOX}/mailFolders/inbox/messages/delta?$select=subject`, null);
  await deliver('Soft');
  const { itemId: hardId } = await deliver('Hard');
  const mid = await round(start.deltaLink, null);
  const soft = mid.entries.find((e) => e.subject === 'Soft')!;
  const hard = mid.entries.find((e) => e.subject === 'Hard')!;
  assert.equal((await s.graph('DELETE', `/users/${BOX}/messages/${soft.id}`)).status, 204);
  const deletedItems = (await s.graph('GET', `/users/${BOX}/mailFolders/deleteditems/messages?$select=subject`)).json.value;
  assert.ok(deletedItems.some((v: { subject: string }) => v.subject === 'Soft'));
  ok(await s.ews(`<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="${hardId}"/></m:ItemIds></m:DeleteItem>`, { as: BOX, host: `mail2.${s.info.domain}` }));
  const after = await round(mid.deltaLink, null);
  assert.deepEqual(after.entries.find((e) => e.id === soft.id)?.['@removed'], { reason: 'changed' });
  assert.deepEqual(after.entries.find((e) => e.id === hard.id)?.['@removed'], { reason: 'deleted' });
  assert.equal(after.entries.length, 2);
});

test('expireDelta: the next delta request with a token is 410 SyncStateNotFound; a forged token too; a fresh round works', async () => {
  const start = await round(`/users/${BOX}/mailFolders/inbox/messages/delta?$select=subject`, 50);
  await s.control('POST', '/faults', { kind: 'expireDelta', operation: 'graph.delta', times: 1 });
  const expired = await s.graph('GET', start.deltaLink);
  assert.equal(expired.status, 410);
  assert.equal(expired.json.error.code, 'SyncStateNotFound');
  // The fault was used up: the same link works again.
  assert.equal((await s.graph('GET', start.deltaLink)).status, 200);
  const forged = await s.graph('GET', `/users/${BOX}/mailFolders/inbox/messages/delta?$deltatoken=eyJmIjoiIn0.AAAA`);
  assert.equal(forged.status, 410);
  // A token of another folder is not this folder's.
  const other = await round(`/users/${BOX}/mailFolders/sentitems/messages/delta`, 50);
  const crossed = await s.graph('GET', other.deltaLink.replace(/mailFolders\('[^']+'\)/, 'mailFolders/inbox'));
  assert.equal(crossed.status, 410);
});

test('graphDeltaTokenLifetimeSeconds: a token older than the lifetime is 410', async () => {
  const start = await round(`/users/${BOX}/mailFolders/inbox/messages/delta?$select=subject`, 50);
  await s.control('PATCH', '/settings', { graphDeltaTokenLifetimeSeconds: 0 });
  try {
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await s.graph('GET', start.deltaLink)).status, 410);
  } finally {
    await s.control('PATCH', '/settings', { graphDeltaTokenLifetimeSeconds: null });
  }
  assert.equal((await s.graph('GET', start.deltaLink)).status, 200);
});
