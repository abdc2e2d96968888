/**
 * The onboarding page (`#/onboarding`): POST /v1/onboarding starts a session, POST
 * /v1/onboarding/:id/answers answers the open question (a, b, both, neither) and returns the next
 * one with the recommendations so far. The session survives switching tabs; Restart starts anew.
 */
import { api, errorText } from '../api.js';
import type { OnboardingAnswer, OnboardingItem, OnboardingState } from '../api-types.js';
import { byTestId, errorBox, mount, toast, type Page } from '../dom.js';
import { html, type Html } from '../html.js';
import { state } from '../state.js';

const N_ONBOARD = 10;
const ANSWERS: readonly { answer: OnboardingAnswer; label: string; about: string }[] = [
  { answer: 'a', label: 'A', about: 'I would rather watch A' },
  { answer: 'b', label: 'B', about: 'I would rather watch B' },
  { answer: 'both', label: 'Both', about: 'I would watch both' },
  { answer: 'neither', label: 'Neither', about: 'I would watch neither' },
];
/** Incremented on every restart so an answer for an older session is dropped. */
let onboardingSeq = 0;
let onboardingBusy = false;

function setBusy(on: boolean): void {
  const el = byTestId('onboarding');
  onboardingBusy = on;
  el.dataset.state = on ? 'loading' : 'ready';
  for (const b of el.querySelectorAll<HTMLButtonElement>('[data-testid="onb-answer"]')) b.disabled = on;
}

async function startOnboarding(): Promise<void> {
  const el = byTestId('onboarding');
  const seq = ++onboardingSeq;
  state.onboarding = null;
  delete el.dataset.session;
  mount(el, html`<p class="muted">Starting a session…</p>`);
  setBusy(true);
  try {
    const body = await api.startOnboarding(N_ONBOARD);
    if (seq !== onboardingSeq) return;
    state.onboarding = body;
    renderOnboarding(el, body);
  } catch (err) {
    if (seq !== onboardingSeq) return;
    mount(el, errorBox(err));
  } finally {
    if (seq === onboardingSeq) setBusy(false);
  }
}

async function answerOnboarding(answer: OnboardingAnswer): Promise<void> {
  const session = state.onboarding;
  if (!session || !session.question || onboardingBusy) return;
  const el = byTestId('onboarding');
  const seq = onboardingSeq;
  setBusy(true);
  try {
    const body = await api.answerOnboarding(session.id, answer, N_ONBOARD);
    if (seq !== onboardingSeq) return;
    state.onboarding = body;
    renderOnboarding(el, body);
  } catch (err) {
    if (seq !== onboardingSeq) return;
    toast(errorText(err), 'error');
  } finally {
    if (seq === onboardingSeq) setBusy(false);
  }
}

function choiceCard(item: OnboardingItem, letter: 'A' | 'B'): Html {
  return html`<div class="choice" data-testid="onb-choice" data-choice="${letter.toLowerCase()}" data-item="${item.id}">
    <span class="letter" aria-hidden="true">${letter}</span>
    <div class="choice-body">
      <span class="title" data-testid="onb-choice-title"><span class="sr-only">${letter}: </span>${item.title || item.id}</span>
      <div class="chips">${item.categories.map((c) => html`<span class="chip">${c}</span>`)}</div>
    </div>
  </div>`;
}

function renderOnboarding(el: HTMLElement, s: OnboardingState): void {
  const q = s.question;
  el.dataset.session = s.id;
  el.dataset.answered = String(s.answered);
  mount(
    el,
    html`<section class="card onb-question" data-testid="onb-question" aria-labelledby="onb-q-h" ${q ? html`data-a="${q.a.id}" data-b="${q.b.id}"` : ''}>
        <p class="eyebrow">Question ${s.answered + 1}</p>
        ${q
          ? html`<h3 id="onb-q-h">Which would you rather watch: A or B?</h3>
            <div class="pair">${choiceCard(q.a, 'A')}${choiceCard(q.b, 'B')}</div>
            <div class="answers" role="group" aria-label="Your answer">${ANSWERS.map(
              (a) => html`<button type="button" data-testid="onb-answer" data-answer="${a.answer}" aria-label="${a.about}">${a.label}</button>`,
            )}</div>`
          : html`<h3 id="onb-q-h">No more questions</h3><p class="muted">The service has no informative pair left to ask. Restart to begin again.</p>`}
      </section>
      <section class="card" aria-labelledby="onb-recs-h">
        <div class="card-head">
          <h3 id="onb-recs-h">Recommendations so far</h3>
          <p class="muted small" data-testid="onb-count">${s.answered} question${s.answered === 1 ? '' : 's'} answered · ${s.model.name} v${s.model.version}</p>
        </div>
        ${s.items.length === 0
          ? html`<p class="muted" data-testid="onb-empty">Answer a question to get recommendations.</p>`
          : html`<ol class="recs" data-testid="onb-recs">${s.items.map(
              (item, i) => html`<li class="rec" data-testid="onb-rec" data-item="${item.id}">
                <span class="rank" aria-hidden="true">${i + 1}</span>
                <div class="rec-body">
                  <span class="title" data-testid="onb-rec-title">${item.title || item.id}</span>
                  <div class="chips">${item.categories.map((c) => html`<span class="chip">${c}</span>`)}</div>
                </div>
              </li>`,
            )}</ol>`}
      </section>`,
  );
  for (const b of el.querySelectorAll<HTMLButtonElement>('[data-testid="onb-answer"]')) {
    const answer = ANSWERS.find((a) => a.answer === b.dataset.answer);
    if (answer) b.addEventListener('click', () => void answerOnboarding(answer.answer));
  }
}

export const onboardingPage: Page = {
  view: 'onboarding',
  init() {
    byTestId('onb-restart').addEventListener('click', () => void startOnboarding());
  },
  show() {
    document.title = 'Onboarding · personae';
    // a session survives switching tabs; the Restart button starts a new one
    if (!state.onboarding && !onboardingBusy) void startOnboarding();
  },
};
