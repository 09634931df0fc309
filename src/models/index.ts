export * from './resnet-cifar.ts';
export * from './vgg.ts';
export * from './dncnn.ts';
export * from './convmixer.ts';
export * from './registry.ts';
export * from './naming.ts';
export * from './weights.ts';
export * from './load.ts';
