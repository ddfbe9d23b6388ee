/** Compact JWS with RS256, as Azure AD's tokens and MSAL's client assertions are: signed and checked with node:crypto. */
import { constants, createSign, createVerify, type KeyObject } from 'node:crypto';

export type Claims = Record<string, unknown>;

export interface DecodedJwt {
  header: Claims;
  payload: Claims;
  signingInput: string;
  signature: Buffer;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function signJwt(header: Claims, payload: Claims, key: KeyObject): string {
  const input = `${b64({ typ: 'JWT', alg: 'RS256', ...header })}.${b64(payload)}`;
  const signature = createSign('RSA-SHA256').update(input).sign(key).toString('base64url');
  return `${input}.${signature}`;
}

/** The parts of a compact JWS; null when it is not one. */
export function decodeJwt(token: string): DecodedJwt | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (!header || typeof header !== 'object' || !payload || typeof payload !== 'object') return null;
    return { header: header as Claims, payload: payload as Claims, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
  } catch {
    return null;
  }
}

/** RS256 (PKCS#1 v1.5), or with `allowPss` also PS256 (RSA-PSS, SHA-256, salt of the hash's length), which MSAL signs assertions with when given a SHA-256 thumbprint. */
export function verifyRs256(jwt: DecodedJwt, key: KeyObject, allowPss = false): boolean {
  const pss = jwt.header.alg === 'PS256';
  if (jwt.header.alg !== 'RS256' && !(allowPss && pss)) return false;
  try {
    const verifier = createVerify('RSA-SHA256').update(jwt.signingInput);
    return pss ? verifier.verify({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, jwt.signature) : verifier.verify(key, jwt.signature);
  } catch {
    return false;
  }
}
