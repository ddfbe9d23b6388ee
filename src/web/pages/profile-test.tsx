/**
 * Test Connection on a profile's page: runs it through the API's server-sent events (POST with
 * Accept: text/event-stream; EventSource cannot POST), shows each step as it completes, then the result. The
 * profile's last result is shown until a new test runs.
 */
import { useState } from 'preact/hooks';
import { ApiError, type FieldProblem } from '../api.js';
import type { ConnectionTestResult, Profile, StepResult, User } from '../types.js';
import { Field, formatMs, Notice, Status, useSession, When } from '../ui.js';

interface StreamHandlers {
  onStep: (step: StepResult) => void;
  onResult: (result: ConnectionTestResult) => void;
}

/** Reads one server-sent event block (`event:` and `data:` lines). */
function parseEvent(block: string): { event: string; data: string } {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return { event, data: data.join('\n') };
}

/**
 * Runs Test Connection as a stream of events. Refusals (404, 409, 503, 400) come back as JSON errors and are
 * thrown as ApiError, as the console's other calls throw them.
 */
export async function streamTestConnection(profileId: string, csrfToken: string, mailbox: string | null, handlers: StreamHandlers): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`/api/v1/email-server-profiles/${encodeURIComponent(profileId)}/test-connection`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify(mailbox ? { mailbox } : {}),
    });
  } catch (error) {
    throw new ApiError(0, `Liaison did not answer (${(error as Error).message}); check that it is running`);
  }
  const type = response.headers.get('content-type') ?? '';
  if (!response.ok || !type.startsWith('text/event-stream') || !response.body) {
    let answer: { message?: string; problems?: FieldProblem[] } = {};
    try {
      answer = (await response.json()) as typeof answer;
    } catch {
      // not JSON: the status says it
    }
    throw new ApiError(response.status, answer.message ?? `${response.status} ${response.statusText}`, Array.isArray(answer.problems) ? answer.problems : []);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let finished = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const { event, data } = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event === 'step') handlers.onStep(JSON.parse(data) as StepResult);
      else if (event === 'result') {
        handlers.onResult(JSON.parse(data) as ConnectionTestResult);
        finished = true;
      } else if (event === 'error') {
        const answer = JSON.parse(data) as { statusCode: number; message: string };
        throw new ApiError(answer.statusCode, answer.message);
      }
    }
  }
  if (!finished) throw new ApiError(0, 'The connection to Liaison ended before Test Connection finished; run it again');
}

export function TestConnectionPanel(props: { profile: Profile; owner: User | null; dirty: boolean }) {
  const session = useSession();
  const [mailbox, setMailbox] = useState('');
  const [running, setRunning] = useState(false);
  const [steps, setSteps] = useState<StepResult[] | null>(null);
  const [result, setResult] = useState<ConnectionTestResult | null>(props.profile.lastTestResult);
  const [fresh, setFresh] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const run = async () => {
    setRunning(true);
    setError(null);
    setSteps([]);
    setFresh(true);
    try {
      await streamTestConnection(props.profile.id, session.csrfToken, mailbox.trim() || null, {
        onStep: (step) => setSteps((before) => [...(before ?? []), step]),
        onResult: (done) => {
          setResult(done);
          setSteps(null);
        },
      });
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, (caught as Error).message));
    } finally {
      setRunning(false);
    }
  };

  const shown = steps ?? result?.steps ?? null;
  const ownerAddress = props.owner?.email ?? "the owner's address";
  return (
    <section class="test-connection" aria-labelledby="test-heading">
      <h2 id="test-heading">Test Connection</h2>
      <p class="muted">Connects with the saved settings: the server, the sign-in, then opening a mailbox, and says what to fix when a step fails.</p>
      {props.dirty ? <Notice kind="warning">The form has changes that are not saved; the test uses the saved profile.</Notice> : null}
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <Field label="Mailbox to open in step 3" name="testMailbox" hint={`Empty: ${ownerAddress}.`} error={error?.forField('mailbox') ?? null}>
          {(a) => <input {...a} type="email" autoComplete="off" placeholder={props.owner?.email ?? ''} value={mailbox} onInput={(e) => setMailbox((e.currentTarget as HTMLInputElement).value)} />}
        </Field>
        <button type="submit" disabled={running}>
          {running ? 'Testing…' : 'Test Connection'}
        </button>
      </form>
      {error ? (
        <div class="notice error" role="alert">
          <strong>Test Connection did not run to the end: </strong>
          {error.message}
        </div>
      ) : null}
      <div aria-live="polite" class="test-status">
        {running ? (
          <p role="status">
            Testing{steps && steps.length > 0 ? `: step ${steps.length} done` : ''}…
          </p>
        ) : result ? (
          <p class="test-summary">
            {fresh ? 'Result: ' : 'Last test: '}
            <Status value={result.status} /> for <strong>{result.mailbox}</strong>, <When value={result.startedAt} />, in {formatMs(result.elapsedMs)}
            {result.ewsUrl ? (
              <>
                {' '}
                · EWS URL <code>{result.ewsUrl}</code>
              </>
            ) : null}
          </p>
        ) : (
          <p class="muted">Test Connection has not run for this profile yet.</p>
        )}
      </div>
      {shown && shown.length > 0 ? (
        <ol class="steps">
          {shown.map((step, index) => (
            <StepView key={`${index}-${step.step}`} step={step} number={index + 1} />
          ))}
        </ol>
      ) : null}
    </section>
  );
}

function StepView(props: { step: StepResult; number: number }) {
  const { step } = props;
  const answer = step.serverAnswer;
  const headers = answer?.headers ? Object.entries(answer.headers) : [];
  return (
    <li class={`step step-${step.status}`} data-step={step.step}>
      <h3>
        <span class="step-number">Step {props.number}:</span> {step.title} <Status value={step.status} /> <span class="elapsed">{formatMs(step.elapsedMs)}</span>
      </h3>
      <p class="step-summary">{step.summary}</p>
      {step.fix ? (
        <div class="notice warning fix">
          <strong>Fix: </strong>
          {step.fix}
        </div>
      ) : null}
      <dl class="facts">
        {step.protocol ? (
          <>
            <dt>Protocol</dt>
            <dd>{step.protocol.toUpperCase()}</dd>
          </>
        ) : null}
        {step.request ? (
          <>
            <dt>Request</dt>
            <dd class="break">
              <code>
                {step.request.method} {step.request.url}
              </code>
            </dd>
          </>
        ) : null}
        {step.code ? (
          <>
            <dt>Diagnosis</dt>
            <dd>
              <code>{step.code}</code>
            </dd>
          </>
        ) : null}
        {answer ? (
          <>
            <dt>Server answer</dt>
            <dd>
              <ul class="answer">
                {answer.httpStatus !== undefined ? <li>HTTP {answer.httpStatus}</li> : null}
                {answer.responseCode ? (
                  <li>
                    Response code <code>{answer.responseCode}</code>
                  </li>
                ) : null}
                {answer.messageText ? <li>{answer.messageText}</li> : null}
                {headers.map(([name, value]) => (
                  <li key={name} class="break">
                    <code>
                      {name}: {value}
                    </code>
                  </li>
                ))}
              </ul>
              {answer.excerpt ? <pre>{answer.excerpt}</pre> : null}
            </dd>
          </>
        ) : null}
        {step.details && step.details.length > 0 ? (
          <>
            <dt>Details</dt>
            <dd>
              <ul class="details">
                {step.details.map((line, i) => (
                  <li key={i} class="break">
                    {line}
                  </li>
                ))}
              </ul>
            </dd>
          </>
        ) : null}
      </dl>
    </li>
  );
}
