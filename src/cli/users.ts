/**
 * `liaison user ...`: create, list and delete users, issue, list and revoke API tokens, set console passwords,
 * from the machine itself (the first administrator can come from here).
 */
import type { Command } from 'commander';
import { NotFoundError } from '../domain/errors.js';
import { checkPasswordRules } from '../store/passwords.js';
import { Store } from '../store/store.js';
import type { User } from '../store/users.js';
import { addStoreOptions, type StoreFlags, storeOptionsFrom } from './options.js';

async function withStore<T>(flags: StoreFlags, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await Store.open(storeOptionsFrom(flags, { mustExist: true }));
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

async function userByEmail(store: Store, email: string): Promise<User> {
  const found = await store.users.findByEmail(email);
  if (!found) throw new NotFoundError('the user with the address', email);
  return found;
}

/** The first line of a stream (without its line end), read up to the first newline or the end. */
async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let data = '';
  for await (const chunk of stream) {
    data += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (data.includes('\n')) break;
    // A password is a line, not a file: a mistaken pipe is stopped instead of read into memory whole.
    if (data.length > 8192) throw new Error('standard input holds no line end in its first 8 KiB; --password-stdin reads one line, the password');
  }
  return data.split('\n')[0]!.replace(/\r$/, '');
}

/** Asks on the terminal without showing what is typed. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error: Error | null) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(null);
        if (ch === '\u0003') return finish(new Error('cancelled; the password was not changed'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    process.stderr.write(question);
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** The new password: the first line of standard input with --password-stdin, else asked twice on the terminal. */
async function newPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) return readFirstLine(process.stdin);
  if (!process.stdin.isTTY) {
    throw new Error('standard input is not a terminal, so the password cannot be asked for: send it on the first line of standard input with --password-stdin');
  }
  const first = await promptHidden('New console password (12 to 1024 characters): ');
  checkPasswordRules(first);
  const second = await promptHidden('The same password again: ');
  if (first !== second) throw new Error('the two passwords differ; nothing was changed');
  return first;
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
  const user = program.command('user').description('manage users, their API tokens and their console passwords');

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
      const found = await userByEmail(store, flags.email);
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

  const tokens = user
    .command('tokens')
    .description("list a user's API tokens: id, the token's first characters, label, when created and last used (never the token)")
    .requiredOption('--email <address>', "the user's email address")
    .option('--json', 'print JSON', false);
  addStoreOptions(tokens);
  tokens.action(async (flags: StoreFlags & { email: string; json: boolean }) => {
    await withStore(flags, async (store) => {
      const found = await userByEmail(store, flags.email);
      const all = [];
      let after: string | undefined;
      do {
        const page = await store.tokens.list(found.id, { limit: 500, after });
        all.push(...page.items);
        after = page.nextCursor ?? undefined;
      } while (after);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(all)}\n`);
        return;
      }
      if (all.length === 0) process.stdout.write(`${found.email} has no API tokens\n`);
      for (const t of all) {
        process.stdout.write(
          `${t.id}  ${(t.prefix ? `${t.prefix}…` : '(older token)').padEnd(14)}  created ${t.createdAt}  last used ${t.lastUsedAt ?? 'never'}${t.label ? `  ${t.label}` : ''}\n`,
        );
      }
    });
  });

  const revoke = user
    .command('revoke-token')
    .description('revoke one of a user\'s API tokens (the id from `liaison user tokens`); it stops working at once')
    .requiredOption('--email <address>', "the user's email address")
    .requiredOption('--token-id <id>', 'the token\'s id');
  addStoreOptions(revoke);
  revoke.action(async (flags: StoreFlags & { email: string; tokenId: string }) => {
    await withStore(flags, async (store) => {
      const found = await userByEmail(store, flags.email);
      await store.tokens.revoke(found.id, flags.tokenId);
      process.stdout.write(`Revoked token ${flags.tokenId} of ${found.email}\n`);
    });
  });

  const password = user
    .command('password')
    .description(
      "set a user's password for the web console (asked twice on the terminal, or the first line of standard input with --password-stdin); " +
        "it ends the user's console sessions and lifts a lock-out. API tokens keep working",
    )
    .requiredOption('--email <address>', "the user's email address")
    .option('--password-stdin', 'read the password from the first line of standard input', false);
  addStoreOptions(password);
  password.action(async (flags: StoreFlags & { email: string; passwordStdin: boolean }) => {
    await withStore(flags, async (store) => {
      const found = await userByEmail(store, flags.email);
      const value = await newPassword(flags.passwordStdin);
      const { sessionsEnded } = await store.sessions.setPassword(found.id, value);
      process.stdout.write(
        `Set the console password of ${found.isAdmin ? 'administrator' : 'user'} ${found.email}; ` +
          `${sessionsEnded} console session${sessionsEnded === 1 ? '' : 's'} ended.\n`,
      );
    });
  });

  const remove = user
    .command('delete')
    .description(
      'delete a user: their mailbox (with its alerts) and their API tokens go with them; their email activities stay in the CRM, ' +
        'no longer in a mailbox. Refused for the last administrator, and while they own queues or email server profiles ' +
        'unless --transfer-to names who takes those over',
    )
    .requiredOption('--email <address>', "the user's email address")
    .option('--transfer-to <address>', "another user who takes over the user's queues, email server profiles and email activities");
  addStoreOptions(remove);
  remove.action(async (flags: StoreFlags & { email: string; transferTo?: string }) => {
    await withStore(flags, async (store) => {
      const found = await userByEmail(store, flags.email);
      const heir = flags.transferTo === undefined ? undefined : await userByEmail(store, flags.transferTo);
      const done = await store.users.delete(found.id, { transferTo: heir?.id });
      const { queues, profiles, activities } = done.transferred;
      process.stdout.write(
        `Deleted ${found.email} (id ${found.id}), their mailbox and ${done.tokensRevoked} API token${done.tokensRevoked === 1 ? '' : 's'}.\n` +
          (heir ? `${heir.email} took over ${queues.length} queue(s), ${profiles.length} email server profile(s) and ${activities} email activit${activities === 1 ? 'y' : 'ies'}.\n` : ''),
      );
    });
  });
}
