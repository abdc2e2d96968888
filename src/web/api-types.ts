/**
 * The API's response shapes, inferred from the server's zod schemas (src/serve/schemas.ts). Type
 * imports only: nothing of zod or of the server reaches the browser (the compiled file is empty).
 */
import type { z } from 'zod';
import type * as S from '../serve/schemas.js';
import type * as A from '../serve/schemas-admin.js';

export type UserList = z.infer<typeof S.UserList>;
export type UserSummary = UserList['users'][number];
export type Personas = z.infer<typeof S.Personas>;
export type Persona = Personas['personas'][number];
export type Recommendations = z.infer<typeof S.Recommendations>;
export type RecItem = Recommendations['items'][number];
export type Explanation = z.infer<typeof S.Explanation>;
export type FeedbackList = z.infer<typeof S.FeedbackList>;
export type FeedbackEvent = FeedbackList['feedback'][number];
export type TasteMix = z.infer<typeof S.TasteMix>;
export type ModelInfo = z.infer<typeof S.ModelInfo>;
export type ActiveModel = NonNullable<ModelInfo['active']>;
export type Evaluation = z.infer<typeof S.EvaluationView>;
export type EvaluationModel = Evaluation['models'][number];
export type MetricSummary = EvaluationModel['metrics'][string];
export type Comparison = Evaluation['comparisons'][number];
export type OnboardingState = z.infer<typeof S.OnboardingState>;
export type OnboardingItem = OnboardingState['items'][number];
export type ErrorBody = z.infer<typeof S.ErrorBody>;
/** The body of `/readyz` (200 when ready, 503 with the status while loading or training). */
export type Readiness = z.infer<typeof S.Readiness>;
/** The body of PATCH /v1/users/{id}/personas/{index}. */
export type PersonaPatch = z.input<typeof S.PersonaPatch>;
/** An onboarding answer: a, b, both or neither. */
export type OnboardingAnswer = z.input<typeof S.OnboardingAnswerBody>['answer'];
/** The operator routes (src/serve/schemas-admin.ts). */
export type Overview = z.infer<typeof A.Overview>;
export type Job = z.infer<typeof S.Job>;
export type JobList = z.infer<typeof A.JobList>;
export type ModelVersions = z.infer<typeof A.ModelVersions>;
export type ModelVersion = ModelVersions['versions'][number];
export type Activated = z.infer<typeof A.Activated>;
export type ItemAudience = z.infer<typeof A.ItemAudience>;
/** GET /v1/items/{id}/similar. */
export interface Similar {
  item: string;
  items: { id: string; title: string; score: number; categories: string[] }[];
}
/** GET /v1/items/{id}. */
export interface ItemInfo {
  id: string;
  title: string;
  categories: string[];
}
/** POST /v1/feedback. */
export interface FeedbackAccepted {
  accepted: number;
  seqs: number[];
}
