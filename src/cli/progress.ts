/**
 * Progress for long work: bars on a terminal (cli-progress), plain throttled lines otherwise
 * (CI logs, pipes), nothing with --quiet. Output goes to stderr so stdout stays the result.
 */
import cliProgress from 'cli-progress';

export interface ProgressSink {
  update(label: string, done: number, total: number, detail?: string): void;
  /** Prints a line without breaking the bar. */
  log(line: string): void;
  stop(): void;
}

export function createProgress(mode: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): ProgressSink {
  const stream = mode.stream ?? process.stderr;
  if (mode.quiet) return { update() {}, log() {}, stop() {} };
  if (!stream.isTTY) return new PlainProgress(stream);
  return new BarProgress(stream);
}

class PlainProgress implements ProgressSink {
  private lastLabel = '';
  private lastTime = 0;
  private finishedLabel = '';
  constructor(private readonly stream: NodeJS.WritableStream) {}

  update(label: string, done: number, total: number, detail?: string): void {
    const now = Date.now();
    const finished = done >= total;
    // one line when a step starts or ends, and at most one every 2 s in between
    if (label === this.lastLabel && !finished && now - this.lastTime < 2000) return;
    if (finished && label === this.finishedLabel) return;
    if (finished) this.finishedLabel = label;
    this.lastLabel = label;
    this.lastTime = now;
    this.stream.write(`${label}: ${done}/${total}${detail ? ` ${detail}` : ''}\n`);
  }

  log(line: string): void {
    this.stream.write(`${line}\n`);
  }

  stop(): void {}
}

class BarProgress implements ProgressSink {
  private bar: cliProgress.SingleBar | null = null;
  private label = '';

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(label: string, done: number, total: number, detail?: string): void {
    if (!this.bar || label !== this.label) {
      this.bar?.stop();
      this.label = label;
      this.bar = new cliProgress.SingleBar(
        { format: `${label.padEnd(22)} [{bar}] {value}/{total} {detail}`, stream: this.stream, hideCursor: true, clearOnComplete: false, barsize: 24 },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, done, { detail: detail ?? '' });
    } else {
      this.bar.setTotal(total);
      this.bar.update(done, { detail: detail ?? '' });
    }
  }

  log(line: string): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
      this.label = '';
    }
    this.stream.write(`${line}\n`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
