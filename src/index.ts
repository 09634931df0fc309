// nnlock's core, `import ... from 'nnlock'`: the tensor layer (Tensor, dtypes, devices, scope,
// dispose, autograd, seeds, threads), every typed op, the engine settings (init(), engineState())
// and the building blocks of models (nn: Module, layers, optimizers, schedules).
// The features and the rest have their own entry points (package.json "exports"):
// nnlock/protect, nnlock/cipher, nnlock/er, nnlock/attacks, nnlock/models, nnlock/nn,
// nnlock/data, nnlock/train, nnlock/io.
// Importing this module changes nothing process-wide and loads no libtorch.
export * from './tensor/index.ts';
export * from './ops/index.ts';
export * from './nn/index.ts';
