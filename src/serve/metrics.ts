// Prometheus metrics of one service (its own registry, so two services in one process, as in the
// tests, do not mix their counts): requests, errors and latency by model, tier and status, and the
// size of the batches the workers ran.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ModelMemory } from './worker-protocol.ts';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'nnlock_requests_total',
    help: 'HTTP requests answered, by model, tier and status',
    labelNames: ['route', 'model', 'tier', 'status'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'nnlock_errors_total',
    help: 'Error responses, by model, tier, status and error code',
    labelNames: ['route', 'model', 'tier', 'status', 'code'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'nnlock_request_duration_seconds',
    help: 'Time from request to response, by model, tier and status',
    labelNames: ['route', 'model', 'tier', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly batches = new Histogram({
    name: 'nnlock_batch_size',
    help: 'Images per batch run by the inference workers, by model and tier',
    labelNames: ['model', 'tier'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });

  constructor(memory?: () => Promise<{ models: Record<string, ModelMemory> }>, queued?: () => number) {
    collectDefaultMetrics({ register: this.registry, prefix: 'nnlock_process_' });
    if (queued) {
      new Gauge({
        name: 'nnlock_queued_images',
        help: 'Images waiting for a batch',
        registers: [this.registry],
        collect() {
          this.set(queued());
        },
      });
    }
    if (!memory) return;
    new Gauge({
      name: 'nnlock_model_tensor_bytes',
      help: "Bytes of tensors one inference worker holds per model: part=model (every tensor once) and part=tiers (each tier's changed kernels)",
      labelNames: ['model', 'part'] as const,
      registers: [this.registry],
      async collect() {
        const { models } = await memory();
        for (const [model, m] of Object.entries(models)) {
          this.set({ model, part: 'model' }, m.modelBytes);
          this.set({ model, part: 'tiers' }, m.tierBytes);
        }
      },
    });
  }
}
