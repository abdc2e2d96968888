/**
 * The dashboard's DOM-free modules (src/web): escaping, number and axis formatting, and what each
 * chart plots. The page itself is driven in Chromium by test/dashboard.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EvaluationJson } from '../src/eval/results.js';
import type { Evaluation } from '../src/web/api-types.js';
import { attentionText, axisTicks, compareIds, decimalsFor, errorMessage, hedgeText, listLegend, num, pct, personaName, scoreText, when, withheldText } from '../src/web/format.js';
import { escapeText, html, Html } from '../src/web/html.js';
import { viaLine, viaText } from '../src/web/via.js';
import { barChartSpec, chartK, evalCharts, klDivergence, personaColor, tasteSpec, HISTORY_COLOR, LIST_COLOR, PERSONA_COLORS } from '../src/web/specs.js';
import { batches, headlineMetric, jobProgress, parseFeedbackJsonl, parseStudy, studyChartSpec, timelineSpec, versionMetricText, xyChartSpec } from '../src/web/ops.js';
import { METRICS } from '../src/sim/feedback.js';
import { loopCharts } from '../src/study/feedback-loop.js';
import { evaluationFixture, studyFixture } from './dashboard-mock.js';

// The server's evaluation document is what the dashboard's Evaluation type reads: this fails to
// compile if EvaluationJson (src/eval/results.ts) and the EvaluationView schema drift apart.
const asEvaluation = (e: EvaluationJson): Evaluation => e;

test('escapeText: the HTML special characters and both quotes become character references', () => {
  assert.equal(escapeText(`<b>Tom & "Jerry"</b> 'n' \`x\``), '&#60;b&#62;Tom &#38; &#34;Jerry&#34;&#60;/b&#62; &#39;n&#39; &#96;x&#96;');
  assert.equal(escapeText('plain text, 42 / 7'), 'plain text, 42 / 7');
  assert.equal(escapeText(3.5), '3.5');
});

test('html``: values are escaped, nested html`` is kept, null/undefined/false render nothing, arrays join', () => {
  const title = '<img src=x onerror=alert(1)>';
  assert.equal(html`<p>${title}</p>`.s, '<p>&#60;img src=x onerror=alert(1)&#62;</p>');
  assert.equal(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.s, '<ul><li>a&#60;</li><li>b</li></ul>');
  assert.equal(html`[${null}${undefined}${false}${0}${''}]`.s, '[0]');
  assert.ok(html`x` instanceof Html);
  assert.equal(String(html`<i>${'&'}</i>`), '<i>&#38;</i>');
});

test('html``: a quote in an attribute value cannot end the attribute', () => {
  const id = `x" onclick="alert(1)`;
  const out = html`<a data-user="${id}" title='${"it's"}'>${id}</a>`.s;
  assert.equal(out, '<a data-user="x&#34; onclick=&#34;alert(1)" title=\'it&#39;s\'>x&#34; onclick=&#34;alert(1)</a>');
  assert.ok(!/onclick="/.test(out));
});

test("html``: a model spec with ':' and '=' stays exactly as written, as text and in attributes", () => {
  for (const spec of ['personas:k=1', 'personas:k=1,dim=32', 'calibrated:0.5', 'ease:lambda=50']) {
    assert.equal(html`<th data-metric="${spec}">${spec}</th>`.s, `<th data-metric="${spec}">${spec}</th>`);
  }
});

test('num and pct: fixed decimals, a dash for missing values, whole-percent labels', () => {
  assert.equal(num(0.12345, 3), '0.123');
  assert.equal(num(2, 2), '2.00');
  assert.equal(num(null), '–');
  assert.equal(num(undefined), '–');
  assert.equal(num(Number.NaN), '–');
  assert.equal(num(Number.POSITIVE_INFINITY), '–');
  assert.equal(pct(0.62), '62%');
  assert.equal(pct(0), '0%');
});

test('decimalsFor: the fewest decimals that write every value exactly', () => {
  assert.equal(decimalsFor([0, 1, 2]), 0);
  assert.equal(decimalsFor([0, 12.5, 25]), 1);
  assert.equal(decimalsFor([0, 0.025, 0.05, 0.075]), 3);
  assert.equal(decimalsFor([0.1 + 0.2]), 1); // 0.30000000000000004 is 0.3
  assert.equal(decimalsFor([1 / 3], 4), 4); // never more than max
});

test('axisTicks: 12.5% stays 12.5%, not 13%', () => {
  assert.deepEqual(axisTicks([0, 0.125, 0.25, 0.375, 0.5], 'share'), ['0.0%', '12.5%', '25.0%', '37.5%', '50.0%']);
  assert.deepEqual(axisTicks([0, 0.1, 0.2, 0.30000000000000004], 'share'), ['0%', '10%', '20%', '30%']);
  assert.deepEqual(axisTicks([0, 0.05, 0.1, 0.15], 'share'), ['0%', '5%', '10%', '15%']);
  assert.deepEqual(axisTicks([0, 0.025, 0.05], 'share'), ['0.0%', '2.5%', '5.0%']);
});

test('axisTicks: minority-recall ticks at 0.025 steps read 0.025/0.075, not 0.03/0.07', () => {
  const labels = axisTicks([0, 0.025, 0.05, 0.075, 0.1], 'number');
  assert.deepEqual(labels, ['0.000', '0.025', '0.050', '0.075', '0.100']);
  // every label reads back as its tick
  [0, 0.025, 0.05, 0.075, 0.1].forEach((v, i) => assert.equal(Number(labels[i]), v));
  assert.deepEqual(axisTicks([0, 0.1, 0.2, 0.30000000000000004], 'number'), ['0.0', '0.1', '0.2', '0.3']);
  assert.deepEqual(axisTicks([0, 0.5, 1], 'number'), ['0.0', '0.5', '1.0']);
  assert.deepEqual(axisTicks([0, 1, 2], 'number'), ['0', '1', '2']);
  assert.deepEqual(axisTicks([-0, 1e-17], 'number'), ['0', '0']);
});

test('compareIds: numbers by value, then text', () => {
  assert.deepEqual(['10', '2', '1', '100', '11'].sort(compareIds), ['1', '2', '10', '11', '100']);
  assert.deepEqual(['u10', 'u2', 'u1', 'a', 'U3'].sort(compareIds), ['a', 'u1', 'u2', 'U3', 'u10']);
  // distinct ids never compare equal
  assert.notEqual(compareIds('a', 'A'), 0);
  assert.equal(compareIds('x', 'x'), 0);
});

test('when, personaName, hedgeText, withheldText, listLegend, errorMessage', () => {
  assert.equal(when('2024-01-03T10:00:00.000Z'), '2024-01-03');
  assert.equal(when(1704240000), '2024-01-03'); // seconds
  assert.equal(when(1704240000000), '2024-01-03'); // milliseconds
  assert.equal(when('not a date'), 'not a date');
  assert.equal(personaName({ label: 'Sci-Fi / Thriller', index: 0 }), 'Sci-Fi / Thriller');
  assert.equal(personaName({ label: '', persona: 2 }), 'Taste #3');
  assert.equal(hedgeText(['short history', 'two personas overlap']), 'short history; two personas overlap');
  assert.equal(hedgeText(undefined), 'the model is unsure about this user');
  assert.equal(withheldText({ explanation: null, explanationWithheld: 'persona uncertain' }), 'persona uncertain');
  assert.equal(withheldText({ explanation: null }), null);
  // a hedged list's filler: no persona put it there, the service says why it is in the list
  assert.equal(withheldText({ explanation: null, reason: 'popular, adds a category not yet in the list' }), 'popular, adds a category not yet in the list');
  assert.equal(withheldText({ explanation: { persona: 0, label: 'x', weights: [1], anchors: [] }, explanationWithheld: 'ignored' }), null);
  assert.equal(listLegend('none'), 'List');
  assert.equal(listLegend('calibrated:0.5'), 'List (calibrated)');
  assert.equal(listLegend('mmr:0.3'), 'List (mmr)');
  assert.equal(errorMessage({ error: { status: 401, code: 'unauthorized', message: 'missing API key' } }, 401, 'Unauthorized'), 'missing API key');
  assert.equal(errorMessage({ message: 'plain' }, 400, 'Bad Request'), 'plain');
  assert.equal(errorMessage({ error: 'text' }, 400, 'Bad Request'), 'text');
  assert.equal(errorMessage(null, 502, 'Bad Gateway'), '502 Bad Gateway');
});

test('barChartSpec: the value axis runs from 0 to 12% above the highest bar or whisker', () => {
  const spec = barChartSpec({
    labels: ['a', 'b'],
    yLabel: 'ndcg@20',
    unit: 'number',
    height: 240,
    series: [{ label: 's', values: [0.2, null], color: '#000', intervals: [[0.1, 0.25], null] }],
  });
  assert.deepEqual(spec.yRange, [0, 0.25 * 1.12]);
  assert.deepEqual(barChartSpec({ labels: ['a'], yLabel: 'y', unit: 'share', height: 1, series: [{ label: 's', values: [0], color: '#000' }] }).yRange, [0, 1]);
});

test('klDivergence: Steck’s smoothed KL, hand-computed', () => {
  // p = (0.5, 0.5), q = (1, 0): q~ = (0.99 + 0.005, 0.005) = (0.995, 0.005)
  const expected = 0.5 * Math.log(0.5 / 0.995) + 0.5 * Math.log(0.5 / 0.005);
  assert.ok(Math.abs(klDivergence([0.5, 0.5], [1, 0]) - expected) < 1e-12);
  assert.equal(klDivergence([0.3, 0.7], [0.3, 0.7]), 0);
  assert.equal(klDivergence([0, 0], [0.5, 0.5]), 0);
});

const MIX = { categories: ['Drama', 'Comedy', 'Horror', 'Western'], history: [0.3, 0.5, 0.2, 0], list: [0.6, 0.3, 0, 0.1] };

test('tasteSpec: categories in the history or the list, the history largest first; grey history and blue list bars', () => {
  const t = tasteSpec(MIX, 'none');
  assert.deepEqual(t.plotted, { rerank: 'none', categories: ['Comedy', 'Drama', 'Horror', 'Western'], history: [0.5, 0.3, 0.2, 0], list: [0.3, 0.6, 0, 0.1] });
  assert.ok(t.chart);
  assert.deepEqual(t.chart.labels, t.plotted.categories);
  assert.deepEqual(
    t.chart.series.map((s) => [s.label, s.color, s.values]),
    [
      ['History', HISTORY_COLOR, [0.5, 0.3, 0.2, 0]],
      ['List', LIST_COLOR, [0.3, 0.6, 0, 0.1]],
    ],
  );
  assert.equal(t.chart.unit, 'share');
  assert.deepEqual(t.chart.yRange, [0, 0.6 * 1.12]);
  assert.equal(t.note, `Miscalibration (KL of history from list): ${klDivergence([0.5, 0.3, 0.2, 0], [0.3, 0.6, 0, 0.1]).toFixed(3)}`);
  assert.equal(t.ariaLabel, 'Taste mix: Comedy history 50%, list 30%; Drama history 30%, list 60%; Horror history 20%, list 0%; Western history 0%, list 10%');
  assert.equal(tasteSpec(MIX, 'calibrated:0.5').chart?.series[1]?.label, 'List (calibrated)');
  // a category in neither is not plotted
  assert.deepEqual(tasteSpec({ categories: ['a', 'b'], history: [1, 0], list: [1, 0] }, 'none').plotted.categories, ['a']);
});

test('tasteSpec: without a history the list is plotted alone, with no KL of 0 and no calibrated legend', () => {
  const t = tasteSpec({ categories: ['Drama', 'Comedy', 'Horror'], history: [0, 0, 0], list: [0.25, 0.75, 0] }, 'none');
  assert.deepEqual(t.plotted, { rerank: 'none', categories: ['Comedy', 'Drama'], history: [0, 0], list: [0.75, 0.25] });
  assert.deepEqual(t.chart?.series.map((s) => s.label), ['List']);
  assert.equal(t.note, 'No history yet: the list has nothing to be calibrated against.');
  assert.ok(!t.note.includes('KL'));
  const empty = tasteSpec({ categories: ['a'], history: [0], list: [0] }, 'none');
  assert.equal(empty.chart, null);
  assert.equal(empty.note, '');
});

test('evalCharts: one chart per metric at K = 20, a bar per model spec with its interval', () => {
  const ev = asEvaluation(evaluationFixture());
  assert.equal(chartK(ev), 20);
  assert.equal(chartK({ ...ev, protocol: { ...ev.protocol, k: [5, 10] } }), 10);
  const charts = evalCharts(ev);
  assert.deepEqual(charts.map((c) => c.name), ['ndcg@20', 'recall@20', 'ckl@20', 'minorityRecall@20']);
  const ndcg = charts[0]!;
  assert.deepEqual(ndcg.plotted.models, ['pop', 'ease', 'personas', 'personas:k=1']);
  assert.deepEqual(ndcg.plotted.values, [0.11, 0.31, 0.33, 0.32]);
  // the fixture's intervals are mean +- 0.01
  ndcg.plotted.intervals.forEach((ci, i) => {
    const mean = [0.11, 0.31, 0.33, 0.32][i]!;
    assert.ok(ci && Math.abs(ci[0] - (mean - 0.01)) < 1e-12 && Math.abs(ci[1] - (mean + 0.01)) < 1e-12, `${ci}`);
  });
  assert.deepEqual(ndcg.chart.labels, ['pop', 'ease', 'personas', 'personas:k=1']);
  assert.equal(ndcg.chart.series.length, 1);
  assert.equal(ndcg.chart.series[0]!.color, PERSONA_COLORS[0]);
  assert.equal(ndcg.chart.unit, 'number');
  assert.ok(Math.abs(ndcg.chart.yRange[1] - 0.34 * 1.12) < 1e-12);
  assert.equal(ndcg.ariaLabel, 'ndcg@20: pop 0.1100, ease 0.3100, personas 0.3300, personas:k=1 0.3200');
  // a model without the metric is a gap, not a zero
  const partial = { ...ev, models: [{ ...ev.models[0]!, metrics: {} }] };
  assert.deepEqual(evalCharts(partial)[0]!.plotted.values, [null]);
  assert.equal(personaColor(-1), PERSONA_COLORS[PERSONA_COLORS.length - 1]);
  assert.equal(personaColor(PERSONA_COLORS.length), PERSONA_COLORS[0]);
});

test('xyChartSpec: bars run from 0 to the top plus 12%; lines span their values plus 12% each side, not below 0 for values that are not', () => {
  const spec = (bars: boolean, values: (number | null)[]) => xyChartSpec({ x: values.map((_, i) => i + 1), time: false, bars, series: [{ label: 'a', values, color: '#000' }], xLabel: '', yLabel: '', unit: 'number', height: 100 });
  const close = (a: [number, number], b: [number, number]) => assert.ok(Math.abs(a[0] - b[0]) < 1e-12 && Math.abs(a[1] - b[1]) < 1e-12, `${a} vs ${b}`);
  close(spec(true, [2, 5]).yRange, [0, 5.6]);
  close(spec(true, [0]).yRange, [0, 1]);
  close(spec(true, [-1, 1]).yRange, [-1.24, 1.24]);
  close(spec(false, [0.2, 0.6, null]).yRange, [0.152, 0.648]);
  close(spec(false, [0.01, 0.5]).yRange, [0, 0.5 + 0.12 * 0.49]);
  close(spec(false, [-1, 1]).yRange, [-1.24, 1.24]);
  // one value: a span of a tenth of it (at least 0.1) around it
  close(spec(false, [0.5]).yRange, [0.488, 0.512]);
  close(spec(false, [null]).yRange, [0, 1]);
});

test('timelineSpec: one bar per hour from the window start, and a note with what was read', () => {
  const t = { start: '2026-01-02T00:00:00.000Z', hours: 3, counts: [2, 0, 5], read: 10, before: 3 };
  const s = timelineSpec(t);
  const t0 = Date.UTC(2026, 0, 2) / 1000;
  assert.deepEqual(s.chart?.x, [t0, t0 + 3600, t0 + 7200]);
  assert.deepEqual(s.chart?.series[0]?.values, [2, 0, 5]);
  assert.equal(s.chart?.bars, true);
  assert.equal(s.note, '7 of the 10 newest events fall in the 3 hours up to 2026-01-02 03:00 UTC (the newest event\'s hour); 3 are older. Busiest hour: 5 events.');
  assert.deepEqual(s.plotted, { start: t.start, hours: 3, counts: [2, 0, 5] });
  const empty = timelineSpec({ start: null, hours: 2, counts: [0, 0], read: 0, before: 0 });
  assert.equal(empty.chart, null);
  assert.equal(empty.note, 'No feedback yet.');
});

test('jobProgress: share and text for each state', () => {
  const base = { progress: { stage: 'personas fit', done: 3, total: 12 }, error: null, model: null };
  assert.deepEqual(jobProgress({ ...base, state: 'running' }), { share: 0.25, text: 'personas fit 3/12 (25%)' });
  assert.deepEqual(jobProgress({ ...base, state: 'done', model: { name: 'ease', version: 4 } }), { share: 1, text: 'done: ease v4' });
  assert.deepEqual(jobProgress({ ...base, state: 'failed', error: 'boom' }), { share: 0.25, text: 'failed: boom' });
  assert.deepEqual(jobProgress({ ...base, state: 'cancelled' }), { share: 0.25, text: 'cancelled' });
  assert.equal(jobProgress({ ...base, state: 'running', progress: { stage: 'queued', done: 0, total: 0 } }).share, 0);
});

test("versionMetricText: a version's metric at 20 (else the largest K) with its interval", () => {
  const m = (mean: number) => ({ mean, ci95: [mean - 0.01, mean + 0.01] as [number, number], n: 5 });
  const v = { evaluation: { dataset: 'd', testUsers: 5, protocol: 'p', metrics: { 'ndcg@10': m(0.2), 'ndcg@20': m(0.3), 'recall@5': m(0.1), 'recall@50': m(0.5) } } };
  assert.equal(headlineMetric(v.evaluation.metrics, 'ndcg'), 'ndcg@20');
  assert.equal(headlineMetric(v.evaluation.metrics, 'recall'), 'recall@50');
  assert.equal(headlineMetric(v.evaluation.metrics, 'ckl'), null);
  assert.equal(versionMetricText(v, 'ndcg'), '0.3000 [0.2900, 0.3100]');
  assert.equal(versionMetricText(v, 'ckl'), '–');
  assert.equal(versionMetricText({ evaluation: null }, 'ndcg'), '–');
});

test('parseStudy: the line charts of a study JSON; errors name the field', () => {
  const r = parseStudy(JSON.stringify(studyFixture()));
  assert.ok('study' in r);
  assert.equal(r.study.study, 'feedback-loop');
  assert.equal(r.study.charts.length, 2, 'the bar chart is skipped');
  assert.deepEqual(r.study.charts[1]!.series[0], { name: 'pop', y: [0.1, 0.1, null] });
  const spec = studyChartSpec(r.study.charts[0]!);
  assert.deepEqual(spec.x, [1, 2, 3]);
  assert.deepEqual(spec.series.map((s) => s.color), [personaColor(0), personaColor(1), personaColor(2)]);
  assert.deepEqual(parseStudy('{'), { error: 'not JSON: ' + (() => { try { JSON.parse('{'); } catch (e) { return (e as Error).message; } return ''; })() });
  assert.deepEqual(parseStudy('{"study": 1}'), { error: 'study: expected text (is this the JSON of personae study --out?)' });
  const bad = { ...studyFixture(), charts: [{ kind: 'line', x: [1, 2], series: [{ name: 'a', y: [1] }] }] };
  assert.deepEqual(parseStudy(JSON.stringify(bad)), { error: 'charts[0].series[0].y: expected 2 numbers (or nulls)' });
  assert.deepEqual(parseStudy(JSON.stringify({ ...studyFixture(), charts: [] })), { error: 'charts: the file has no line chart (the feedback-loop study has one per metric over rounds)' });
});

test('parseFeedbackJsonl: one entry a line, blank lines skipped; the first bad line is named', () => {
  const ok = parseFeedbackJsonl('{"user":"u1","item":"i1","type":"like"}\n\n{"user":"u2","item":"i2","type":"rating","value":4,"timestamp":1700000000}\n');
  assert.deepEqual(ok, { events: [{ user: 'u1', item: 'i1', type: 'like' }, { user: 'u2', item: 'i2', type: 'rating', value: 4, timestamp: 1700000000 }] });
  assert.deepEqual(parseFeedbackJsonl('{"user":"u1","item":"i1","type":"like"}\nnope'), { error: 'line 2: not JSON' });
  assert.deepEqual(parseFeedbackJsonl('[1]'), { error: 'line 1: expected an object' });
  assert.deepEqual(parseFeedbackJsonl('{"user":"u1","type":"like"}'), { error: 'line 1: item: expected non-empty text' });
  assert.deepEqual(parseFeedbackJsonl('{"user":"u1","item":"i","type":"like","value":"5"}'), { error: 'line 1: value: expected a number' });
  assert.deepEqual(parseFeedbackJsonl('{"user":"u1","item":"i","type":"like","rating":5}'), { error: 'line 1: rating: unknown field (expected user, item, type, value, timestamp)' });
  assert.deepEqual(parseFeedbackJsonl('\n\n'), { error: 'the file has no feedback lines' });
});

test('batches: consecutive slices of at most the size', () => {
  assert.deepEqual(batches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(batches([], 3), []);
});

test("parseStudy reads what the feedback-loop study writes: a line chart per metric, an arm per series", () => {
  const round = (r: number, v: number) => ({ round: r, ndcg: v, coverage: v / 2, ckl: 1 - v, consumed: 3, gini: 0.5, polarisation: 0.01 * r, catalogueShown: 0.4 });
  const arms = ['pop', 'personas'].map((name, a) => ({ name, model: name, params: {}, rerank: null, rounds: [round(1, 0.1 + a), round(2, 0.2 + a)] }));
  const charts = loopCharts({ arms, rounds: 2 });
  const r = parseStudy(JSON.stringify({ ...studyFixture(), charts }));
  assert.ok('study' in r);
  assert.deepEqual(r.study.charts.map((c) => c.yLabel), METRICS.map((m) => m.label));
  assert.deepEqual(r.study.charts[0]!.x, [1, 2]);
  assert.deepEqual(r.study.charts[0]!.series, [{ name: 'pop', y: [0.1, 0.2] }, { name: 'personas', y: [1.1, 1.2] }]);
});

test('explanation weight line: none for one persona, against an even share when given, else the share; match percent beside the raw score', () => {
  assert.equal(attentionText({ weights: [1], persona: 0 }), null);
  assert.equal(attentionText({ weights: [0.6, 0.25, 0.15], persona: 0, relative: 1.8 }), '1.8× an even share');
  assert.equal(attentionText({ weights: [0.6, 0.25, 0.15], persona: 1 }), '25% of the attention');
  assert.equal(attentionText({ weights: [0.6, 0.4], persona: 5 }), null);
  assert.equal(scoreText({ score: -2.9778, match: 97.4 }), '97% match');
  assert.equal(scoreText({ score: -2.9778 }), '-2.978');
});

test('via a friend: the words and the line under a recommendation (escaped, linking to the friend), nothing without a friend', () => {
  assert.equal(viaText({}), null);
  assert.equal(viaLine({}), null);
  assert.equal(viaText({ via: { friend: 'alice', friends: 1, contribution: 0.25 } }), 'via alice');
  assert.equal(viaText({ via: { friend: 'alice', friends: 2, contribution: 0.5 } }), 'via alice and 1 other friend');
  assert.equal(viaText({ via: { friend: 'alice', friends: 4, contribution: 1 } }), 'via alice and 3 other friends');
  const line = viaLine({ via: { friend: 'b<o>b & co', friends: 3, contribution: 0.75 } })!.toString();
  assert.equal(
    line,
    '<p class="reason via" data-testid="rec-via" data-friend="b&#60;o&#62;b &#38; co" title="via b&#60;o&#62;b &#38; co and 2 other friends: their consumption added 0.750 to the score">' +
      '<span>via <a href="#/users/b%3Co%3Eb%20%26%20co"><strong>b&#60;o&#62;b &#38; co</strong></a> and 2 other friends</span></p>',
  );
});
