// Offline batch evaluation, timed: the baseline that bench/serve.ts divides served throughput by.
// On a shared 2-core machine one short measurement moves by 10-20 % from one minute to the next,
// so the bench measures it twice: a sweep of short runs over thread counts and batch sizes picks
// the configuration, then that configuration is timed again around every round of served phases,
// for as long as a phase runs, so that each served figure is divided by the baseline of its own
// minutes (a best-of-many sweep alone is biased upwards against one served phase).
import { setNumThreads } from '../../src/tensor/index.ts';

export interface OfflineRate {
  threads: number;
  batch: number;
  images: number;
  seconds: number;
  /** Images per second. */
  rate: number;
  /** CPU ms (user + system, every thread of this process) per image. */
  cpuPerImage: number;
}

/**
 * Times `runBatch(batch)` (one forward of `batch` images, result read back) at `threads` libtorch
 * threads after one warm-up call, until `images` images or `seconds` seconds have run, whichever
 * is given. Restores nothing: the caller sets the thread count it wants afterwards.
 */
export function timeOffline(runBatch: (batch: number) => void, threads: number, batch: number, until: { images: number } | { seconds: number }): OfflineRate {
  setNumThreads(threads);
  runBatch(batch);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let images = 0;
  const done = 'images' in until ? () => images >= until.images : () => performance.now() - t0 >= until.seconds * 1000;
  while (!done()) {
    runBatch(batch);
    images += batch;
  }
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { threads, batch, images, seconds, rate: images / seconds, cpuPerImage: (c.user + c.system) / 1000 / images };
}
