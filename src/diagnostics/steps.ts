/**
 * Running one step of a test: timed, announced (start, end) for the analyzer's live output, its outcome turned into
 * the StepResult that the API, the console and the CLI show. Exchange and the mail protocols share it.
 */
import type { Diagnosis } from './explain.js';
import { STEP_TITLES, type StepEvent, type StepName, type StepProtocol, type StepResult } from './types.js';

export type Emit = (event: StepEvent) => void;

export interface StepOutcome {
  status: 'success' | 'failure' | 'skipped';
  summary: string;
  request?: { method: string; url: string };
  diagnosis?: Diagnosis;
  details?: string[];
}

/** How a step is named: its title (STEP_TITLES by default) and, on mail tests, its protocol. */
export interface StepLabel {
  title: string;
  protocol?: StepProtocol;
}

function labelOf(step: StepName, label?: StepLabel): StepLabel {
  return label ?? { title: STEP_TITLES[step] };
}

function named(step: StepName, label: StepLabel): Pick<StepResult, 'step' | 'title' | 'protocol'> {
  return { step, title: label.title, ...(label.protocol ? { protocol: label.protocol } : {}) };
}

export async function runStep(step: StepName, emit: Emit, body: () => Promise<StepOutcome>, label?: StepLabel): Promise<StepResult> {
  const name = labelOf(step, label);
  emit({ type: 'start', step, title: name.title, ...(name.protocol ? { protocol: name.protocol } : {}) });
  const started = performance.now();
  let outcome: StepOutcome;
  try {
    outcome = await body();
  } catch (error) {
    // A step body returns its failures; what escapes is unexpected, and still reported, never swallowed.
    outcome = { status: 'failure', summary: `Unexpected error: ${(error as Error).message}`, diagnosis: { code: 'internal', summary: (error as Error).message, fix: 'This is a bug in Liaison; please report it with this text' } };
  }
  const result: StepResult = {
    ...named(step, name),
    status: outcome.status,
    elapsedMs: Math.round(performance.now() - started),
    summary: outcome.diagnosis && outcome.status === 'failure' ? outcome.diagnosis.summary : outcome.summary,
  };
  if (outcome.request) result.request = outcome.request;
  if (outcome.diagnosis) {
    result.code = outcome.diagnosis.code;
    if (outcome.diagnosis.serverAnswer) result.serverAnswer = outcome.diagnosis.serverAnswer;
    if (outcome.diagnosis.fix) result.fix = outcome.diagnosis.fix;
  }
  const details = [...(outcome.details ?? []), ...(outcome.diagnosis?.details ?? [])];
  if (details.length > 0) result.details = details;
  emit({ type: 'end', result });
  return result;
}

export function skipped(step: StepName, emit: Emit, why: string, label?: StepLabel): StepResult {
  const name = labelOf(step, label);
  const result: StepResult = { ...named(step, name), status: 'skipped', elapsedMs: 0, summary: why };
  emit({ type: 'start', step, title: name.title, ...(name.protocol ? { protocol: name.protocol } : {}) });
  emit({ type: 'end', result });
  return result;
}
