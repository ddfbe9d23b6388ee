/**
 * The dashboard (/): how the mailboxes are doing, the email tracked per hour, what waits to be sent. It stays
 * current through the server's event stream (/api/v1/events), and reads GET /dashboard every 10 s while the
 * stream is not available.
 */
import type { Static } from '@sinclair/typebox';
import { useEffect, useState } from 'preact/hooks';
import type * as S from '../../api/schemas.js';
import { ApiError, get } from '../api.js';
import { asApiError, ErrorNotice, Loading, PageHeader, useSession, When } from '../ui.js';
import './dashboard.css';

type Dashboard = Static<typeof S.Dashboard>;
type ProfileRow = Dashboard['profiles'][number];

/** How often the page reads GET /dashboard while the stream is down, and how often it tries the stream again. */
const POLL_MS = 10_000;
const STREAM_RETRY_MS = 60_000;

type Mode = 'connecting' | 'live' | 'polling';

interface LiveState {
  data: Dashboard | null;
  error: ApiError | null;
  updatedAt: Date | null;
  mode: Mode;
}

/** The dashboard, from the event stream while it runs, from GET /dashboard every 10 s while it does not. */
function useLiveDashboard(): LiveState {
  const [state, setState] = useState<LiveState>({ data: null, error: null, updatedAt: null, mode: 'connecting' });
  useEffect(() => {
    let stopped = false;
    let source: EventSource | null = null;
    let pollTimer: ReturnType<typeof setTimeout> | null = null;
    let lastStreamTry = 0;
    let polling = false;

    const received = (data: Dashboard, mode: Mode) => {
      if (!stopped) setState({ data, error: null, updatedAt: new Date(), mode });
    };

    const poll = async () => {
      pollTimer = null;
      try {
        received(await get<Dashboard>('/dashboard'), 'polling');
        if (Date.now() - lastStreamTry >= STREAM_RETRY_MS) {
          polling = false;
          openStream();
          return;
        }
      } catch (error) {
        if (!stopped) setState((s) => ({ ...s, error: asApiError(error), mode: 'polling' }));
        // Signed out: the frame shows the sign-in page; nothing more to read.
        if (error instanceof ApiError && error.status === 401) return;
      }
      if (!stopped) pollTimer = setTimeout(() => void poll(), POLL_MS);
    };

    const fallBack = () => {
      source?.close();
      source = null;
      if (stopped || polling) return;
      polling = true;
      setState((s) => ({ ...s, mode: 'polling' }));
      void poll();
    };

    function openStream() {
      if (stopped) return;
      lastStreamTry = Date.now();
      if (typeof EventSource === 'undefined') return fallBack();
      source = new EventSource('/api/v1/events');
      source.addEventListener('dashboard', (event) => {
        try {
          received(JSON.parse((event as MessageEvent<string>).data) as Dashboard, 'live');
        } catch {
          fallBack();
        }
      });
      // The server ended the stream (it is stopping, or the session ended): read the dashboard instead, which
      // also finds out whether we are still signed in.
      source.addEventListener('end', fallBack);
      source.onerror = fallBack;
    }

    openStream();
    return () => {
      stopped = true;
      source?.close();
      if (pollTimer) clearTimeout(pollTimer);
    };
  }, []);
  return state;
}

/** Re-renders every `ms`, for the "… ago" texts. */
function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'less than a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

const hourFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
/** Axis labels: the hour alone, in the browser's own convention ("14" or "2 PM"). */
const tickFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric' });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

function mailboxesLink(profileId: string | null, status: 'success' | 'failure' | 'not-run' | 'disabled'): string {
  const query = new URLSearchParams({ profileId: profileId ?? 'none' });
  if (status === 'disabled') query.set('enabled', 'false');
  else {
    query.set('status', status);
    query.set('enabled', 'true');
  }
  return `/mailboxes?${query.toString()}`;
}

function Count(props: { n: number; href: string; label: string }) {
  if (props.n === 0) return <span class="muted">0</span>;
  return (
    <a href={props.href} aria-label={`${props.n} ${props.label}`}>
      {props.n}
    </a>
  );
}

