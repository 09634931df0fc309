// A service's whole life, for `nnlock serve` and scripts: load, listen, serve until the signal
// aborts, then shut down gracefully (in-flight requests finish, the workers stop).
import type { ServeConfig } from './config.ts';
import { type ServiceOptions, createService } from './server.ts';

export interface RunServiceOptions extends ServiceOptions {
  /** Aborting it shuts the service down; runService resolves when it has. */
  signal: AbortSignal;
  /** Once listening: the address, and what is served. */
  onListening?: (address: string, models: { name: string; kind: string; tiers: number[] }[]) => void;
}

export async function runService(config: ServeConfig, options: RunServiceOptions): Promise<void> {
  const service = await createService(config, options);
  let address: string;
  try {
    address = await service.listen();
  } catch (e) {
    await service.close();
    throw e;
  }
  options.onListening?.(
    address,
    [...service.models.values()].map((m) => ({ name: m.name, kind: m.info.kind, tiers: m.info.tiers })),
  );
  if (!options.signal.aborted) await new Promise<void>((resolve) => options.signal.addEventListener('abort', () => resolve(), { once: true }));
  await service.close();
}
