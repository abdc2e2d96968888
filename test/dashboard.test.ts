/**
 * The dashboard end to end in headless Chromium (Debian's package) through playwright-core:
 * the page loads, a user is picked, reasons are shown, toggling calibration changes the chart,
 * a persona can be muted, and the models page draws the evaluation charts. Screenshots go to
 * test-artifacts/. Skipped (with the reason) only when no Chromium binary is found.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startMockService, evaluationFixture, type MockService } from './dashboard-mock.js';

const CHROMIUM = process.env.PERSONAE_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const SKIP = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install Debian's chromium or set PERSONAE_CHROMIUM (CI installs it)`;

let browser: Browser | undefined;

before(async () => {
  if (SKIP) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

interface TasteSeries {
  rerank: string;
  categories: string[];
  history: number[];
  list: number[];
}

/** A page that fails the test on any script error or failed request. */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const context = await browser!.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // failed responses are reported (with their URL) by the response handler
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  page.on('request', (req) => {
    if (!req.url().startsWith(url)) problems.push(`request outside the service: ${req.url()}`);
  });
  await page.goto(url);
  return { page, problems };
}

async function tasteSeries(page: Page): Promise<TasteSeries> {
  const raw = await page.locator('[data-testid="taste-chart"]').getAttribute('data-series');
  assert.ok(raw, 'the taste chart carries its plotted data');
  return JSON.parse(raw) as TasteSeries;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
}

test('dashboard against the API shapes (mock service): pick a user, reasons, calibration, mute, models', { skip: SKIP }, async () => {
  const service: MockService = await startMockService();
  try {
    const { page, problems } = await openPage(service.url);

    // the page loads and lists users
    await page.locator('[data-testid="user-link"]').first().waitFor();
    assert.equal(await page.locator('[data-testid="user-link"]').count(), 30);
    assert.match((await page.locator('[data-testid="user-count"]').textContent()) ?? '', /30 of 30 users/);
    assert.equal(await page.locator('[data-testid="model-badge"]').textContent(), 'personas · v3');

    // search filters the list; Enter opens the user
    await page.fill('[data-testid="user-search-input"]', 'u1');
    assert.equal(await page.locator('[data-testid="user-link"]').count(), 11); // u1, u10..u19
    await page.fill('[data-testid="user-search-input"]', 'u7');
    await page.press('[data-testid="user-search-input"]', 'Enter');
    const detail = page.locator('[data-testid="user-detail"][data-state="ready"][data-user="u7"]');
    await detail.waitFor();
    assert.equal(await page.locator('[data-testid="user-title"]').textContent(), 'u7');

    // personas with share, label, anchors
    assert.equal(await page.locator('[data-testid="persona"]').count(), 2);
    assert.deepEqual(await page.locator('[data-testid="persona-label"]').allTextContents(), ['Space Opera', 'Heist / Courtroom Drama']);

    // recommendations, each with its reason; a title with markup is shown as text, not parsed
    const recs = page.locator('[data-testid="rec-item"]');
    assert.equal(await recs.count(), 18);
    const reasons = await page.locator('[data-testid="rec-reason"]').allTextContents();
    assert.equal(reasons.length, 18);
    for (const r of reasons) assert.match(r.replace(/\s+/g, ' '), /^ ?Because of (Space Opera|Heist \/ Courtroom Drama) \((80|70)% of the attention\), like /);
    assert.ok((await page.locator('[data-testid="personas"]').textContent())?.includes('<b>Tom & "Jerry"</b> Heist'));
    assert.equal(await page.locator('[data-testid="personas"] b').count(), 0, 'no markup from data reaches the DOM');

    // the chart plots the uncalibrated list, then the calibrated one after the toggle
    const before = await tasteSeries(page);
    assert.equal(before.rerank, 'none');
    // categories present in the history or the list, the history's largest first
    assert.deepEqual(before.categories, ['Space Opera', 'Heist', 'Time Travel', 'Courtroom Drama']);
    assert.deepEqual(before.history, [0.45, 0.3, 0.15, 0.1]);
    assert.deepEqual(before.list, [0.7, 0.1, 0.15, 0.05]);
    assert.equal(await page.locator('[data-testid="taste-chart"] canvas').count(), 1);
    await shot(page, 'dashboard-user.png');

    await page.click('[data-testid="calibration-switch"]');
    await page.locator('[data-testid="taste-chart"][data-rerank="calibrated:0.5"]').waitFor();
    await detail.waitFor();
    const after = await tasteSeries(page);
    assert.deepEqual(after.categories, ['Space Opera', 'Heist', 'Time Travel', 'Courtroom Drama', 'Western']);
    assert.deepEqual(after.list, [0.44, 0.28, 0.14, 0.12, 0.02]);
    assert.notDeepEqual(after.list.slice(0, 4), before.list);
    assert.deepEqual(after.history, [...before.history, 0]);
    assert.equal(await page.locator('[data-testid="recommendations"]').getAttribute('data-rerank'), 'calibrated:0.5');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __personae: { tasteChart: { rerank: string } } }).__personae.tasteChart.rerank), 'calibrated:0.5');
    await shot(page, 'dashboard-user-calibrated.png');

    // muting a persona sends the PATCH and the list loses that persona's items
    await page.locator('[data-testid="persona"][data-index="0"] [data-testid="persona-mute"]').click();
    await page.locator('[data-testid="persona"][data-index="0"] [data-testid="persona-mute"][aria-pressed="true"]').waitFor();
    await detail.waitFor();
    assert.deepEqual(service.patches, [{ user: 'u7', index: 0, body: { muted: true } }]);
    const afterMute = await page.locator('[data-testid="rec-reason"]').allTextContents();
    assert.ok(afterMute.length > 0 && afterMute.every((r) => r.includes('Heist / Courtroom Drama')));

    // the models page: the active model and four evaluation charts with their intervals
    await page.click('[data-testid="nav-models"]');
    await page.locator('[data-testid="models-body"][data-state="ready"]').waitFor();
    const charts = page.locator('[data-testid="eval-chart"]');
    assert.equal(await charts.count(), 4);
    assert.deepEqual(await charts.evaluateAll((els) => els.map((e) => e.getAttribute('data-metric'))), ['ndcg@20', 'recall@20', 'ckl@20', 'minorityRecall@20']);
    assert.equal(await page.locator('[data-testid="eval-chart"] canvas').count(), 4);
    const ndcg = JSON.parse((await charts.first().getAttribute('data-series')) ?? '{}') as { models: string[]; values: number[]; intervals: [number, number][] };
    const fixture = evaluationFixture();
    assert.deepEqual(ndcg.models, ['pop', 'ease', 'personas']);
    assert.deepEqual(ndcg.values, fixture.models.map((m) => m.metrics['ndcg@20']!.mean));
    assert.deepEqual(ndcg.intervals, fixture.models.map((m) => m.metrics['ndcg@20']!.ci95));
    assert.match((await page.locator('[data-testid="active-model"]').textContent()) ?? '', /personas[\s\S]*3/);
    await shot(page, 'dashboard-models.png');

    assert.deepEqual(problems, []);
  } finally {
    await service.close();
  }
});
