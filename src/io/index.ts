// Files: safetensors (read, write, in memory), tensor files, images and image grids, CIFAR and
// MNIST binaries, atomic writes, and SVG charts.
export * from './safetensors.ts';
export * from './tensor-file.ts';
export * from './atomic.ts';
export * from './image.ts';
export * from './cifar.ts';
export * from './mnist.ts';
export * from './svg-chart.ts';
export * from './regular-file.ts';
export * from './cache-dir.ts';
