/**
 * Finding the services tests need. A missing service skips its tests with a loud reason on a developer's
 * machine; in CI (CI=true) it fails them instead, so a skip can never hide a gap there.
 */
import { test } from 'node:test';

export const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');

/**
 * Returns the options for a describe()/test() that needs a service: `{}` when it is there, a loud skip when
 * not, and in CI a registered failing test (plus a skip for the suite, whose tests could only fail the same way).
 */
export function requireService(name: string, problem: string | null): { skip?: string } {
  if (problem === null) return {};
  const reason = `${name} is not available: ${problem}`;
  if (IN_CI) {
    test(`${name} is available (required in CI)`, () => {
      throw new Error(reason);
    });
  } else {
    process.stderr.write(`\n*** SKIPPING ${name} TESTS: ${reason} ***\n\n`);
  }
  return { skip: reason };
}
