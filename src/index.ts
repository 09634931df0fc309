// nnlock's public API: the tensor layer and the typed ops. Models, nn, io, data, train, protect
// and cipher are imported from their folders (nnlock/src/models/index.ts, ...).
export * from './tensor/index.ts';
export * from './ops/index.ts';
