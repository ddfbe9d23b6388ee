/** Placeholder until the page is written. */
export function RecordsPage() { return <p>RecordsPage</p>; }
export function RecordFormPage() { return <p>RecordFormPage</p>; }
