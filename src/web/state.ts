/** What the page shows now; exposed as `window.__personae` for debugging and the browser test. */
import type { ActiveModel, Evaluation, ItemAudience, Job, ModelVersions, OnboardingState, Overview, Personas, Recommendations, Similar, TasteMix, UserSummary } from './api-types.js';
import type { StudyView } from './ops.js';
import type { TastePlot } from './specs.js';

export const state = {
  users: [] as UserSummary[],
  usersTotal: 0,
  usersLoaded: false,
  userId: null as string | null,
  calibrated: false,
  /** Incremented on every user load so a slow answer for an old user is dropped. */
  seq: 0,
  /** Requests in flight for the open user (the panel is data-state="ready" at 0). */
  pending: 0,
  personas: null as Personas | null,
  recommendations: null as Recommendations | null,
  tasteMix: null as TasteMix | null,
  /** What the taste chart currently plots. */
  tasteChart: null as TastePlot | null,
  evaluation: null as Evaluation | null,
  model: null as ActiveModel | null,
  /** The open onboarding session: the last answer of POST /v1/onboarding[/:id/answers]. */
  onboarding: null as OnboardingState | null,
  /** The overview page's last answer. */
  overview: null as Overview | null,
  /** The open item page: the item, its neighbours and its audience so far. */
  itemId: null as string | null,
  similar: null as Similar | null,
  audience: null as ItemAudience | null,
  jobs: [] as Job[],
  versions: null as ModelVersions | null,
  /** The study file shown on the models page (kept in this browser). */
  study: null as StudyView | null,
};

export type State = typeof state;
