// Where this process stands in a distributed job, read from the variables PyTorch's launchers set
// (torchrun, `python -m torch.distributed.launch`, and so Slurm or Kubernetes scripts written for
// them): MASTER_ADDR and MASTER_PORT name rank 0's store, RANK and WORLD_SIZE this process's place,
// LOCAL_RANK its place on this machine (which GPU it takes). `nnlock launch` sets the same ones.

export interface DistributedEnv {
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  localRank: number;
}

export const DISTRIBUTED_VARIABLES = ['MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'] as const;

function integer(env: Record<string, string | undefined>, name: string, min: number, max: number): number {
  const text = env[name];
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name}=${text ?? '(unset)'}: expected an integer from ${min} to ${max}`);
  }
  return n;
}

/**
 * The job this process is part of, or null when WORLD_SIZE is unset (a plain single-process run).
 * A half-set environment (WORLD_SIZE without RANK, a rank beyond the world) is an error that names
 * the variable, never a silent single-process run.
 */
export function distributedEnv(env: Record<string, string | undefined> = process.env): DistributedEnv | null {
  if (env.WORLD_SIZE === undefined) return null;
  const worldSize = integer(env, 'WORLD_SIZE', 1, 65536);
  const rank = integer(env, 'RANK', 0, worldSize - 1);
  const localRank = env.LOCAL_RANK === undefined ? rank : integer(env, 'LOCAL_RANK', 0, worldSize - 1);
  const masterAddr = env.MASTER_ADDR ?? '';
  if (worldSize > 1 && masterAddr === '') throw new Error('MASTER_ADDR is unset: it names the machine of rank 0 (its store listens there)');
  const masterPort = worldSize > 1 ? integer(env, 'MASTER_PORT', 1, 65535) : Number(env.MASTER_PORT ?? 0);
  return { masterAddr: masterAddr || '127.0.0.1', masterPort, rank, worldSize, localRank };
}
