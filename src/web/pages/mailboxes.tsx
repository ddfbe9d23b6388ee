/** Placeholder until the page is written. */
export function MailboxesPage() { return <p>MailboxesPage</p>; }
export function MailboxPage() { return <p>MailboxPage</p>; }
