// Progress for long work, the CLI's side of the library's callbacks: a live bar on a terminal (cli-progress), plain periodic lines
// elsewhere (CI logs, files), both with rate and time left.
import cliProgress from 'cli-progress';
import type { TrainOptions } from '../train/loop.ts';

export interface ProgressFields {
  [name: string]: string | number;
}

export interface Progress {
  update(done: number, fields?: ProgressFields): void;
  stop(summary?: string): void;
}

function formatFields(fields: ProgressFields): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4)) : v}`)
    .join('  ');
}

function formatRate(r: number): string {
  return r >= 10 ? r.toFixed(0) : r.toFixed(2);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * A progress display for `total` units (images, steps) labelled `title`. `unit` names the rate
 * (e.g. 'img/s'). Set quiet to print nothing (tests).
 */
export function progress(title: string, total: number, o: { unit?: string; quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const unit = o.unit ?? 'it/s';
  const start = performance.now();
  if (o.quiet) return { update() {}, stop() {} };
  const stream = o.stream ?? process.stderr;
  const rate = (done: number) => done / Math.max((performance.now() - start) / 1000, 1e-9);
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${title} {bar} {value}/{total}  {fields}  {rate} ${unit}  eta {left}`,
        hideCursor: true,
        stream,
        barsize: 24,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { fields: '', rate: '0', left: '--' });
    return {
      update(done, fields = {}) {
        const r = rate(done);
        bar.update(done, { fields: formatFields(fields), rate: formatRate(r), left: formatDuration((total - done) / r) });
      },
      stop(summary) {
        bar.stop();
        if (summary) stream.write(`${title} ${summary}\n`);
      },
    };
  }
  // Not a terminal: a line every 10 % or 30 s, whichever comes first.
  let lastPrint = 0;
  let lastFraction = 0;
  return {
    update(done, fields = {}) {
      const now = performance.now();
      if (done < total && done / total - lastFraction < 0.1 && now - lastPrint < 30_000) return;
      lastPrint = now;
      lastFraction = done / total;
      const r = rate(done);
      stream.write(`${title} ${done}/${total}  ${formatFields(fields)}  ${formatRate(r)} ${unit}  eta ${formatDuration((total - done) / r)}\n`);
    },
    stop(summary) {
      if (summary) stream.write(`${title} ${summary}\n`);
    },
  };
}

/** A progress bar per epoch and a summary line after each, for train()'s callbacks (stderr). */
export function trainingProgress(o: { quiet?: boolean; stream?: NodeJS.WriteStream }): Pick<TrainOptions, 'onStep' | 'onEpoch' | 'onResume'> {
  if (o.quiet) return {};
  const stream = o.stream ?? process.stderr;
  let bar: Progress | null = null;
  let barEpoch = -1;
  return {
    onResume: (epoch, checkpoint) => stream.write(`resuming from ${checkpoint} after epoch ${epoch}\n`),
    onStep: (p) => {
      if (p.epoch !== barEpoch) {
        bar?.stop();
        bar = progress(`epoch ${p.epoch + 1}/${p.epochs}`, p.steps, { unit: 'batch/s', stream });
        barEpoch = p.epoch;
      }
      bar!.update(p.step, p.fields);
    },
    onEpoch: (record, p) => {
      bar?.stop();
      bar = null;
      barEpoch = -1;
      const fields = Object.entries(record)
        .filter(([k]) => k !== 'epoch')
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(4)}`);
      stream.write(`epoch ${p.epoch + 1}/${p.epochs}: ${fields.join(', ')}; about ${formatDuration(p.secondsLeft)} left\n`);
    },
  };
}

/** An onBatch callback (evaluateAccuracy) that drives a progress bar of `total` batches. */
export function batchProgress(title: string, total: number, o: { stream?: NodeJS.WriteStream } = {}): (done: number, total: number, accuracy: number) => void {
  const bar = progress(title, total, { unit: 'batch/s', stream: o.stream });
  return (done, n, accuracy) => {
    bar.update(done, { acc: accuracy });
    if (done === n) bar.stop();
  };
}