function ProfileTable(props: { rows: ProfileRow[]; isAdmin: boolean }) {
  if (props.rows.length === 0) return <p class="muted">No mailboxes yet.</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">Mailboxes by email server profile and status</caption>
        <thead>
          <tr>
            <th scope="col">Profile</th>
            <th scope="col">Success</th>
            <th scope="col">Failure</th>
            <th scope="col">Not run</th>
            <th scope="col">Disabled</th>
            <th scope="col">Total</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => {
            const name = row.profileId === null ? 'No profile' : (row.profileName ?? row.profileId);
            return (
              <tr key={row.profileId ?? 'none'}>
                <th scope="row">{row.profileId && props.isAdmin ? <a href={`/profiles/${row.profileId}`}>{name}</a> : name}</th>
                <td>
                  <Count n={row.counts.success} href={mailboxesLink(row.profileId, 'success')} label={`${name} mailboxes succeeding`} />
                </td>
                <td>
                  <span class={row.counts.failure > 0 ? 'count-bad' : ''}>
                    <Count n={row.counts.failure} href={mailboxesLink(row.profileId, 'failure')} label={`${name} mailboxes failing`} />
                  </span>
                </td>
                <td>
                  <Count n={row.counts.notRun} href={mailboxesLink(row.profileId, 'not-run')} label={`${name} mailboxes not run yet`} />
                </td>
                <td>
                  <Count n={row.counts.disabled} href={mailboxesLink(row.profileId, 'disabled')} label={`${name} mailboxes disabled`} />
                </td>
                <td>{row.total}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function FailingTable(props: { rows: Dashboard['failing']; total: number }) {
  if (props.rows.length === 0) return <p class="muted">No mailbox is failing.</p>;
  return (
    <>
      {props.total > props.rows.length ? (
        <p class="muted">
          The {props.rows.length} of {props.total} failing mailboxes that failed most. <a href="/mailboxes?status=failure&enabled=true">All failing mailboxes</a>
        </p>
      ) : null}
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Failing mailboxes, most consecutive failures first</caption>
          <thead>
            <tr>
              <th scope="col">Mailbox</th>
              <th scope="col">Profile</th>
              <th scope="col">Failures in a row</th>
              <th scope="col">Last error</th>
              <th scope="col">Last success</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((m) => (
              <tr key={m.id}>
                <td>
                  <a href={`/mailboxes/${m.id}`}>{m.emailAddress || m.name || m.id}</a>
                  {m.name && m.emailAddress ? <div class="muted">{m.name}</div> : null}
                </td>
                <td>{m.profileName ?? <span class="muted">—</span>}</td>
                <td>{m.consecutiveFailures}</td>
                <td class="last-error">{m.lastError ?? <span class="muted">—</span>}</td>
                <td>
                  <When value={m.lastSuccessAt} empty="never" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

const CHART = { width: 480, height: 150, top: 12, bottom: 22, gap: 4 } as const;

/** The email tracked per hour: a bar chart drawn with SVG attributes only (no inline styles), and its numbers as a table. */
function TrackedChart(props: { buckets: Dashboard['trackedPerHour'] }) {
  const { buckets } = props;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const total = buckets.reduce((n, b) => n + b.count, 0);
  const busiest = buckets.reduce((best, b) => (b.count > best.count ? b : best), buckets[0] ?? { hour: '', count: 0 });
  const slot = CHART.width / Math.max(1, buckets.length);
  const plot = CHART.height - CHART.top - CHART.bottom;
  const label =
    total === 0
      ? 'Email tracked per hour over the last 24 hours: none.'
      : `Email tracked per hour over the last 24 hours: ${total} in all; the busiest hour ${hourFormat.format(new Date(busiest.hour))} with ${busiest.count}.`;
  return (
    <figure class="chart">
      <svg role="img" aria-label={label} viewBox={`0 0 ${CHART.width} ${CHART.height}`}>
        <line class="axis" x1={0} x2={CHART.width} y1={CHART.height - CHART.bottom} y2={CHART.height - CHART.bottom} />
        {buckets.map((b, i) => {
          const h = b.count === 0 ? 0 : Math.max(2, (b.count / max) * plot);
          const x = i * slot + CHART.gap / 2;
          return (
            <g key={b.hour}>
              <rect class={i === buckets.length - 1 ? 'bar current' : 'bar'} x={x} width={slot - CHART.gap} y={CHART.height - CHART.bottom - h} height={h}>
                <title>{`${hourFormat.format(new Date(b.hour))}: ${b.count}`}</title>
              </rect>
              {b.count > 0 ? (
                <text class="bar-value" x={x + (slot - CHART.gap) / 2} y={CHART.height - CHART.bottom - h - 2} text-anchor="middle">
                  {b.count}
                </text>
              ) : null}
              {i % 6 === 0 || i === buckets.length - 1 ? (
                // The first and last labels are anchored inside the chart so that they are not cut off.
                <text
                  class="tick"
                  x={i === 0 ? x : i === buckets.length - 1 ? x + slot - CHART.gap : x + (slot - CHART.gap) / 2}
                  y={CHART.height - 6}
                  text-anchor={i === 0 ? 'start' : i === buckets.length - 1 ? 'end' : 'middle'}
                >
                  {tickFormat.format(new Date(b.hour))}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption class="muted">Incoming email Liaison recorded each hour (your time); the last bar is the current hour so far.</figcaption>
      <table class="visually-hidden">
        <caption>Email tracked per hour</caption>
        <thead>
          <tr>
            <th scope="col">Hour starting</th>
            <th scope="col">Emails</th>
          </tr>
        </thead>
        <tbody>
          {buckets.map((b) => (
            <tr key={b.hour}>
              <td>
                <time dateTime={b.hour}>{hourFormat.format(new Date(b.hour))}</time>
              </td>
              <td>{b.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function ageSince(since: string | null, now: number): string {
  return since ? formatAge(Math.max(0, now - Date.parse(since))) : '—';
}

export function DashboardPage() {
  const { user } = useSession();
  const { data, error, updatedAt, mode } = useLiveDashboard();
  const now = useNow(30_000);

  const subtitle = (
    <span data-testid="updated">
      {updatedAt ? (
        <>
          Updated <time dateTime={updatedAt.toISOString()}>{timeFormat.format(updatedAt)}</time>
          {mode === 'live' ? ' · live' : mode === 'polling' ? ' · refreshed every 10 s (the live stream is not available)' : ''}
        </>
      ) : (
        'Connecting…'
      )}
      {user.isAdmin ? null : ' · your mailboxes and your queues\''}
    </span>
  );

  if (!data) {
    return (
      <section>
        <PageHeader title="Dashboard" subtitle={subtitle} />
        <ErrorNotice error={error} />
        {error ? null : <Loading what="the dashboard" />}
      </section>
    );
  }

  const { totals, pendingSend, oldestUnsynced } = data;
  return (
    <section class="dashboard">
      <PageHeader title="Dashboard" subtitle={subtitle} />
      <ErrorNotice error={error} />
      <div class="cards">
        <div class="card">
          <h2>Tracked today</h2>
          <p class="number" data-testid="tracked-today">
            {totals.trackedToday}
          </p>
          <p class="muted">
            <span data-testid="tracked-24h">{totals.trackedLast24Hours}</span> in the last 24 hours (today counts from 00:00 UTC)
          </p>
        </div>
        <div class="card">
          <h2>Mailboxes</h2>
          <p class="number" data-testid="mailboxes-total">
            {totals.mailboxes}
          </p>
          <p class="muted">
            <a href="/mailboxes?enabled=true">{totals.enabled} enabled</a>
          </p>
        </div>
        <div class={`card${totals.failing > 0 ? ' card-bad' : ''}`}>
          <h2>Failing</h2>
          <p class="number" data-testid="failing-total">
            {totals.failing}
          </p>
          <p class="muted">{totals.failing > 0 ? <a href="/mailboxes?status=failure&enabled=true">Failing mailboxes</a> : 'Every enabled mailbox is fine'}</p>
        </div>
        <div class="card">
          <h2>Waiting to be sent</h2>
          <p class="number" data-testid="pending-send">
            {pendingSend.count}
          </p>
          <p class="muted">
            {pendingSend.count > 0 ? (
              <>
                the oldest for {ageSince(pendingSend.oldestSince, now)}
                {pendingSend.sending > 0 ? `; ${pendingSend.sending} being sent` : ''} · <a href="/activities?status=pending-send">Pending</a>
              </>
            ) : (
              'Nothing waits'
            )}
          </p>
          {pendingSend.deliveryUncertain > 0 ? (
            <p>
              <a class="uncertain" href="/activities?status=delivery-uncertain">
                {pendingSend.deliveryUncertain} with uncertain delivery
              </a>{' '}
              need a decision
            </p>
          ) : null}
        </div>
        <div class="card">
          <h2>Oldest unsynced</h2>
          {oldestUnsynced ? (
            <>
              <p class="oldest">
                <a href={`/mailboxes/${oldestUnsynced.id}`}>{oldestUnsynced.emailAddress || oldestUnsynced.name}</a>
              </p>
              <p class="muted">
                {oldestUnsynced.lastSuccessAt ? (
                  <>
                    last synchronized {ageSince(oldestUnsynced.lastSuccessAt, now)} ago (<When value={oldestUnsynced.lastSuccessAt} />)
                  </>
                ) : (
                  <>never synchronized; waiting {ageSince(oldestUnsynced.since, now)}</>
                )}
              </p>
            </>
          ) : (
            <p class="muted">No mailbox is enabled.</p>
          )}
        </div>
      </div>

      <h2>Email tracked per hour</h2>
      <TrackedChart buckets={data.trackedPerHour} />

      <h2>Failing mailboxes</h2>
      <FailingTable rows={data.failing} total={totals.failing} />

      <h2>Mailboxes by profile</h2>
      <ProfileTable rows={data.profiles} isAdmin={user.isAdmin} />
    </section>
  );
}
