/** Runs the `liaison` command from source, as a separate process. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const MAIN = path.resolve('src/cli/main.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cliEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // Start from a clean slate of Liaison's own variables so the machine's settings do not leak into a test.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LIAISON_') && k !== 'DATABASE_URL'));
  return { ...base, ...env };
}

/**
 * Runs `liaison …` to its end. `stdin`, when given, is written to the command's standard input, which is then
 * closed (as `echo pw | liaison …`); without it, standard input stays an open pipe that never sends anything.
 */
export function liaison(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: cliEnv(options.env ?? {}), cwd: options.cwd });
    // A command that exits before reading all of its input closes the pipe: that is not the test's failure.
    child.stdin.on('error', () => undefined);
    if (options.stdin !== undefined) child.stdin.end(options.stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Running {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first match of the pattern in stdout+stderr. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<number | null>;
}

export function start(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: cliEnv(options.env ?? {}), cwd: options.cwd });
  let output = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer) => {
    output += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${output}`)), timeoutMs);
        const check = () => {
          const match = output.match(pattern);
          if (match) {
            clearTimeout(timer);
            resolve(match);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`exited with ${child.exitCode} before ${pattern}; output:\n${output}`));
          } else waiters.push(check);
        };
        check();
        void exited.then(() => waiters.splice(0).forEach((w) => w()));
      });
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
