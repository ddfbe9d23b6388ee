/** Placeholder until the page is written. */
export function DashboardPage() { return <p>DashboardPage</p>; }
