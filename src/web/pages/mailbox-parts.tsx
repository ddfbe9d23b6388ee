/** What the mailbox list and a mailbox's page share: the value lists, their labels, and the outcome of an action on a row. */
import type { Mailbox, TestAndEnableOutcome } from '../types.js';
import { formatMs, Status } from '../ui.js';

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
