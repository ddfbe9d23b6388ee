/** Plain-text forms of a step's outcome, for alerts (the CLI renders its own, with colour). */
import type { ServerAnswer, StepResult } from './types.js';

/** The server's answer as lines: status, the headers that explain it, the response code and text, an excerpt. */
export function serverAnswerLines(answer: ServerAnswer): string[] {
  const lines: string[] = [];
  if (answer.httpStatus !== undefined) lines.push(`HTTP ${answer.httpStatus}`);
  for (const [name, value] of Object.entries(answer.headers ?? {})) lines.push(`${name}: ${value}`);
  if (answer.responseCode) lines.push(`${answer.responseCode}${answer.messageText ? `: ${answer.messageText}` : ''}`);
  else if (answer.messageText) lines.push(answer.messageText);
  if (answer.excerpt) lines.push(answer.excerpt);
  return lines;
}

/** What an alert keeps as the server's response: the request made and what came back. Null when neither is known. */
export function describeServerResponse(step: StepResult): string | null {
  const lines: string[] = [];
  if (step.request) lines.push(`${step.request.method} ${step.request.url}`);
  if (step.serverAnswer) lines.push(...serverAnswerLines(step.serverAnswer));
  return lines.length > 0 ? lines.join('\n') : null;
}

/** The step that decided a failed result: the first that failed. */
export function failedStep(steps: readonly StepResult[]): StepResult | undefined {
  return steps.find((s) => s.status === 'failure');
}

/** "step 2 (EWS connection)": steps are numbered as the seed documents number them. */
export function stepLabel(step: StepResult, steps: readonly StepResult[]): string {
  return `step ${steps.indexOf(step) + 1} (${step.title})`;
}
