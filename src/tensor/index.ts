// The tensor layer: Tensor, dtypes, devices, scopes and engine settings.
export * from './dtype.ts';
export * from './tensor.ts';
export * from './scope.ts';
export * from './create.ts';
export * from './runtime.ts';
export * from './device.ts';
export * from './init.ts';
