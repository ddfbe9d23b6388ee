/** Placeholder until the page is written. */
export function AlertsPage() { return <p>AlertsPage</p>; }
