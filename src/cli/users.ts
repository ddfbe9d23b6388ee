/** `liaison user ...`: create users and issue API tokens from the machine itself (the first admin comes from here). */
import type { Command } from 'commander';
import { Store } from '../store/store.js';
import { addStoreOptions, type StoreFlags, storeOptionsFrom } from './options.js';

async function withStore<T>(flags: StoreFlags, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await Store.open(storeOptionsFrom(flags, { mustExist: true }));
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function printToken(json: boolean, user: { id: string; email: string; isAdmin: boolean }, token: string, verb: string): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ user, token })}\n`);
    return;
  }
  process.stdout.write(
    `${verb} ${user.isAdmin ? 'administrator' : 'user'} ${user.email} (id ${user.id}).\n` +
      'API token (shown only now; store it safely, Liaison keeps only its hash):\n' +
      `${token}\n`,
  );
}

export function userCommands(program: Command): void {
  const user = program.command('user').description('manage users and their API tokens');

  const create = user
    .command('create')
    .description('create a user (with their mailbox) and print an API token for them')
    .requiredOption('--email <address>', "the user's primary email address")
    .requiredOption('--name <name>', "the user's full name")
    .option('--admin', 'make the user an administrator', false)
    .option('--json', 'print {"user":…,"token":…} as JSON', false);
  addStoreOptions(create);
  create.action(async (flags: StoreFlags & { email: string; name: string; admin: boolean; json: boolean }) => {
    await withStore(flags, async (store) => {
      const created = await store.users.create({ email: flags.email, name: flags.name, isAdmin: flags.admin });
      const { token } = await store.tokens.issue(created.id, 'cli');
      printToken(flags.json, created, token, 'Created');
    });
  });

  const token = user
    .command('token')
    .description('issue a new API token for an existing user (older tokens keep working unless --revoke-others)')
    .requiredOption('--email <address>', "the user's email address")
    .option('--revoke-others', "revoke the user's other tokens", false)
    .option('--json', 'print {"user":…,"token":…} as JSON', false);
  addStoreOptions(token);
  token.action(async (flags: StoreFlags & { email: string; revokeOthers: boolean; json: boolean }) => {
    await withStore(flags, async (store) => {
      const found = await store.users.findByEmail(flags.email);
      if (!found) throw new Error(`no user has the address ${flags.email}`);
      if (flags.revokeOthers) await store.tokens.revokeAll(found.id);
      const issued = await store.tokens.issue(found.id, 'cli');
      printToken(flags.json, found, issued.token, 'New token for');
    });
  });

  const list = user.command('list').description('list users').option('--json', 'print JSON', false);
  addStoreOptions(list);
  list.action(async (flags: StoreFlags & { json: boolean }) => {
    await withStore(flags, async (store) => {
      const users = [];
      let after: string | undefined;
      do {
        const page = await store.users.list({ limit: 500, after });
        users.push(...page.items);
        after = page.nextCursor ?? undefined;
      } while (after);
      if (flags.json) process.stdout.write(`${JSON.stringify(users)}\n`);
      else for (const u of users) process.stdout.write(`${u.id}  ${u.isAdmin ? 'admin' : 'user '}  ${u.email}  ${u.name}\n`);
    });
  });
}
