/** Placeholder until the page is written. */
export function ProfilesPage() { return <p>ProfilesPage</p>; }
export function ProfileFormPage() { return <p>ProfileFormPage</p>; }
