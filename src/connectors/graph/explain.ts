/**
 * What a failure of the Graph connector means and what the administrator does about it: one sentence that says
 * what happened, and the fix (which setting in the app registration, which PowerShell line). classify.ts and the
 * diagnostics (Test Connection, the analyzer) use the same texts.
 */

export interface GraphExplainContext {
  clientId?: string;
  tenantId?: string;
  /** The authority's host (login.microsoftonline.com). */
  authorityHost?: string;
  mailbox?: string;
  /** The Graph host (graph.microsoft.com). */
  graphHost?: string;
}

export interface GraphExplanation {
  summary: string;
  fix: string | null;
}

const app = (c: GraphExplainContext) => (c.clientId ? `app ${c.clientId}` : 'the app');
const mailbox = (c: GraphExplainContext) => c.mailbox ?? '<mailbox>';
const secrets = (c: GraphExplainContext) =>
  `In the Microsoft Entra admin center, open App registrations > ${app(c)} > Certificates & secrets, create a new client secret, and enter its Value (not its Secret ID) in the profile's client secret`;

/** The token endpoint's AADSTS codes Liaison names, each with its fix. */
export function explainAadsts(aadsts: string, description: string | null, context: GraphExplainContext = {}): GraphExplanation {
  const where = context.authorityHost ?? 'Azure AD';
  const said = description ? ` (${description.split(/\r?\n/)[0]!.slice(0, 300)})` : '';
  switch (aadsts) {
    case 'AADSTS7000215':
      return { summary: `${where} rejected the client secret of ${app(context)}: it is not a valid secret of this app (${aadsts})`, fix: `${secrets(context)}.` };
    case 'AADSTS7000222':
      return { summary: `The client secret of ${app(context)} has expired (${aadsts})`, fix: `${secrets(context)}, and note when it expires.` };
    case 'AADSTS90002':
      return {
        summary: `${where} knows no tenant ${context.tenantId ?? ''} (${aadsts})`.replace('  ', ' '),
        fix: "Check the profile's tenant ID: the Directory (tenant) ID on the app registration's Overview page (a GUID), or the tenant's domain (contoso.onmicrosoft.com).",
      };
    case 'AADSTS700016':
      return {
        summary: `${where} knows no application ${context.clientId ?? ''} in tenant ${context.tenantId ?? ''} (${aadsts})`.replace(/ {2,}/g, ' '),
        fix: "Check the profile's client ID: the Application (client) ID on the app registration's Overview page, registered in this tenant (or consented to by its administrator).",
      };
    case 'AADSTS700027':
      return {
        summary: `${where} did not accept the client certificate of ${app(context)}: the signature does not verify against a certificate registered on the app (${aadsts})`,
        fix: `Upload the certificate (its public part, .cer or .pem) to App registrations > ${app(context)} > Certificates & secrets > Certificates, and give the profile the PEM holding that certificate and its private key.`,
      };
    case 'AADSTS700024':
      return { summary: `${where} found the client assertion outside its validity time (${aadsts})`, fix: "Check this machine's clock (NTP): it is too far from the identity platform's." };
    case 'AADSTS7000112':
      return { summary: `${app(context)} is disabled in the tenant (${aadsts})`, fix: 'In Enterprise applications, open the app > Properties and set "Enabled for users to sign in?" to Yes.' };
    case 'AADSTS500011':
    case 'AADSTS70011':
      return {
        summary: `${where} does not know the scope Liaison asked for (${aadsts})${said}`,
        fix: "Check the profile's Graph URL (incoming server): https://graph.microsoft.com for the global cloud, or the national cloud's Graph endpoint.",
      };
    case 'AADSTS65001':
      return {
        summary: `${app(context)} has no consent in the tenant (${aadsts})`,
        fix: `Grant admin consent: App registrations > ${app(context)} > API permissions > Grant admin consent for the tenant.`,
      };
    default:
      return { summary: `${where} refused a token for ${app(context)} (${aadsts})${said}`, fix: `Look the code up in Microsoft's AADSTS error reference (https://login.microsoftonline.com/error?code=${aadsts.replace(/^AADSTS/, '')}).` };
  }
}

