/**
 * Errors the domain and the store raise for the caller to turn into an answer.
 * Each carries a message written for the person who has to fix the input.
 */

export interface FieldProblem {
  /** The field as the API names it (camelCase), or '' for the whole input. */
  field: string;
  message: string;
}

/** Input that breaks a rule; the API answers 400. */
export class ValidationError extends Error {
  readonly problems: FieldProblem[];
  constructor(problems: FieldProblem[] | string) {
    const list = typeof problems === 'string' ? [{ field: '', message: problems }] : problems;
    super(list.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; '));
    this.name = 'ValidationError';
    this.problems = list;
  }
}

/** A referenced record does not exist; the API answers 404. */
export class NotFoundError extends Error {
  constructor(what: string, id: string) {
    super(`${what} ${id} does not exist`);
    this.name = 'NotFoundError';
  }
}

/** The request is valid but the current state refuses it; the API answers 409. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The caller may not do this; the API answers 403. */
export class ForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/** Collects problems so one answer can list every mistake at once. */
export class Problems {
  private readonly list: FieldProblem[] = [];
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
  get any(): boolean {
    return this.list.length > 0;
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw new ValidationError(this.list);
  }
}

/** The caller did not prove who they are (a wrong password, a used setup link); the API answers 401. */
export class UnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

/** Too many failed attempts: refused until the lock ends, whatever is sent; the API answers 429 with Retry-After. */
export class TooManyAttemptsError extends Error {
  constructor(
    message: string,
    /** Seconds until the lock ends (at least 1). */
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'TooManyAttemptsError';
  }
}
