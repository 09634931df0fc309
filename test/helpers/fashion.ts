// A tiny Fashion-MNIST folder made by the test (never the real dataset): four idx files, the
// images gzip-compressed as Debian ships them, the labels not (both forms must read). Each image
// is dark with one bright stripe whose row band says its class, so a small CNN learns it in an
// epoch and the statistics of the images are those of real pictures (smooth, correlated pixels).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

/** Images [n, size, size] and labels 0..classes−1 (see the top of this file). */
export function stripeImages(n: number, size: number, classes: number, salt = 0): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * size * size);
  const labels = new Uint8Array(n);
  const band = size / classes;
  for (let i = 0; i < n; i++) {
    const label = (i + salt) % classes;
    labels[i] = label;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const inBand = y >= label * band && y < (label + 1) * band;
        const noise = ((i * 131 + y * 17 + x * 7 + salt) % 23) - 11;
        images[(i * size + y) * size + x] = Math.max(0, Math.min(255, (inBand ? 200 : 40) + 3 * x + noise));
      }
  }
  return { images, labels };
}

/** Writes the four Fashion-MNIST files of a tiny dataset into `dir`. */
export function writeTinyFashionMnist(dir: string, o: { train?: number; test?: number; size?: number; classes?: number } = {}): void {
  const { train = 64, test = 32, size = 16, classes = 2 } = o;
  for (const [split, n, salt] of [
    ['train', train, 0],
    ['t10k', test, 1],
  ] as const) {
    const { images, labels } = stripeImages(n, size, classes, salt);
    writeFileSync(join(dir, `${split}-images-idx3-ubyte.gz`), gzipSync(idx(2051, [n, size, size], images)));
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), idx(2049, [n], labels));
  }
}
