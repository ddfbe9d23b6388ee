/**
 * A SyncStore in memory for the engine's own tests: the port's contract (leases with fencing tokens checked by
 * every write, one activity per Message-ID, failures counted per message, outgoing states) without a database,
 * so engine behaviour can be tested while the real store is built, and faults of the store itself injected.
 */
import type { AlertInput } from '../../src/domain/alert.js';
import type { AuditOutcome } from '../../src/domain/audit.js';
import type { Profile, ProfileSecrets } from '../../src/store/profiles.js';
import {
  type AuditPort,
  type AuditRunInput,
  type AuditSchedule,
  type QueuedMissing,
  type CommitResult,
  type CycleRecord,
  type IncomingBatch,
  type IncomingFilterOption,
  type IncomingOutcome,
  type Lease,
  LeaseLostError,
  type NewIncomingActivity,
  type OrganizationSettings,
  type OutgoingEmail,
  type PendingFailure,
  type PipelineLookups,
  type SyncMailbox,
  type SyncProfile,
  type SyncStore,
} from '../../src/sync/ports.js';
import type { MailboxLogin } from '../../src/connectors/mail/credentials.js';

export interface MemoryMailbox extends SyncMailbox {
  enabled: boolean;
  fencingToken: number;
  leasedBy: string | null;
  leaseExpiresAt: number;
  lastError: string | null;
}

export interface MemoryOutgoing {
  activityId: string;
  mailboxId: string;
  status: 'pending-send' | 'sending' | 'sent' | 'failed' | 'delivery-uncertain';
  email: Omit<OutgoingEmail, 'deliveryAttempts' | 'uncertain'>;
  deliveryAttempts: number;
  reason: string | null;
  sentAt: string | null;
  /** Not claimed before this time (ISO); absent or null: at once. */
  notBefore?: string | null;
}

interface MessageRecord {
  kind: IncomingOutcome['kind'];
  internetMessageId: string | null;
  attempts: number;
  lastError: string | null;
  rule: string | null;
}

let counter = 0;
const nextId = (prefix: string) => `${prefix}-${(counter += 1)}`;

