// Modules, layers, initialisation, optimizers and schedules.
export * from './module.ts';
export * from './init.ts';
export * from './layers/conv.ts';
export * from './layers/linear.ts';
export * from './layers/batchnorm.ts';
export * from './layers/simple.ts';
export * from './layers/sequential.ts';
export * from './optim/optimizer.ts';
export * from './optim/sgd.ts';
export * from './optim/adam.ts';
export * from './optim/schedule.ts';
export * from './optim/clip.ts';
