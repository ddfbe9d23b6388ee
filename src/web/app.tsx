/** The console's frame: signing in, the navigation, and which page the address shows. */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setCsrfToken, whenSignedOut } from './api.js';
import { ActivitiesPage, ActivityPage, ComposePage } from './pages/activities.js';
import { AlertsPage } from './pages/alerts.js';
import { DashboardPage } from './pages/dashboard.js';
import { LoginPage, SetupPage } from './pages/login.js';
import { MailboxesPage, MailboxPage } from './pages/mailboxes.js';
import { ProfileFormPage, ProfilesPage } from './pages/profiles.js';
import { RecordsPage, RecordFormPage } from './pages/records.js';
import { match, navigate, useLocation } from './router.js';
import type { SessionInfo } from './types.js';
import { Loading, SessionContext } from './ui.js';

type PageComponent = (props: { params: Record<string, string>; query: URLSearchParams }) => JSX.Element;

interface Route {
  pattern: string;
  page: PageComponent;
  adminOnly?: boolean;
}

/** Every page; the first match wins, so fixed paths come before `:id` ones. */
const ROUTES: Route[] = [
  { pattern: '/', page: DashboardPage },
  { pattern: '/profiles', page: ProfilesPage, adminOnly: true },
  { pattern: '/profiles/new', page: ProfileFormPage, adminOnly: true },
  { pattern: '/profiles/:id', page: ProfileFormPage, adminOnly: true },
  { pattern: '/mailboxes', page: MailboxesPage },
  { pattern: '/mailboxes/:id', page: MailboxPage },
  { pattern: '/activities', page: ActivitiesPage },
  { pattern: '/activities/new', page: ComposePage },
  { pattern: '/activities/:id', page: ActivityPage },
  { pattern: '/alerts', page: AlertsPage },
  { pattern: '/records/:kind', page: RecordsPage },
  { pattern: '/records/:kind/new', page: RecordFormPage },
  { pattern: '/records/:kind/:id', page: RecordFormPage },
];

const NAV: Array<{ href: string; label: string; adminOnly?: boolean }> = [
  { href: '/', label: 'Dashboard' },
  { href: '/profiles', label: 'Email Server Profiles', adminOnly: true },
  { href: '/mailboxes', label: 'Mailboxes' },
  { href: '/activities', label: 'Email activities' },
  { href: '/alerts', label: 'Alerts' },
  { href: '/records/contacts', label: 'Contacts' },
  { href: '/records/accounts', label: 'Accounts' },
  { href: '/records/leads', label: 'Leads' },
  { href: '/records/users', label: 'Users', adminOnly: true },
  { href: '/records/queues', label: 'Queues' },
];

function isCurrent(href: string, path: string): boolean {
  return href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
}

export function App() {
  const location = useLocation();
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    whenSignedOut(() => {
      setCsrfToken(null);
      setSession(null);
    });
    api<SessionInfo>('GET', '/session', undefined, { quiet401: true })
      .then((info) => {
        setCsrfToken(info.csrfToken);
        setSession(info);
      })
      .catch((error: unknown) => {
        if (!(error instanceof ApiError) || error.status !== 401) console.error(error);
        setSession(null);
      });
  }, []);

  useEffect(() => setMenuOpen(false), [location.path]);

  if (location.path === '/setup') {
    return (
      <SetupPage
        onSignedIn={(info) => {
          setCsrfToken(info.csrfToken);
          setSession(info);
          navigate('/', { replace: true });
        }}
      />
    );
  }
  if (session === undefined) return <Loading />;
  if (session === null) {
    return (
      <LoginPage
        onSignedIn={(info) => {
          setCsrfToken(info.csrfToken);
          setSession(info);
        }}
      />
    );
  }

  const signOut = async () => {
    try {
      await api('DELETE', '/session');
    } finally {
      setCsrfToken(null);
      setSession(null);
      navigate('/', { replace: true });
    }
  };

  let content: JSX.Element = (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no page at <code>{location.path}</code>. <a href="/">Go to the dashboard</a>.
      </p>
    </section>
  );
  for (const route of ROUTES) {
    const params = match(route.pattern, location.path);
    if (!params) continue;
    const Page = route.page;
    content =
      route.adminOnly && !session.user.isAdmin ? (
        <section>
          <h1>Administrators only</h1>
          <p role="alert">Only an administrator may open this page. You are signed in as {session.user.email}.</p>
        </section>
      ) : (
        <Page params={params} query={location.query} />
      );
    break;
  }

  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          Liaison
        </a>
        <button type="button" class="menu-button" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <nav id="nav" aria-label="Main" class={menuOpen ? 'open' : ''}>
          <ul>
            {NAV.filter((item) => !item.adminOnly || session.user.isAdmin).map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={isCurrent(item.href, location.path) ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title={session.user.isAdmin ? 'Administrator' : 'User'}>{session.user.name}</span>
          <button type="button" class="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {content}
      </main>
    </SessionContext.Provider>
  );
}
