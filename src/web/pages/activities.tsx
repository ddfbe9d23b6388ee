/** Placeholder until the page is written. */
export function ActivitiesPage() { return <p>ActivitiesPage</p>; }
export function ActivityPage() { return <p>ActivityPage</p>; }
export function ComposePage() { return <p>ComposePage</p>; }