export function testProfile(over: Partial<Profile> = {}): Profile {
  const now = new Date().toISOString();
  return {
    id: nextId('profile'),
    name: 'Test profile',
    description: null,
    serverType: 'exchange',
    autodiscover: true,
    authentication: 'basic',
    incomingServer: null,
    incomingPort: null,
    outgoingServer: null,
    outgoingPort: null,
    useSameSettingsForOutgoing: true,
    username: 'svc',
    outgoingUsername: null,
    tenantId: null,
    clientId: null,
    authority: null,
    trustedCaPem: null,
    processEmailFrom: null,
    minPollingIntervalMinutes: 0,
    maxConcurrentConnections: 27,
    requestTimeoutSeconds: 20,
    moveFailedToUndeliverable: true,
    notifyOwnerOnFailure: true,
    ownerId: 'owner-1',
    credentialSource: null,
    masterUserSeparator: null,
    deleteAfterTracking: false,
    serverSavesSentCopy: false,
    passwordSet: true,
    outgoingPasswordSet: false,
    clientSecretSet: false,
    clientCertificateSet: false,
    lastTestResult: null,
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

export interface MemoryAuditRun extends AuditRunInput {
  id: string;
  mailboxId: string;
}

/** The audit port in memory (src/store/audits.ts's contract). */
export class MemoryAuditPort implements AuditPort {
  readonly runs: MemoryAuditRun[] = [];
  readonly schedules = new Map<string, AuditSchedule>();
  /** Queued missing messages per mailbox, by server id. */
  readonly queue = new Map<string, Map<string, QueuedMissing>>();
  /** Server ids taken off the queue, in order. */
  dequeued: string[] = [];

  constructor(private readonly store: MemorySyncStore) {}

  /** Asks for an audit now, as the API does: remembered, and the mailbox made due. */
  request(mailboxId: string, at: Date = new Date()): string {
    const current = this.scheduleOf(mailboxId);
    current.requestedAt ??= at.toISOString();
    const mailbox = this.store.mailboxes.get(mailboxId)!;
    mailbox.nextDueAt = at.toISOString();
    return current.requestedAt;
  }

  private scheduleOf(mailboxId: string): AuditSchedule {
    let found = this.schedules.get(mailboxId);
    if (!found) this.schedules.set(mailboxId, (found = { dueAt: null, requestedAt: null }));
    return found;
  }

  queueOf(mailboxId: string): Map<string, QueuedMissing> {
    let found = this.queue.get(mailboxId);
    if (!found) this.queue.set(mailboxId, (found = new Map()));
    return found;
  }

  async schedule(mailboxId: string): Promise<AuditSchedule> {
    return { ...this.scheduleOf(mailboxId) };
  }

  async scheduleNext(lease: Lease, dueAt: Date): Promise<void> {
    this.store.checkLease(lease);
    this.scheduleOf(lease.mailboxId).dueAt = dueAt.toISOString();
  }

  async outcomesMatching(mailboxId: string, serverIds: readonly string[], internetMessageIds: readonly string[]): Promise<AuditOutcome[]> {
    const servers = new Set(serverIds);
    const messages = new Set(internetMessageIds);
    return [...this.store.outcomesOf(mailboxId).entries()]
      .filter(([serverId, m]) => servers.has(serverId) || (m.internetMessageId !== null && messages.has(m.internetMessageId)))
      .map(([serverId, m]) => ({ serverId, internetMessageId: m.internetMessageId, kind: m.kind, rule: m.rule }));
  }

  async recordAudit(lease: Lease, run: AuditRunInput, nextDueAt: Date, alert: AlertInput | null): Promise<string> {
    this.store.checkLease(lease);
    const id = `audit-${this.runs.length + 1}`;
    this.runs.push({ ...structuredClone(run), id, mailboxId: lease.mailboxId });
    const queue = this.queueOf(lease.mailboxId);
    for (const m of run.missing) if (!queue.has(m.serverId)) queue.set(m.serverId, { serverId: m.serverId, internetMessageId: m.internetMessageId, receivedAt: m.receivedAt });
    const schedule = this.scheduleOf(lease.mailboxId);
    schedule.dueAt = nextDueAt.toISOString();
    if (run.servedRequest !== null && schedule.requestedAt === run.servedRequest) schedule.requestedAt = null;
    if (alert) this.store.alerts.push(alert);
    return id;
  }

  async queued(mailboxId: string, limit: number): Promise<QueuedMissing[]> {
    return [...this.queueOf(mailboxId).values()].slice(0, limit);
  }

  async dequeue(lease: Lease, serverIds: readonly string[]): Promise<void> {
    this.store.checkLease(lease);
    const queue = this.queueOf(lease.mailboxId);
    for (const id of serverIds) if (queue.delete(id)) this.dequeued.push(id);
  }

  runsOf(mailboxId: string): MemoryAuditRun[] {
    return this.runs.filter((r) => r.mailboxId === mailboxId);
  }
}

export class MemorySyncStore implements SyncStore {
  readonly mailboxes = new Map<string, MemoryMailbox>();
  readonly profiles = new Map<string, SyncProfile>();
  readonly cursors = new Map<string, string>();
  readonly messages = new Map<string, Map<string, MessageRecord>>();
  readonly activities = new Map<string, { id: string; mailboxIds: Set<string>; activity: NewIncomingActivity }>();
  readonly alerts: AlertInput[] = [];
  readonly cycles: Array<{ mailboxId: string; record: CycleRecord }> = [];
  readonly outgoing = new Map<string, MemoryOutgoing>();
  readonly systemEmails: Array<{ to: string; subject: string; bodyText: string }> = [];
  readonly owners = new Map<string, string>();
  readonly wakes: string[] = [];
  readonly notified = new Map<string, number>();
  organizationSettings: OrganizationSettings = {
    useTrackingToken: true,
    trackingTokenPrefix: 'CRM:',
    trackingTokenDigits: 7,
    maxAttachmentBytes: 5 * 1024 * 1024,
    blockedAttachmentExtensions: ['exe'],
    systemNotificationMailboxId: null,
  };
  filter: IncomingFilterOption = 'all';
  /** Count of commitIncoming calls, and a hook that may throw to simulate a failing database. */
  commits = 0;
  beforeCommit: ((batch: IncomingBatch) => void) | null = null;

  addProfile(profile: Profile, secrets: Partial<ProfileSecrets> = {}): Profile {
    this.profiles.set(profile.id, { profile, secrets: { password: null, outgoingPassword: null, clientSecret: null, clientCertificate: null, ...secrets } });
    return profile;
  }

  updateProfile(id: string, change: Partial<Profile>, secrets: Partial<ProfileSecrets> = {}): void {
    const current = this.profiles.get(id)!;
    const updatedAt = new Date(Math.max(Date.now(), new Date(current.profile.updatedAt).getTime() + 1)).toISOString();
    this.profiles.set(id, { profile: { ...current.profile, ...change, updatedAt }, secrets: { ...current.secrets, ...secrets } });
  }

  addMailbox(address: string, profileId: string, over: Partial<MemoryMailbox> = {}): MemoryMailbox {
    const mailbox: MemoryMailbox = {
      id: nextId('mailbox'),
      address,
      type: 'user',
      ownerId: 'user-1',
      profileId,
      incoming: true,
      outgoing: true,
      processEmailFrom: null,
      ewsUrl: null,
      ewsUrlFoundAt: null,
      incomingStatus: 'not-run',
      outgoingStatus: 'not-run',
      consecutiveFailures: 0,
      lastSuccessAt: null,
      nextDueAt: null,
      enabled: true,
      fencingToken: 0,
      leasedBy: null,
      leaseExpiresAt: 0,
      lastError: null,
      ...over,
    };
    this.mailboxes.set(mailbox.id, mailbox);
    return mailbox;
  }

  /** An email in pending send from a mailbox. */
  queueEmail(mailboxId: string, email: Partial<MemoryOutgoing['email']> & { to: MemoryOutgoing['email']['to'] }): MemoryOutgoing {
    const mailbox = this.mailboxes.get(mailboxId)!;
    const activityId = nextId('activity');
    const entry: MemoryOutgoing = {
      activityId,
      mailboxId,
      status: 'pending-send',
      deliveryAttempts: 0,
      reason: null,
      sentAt: null,
      email: {
        activityId,
        messageId: `<${activityId}.${Date.now()}@liaison.test>`,
        subject: 'A subject',
        trackingToken: null,
        bodyText: 'Hello',
        bodyHtml: null,
        from: { address: mailbox.address, displayName: null },
        cc: [],
        bcc: [],
        inReplyTo: null,
        references: [],
        attachments: [],
        ...email,
      },
    };
    this.outgoing.set(activityId, entry);
    return entry;
  }

  private held(lease: Lease): MemoryMailbox {
    const mailbox = this.mailboxes.get(lease.mailboxId);
    if (!mailbox || mailbox.fencingToken !== lease.token || mailbox.leasedBy !== lease.workerId) throw new LeaseLostError(lease.mailboxId, lease.token);
    return mailbox;
  }

  /** Takes a mailbox away from whoever holds it (as a successor would after expiry). */
  steal(mailboxId: string): void {
    const mailbox = this.mailboxes.get(mailboxId)!;
    mailbox.fencingToken += 1;
    mailbox.leasedBy = 'someone-else';
  }

  async claimDue(workerId: string, limit: number, leaseMs: number, now: Date): Promise<Array<{ lease: Lease; mailbox: SyncMailbox }>> {
    const out: Array<{ lease: Lease; mailbox: SyncMailbox }> = [];
    for (const mailbox of this.mailboxes.values()) {
      if (out.length >= limit) break;
      if (!mailbox.enabled || !this.profiles.has(mailbox.profileId)) continue;
      if (mailbox.nextDueAt && new Date(mailbox.nextDueAt).getTime() > now.getTime()) continue;
      if (mailbox.leasedBy !== null && mailbox.leaseExpiresAt > now.getTime()) continue;
      mailbox.fencingToken += 1;
      mailbox.leasedBy = workerId;
      mailbox.leaseExpiresAt = now.getTime() + leaseMs;
      const lease = { mailboxId: mailbox.id, workerId, token: mailbox.fencingToken, expiresAt: new Date(mailbox.leaseExpiresAt).toISOString() };
      out.push({ lease, mailbox: structuredClone(this.snapshot(mailbox)) });
    }
    return out;
  }

  private snapshot(mailbox: MemoryMailbox): SyncMailbox {
    const { enabled: _e, fencingToken: _f, leasedBy: _l, leaseExpiresAt: _x, lastError: _le, ...rest } = mailbox;
    return rest;
  }

  async renew(lease: Lease, leaseMs: number, now: Date): Promise<Lease> {
    const mailbox = this.held(lease);
    mailbox.leaseExpiresAt = now.getTime() + leaseMs;
    return { ...lease, expiresAt: new Date(mailbox.leaseExpiresAt).toISOString() };
  }

  async release(lease: Lease, nextDueAt: Date): Promise<void> {
    const mailbox = this.mailboxes.get(lease.mailboxId);
    if (!mailbox || mailbox.fencingToken !== lease.token || mailbox.leasedBy !== lease.workerId) return;
    mailbox.leasedBy = null;
    mailbox.leaseExpiresAt = 0;
    mailbox.nextDueAt = nextDueAt.toISOString();
  }

  async wake(addresses: readonly string[], now: Date): Promise<void> {
    for (const mailbox of this.mailboxes.values()) {
      if (addresses.some((a) => a.toLowerCase() === mailbox.address.toLowerCase())) {
        mailbox.nextDueAt = now.toISOString();
        this.wakes.push(mailbox.address);
      }
    }
  }

  async watchedMailboxes(): Promise<Array<{ profileId: string; address: string }>> {
    return [...this.mailboxes.values()].filter((m) => m.enabled && m.incoming).map((m) => ({ profileId: m.profileId, address: m.address }));
  }

  async profile(profileId: string): Promise<SyncProfile> {
    const found = this.profiles.get(profileId);
    if (!found) throw new Error(`no profile ${profileId}`);
    return structuredClone(found);
  }

  async organization(): Promise<OrganizationSettings> {
    return { ...this.organizationSettings };
  }

  async incomingFilter(): Promise<IncomingFilterOption> {
    return this.filter;
  }

  readonly logins = new Map<string, MailboxLogin>();

  async mailboxLogin(mailboxId: string): Promise<MailboxLogin | null> {
    return this.logins.get(mailboxId) ?? null;
  }

  async saveLocation(mailboxId: string, url: string, foundAt: string): Promise<void> {
    const mailbox = this.mailboxes.get(mailboxId)!;
    mailbox.ewsUrl = url;
    mailbox.ewsUrlFoundAt = foundAt;
  }

  async cursor(mailboxId: string, folder: string): Promise<string | null> {
    return this.cursors.get(`${mailboxId}/${folder}`) ?? null;
  }

  async resetCursor(lease: Lease, folder: string): Promise<void> {
    this.held(lease);
    this.cursors.delete(`${lease.mailboxId}/${folder}`);
  }

  private messagesOf(mailboxId: string): Map<string, MessageRecord> {
    let map = this.messages.get(mailboxId);
    if (!map) this.messages.set(mailboxId, (map = new Map()));
    return map;
  }

  async knownMessages(mailboxId: string, internetMessageIds: readonly string[]): Promise<Set<string>> {
    const ids = new Set([...this.messagesOf(mailboxId).values()].map((m) => m.internetMessageId));
    return new Set(internetMessageIds.filter((id) => ids.has(id)));
  }

  async knownServerIds(mailboxId: string, serverIds: readonly string[]): Promise<Set<string>> {
    const map = this.messagesOf(mailboxId);
    return new Set(serverIds.filter((id) => map.has(id)));
  }

  async commitIncoming(lease: Lease, batch: IncomingBatch): Promise<CommitResult> {
    this.beforeCommit?.(batch);
    this.held(lease);
    this.commits += 1;
    const map = this.messagesOf(lease.mailboxId);
    const result: Required<CommitResult> = { created: [], linked: [], activities: [] };
    for (const outcome of batch.outcomes) {
      const before = map.get(outcome.serverId);
      if (outcome.kind === 'tracked') {
        const key = outcome.activity.internetMessageId;
        let activity = this.activities.get(key);
        const linked = activity !== undefined;
        if (!activity) {
          activity = { id: nextId('activity'), mailboxIds: new Set(), activity: outcome.activity };
          this.activities.set(key, activity);
          result.created.push(activity.id);
        } else if (!activity.mailboxIds.has(lease.mailboxId)) result.linked.push(activity.id);
        activity.mailboxIds.add(lease.mailboxId);
        result.activities.push({ internetMessageId: key, activityId: activity.id, linked });
        map.set(outcome.serverId, { kind: 'tracked', internetMessageId: key, attempts: before?.attempts ?? 0, lastError: null, rule: null });
      } else if (outcome.kind === 'filtered') {
        map.set(outcome.serverId, { kind: 'filtered', internetMessageId: outcome.internetMessageId, attempts: before?.attempts ?? 0, lastError: null, rule: outcome.rule });
      } else if (outcome.kind === 'failed') {
        map.set(outcome.serverId, { kind: 'failed', internetMessageId: outcome.internetMessageId ?? before?.internetMessageId ?? null, attempts: (before?.attempts ?? 0) + 1, lastError: `${outcome.error.code}: ${outcome.error.message}`, rule: null });
      } else {
        map.delete(outcome.serverId);
        map.set(outcome.newServerId, { kind: 'undeliverable', internetMessageId: outcome.internetMessageId, attempts: (before?.attempts ?? 0) + 1, lastError: outcome.error.message, rule: null });
      }
    }
    if (batch.cursor !== null) this.cursors.set(`${lease.mailboxId}/${batch.folder}`, batch.cursor);
    return result;
  }

  async pendingFailures(mailboxId: string, limit: number): Promise<PendingFailure[]> {
    return [...this.messagesOf(mailboxId).entries()]
      .filter(([, m]) => m.kind === 'failed')
      .slice(0, limit)
      .map(([serverId, m]) => ({ serverId, internetMessageId: m.internetMessageId, attempts: m.attempts, lastError: m.lastError ?? '' }));
  }

  async claimOutgoing(lease: Lease, limit: number): Promise<OutgoingEmail[]> {
    this.held(lease);
    const out: OutgoingEmail[] = [];
    for (const entry of this.outgoing.values()) {
      if (out.length >= limit) break;
      if (entry.mailboxId !== lease.mailboxId || (entry.status !== 'pending-send' && entry.status !== 'sending')) continue;
      if (entry.notBefore && Date.parse(entry.notBefore) > Date.now()) continue;
      const uncertain = entry.status === 'sending';
      entry.status = 'sending';
      entry.deliveryAttempts += 1;
      out.push({ ...structuredClone(entry.email), deliveryAttempts: entry.deliveryAttempts, uncertain });
    }
    return out;
  }

  async markSent(lease: Lease, activityId: string, sentAt: string): Promise<void> {
    this.held(lease);
    const entry = this.outgoing.get(activityId)!;
    entry.status = 'sent';
    entry.sentAt = sentAt;
  }

  async markSendFailed(lease: Lease, activityId: string, reason: string, final: boolean, alert: AlertInput | null, retryAt: Date | null = null): Promise<void> {
    this.held(lease);
    const entry = this.outgoing.get(activityId)!;
    entry.status = final ? 'failed' : 'pending-send';
    entry.reason = reason;
    entry.notBefore = final ? null : (retryAt?.toISOString() ?? null);
    if (alert) this.alerts.push(alert);
  }

  async startAttempt(lease: Lease, activityId: string, notBefore: Date): Promise<void> {
    this.holdInSending(lease, activityId, notBefore);
  }

  async settleSending(lease: Lease, activityId: string, reason: string, notBefore: Date): Promise<void> {
    this.holdInSending(lease, activityId, notBefore).reason = reason;
  }

  private holdInSending(lease: Lease, activityId: string, notBefore: Date) {
    this.held(lease);
    const entry = this.outgoing.get(activityId)!;
    if (entry.status !== 'sending') throw new Error(`email activity ${activityId} is not in sending`);
    entry.notBefore = notBefore.toISOString();
    return entry;
  }

  async markDeliveryUncertain(lease: Lease, activityId: string, reason: string, alert: AlertInput): Promise<void> {
    this.held(lease);
    const entry = this.outgoing.get(activityId)!;
    entry.status = 'delivery-uncertain';
    entry.reason = reason;
    this.alerts.push(alert);
  }

  async recordCycle(lease: Lease, record: CycleRecord, now: Date): Promise<void> {
    const mailbox = this.held(lease);
    this.cycles.push({ mailboxId: mailbox.id, record });
    if (record.direction === 'incoming') mailbox.incomingStatus = record.status;
    else mailbox.outgoingStatus = record.status;
    mailbox.consecutiveFailures = record.consecutiveFailures;
    mailbox.lastError = record.lastError;
    if (record.status === 'success') mailbox.lastSuccessAt = now.toISOString();
    if (record.disable) mailbox.enabled = false;
    if (record.alert) this.alerts.push(record.alert);
  }

  async raiseAlert(alert: AlertInput): Promise<void> {
    this.alerts.push(alert);
  }

  async failureCounts(since: Date): Promise<Array<{ profileId: string; ownerId: string; processed: number; failed: number; ownerAddress?: string | null }>> {
    void since;
    return [...this.profiles.values()]
      .filter(({ profile }) => profile.notifyOwnerOnFailure)
      .map(({ profile }) => {
        const mine = [...this.mailboxes.values()].filter((m) => m.profileId === profile.id && (m.lastSuccessAt !== null || m.consecutiveFailures > 0));
        return {
          profileId: profile.id,
          ownerId: profile.ownerId,
          processed: mine.length,
          failed: mine.filter((m) => m.consecutiveFailures > 0 || !m.enabled).length,
          ownerAddress: this.owners.get(profile.ownerId) ?? null,
        };
      });
  }

  async claimOwnerNotification(profileId: string, now: Date): Promise<boolean> {
    const last = this.notified.get(profileId);
    if (last !== undefined && now.getTime() - last < 60 * 60_000) return false;
    this.notified.set(profileId, now.getTime());
    return true;
  }

  async queueSystemEmail(input: { to: string; subject: string; bodyText: string }): Promise<string | null> {
    if (!this.organizationSettings.systemNotificationMailboxId) return null;
    this.systemEmails.push(input);
    return this.queueEmail(this.organizationSettings.systemNotificationMailboxId, { to: [{ address: input.to, displayName: null }], subject: input.subject, bodyText: input.bodyText }).activityId;
  }

  readonly lookups: PipelineLookups = {
    activitiesByMessageId: async (messageIds) => {
      const out = new Map<string, { activityId: string; regarding: null; direction: 'incoming' | 'outgoing' }>();
      for (const id of messageIds) {
        const found = this.activities.get(id);
        if (found) out.set(id, { activityId: found.id, regarding: null, direction: 'incoming' });
        const sent = [...this.outgoing.values()].find((o) => o.email.messageId === id);
        if (sent) out.set(id, { activityId: sent.activityId, regarding: null, direction: 'outgoing' });
      }
      return out;
    },
    activityByTrackingToken: async () => null,
    activityByConversation: async () => null,
    recordsByAddress: async () => new Map(),
  };

  /** The missing-mail audit's store: audits, the queue, the schedule per mailbox. */
  readonly audit: MemoryAuditPort = new MemoryAuditPort(this);

  /** A lease check for the audit port's fenced writes. */
  checkLease(lease: Lease): void {
    this.held(lease);
  }

  /** The outcome kinds recorded for a mailbox, by server id. */
  outcomesOf(mailboxId: string): Map<string, MessageRecord> {
    return this.messagesOf(mailboxId);
  }
}
