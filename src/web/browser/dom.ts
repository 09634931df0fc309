// The few DOM types the page's script uses, declared here instead of TypeScript's "dom" library:
// that library is global, and switched on for the whole project it retypes node's own globals
// (fetch, Blob, Response...) for every other file. These structural types cover exactly what
// app.ts touches; the browser test (test/web/browser.test.ts) runs the script in chromium.

export interface DomEvent {
  target: unknown;
  preventDefault(): void;
}

export interface El {
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  hidden: boolean;
  className: string;
  append(...nodes: (El | string)[]): void;
  prepend(...nodes: (El | string)[]): void;
  replaceChildren(...nodes: (El | string)[]): void;
  addEventListener(type: string, listener: (ev: DomEvent) => void): void;
  setAttribute(name: string, value: string): void;
}

/** A picked file: a Blob with a name. */
export interface PickedFile extends Blob {
  readonly name: string;
}

export interface InputEl extends El {
  value: string;
  files: ArrayLike<PickedFile> | null;
}

export interface SelectEl extends El {
  value: string;
  disabled: boolean;
}

export interface OptionEl extends El {
  value: string;
}

export interface ImgEl extends El {
  src: string;
  alt: string;
}

export interface ThEl extends El {
  scope: string;
}

export interface MeterEl extends El {
  min: number;
  max: number;
  value: number;
}

export interface RowEl extends El {
  insertCell(): El;
}

export interface TableSectionEl extends El {
  insertRow(): RowEl;
}

export interface TableEl extends El {
  createCaption(): El;
  createTHead(): TableSectionEl;
  createTBody(): TableSectionEl;
}

export interface Bitmap {
  readonly width: number;
  readonly height: number;
  close(): void;
}

export interface Pixels2D {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

export interface Context2D {
  imageSmoothingQuality: 'low' | 'medium' | 'high';
  drawImage(image: Bitmap, sx: number, sy: number, sw: number, sh: number, dx: number, dy: number, dw: number, dh: number): void;
  getImageData(x: number, y: number, w: number, h: number): Pixels2D;
  putImageData(image: Pixels2D, x: number, y: number): void;
}

export interface CanvasEl extends El {
  width: number;
  height: number;
  getContext(kind: '2d', options?: { willReadFrequently?: boolean }): Context2D | null;
}

interface Tags {
  canvas: CanvasEl;
  table: TableEl;
  option: OptionEl;
  th: ThEl;
  meter: MeterEl;
  img: ImgEl;
  li: El;
  figure: El;
  figcaption: El;
}

interface Page {
  document: {
    body: El;
    getElementById(id: string): El | null;
    createElement<K extends keyof Tags>(tag: K): Tags[K];
  };
  createImageBitmap(image: Blob, options: { colorSpaceConversion: 'none' | 'default'; premultiplyAlpha: 'none' | 'default' | 'premultiply' }): Promise<Bitmap>;
  ImageData: new (width: number, height: number) => Pixels2D;
}

/** The browser's globals the page uses (only ever called in the browser). */
export function page(): Page {
  return globalThis as unknown as Page;
}
