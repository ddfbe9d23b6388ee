#!/usr/bin/env node
/** The `liaison` command. */
import { Command, CommanderError } from 'commander';
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors.js';
import { migrateToLatest } from '../store/migrate.js';
import { DatabaseConfigError, openDatabase } from '../store/database.js';
import { SecretKeyError } from '../store/secrets.js';
import { VERSION } from '../version.js';
import { analyzeCommand } from './analyze.js';
import { auditCommand } from './audit.js';
import { diagnosticsService } from './diagnostics.js';
import { addStoreOptions, type StoreFlags, storeOptionsFrom } from './options.js';
import { sandboxCommand } from './sandbox.js';
import { serveCommand } from './serve.js';
import { userCommands } from './users.js';
import { workerCommand } from './worker.js';

export function buildProgram(): Command {
  const program = new Command('liaison')
    .description('Server-side synchronization between a CRM and the mail servers its users already run')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)');

  serveCommand(program);
  workerCommand(program);

  const migrate = program.command('migrate').description('bring the database schema up to date (serve also does this on start)');
  addStoreOptions(migrate);
  migrate.action(async (flags: StoreFlags) => {
    const database = await openDatabase(storeOptionsFrom(flags));
    try {
      const report = await migrateToLatest(database);
      process.stdout.write(
        report.applied.length > 0 ? `Applied ${report.applied.join(', ')} to ${database.location}\n` : `${database.location} is up to date\n`,
      );
    } finally {
      await database.close();
    }
  });

  userCommands(program);
  auditCommand(program);
  sandboxCommand(program);
  analyzeCommand(program, () => ({
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    service: diagnosticsService(),
  }));
  return program;
}

/** Known failures print one line that says what to fix; anything else keeps its stack for a bug report. */
function explain(error: unknown): string {
  if (
    error instanceof ValidationError ||
    error instanceof ConflictError ||
    error instanceof NotFoundError ||
    error instanceof DatabaseConfigError ||
    error instanceof SecretKeyError
  ) {
    return error.message;
  }
  if (error instanceof Error && error.constructor === Error) return error.message;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

const program = buildProgram();
program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  process.stderr.write(`liaison: ${explain(error)}\n`);
  process.exit(1);
}
