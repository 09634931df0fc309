// Distributed computing on libtorch's c10d: the launcher's environment, the TCPStore rendezvous,
// process groups and their collectives. Data-parallel training on top of it is src/train's
// (data-parallel.ts).
export { type DistributedEnv, DISTRIBUTED_VARIABLES, distributedEnv } from './env.ts';
export { type StoreOptions, Store } from './store.ts';
export { type Backend, type ProcessGroupOptions, type ReduceOp, BROADCAST_BUCKET_BYTES, DEFAULT_TIMEOUT_MS, ProcessGroup } from './process-group.ts';
export { Work } from './work.ts';
export { DEFAULT_BUCKET_BYTES, DEFAULT_FIRST_BUCKET_BYTES, Reducer } from './reducer.ts';
export { type LaunchOptions, type LaunchResult, launch } from './launch.ts';
