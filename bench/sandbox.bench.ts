/**
 * The sandbox with tens of thousands of messages: how long delivery, a full SyncFolderItems pass (512 per page),
 * an incremental sync, FindItem and GetItem take, how much memory it holds, and how long a save to --data takes.
 * BENCH_MESSAGES sets the count (default 20000). Numbers are printed, not asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { child } from '../src/xml/parse.js';
import { M, ok, startTestSandbox } from '../test/helpers/sandbox.js';

const COUNT = Number(process.env.BENCH_MESSAGES ?? 20000);
const ADDRESS = 'bench@contoso.test';

function ms(start: number): string {
  return `${(performance.now() - start).toFixed(0)} ms`;
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'liaison-bench-'));
const s = await startTestSandbox({ seed: null, dataDir });
const results: Array<[string, string]> = [];
try {
  const state = s.sandbox.runtime.state;
  const mailbox = state.addMailbox(ADDRESS, 'Bench');
  await s.control('POST', '/accounts', { username: 'svc@contoso.test', password: 'bench', impersonation: true });
  const template = await state.compose({ from: { name: 'Sender', address: 'sender@fabrikam.test' }, to: [{ name: 'Bench', address: ADDRESS }], subject: 'x', text: 'Hello '.repeat(200) });

  let start = performance.now();
  for (let n = 0; n < COUNT; n += 1) {
    const mime = Buffer.from(template.toString('latin1').replace(/^Subject: x$/m, `Subject: Message ${n}`).replace(/^Message-ID: <[^>]+>/m, `Message-ID: <bench-${n}@fabrikam.test>`), 'latin1');
    await state.deliver(mailbox, mime);
  }
  results.push([`deliver ${COUNT} messages (parse MIME, store)`, ms(start)]);

  start = performance.now();
  state.saveNow();
  results.push(['save state.json', ms(start)]);

  const call = (payload: string) => s.ews(payload, { user: 'svc@contoso.test', password: 'bench', as: ADDRESS });
  const syncPage = (syncState: string) =>
    call(
      `<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId>` +
        `${syncState ? `<m:SyncState>${syncState}</m:SyncState>` : ''}<m:MaxChangesReturned>512</m:MaxChangesReturned></m:SyncFolderItems>`,
    );
  start = performance.now();
  let syncState = '';
  let pages = 0;
  for (;;) {
    const message = ok(await syncPage(syncState));
    pages += 1;
    syncState = child(message, M, 'SyncState')!.text;
    if (child(message, M, 'IncludesLastItemInRange')!.text === 'true') break;
  }
  results.push([`SyncFolderItems, full pass (${pages} pages of 512)`, ms(start)]);

  await s.control('POST', `/mailboxes/${ADDRESS}/messages`, { from: 'late@fabrikam.test', to: [ADDRESS], subject: 'late' });
  start = performance.now();
  ok(await syncPage(syncState));
  results.push(['SyncFolderItems, one new message', ms(start)]);

  start = performance.now();
  ok(await call('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="50" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>'));
  results.push(['FindItem, first 50 of all, newest first', ms(start)]);

  const id = [...mailbox.items.keys()][COUNT >> 1]!;
  start = performance.now();
  ok(await call(`<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`));
  results.push(['GetItem with MIME', ms(start)]);

  global.gc?.();
  const memory = process.memoryUsage();
  results.push(['memory: live JS heap after GC / resident', `${(memory.heapUsed / 1048576).toFixed(0)} MB / ${(memory.rss / 1048576).toFixed(0)} MB`]);
} finally {
  await s.close();
  rmSync(dataDir, { recursive: true, force: true });
}
const width = Math.max(...results.map(([name]) => name.length));
for (const [name, value] of results) process.stdout.write(`${name.padEnd(width)}  ${value}\n`);
