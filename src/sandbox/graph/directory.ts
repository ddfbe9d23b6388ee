/**
 * The Graph side's directory: the tenant, its app registrations (client id, consented application permissions,
 * secrets, certificates) and application access policies, kept in the sandbox's saved state; and the key the
 * token endpoint signs access tokens with.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import type { GraphAccessPolicy, GraphApp } from '../state/model.js';
import { type SandboxState, SandboxStateError } from '../state/sandbox-state.js';

/** The application permissions the sandbox knows (Graph's names). */
export const GRAPH_PERMISSIONS = ['Mail.Read', 'Mail.ReadBasic', 'Mail.ReadBasic.All', 'Mail.ReadWrite', 'Mail.Send', 'User.Read.All', 'MailboxSettings.Read', 'MailboxSettings.ReadWrite'] as const;

export interface AppInput {
  displayName?: string;
  clientId?: string;
  permissions?: string[];
  secrets?: Array<{ value?: string; expiresAt?: string | null }>;
  certificates?: Array<{ pem: string }>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A client secret shaped as Azure AD's (40 characters, with a ~ in the fourth place). */
export function newClientSecret(): string {
  const body = randomBytes(30).toString('base64url').replace(/[-_]/g, 'x');
  return `${body.slice(0, 3)}8Q~${body.slice(0, 37)}`.slice(0, 40);
}

function certificate(pem: string): GraphApp['certificates'][number] {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (error) {
    throw new SandboxStateError(400, `a certificate is not a PEM X.509 certificate: ${(error as Error).message}`);
  }
  return { pem: cert.toString(), sha1: createHash('sha1').update(cert.raw).digest('hex'), sha256: createHash('sha256').update(cert.raw).digest('hex') };
}

function secrets(list: AppInput['secrets']): GraphApp['secrets'] {
  return (list ?? []).map((s) => {
    if (s.expiresAt && Number.isNaN(Date.parse(s.expiresAt))) throw new SandboxStateError(400, '"expiresAt" of a secret must be an ISO 8601 date-time');
    return { value: s.value ?? newClientSecret(), expiresAt: s.expiresAt ? new Date(s.expiresAt).toISOString() : s.expiresAt === null ? null : new Date(Date.now() + 730 * 24 * 3600 * 1000).toISOString() };
  });
}

function permissions(list: string[] | undefined): string[] {
  for (const p of list ?? []) if (typeof p !== 'string' || !/^[A-Za-z]+(\.[A-Za-z]+)+$/.test(p)) throw new SandboxStateError(400, `"${String(p)}" is not a permission name (such as Mail.ReadWrite)`);
  return [...new Set(list ?? [])];
}

export class GraphDirectory {
  private signingKey: KeyObject | null = null;

  constructor(private readonly state: SandboxState) {}

  get tenantId(): string {
    return this.state.graph.tenantId;
  }

  /** Whether a tenant name in a URL (its GUID, or one of its domains) is this tenant. */
  isTenant(name: string): boolean {
    const key = name.toLowerCase();
    const domain = this.state.domain.toLowerCase();
    const label = domain.split('.')[0];
    return key === this.tenantId.toLowerCase() || key === domain || key === `${label}.onmicrosoft.com`;
  }

  get apps(): GraphApp[] {
    return this.state.graph.apps;
  }

  app(clientId: string): GraphApp | undefined {
    return this.apps.find((a) => a.clientId.toLowerCase() === clientId.toLowerCase());
  }

  addApp(input: AppInput): GraphApp {
    const clientId = input.clientId ?? randomUUID();
    if (!GUID.test(clientId)) throw new SandboxStateError(400, '"clientId" must be a GUID');
    if (this.app(clientId)) throw new SandboxStateError(409, `an app ${clientId} exists already`);
    const app: GraphApp = {
      clientId: clientId.toLowerCase(),
      displayName: input.displayName ?? 'Sandbox app',
      permissions: permissions(input.permissions),
      // A new registration without secrets named gets one, as the portal's first "New client secret" does.
      secrets: secrets(input.secrets ?? [{}]),
      certificates: (input.certificates ?? []).map((c) => certificate(c.pem)),
      servicePrincipalId: randomUUID(),
    };
    this.apps.push(app);
    this.state.changed();
    return app;
  }

