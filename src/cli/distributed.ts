// The commands that train (model train, er train, protect importance) run data-parallel when a
// launcher started them: `nnlock launch`, torchrun, or a Slurm/Kubernetes script that sets
// WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT as torchrun does (init_method='env://').
import { ProcessGroup, distributedEnv } from '../distributed/index.ts';

/** The job's process group (joined now), or undefined outside a job of 2 or more processes. The caller destroys it. */
export function jobGroup(env: Record<string, string | undefined>): ProcessGroup | undefined {
  const job = distributedEnv(env);
  return job && job.worldSize > 1 ? ProcessGroup.fromEnv(job) : undefined;
}

/**
 * Runs fn with the job's process group (undefined outside a job of 2 or more processes) and
 * leaves the group afterwards, also when fn fails.
 */
export async function withProcessGroup<T>(env: Record<string, string | undefined>, fn: (group: ProcessGroup | undefined) => Promise<T>): Promise<T> {
  const group = jobGroup(env);
  try {
    return await fn(group);
  } finally {
    group?.destroy();
  }
}
