// Worker-thread entry of the DataLoader: builds batches with collate() and transfers the buffers
// back. Pure JavaScript only: importing anything that loads the native addon here would start a
// second libtorch runtime per worker for nothing, and libtorch's random generator is one for the
// whole process (see manualSeed): a worker must never seed or draw from it. Every random choice
// of a batch comes from Rng(seed, stream, epoch, batch) in collate(), so batches are the same
// whatever manualSeed the main thread calls meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import { collate, type BatchJob, type CollateSpec } from './collate.ts';

const spec = (workerData as { spec: CollateSpec }).spec;
const port = parentPort!;

port.on('message', (job: BatchJob) => {
  try {
    const arrays = collate(spec, job);
    port.postMessage(
      { batch: job.batch, arrays },
      Object.values(arrays).map((a) => a.data.buffer as ArrayBuffer),
    );
  } catch (e) {
    port.postMessage({ batch: job.batch, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
