/**
 * A TEST DOUBLE of the DiagnosticsService: it connects to nothing, and answers each test with the result a test
 * scripted for the address. Only for tests of the plumbing around the diagnostics (what the API stores, which
 * alerts it raises, how many tests run at once, how the CLI renders and exits). Tests of the steps themselves
 * use the real service against the sandbox.
 */
import { mailStepLabel } from '../../src/diagnostics/mail.js';
import type { DiagnosticTarget, DiagnosticsService, ExchangeTarget, MailboxTestOptions, MailboxTestResult, MailTarget } from '../../src/diagnostics/service.js';
import { EXCHANGE_STEPS, GRAPH_STEPS, MAIL_STEPS, STEP_TITLES, type StepName, type StepResult, type StepEvent, type ConnectionTestResult } from '../../src/diagnostics/types.js';
import type { StepLabel } from '../../src/diagnostics/steps.js';

/** The steps a target's test has: Exchange's three, Exchange Online's three, or three per mail server with its protocol. */
function stepsOf(target: DiagnosticTarget | null): Array<{ step: StepName } & StepLabel> {
  if (target?.kind === 'graph') return GRAPH_STEPS.map((step) => ({ step, title: STEP_TITLES[step] }));
  if (target?.kind !== 'mail') return EXCHANGE_STEPS.map((step) => ({ step, title: STEP_TITLES[step] }));
  return target.servers.flatMap((server) => MAIL_STEPS.map((step) => ({ step, ...mailStepLabel(server.endpoint.protocol, step) })));
}

export interface ScriptedFailure {
  step: StepName;
  summary?: string;
  code?: string;
  fix?: string;
  request?: StepResult['request'];
  serverAnswer?: StepResult['serverAnswer'];
  details?: readonly string[];
}

/**
 * A result of the target's steps (Exchange's three by default): all passed, or the named one (the first of that
 * name) failed and the later ones skipped.
 */
export function scriptedResult(email: string, failure: ScriptedFailure | null, ewsUrl = 'https://mail.contoso.test/EWS/Exchange.asmx', target: DiagnosticTarget | null = null): MailboxTestResult {
  const order = stepsOf(target);
  const failedAt = failure ? order.findIndex((s) => s.step === failure.step) : order.length;
  const steps: StepResult[] = order.map(({ step, title, protocol }, index): StepResult => {
    const named = { step, title, ...(protocol ? { protocol } : {}) };
    if (index < failedAt) return { ...named, status: 'success', elapsedMs: 10 + index, summary: `${title} passed (double)` };
    if (index > failedAt) return { ...named, status: 'skipped', elapsedMs: 0, summary: `not run: step ${failedAt + 1} failed` };
    return {
      ...named,
      status: 'failure',
      elapsedMs: 25,
      summary: failure!.summary ?? `${title} failed (double)`,
      ...(failure!.code ? { code: failure!.code } : {}),
      ...(failure!.fix ? { fix: failure!.fix } : {}),
      ...(failure!.request ? { request: failure!.request } : {}),
      ...(failure!.serverAnswer ? { serverAnswer: failure!.serverAnswer } : {}),
      ...(failure!.details ? { details: [...failure!.details] } : {}),
    };
  });
  return {
    status: failure ? 'failure' : 'success',
    startedAt: new Date().toISOString(),
    elapsedMs: steps.reduce((sum, s) => sum + s.elapsedMs, 0),
    mailbox: email,
    ...((failure && failedAt === 0) || target?.kind === 'mail' || target?.kind === 'graph' ? {} : { ewsUrl }),
    steps,
  };
}

export interface DoubleCall<T extends DiagnosticTarget = DiagnosticTarget> {
  kind: 'connection' | 'mailbox';
  target: T;
  options?: MailboxTestOptions;
}

/** What the double does for one address: a result, or a fault (it throws, as a bug in the service would). */
export type Script = (target: DiagnosticTarget) => { failure: ScriptedFailure | null; ewsUrl?: string } | { throws: string };

export class DiagnosticsDouble implements DiagnosticsService {
  readonly calls: DoubleCall[] = [];

  /** The calls with an Exchange target (most plumbing tests test Exchange profiles). */
  get exchangeCalls(): Array<DoubleCall<ExchangeTarget>> {
    return this.calls.filter((c): c is DoubleCall<ExchangeTarget> => c.target.kind === 'exchange');
  }

  get mailCalls(): Array<DoubleCall<MailTarget>> {
    return this.calls.filter((c): c is DoubleCall<MailTarget> => c.target.kind === 'mail');
  }
  inFlight = 0;
  maxInFlight = 0;
  private holdDeadline: number | undefined;

  constructor(
    private readonly script: Script = () => ({ failure: null }),
    /** How long each step takes (between its start and end events). */
    private readonly delayMs = 0,
    /**
     * Holds every test until this many have been in flight at once (or 1 s after the first began), so that a test of
     * parallelism does not depend on how fast the database answers.
     */
    private readonly holdUntilInFlight = 0,
  ) {}

  testConnection = async (target: DiagnosticTarget, onEvent?: (e: StepEvent) => void): Promise<ConnectionTestResult> => this.run({ kind: 'connection', target }, onEvent);

  testMailbox = async (target: DiagnosticTarget, options: MailboxTestOptions, onEvent?: (e: StepEvent) => void): Promise<MailboxTestResult> =>
    this.run({ kind: 'mailbox', target, options }, onEvent);

  private async run(call: DoubleCall, onEvent?: (e: StepEvent) => void): Promise<MailboxTestResult> {
    this.calls.push(call);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const plan = this.script(call.target);
      this.holdDeadline ??= Date.now() + 1000;
      while (this.maxInFlight < this.holdUntilInFlight && Date.now() < this.holdDeadline) await new Promise((resolve) => setTimeout(resolve, 5));
      if ('throws' in plan) {
        if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
        throw new Error(plan.throws);
      }
      const result = scriptedResult(call.target.email, plan.failure, plan.ewsUrl, call.target);
      for (const step of result.steps) {
        if (step.status !== 'skipped') {
          onEvent?.({ type: 'start', step: step.step, title: step.title, ...(step.protocol ? { protocol: step.protocol } : {}) });
          if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
        }
        onEvent?.({ type: 'end', result: step });
      }
      return result;
    } finally {
      this.inFlight -= 1;
    }
  }
}
