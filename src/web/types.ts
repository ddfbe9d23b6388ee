/**
 * The API's shapes, as the console reads and writes them: the same TypeBox schemas that validate the API's
 * requests and write its OpenAPI document (types only: no schema code reaches the browser).
 */
import type { Static } from '@sinclair/typebox';
import type * as S from '../api/schemas.js';

export type User = Static<typeof S.User>;
export type Queue = Static<typeof S.Queue>;
export type CrmRecord = Static<typeof S.CrmRecord>;
export type Profile = Static<typeof S.Profile>;
export type ProfileCreate = Static<typeof S.ProfileCreate>;
export type ProfileUpdate = Static<typeof S.ProfileUpdate>;
export type ConnectionTestResult = Static<typeof S.ConnectionTestResult>;
export type StepResult = Static<typeof S.StepResult>;
export type Mailbox = Static<typeof S.Mailbox>;
export type MailboxDetail = Static<typeof S.MailboxDetail>;
export type AuditRun = Static<typeof S.AuditRun>;
export type AuditAnswer = Static<typeof S.AuditAnswer>;
export type MailboxUpdate = Static<typeof S.MailboxUpdate>;
export type TestAndEnableResults = Static<typeof S.TestAndEnableResults>;
export type TestAndEnableOutcome = Static<typeof S.TestAndEnableOutcome>;
export type Alert = Static<typeof S.Alert>;
export type Activity = Static<typeof S.Activity>;
export type ActivitySummary = Static<typeof S.ActivitySummary>;
export type ActivityCreate = Static<typeof S.ActivityCreate>;
export type Party = Static<typeof S.Party>;
export type Organization = Static<typeof S.Organization>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The answer of GET/POST /api/v1/session. */
export interface SessionInfo {
  user: User;
  csrfToken: string;
  expiresAt: string;
}
