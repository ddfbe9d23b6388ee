/** Reading what a 401 offers: the WWW-Authenticate values, one per header line or several on one line. */

/** The schemes a 401 offers, upper-cased ("BASIC", "NTLM", "NEGOTIATE"). */
export function offeredSchemes(authenticate: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const value of authenticate) {
    // One header line may carry several challenges separated by commas (Basic realm="x", NTLM).
    for (const part of value.split(',')) {
      const scheme = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s|$)/.exec(part)?.[1];
      // "realm=\"x\"" after a comma continues the previous challenge; it is not a scheme.
      if (scheme && !/^\s*[^\s=]+\s*=/.test(part)) out.add(scheme.toUpperCase());
    }
  }
  return out;
}
