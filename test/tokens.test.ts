/** Token management (list, revoke) and deleting a user, through the API and the CLI. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openApi, type TestApi } from './helpers/api.js';
import { liaison } from './helpers/cli.js';
import { DATABASES } from './helpers/stores.js';

interface TokenInfo {
  id: string;
  userId: string;
  label: string | null;
  prefix: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

for (const kind of DATABASES) {
  describe(`API tokens and deleting users on ${kind.name}`, kind.suite, () => {
    let api: TestApi;
    before(async () => {
      api = await openApi(kind);
    });
    after(async () => api?.close());

    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

    test('a user lists their own tokens: id, prefix, created, last used; never the token or its hash', async () => {
      const issued = await api.call('POST', `/api/v1/users/${api.user.id}/tokens`, { token: api.userToken, body: { label: 'laptop' } });
      assert.equal(issued.statusCode, 201, issued.body);
      const second = issued.json() as { id: string; token: string };
      const listed = await api.call('GET', `/api/v1/users/${api.user.id}/tokens`, { token: api.userToken });
      assert.equal(listed.statusCode, 200, listed.body);
      const items = listed.json().items as TokenInfo[];
      assert.equal(items.length, 2);
      const mine = items.find((t) => t.id === second.id)!;
      assert.equal(mine.label, 'laptop');
      assert.equal(mine.userId, api.user.id);
      assert.equal(mine.prefix, second.token.slice(0, 8));
      assert.match(mine.prefix!, /^lsn_.{4}$/);
      assert.ok(Date.parse(mine.createdAt) > 0);
      assert.equal(mine.lastUsedAt, null, 'not used yet');
      const used = items.find((t) => t.id !== second.id)!;
      assert.ok(used.lastUsedAt && Date.parse(used.lastUsedAt) > 0, 'the token this call came with was used');
      for (const secret of [api.userToken, second.token, sha256(api.userToken), sha256(second.token)]) {
        assert.ok(!listed.body.includes(secret), 'no token and no hash in the answer');
      }
      assert.deepEqual(Object.keys(mine).sort(), ['createdAt', 'id', 'label', 'lastUsedAt', 'prefix', 'userId']);
    });

    test("a user may not list or revoke another user's tokens; an administrator may", async () => {
      const adminTokens = await api.call('GET', `/api/v1/users/${api.admin.id}/tokens`, { token: api.userToken });
      assert.equal(adminTokens.statusCode, 403);
      assert.match(adminTokens.json().message, /administrator/);
      const theirs = (await api.call('GET', `/api/v1/users/${api.admin.id}/tokens`)).json().items as TokenInfo[];
      const revokeTheirs = await api.call('DELETE', `/api/v1/users/${api.admin.id}/tokens/${theirs[0]!.id}`, { token: api.userToken });
      assert.equal(revokeTheirs.statusCode, 403);
      const byAdmin = await api.call('GET', `/api/v1/users/${api.user.id}/tokens`);
      assert.equal(byAdmin.statusCode, 200);
      assert.ok((byAdmin.json().items as TokenInfo[]).length >= 1);
    });

    test('a revoked token stops working at once; a token id under another user is not found', async () => {
      const issued = (await api.call('POST', `/api/v1/users/${api.user.id}/tokens`, { token: api.userToken, body: {} })).json() as { id: string; token: string };
      assert.equal((await api.call('GET', '/api/v1/users/me', { token: issued.token })).statusCode, 200);
      const wrongUser = await api.call('DELETE', `/api/v1/users/${api.admin.id}/tokens/${issued.id}`);
      assert.equal(wrongUser.statusCode, 404);
      assert.equal((await api.call('GET', '/api/v1/users/me', { token: issued.token })).statusCode, 200, 'still works');
      const revoked = await api.call('DELETE', `/api/v1/users/${api.user.id}/tokens/${issued.id}`, { token: issued.token });
      assert.equal(revoked.statusCode, 204, revoked.body);
      assert.equal((await api.call('GET', '/api/v1/users/me', { token: issued.token })).statusCode, 401);
      const listed = (await api.call('GET', `/api/v1/users/${api.user.id}/tokens`, { token: api.userToken })).json().items as TokenInfo[];
      assert.ok(!listed.some((t) => t.id === issued.id));
      const again = await api.call('DELETE', `/api/v1/users/${api.user.id}/tokens/${issued.id}`, { token: api.userToken });
      assert.equal(again.statusCode, 404);
    });

    test('deleting a user who owns a queue is refused, naming it; with transferTo the queue, profile and email change owner', async () => {
      const leaver = (await api.call('POST', '/api/v1/users', { body: { name: 'Lea Ver', email: `lea-${kind.name}@contoso.test` } })).json();
      const token = (await api.call('POST', `/api/v1/users/${leaver.id}/tokens`, { body: {} })).json().token as string;
      const queue = await api.call('POST', '/api/v1/queues', { body: { name: 'Leavers', email: `leavers-${kind.name}@contoso.test`, ownerId: leaver.id } });
      assert.equal(queue.statusCode, 201, queue.body);
      const draft = await api.t.store.activities.createDraft(leaver.mailboxId, leaver.id, { subject: 'Handover' });

      const refused = await api.call('DELETE', `/api/v1/users/${leaver.id}`);
      assert.equal(refused.statusCode, 409);
      assert.match(refused.json().message, /still owns queue "Leavers".*transferTo/);
      assert.equal((await api.call('GET', '/api/v1/users/me', { token })).statusCode, 200, 'nothing changed');

      const self = await api.call('DELETE', `/api/v1/users/${leaver.id}?transferTo=${leaver.id}`);
      assert.equal(self.statusCode, 400);

      const deleted = await api.call('DELETE', `/api/v1/users/${leaver.id}?transferTo=${api.user.id}`);
      assert.equal(deleted.statusCode, 204, deleted.body);
      assert.equal((await api.call('GET', `/api/v1/users/${leaver.id}`)).statusCode, 404);
      assert.equal((await api.call('GET', `/api/v1/mailboxes/${leaver.mailboxId}`)).statusCode, 404, 'the mailbox went with the user');
      assert.equal((await api.call('GET', '/api/v1/users/me', { token })).statusCode, 401, 'the tokens went with the user');
      assert.equal((await api.call('GET', `/api/v1/queues/${queue.json().id}`)).json().ownerId, api.user.id);
      const kept = await api.t.store.activities.get(draft.id);
      assert.equal(kept.ownerId, api.user.id, 'the email activity stays, with the new owner');
      assert.equal(kept.mailboxId, null);
    });

    test('the last administrator cannot be deleted', async () => {
      const response = await api.call('DELETE', `/api/v1/users/${api.admin.id}`);
      assert.equal(response.statusCode, 409);
      assert.match(response.json().message, /last administrator/);
    });
  });
}

describe('liaison user tokens, revoke-token and delete', () => {
  const data = mkdtempSync(path.join(tmpdir(), 'liaison-tokens-'));
  after(() => rmSync(data, { recursive: true, force: true }));

  test('list, revoke and delete from the command line', async () => {
    assert.equal((await liaison(['migrate', '--data', data])).code, 0);
    const admin = await liaison(['user', 'create', '--email', 'admin@example.com', '--name', 'Admin', '--admin', '--data', data, '--json']);
    assert.equal(admin.code, 0, admin.stderr);
    const created = await liaison(['user', 'create', '--email', 'ann@example.com', '--name', 'Ann', '--data', data, '--json']);
    const { token } = JSON.parse(created.stdout) as { token: string };
    await liaison(['user', 'token', '--email', 'ann@example.com', '--data', data]);

    const listed = await liaison(['user', 'tokens', '--email', 'ann@example.com', '--data', data, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const tokens = JSON.parse(listed.stdout) as TokenInfo[];
    assert.equal(tokens.length, 2);
    assert.equal(tokens[0]!.prefix, token.slice(0, 8));
    assert.ok(!listed.stdout.includes(token));
    const text = await liaison(['user', 'tokens', '--email', 'ann@example.com', '--data', data]);
    assert.match(text.stdout, new RegExp(`^${tokens[0]!.id}  ${token.slice(0, 8).replace(/[-_]/g, '\\$&')}…\\s+created \\S+  last used never  cli$`, 'm'));

    const revoked = await liaison(['user', 'revoke-token', '--email', 'ann@example.com', '--token-id', tokens[0]!.id, '--data', data]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /Revoked token/);
    const after = JSON.parse((await liaison(['user', 'tokens', '--email', 'ann@example.com', '--data', data, '--json'])).stdout) as TokenInfo[];
    assert.deepEqual(after.map((t) => t.id), [tokens[1]!.id]);
    const unknown = await liaison(['user', 'revoke-token', '--email', 'ann@example.com', '--token-id', tokens[0]!.id, '--data', data]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^liaison: API token \S+ does not exist$/m);

    const help = await liaison(['user', 'delete', '--help']);
    assert.match(help.stdout.replace(/\s+/g, ' '), /mailbox \(with its alerts\) and their API tokens go with them; their email activities stay/);
    const deleted = await liaison(['user', 'delete', '--email', 'ann@example.com', '--data', data]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /^Deleted ann@example\.com \(id \S+\), their mailbox and 1 API token\.$/m);
    const gone = await liaison(['user', 'delete', '--email', 'ann@example.com', '--data', data]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /does not exist/);
    const last = await liaison(['user', 'delete', '--email', 'admin@example.com', '--data', data]);
    assert.equal(last.code, 1);
    assert.match(last.stderr, /last administrator/);
  });
});
