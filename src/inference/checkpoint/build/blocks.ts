// Layers read from checkpoint weights by their canonical names, shared by the three networks.
import * as nn from '../../onnx/nn';
import type { WeightReader } from './weights';

export async function linearW(r: WeightReader, x: string, prefix: string, inDim: number, outDim: number, bias = true): Promise<string> {
  const w = await r.linearT(`${prefix}.weight`, outDim, inDim);
  const b = bias ? await r.tensor(`${prefix}.bias`, [outDim]) : undefined;
  return nn.linear(r.g, x, w, b, prefix);
}

export async function convW(r: WeightReader, x: string, prefix: string, cin: number, cout: number, o: nn.ConvOptions): Promise<string> {
  const w = await r.tensor(`${prefix}.weight`, [cout, cin, o.kernel, o.kernel]);
  const b = await r.tensor(`${prefix}.bias`, [cout]);
  return nn.conv2d(r.g, x, w, b, o, prefix);
}

export async function groupNormW(r: WeightReader, x: string, prefix: string, channels: number, eps: number, groups = 32): Promise<string> {
  const gamma = await r.tensor(`${prefix}.weight`, [channels]);
  const beta = await r.tensor(`${prefix}.bias`, [channels]);
  return nn.groupNorm(r.g, x, channels, groups, eps, gamma, beta, prefix);
}

export async function layerNormW(r: WeightReader, x: string, prefix: string, dim: number, eps = 1e-5): Promise<string> {
  const gamma = await r.tensor(`${prefix}.weight`, [dim]);
  const beta = await r.tensor(`${prefix}.bias`, [dim]);
  return nn.layerNorm(r.g, x, gamma, beta, eps, prefix);
}

export function add(r: WeightReader, a: string, b: string, hint = 'residual'): string {
  return r.g.op('Add', [a, b], {}, hint);
}

/** The weight storage type for a requested precision. */
export function weightType(precision: 'fp32' | 'fp16'): 'float32' | 'float16' {
  return precision === 'fp16' ? 'float16' : 'float32';
}
