/** What the mailbox list and a mailbox's page share: the value lists, their labels, and the outcome of an action on a row. */
import type { AuditRun, Mailbox, TestAndEnableOutcome } from '../types.js';
import { formatMs, Status, When } from '../ui.js';

export const APPROVAL_STATUSES = ['empty', 'pending', 'approved', 'rejected'] as const satisfies ReadonlyArray<Mailbox['approvalStatus']>;
export const SYNC_STATUSES = ['not-run', 'success', 'failure'] as const satisfies ReadonlyArray<Mailbox['incomingStatus']>;

export const SERVER_TYPE_LABELS: Record<string, string> = {
  exchange: 'Exchange Server',
  'exchange-online': 'Exchange Online',
  'imap-smtp': 'IMAP/SMTP',
  'pop3-smtp': 'POP3/SMTP',
};

export const METHOD_LABELS: Record<Mailbox['incomingMethod'], string> = {
  none: 'None',
  'server-side-sync': 'Server-side synchronization',
};

/** The outcome of the last action on one row, as its Outcome cell shows it. */
export interface RowOutcome {
  /** A value Status knows (enabled, failed, refused, success, rejected). */
  status: string;
  label: string;
  text: string;
  details: string[];
}

export function testOutcome(outcome: TestAndEnableOutcome): RowOutcome {
  if (outcome.outcome === 'enabled') {
    return { status: 'enabled', label: 'enabled', text: `Tested and enabled in ${formatMs(outcome.result.elapsedMs)}`, details: [] };
  }
  if (outcome.outcome === 'failed') {
    const step = outcome.result?.steps.find((s) => s.status === 'failure');
    return {
      status: 'failed',
      label: 'failed',
      text: step ? `${step.title}: ${step.summary}` : `The test could not finish: ${outcome.error ?? 'no reason given'}`,
      details: step?.fix ? [`Fix: ${step.fix}`] : [],
    };
  }
  return { status: 'refused', label: 'refused', text: 'Not tested:', details: outcome.problems };
}

export function OutcomeView(props: { outcome: RowOutcome | undefined }) {
  const { outcome } = props;
  if (!outcome) return null;
  return (
    <div class="outcome">
      <Status value={outcome.status} label={outcome.label} /> <span>{outcome.text}</span>
      {outcome.details.length > 0 ? (
        <ul>
          {outcome.details.map((d) => (
            <li key={d}>{d}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** The first line of a long error, for a table cell (the mailbox's page has it whole). */
export function shortText(text: string | null, max = 80): string {
  if (!text) return '';
  const line = text.split('\n')[0]!;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * The mailbox's last missing-mail audit: what the server holds against what Liaison recorded, and the missing
 * messages oldest first (docs/SYNC.md "The missing-mail audit").
 */
export function LastAudit(props: { audit: AuditRun | null; queuedNote: string | null }) {
  const { audit } = props;
  const rules = audit ? Object.entries(audit.filteredByRule) : [];
  return (
    <section aria-labelledby="last-audit">
      <h2 id="last-audit">Missing-mail audit</h2>
      {props.queuedNote ? <p class="muted">{props.queuedNote}</p> : null}
      {!audit ? (
        <p class="muted">Not audited yet. Each enabled mailbox is audited daily; Run Audit does it now.</p>
      ) : (
        <>
          <p>
            <Status value={audit.status === 'failed' ? 'failure' : audit.missing > 0 ? 'warning' : 'success'} label={audit.status === 'failed' ? 'failed' : audit.missing > 0 ? `${audit.missing} missing` : 'nothing missing'} />{' '}
            {audit.trigger === 'on-demand' ? 'On demand' : 'Scheduled'}, <When value={audit.finishedAt} />
          </p>
          {audit.status === 'failed' ? (
            <pre class="inline-pre">{audit.error}</pre>
          ) : (
            <dl class="facts audit-counts">
              <dt>On the server</dt>
              <dd>{audit.onServer}</dd>
              <dt>Tracked</dt>
              <dd>{audit.tracked}</dd>
              <dt>Filtered</dt>
              <dd>
                {audit.filtered}
                {rules.length > 0 ? <span class="muted"> ({rules.map(([rule, n]) => `${rule}: ${n}`).join(', ')})</span> : null}
              </dd>
              <dt>Failed</dt>
              <dd>{audit.failed}</dd>
              <dt>Missing</dt>
              <dd>{audit.missing}</dd>
              {audit.gapBeganAt ? (
                <>
                  <dt>The gap began</dt>
                  <dd>
                    <When value={audit.gapBeganAt} />
                  </dd>
                </>
              ) : null}
            </dl>
          )}
          {audit.missingMessages.length > 0 ? (
            <div class="table-wrap">
              <table>
                <caption>Missing messages, oldest first (queued for the next synchronization)</caption>
                <thead>
                  <tr>
                    <th scope="col">Received</th>
                    <th scope="col">Subject</th>
                    <th scope="col">From</th>
                    <th scope="col">Message-ID</th>
                  </tr>
                </thead>
                <tbody>
                  {audit.missingMessages.map((m) => (
                    <tr key={m.serverId}>
                      <td>
                        <When value={m.receivedAt} empty="unknown" />
                      </td>
                      <td>{m.subject ?? ''}</td>
                      <td>{m.from ?? ''}</td>
                      <td>
                        <code>{m.internetMessageId ?? m.serverId}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {audit.missing > audit.missingMessages.length ? <p class="muted">And {audit.missing - audit.missingMessages.length} more.</p> : null}
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}
