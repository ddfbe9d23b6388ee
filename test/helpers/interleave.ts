/**
 * Runs one change in the middle of another, at a chosen point, so that a race happens every time instead of
 * now and then: a Kysely plugin on the first store pauses right after a chosen query has answered, runs the
 * second change on another store (another connection), and only then lets the first one go on.
 */
import type { KyselyPlugin, OperationNode, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import pg from 'pg';
import { POSTGRES_URL } from './stores.js';

type QueryKind = 'select' | 'delete';

interface Armed {
  kind: QueryKind;
  table: string;
  during: () => Promise<void>;
}

/** The table names a query reads from (FROM, and the tables it joins). */
function tablesOf(node: OperationNode | undefined): string[] {
  if (!node) return [];
  const n = node as unknown as Record<string, unknown> & { kind: string };
  if (n.kind === 'TableNode') return [((n.table as { identifier: { name: string } }).identifier).name];
  if (n.kind === 'AliasNode') return tablesOf(n.node as OperationNode);
  return [];
}

function matches(node: RootOperationNode, armed: Armed): boolean {
  const from = (node as { from?: { froms: OperationNode[] } }).from?.froms ?? [];
  const kind = node.kind === 'SelectQueryNode' ? 'select' : node.kind === 'DeleteQueryNode' ? 'delete' : null;
  return kind === armed.kind && from.flatMap(tablesOf).includes(armed.table);
}

export class Interleave implements KyselyPlugin {
  private armed: Armed | null = null;
  private readonly hits = new WeakSet<object>();

  /** After the next `kind` query on `table` answers, runs `during` before the store sees the answer. */
  after(kind: QueryKind, table: string, during: () => Promise<void>): void {
    this.armed = { kind, table, during };
  }

  /** True while the pause point has not been reached (a test checks that its scenario really ran). */
  get pending(): boolean {
    return this.armed !== null;
  }

  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    if (this.armed && matches(node, this.armed)) this.hits.add(queryId);
    return node;
  }

  async transformResult({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.armed && this.hits.has(queryId)) {
      const { during } = this.armed;
      this.armed = null;
      await during();
    }
    return result;
  }
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

export function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error: error as Error }),
  );
}

/**
 * Resolves once the other change has finished, or (PostgreSQL) is waiting for a row lock the paused change
 * holds: then the paused change must go on for either to finish. `applicationName` finds the other change's
 * connections among everything else the PostgreSQL server runs.
 */
export async function finishedOrWaiting(other: Promise<unknown>, applicationName?: string): Promise<void> {
  let done = false;
  void other.then(
    () => (done = true),
    () => (done = true),
  );
  if (!applicationName) {
    await other.catch(() => undefined);
    return;
  }
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    while (!done) {
      const waiting = await client.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
        [applicationName],
      );
      if ((waiting.rows[0]?.n ?? 0) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    await client.end();
  }
}
