// Sequential: children named '0', '1', ... by position, parameterless layers included.
import type { Tensor } from '../../tensor/index.ts';
import { Module } from '../module.ts';

export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }

  /**
   * Runs the layers in order, freeing each intermediate handle as soon as the next layer has used
   * it. That is safe in training too: autograd keeps its own references to what backward needs.
   */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layers) {
      const next = layer.forward(h);
      if (h !== x && next !== h) h.dispose();
      h = next;
    }
    return h;
  }
}
