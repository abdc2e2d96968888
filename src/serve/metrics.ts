/**
 * Prometheus text metrics: request latency histograms per route, request counts, model version,
 * data counts, and how long the event loop was blocked (perf_hooks monitorEventLoopDelay, over
 * the last complete 10 s window).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Histogram {
  counts: Float64Array;
  sum: number;
  count: number;
}

const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Metrics {
  private readonly latency = new Map<string, Histogram>();
  private readonly requests = new Map<string, number>();
  private readonly counters = new Map<string, number>();
  private loop: IntervalHistogram | null = null;
  private loopTimer: NodeJS.Timeout | null = null;
  /** Event-loop delay of the last complete window (seconds): p50, p99, max. */
  private loopWindow: { p50: number; p99: number; max: number } | null = null;

  /** Starts measuring the event-loop delay in windows of `windowMs` (the service does; stop() ends it). */
  startLoopMonitor(windowMs = 10_000): void {
    if (this.loop) return;
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    this.loop = h;
    this.loopTimer = setInterval(() => {
      this.loopWindow = { p50: h.percentile(50) / 1e9, p99: h.percentile(99) / 1e9, max: h.max / 1e9 };
      h.reset();
    }, windowMs);
    this.loopTimer.unref();
  }

  stop(): void {
    if (this.loopTimer) clearInterval(this.loopTimer);
    this.loop?.disable();
    this.loop = null;
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    let h = this.latency.get(key);
    if (!h) this.latency.set(key, (h = { counts: new Float64Array(BUCKETS.length), sum: 0, count: 0 }));
    for (let b = 0; b < BUCKETS.length; b++) if (seconds <= BUCKETS[b]!) h.counts[b]!++;
    h.sum += seconds;
    h.count++;
    const rk = `${key} ${status}`;
    this.requests.set(rk, (this.requests.get(rk) ?? 0) + 1);
  }

  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  render(gauges: { modelVersion: number; modelName: string; items: number; users: number; feedback: number; ready: boolean }): string {
    const lines: string[] = [];
    lines.push('# HELP personae_http_request_duration_seconds Request latency by route.');
    lines.push('# TYPE personae_http_request_duration_seconds histogram');
    for (const [key, h] of this.latency) {
      const [method, route] = key.split(' ') as [string, string];
      const l = `method="${esc(method)}",route="${esc(route)}"`;
      BUCKETS.forEach((b, i) => lines.push(`personae_http_request_duration_seconds_bucket{${l},le="${b}"} ${h.counts[i]}`));
      lines.push(`personae_http_request_duration_seconds_bucket{${l},le="+Inf"} ${h.count}`);
      lines.push(`personae_http_request_duration_seconds_sum{${l}} ${h.sum}`);
      lines.push(`personae_http_request_duration_seconds_count{${l}} ${h.count}`);
    }
    lines.push('# HELP personae_http_requests_total Requests by route and status.');
    lines.push('# TYPE personae_http_requests_total counter');
    for (const [key, n] of this.requests) {
      const [method, route, status] = key.split(' ') as [string, string, string];
      lines.push(`personae_http_requests_total{method="${esc(method)}",route="${esc(route)}",status="${status}"} ${n}`);
    }
    lines.push('# HELP personae_events_total Service events (feedback accepted, fold-ins, trainings).');
    lines.push('# TYPE personae_events_total counter');
    for (const [name, n] of this.counters) lines.push(`personae_events_total{event="${esc(name)}"} ${n}`);
    if (this.loopWindow) {
      lines.push('# HELP personae_event_loop_delay_seconds How long the event loop was late (blocked) over the last complete 10 s window.');
      lines.push('# TYPE personae_event_loop_delay_seconds gauge');
      lines.push(`personae_event_loop_delay_seconds{quantile="0.5"} ${this.loopWindow.p50}`);
      lines.push(`personae_event_loop_delay_seconds{quantile="0.99"} ${this.loopWindow.p99}`);
      lines.push(`personae_event_loop_delay_seconds{quantile="1"} ${this.loopWindow.max}`);
    }
    lines.push('# HELP personae_model_version Version of the served model (0 = none).');
    lines.push('# TYPE personae_model_version gauge');
    lines.push(`personae_model_version{name="${esc(gauges.modelName)}"} ${gauges.modelVersion}`);
    lines.push('# HELP personae_ready 1 when a model is loaded and the service answers.');
    lines.push('# TYPE personae_ready gauge');
    lines.push(`personae_ready ${gauges.ready ? 1 : 0}`);
    lines.push('# HELP personae_items Items in the catalogue.');
    lines.push('# TYPE personae_items gauge');
    lines.push(`personae_items ${gauges.items}`);
    lines.push('# HELP personae_users Users with feedback.');
    lines.push('# TYPE personae_users gauge');
    lines.push(`personae_users ${gauges.users}`);
    lines.push('# HELP personae_feedback Feedback events seen by this process.');
    lines.push('# TYPE personae_feedback gauge');
    lines.push(`personae_feedback ${gauges.feedback}`);
    return `${lines.join('\n')}\n`;
  }
}
