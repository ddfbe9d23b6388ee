/** From a saved profile to what the diagnostics connect to: the one place the API and the engine build it. */
import { ConflictError } from '../domain/errors.js';
import type { Profile, ProfileSecrets } from '../store/profiles.js';
import type { ExchangeTarget } from './service.js';

/** Why the profile cannot be tested against Exchange yet, or null when it can. */
export function untestableProfile(profile: Profile): string | null {
  if (profile.serverType !== 'exchange') {
    return `profile "${profile.name}" is an ${profile.serverType} profile; Liaison tests Exchange (EWS) profiles only so far, the ${profile.serverType} connector is not built yet`;
  }
  return null;
}

/**
 * The target for testing `email` through the profile: its service account (with the decrypted password), its
 * authentication, its fixed EWS URL when Autodiscover is off, its extra CA, its timeout and connection cap, and
 * the host-name overrides this Liaison was started with (`--resolve`, LIAISON_RESOLVE).
 */
export function exchangeTargetOf(profile: Profile, secrets: ProfileSecrets, email: string, resolve: readonly string[]): ExchangeTarget {
  const problem = untestableProfile(profile);
  if (problem) throw new ConflictError(`Cannot test: ${problem}`);
  if (!profile.username || !secrets.password) {
    throw new ConflictError(`Cannot test: profile "${profile.name}" has no service account ${profile.username ? 'password' : 'user name'}; set it first`);
  }
  return {
    email,
    username: profile.username,
    password: secrets.password,
    auth: profile.authentication ?? 'basic',
    url: profile.autodiscover ? null : profile.incomingServer,
    autodiscover: profile.autodiscover,
    trustedCaPem: profile.trustedCaPem,
    resolve: [...resolve],
    timeoutMs: profile.requestTimeoutSeconds * 1000,
    maxConcurrentConnections: profile.maxConcurrentConnections,
  };
}