/** The application permissions an app needs for what Liaison does: read the Inbox, move, create folders; send. */
export const REQUIRED_ROLES = { read: 'Mail.ReadWrite', send: 'Mail.Send' } as const;

/** The fix for missing application permissions. */
export function permissionFix(context: GraphExplainContext, roles: readonly string[] = [REQUIRED_ROLES.read, REQUIRED_ROLES.send]): string {
  return (
    `In App registrations > ${app(context)} > API permissions, add the Microsoft Graph application permission${roles.length > 1 ? 's' : ''} ` +
    `${roles.join(' and ')} (Application permissions, not Delegated), then click "Grant admin consent" for the tenant. A new token carries them within minutes.`
  );
}

/** The fix when an application access policy (or RBAC for Applications) keeps the app away from the mailbox. */
export function accessPolicyFix(context: GraphExplainContext): string {
  const id = context.clientId ?? '<client id>';
  return (
    `Check in Exchange Online PowerShell: Test-ApplicationAccessPolicy -Identity ${mailbox(context)} -AppId ${id}. If it says Denied, add the mailbox to the ` +
    `mail-enabled security group the policy names (Add-DistributionGroupMember -Identity <group> -Member ${mailbox(context)}), or change the policy ` +
    `(Set-ApplicationAccessPolicy -Identity <policy id> -Description "…", or New-ApplicationAccessPolicy -AppId ${id} -PolicyScopeGroupId <group> -AccessRight RestrictAccess). ` +
    `With RBAC for Applications, add the mailbox to the management scope of the app's role assignment (Get-ManagementRoleAssignment -RoleAssignee ${id}).`
  );
}

/** Why Graph said ErrorAccessDenied: an application access policy (its message says so), or missing permissions. */
export function explainAccessDenied(message: string, context: GraphExplainContext): GraphExplanation {
  const policy = /AccessPolicy|RAOP|RBAC|management scope/i.test(message);
  if (policy) {
    return {
      summary: `An application access policy (or RBAC for Applications) keeps ${app(context)} away from the mailbox ${mailbox(context)} (ErrorAccessDenied)`,
      fix: accessPolicyFix(context),
    };
  }
  return {
    summary: `Microsoft Graph denied ${app(context)} access to the mailbox ${mailbox(context)} (ErrorAccessDenied)`,
    fix: `Either the app lacks the permission: ${permissionFix(context)} Or an application access policy excludes the mailbox: ${accessPolicyFix(context)}`,
  };
}

export function explainMailboxNotEnabled(context: GraphExplainContext): GraphExplanation {
  return {
    summary: `The mailbox ${mailbox(context)} cannot be reached through Microsoft Graph: it is inactive, soft-deleted, or hosted on-premises (MailboxNotEnabledForRESTAPI)`,
    fix:
      `If the mailbox is on the on-premises Exchange (a hybrid organization), add it under an Exchange profile instead. If it should be in Exchange Online, ` +
      `check that the user has an Exchange Online license and the mailbox is provisioned (Get-EXOMailbox -Identity ${mailbox(context)}).`,
  };
}

export function explainNoMailbox(context: GraphExplainContext): GraphExplanation {
  return {
    summary: `Microsoft Graph knows no user or mailbox ${mailbox(context)} in tenant ${context.tenantId ?? ''}`.trim(),
    fix: "Check the address (the user's primary SMTP address or user principal name) and that the user is in this tenant.",
  };
}

export function explainInvalidToken(context: GraphExplainContext): GraphExplanation {
  return {
    summary: `Microsoft Graph refused the access token of ${app(context)} even after a new one was issued (InvalidAuthenticationToken)`,
    fix: `Check that the profile's tenant ID and authority belong to the same tenant as the Graph URL, and that ${app(context)} is enabled; then run Test Connection.`,
  };
}
