/** An xs:boolean as the schema defines it: `true`/`1` and `false`/`0`, surrounding white space collapsed. */
export function xsBoolean(text: string | undefined | null): boolean | undefined {
  const value = text?.trim();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return undefined;
}