  updateApp(clientId: string, input: AppInput): GraphApp {
    const app = this.app(clientId);
    if (!app) throw new SandboxStateError(404, `no app ${clientId}`);
    if (input.displayName !== undefined) app.displayName = input.displayName;
    if (input.permissions !== undefined) app.permissions = permissions(input.permissions);
    if (input.secrets !== undefined) app.secrets = secrets(input.secrets);
    if (input.certificates !== undefined) app.certificates = input.certificates.map((c) => certificate(c.pem));
    this.state.changed();
    return app;
  }

  removeApp(clientId: string): void {
    const index = this.apps.findIndex((a) => a.clientId.toLowerCase() === clientId.toLowerCase());
    if (index < 0) throw new SandboxStateError(404, `no app ${clientId}`);
    this.apps.splice(index, 1);
    this.state.changed();
  }

  get accessPolicies(): GraphAccessPolicy[] {
    return this.state.graph.accessPolicies;
  }

  addAccessPolicy(input: { appId: string; accessRight: string; mailboxes: string[]; description?: string }): GraphAccessPolicy {
    if (input.accessRight !== 'RestrictAccess' && input.accessRight !== 'DenyAccess') throw new SandboxStateError(400, '"accessRight" must be "RestrictAccess" or "DenyAccess"');
    if (!Array.isArray(input.mailboxes) || input.mailboxes.some((m) => typeof m !== 'string')) throw new SandboxStateError(400, '"mailboxes" must be a list of addresses');
    const policy: GraphAccessPolicy = {
      id: randomUUID(),
      appId: input.appId.toLowerCase(),
      accessRight: input.accessRight,
      mailboxes: input.mailboxes.map((m) => m.toLowerCase()),
      description: input.description ?? '',
    };
    this.accessPolicies.push(policy);
    this.state.changed();
    return policy;
  }

  removeAccessPolicy(id: string): void {
    const index = this.accessPolicies.findIndex((p) => p.id === id);
    if (index < 0) throw new SandboxStateError(404, `no access policy ${id}`);
    this.accessPolicies.splice(index, 1);
    this.state.changed();
  }

  /**
   * Whether the app's access policies let it reach the mailbox (as Test-ApplicationAccessPolicy answers): with
   * none, every mailbox; a RestrictAccess policy grants only the mailboxes it lists, a DenyAccess policy all
   * but those. A mailbox is listed by its address or an alias.
   */
  policyAllows(appId: string, mailbox: { owns(address: string): boolean }): boolean {
    const policies = this.accessPolicies.filter((p) => p.appId === appId.toLowerCase());
    if (policies.length === 0) return true;
    const listed = (p: GraphAccessPolicy) => p.mailboxes.some((m) => mailbox.owns(m));
    if (policies.some((p) => p.accessRight === 'DenyAccess' && listed(p))) return false;
    const restrict = policies.filter((p) => p.accessRight === 'RestrictAccess');
    return restrict.length === 0 || restrict.some(listed);
  }

  /** The RSA key tokens are signed with; made once and kept with the state. */
  key(): KeyObject {
    if (this.signingKey) return this.signingKey;
    if (!this.state.graph.signingKeyPem) {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
      this.state.graph.signingKeyPem = privateKey;
      this.state.changed();
    }
    this.signingKey = createPrivateKey(this.state.graph.signingKeyPem);
    return this.signingKey;
  }

  /** The signing key's id (kid and x5t of the token header, and of the JWKS entry). */
  keyId(): string {
    const der = createPublicKey(this.key()).export({ type: 'spki', format: 'der' });
    return createHash('sha1').update(der).digest('base64url');
  }
}
