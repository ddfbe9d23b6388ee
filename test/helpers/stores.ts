/** Throw-away stores on SQLite (a temp folder) and PostgreSQL (a schema of its own), for the same tests on both. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Store, type StoreOptions } from '../../src/store/store.js';
import { requireService } from './services.js';

export const POSTGRES_URL = process.env.LIAISON_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function postgresProblem(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return `${POSTGRES_URL}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const pgProblem = await postgresProblem();

export interface TestStore {
  store: Store;
  dataDir: string;
  options: StoreOptions;
  /** Reopens the same database (same data folder, same schema). */
  reopen(overrides?: Partial<StoreOptions>): Promise<Store>;
  cleanup(): Promise<void>;
}

export interface DatabaseKind {
  name: 'sqlite' | 'postgres';
  /** Options for describe(): skips (or, in CI, fails) when the database is missing. */
  suite: { skip?: string };
  open(): Promise<TestStore>;
}

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'liaison-test-'));
}

let counter = 0;

/** Opens a store and remembers every reopened one, so cleanup closes them all before removing the data. */
async function openTracked(options: StoreOptions, dataDir: string, dropDatabase: () => Promise<void>): Promise<TestStore> {
  const opened: Store[] = [];
  const store = await Store.open(options);
  opened.push(store);
  return {
    store,
    dataDir,
    options,
    async reopen(overrides = {}) {
      const again = await Store.open({ ...options, ...overrides });
      opened.push(again);
      return again;
    },
    async cleanup() {
      for (const s of opened) await s.close().catch(() => undefined);
      await dropDatabase();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const sqlite: DatabaseKind = {
  name: 'sqlite',
  suite: {},
  async open() {
    const dataDir = tempDir();
    return openTracked({ dataDir, env: {} }, dataDir, async () => undefined);
  },
};

let pgSuite: { skip?: string } | undefined;

export const postgres: DatabaseKind = {
  name: 'postgres',
  get suite() {
    pgSuite ??= requireService('PostgreSQL', pgProblem);
    return pgSuite;
  },
  async open() {
    const dataDir = tempDir();
    counter += 1;
    const schema = `liaison_test_${process.pid}_${Date.now()}_${counter}`;
    return openTracked({ dataDir, databaseUrl: POSTGRES_URL, postgresSchema: schema, env: {} }, dataDir, async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    });
  },
};

export const DATABASES: DatabaseKind[] = [sqlite, postgres];
