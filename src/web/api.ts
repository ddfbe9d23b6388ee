/**
 * The console's one way to the API: same-origin fetch with the session cookie, the CSRF token on every request
 * that changes something, and the API's error answer (message and field problems) kept whole for the form that
 * sent it.
 */
export interface FieldProblem {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: FieldProblem[] = [],
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }

  /** The problems for one field (`incomingServer`, `mailboxIds/0`, …), for the message shown next to it. */
  forField(field: string): string | null {
    const found = this.problems.filter((p) => p.field === field || p.field.startsWith(`${field}/`) || p.field.startsWith(`${field}.`));
    return found.length > 0 ? found.map((p) => p.message).join('; ') : null;
  }
}

let csrfToken: string | null = null;
let onSignedOut: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the API answers 401 to a signed-in console: the session expired or was ended elsewhere. */
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function api<T>(method: string, path: string, body?: unknown, options: { quiet401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    throw new ApiError(0, `Liaison did not answer (${(error as Error).message}); check that it is running`);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const answer = (data ?? {}) as { message?: string; problems?: FieldProblem[] };
    const retry = response.headers.get('retry-after');
    if (response.status === 401 && !options.quiet401) onSignedOut?.();
    throw new ApiError(
      response.status,
      answer.message ?? `${response.status} ${response.statusText}`,
      Array.isArray(answer.problems) ? answer.problems : [],
      retry && /^\d+$/.test(retry) ? Number(retry) : null,
    );
  }
  return data as T;
}

export const get = <T>(path: string, query?: Query) => api<T>('GET', withQuery(path, query));
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);
