/**
 * The jobs page (`#/jobs`): training jobs, newest first, with their progress (GET /v1/jobs; the
 * page polls while one runs), a cancel button on a running job (DELETE /v1/jobs/{id}), and a form
 * that starts a training (POST /v1/models/train). Every route here needs an admin key.
 */
import { api, errorText } from '../api.js';
import type { Job } from '../api-types.js';
import { loadModelBadge } from '../badge.js';
import { byTestId, errorBox, mount, toast, type Page } from '../dom.js';
import { dateTime } from '../format.js';
import { html } from '../html.js';
import { jobProgress } from '../ops.js';
import { state } from '../state.js';

const POLL_MS = 1000;
let timer: ReturnType<typeof setTimeout> | undefined;
let seq = 0;

function visible(): boolean {
  return !byTestId('view-jobs').hidden;
}

function jobRow(j: Job) {
  const p = jobProgress(j);
  return html`<li class="job card-inner" data-testid="job" data-job="${j.id}" data-state="${j.state}">
    <div class="job-top">
      <span class="badge state-${j.state}">${j.state}</span>
      <span class="job-text" data-testid="job-text">${p.text}</span>
      ${j.state === 'running' ? html`<button type="button" data-testid="job-cancel" data-job="${j.id}">Cancel</button>` : ''}
    </div>
    <div class="progress" role="progressbar" aria-label="Progress of job ${j.id}" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${Math.round(100 * p.share)}"><span style="width:${(100 * p.share).toFixed(1)}%"></span></div>
    <p class="muted small">started ${dateTime(j.startedAt)}${j.finishedAt ? html` · finished ${dateTime(j.finishedAt)}` : ''} · <code>${j.id}</code></p>
  </li>`;
}

async function loadJobs(): Promise<void> {
  clearTimeout(timer);
  const el = byTestId('jobs-list');
  const mine = ++seq;
  try {
    const { jobs } = await api.jobs(20);
    if (mine !== seq) return;
    const finished = state.jobs.some((old) => old.state === 'running' && jobs.some((j) => j.id === old.id && j.state === 'done'));
    state.jobs = jobs;
    mount(el, jobs.length === 0 ? html`<p class="muted">No training jobs yet.</p>` : html`<ul class="jobs">${jobs.map(jobRow)}</ul>`);
    for (const b of el.querySelectorAll<HTMLButtonElement>('[data-testid="job-cancel"]')) b.addEventListener('click', () => void cancel(b.dataset.job ?? '', b));
    if (finished) void loadModelBadge();
    if (jobs.some((j) => j.state === 'running') && visible()) timer = setTimeout(() => void loadJobs(), POLL_MS);
  } catch (err) {
    if (mine === seq) mount(el, errorBox(err));
  }
  if (mine === seq) byTestId('jobs-body').dataset.state = 'ready';
}

async function cancel(id: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    await api.cancelJob(id);
    toast('Job cancelled');
  } catch (err) {
    toast(errorText(err), 'error');
  }
  await loadJobs();
}

export const jobsPage: Page = {
  view: 'jobs',
  init() {
    const form = byTestId<HTMLFormElement>('train-form');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const model = (form.elements.namedItem('model') as HTMLInputElement).value.trim();
      const evaluate = (form.elements.namedItem('evaluate') as HTMLInputElement).value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const button = form.querySelector<HTMLButtonElement>('button[type="submit"]');
      if (button) button.disabled = true;
      void api
        .train({ ...(model ? { model } : {}), ...(evaluate.length ? { evaluate } : {}) })
        .then((job) => {
          toast(`Training started (job ${job.id.slice(0, 8)})`);
          return loadJobs();
        })
        .catch((err: unknown) => toast(errorText(err), 'error'))
        .finally(() => {
          if (button) button.disabled = false;
        });
    });
  },
  show() {
    document.title = 'Jobs · personae';
    byTestId('jobs-body').dataset.state = 'loading';
    void loadJobs();
  },
};
