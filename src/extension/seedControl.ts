// ComfyUI's `control_after_generate` widget, applied by the client as the ComfyUI frontend does
// (FE src/scripts/widgets.ts): the server never sees the mode, only the resulting seed. Pure.

export type ControlMode = 'fixed' | 'increment' | 'decrement' | 'randomize';

/** The seed range randomize draws from: ComfyUI clamps to ±2^50 so seeds stay exact doubles. */
export const RANDOM_SEED_LIMIT = 2 ** 50;

/** A stored control value as a mode; legacy booleans map as the frontend's loader does. */
export function normaliseControlMode(value: unknown): ControlMode {
  if (value === true) return 'randomize';
  if (value === false || value === undefined || value === null) return 'fixed';
  if (value === 'fixed' || value === 'increment' || value === 'decrement' || value === 'randomize') return value;
  // 'increment-wrap' only exists for combos; for numbers ComfyUI treats it like increment.
  if (value === 'increment-wrap') return 'increment';
  throw new Error(`control_after_generate: expected fixed, increment, decrement or randomize, got ${JSON.stringify(value)}`);
}

export interface IntRange {
  min: number;
  max: number;
  step?: number;
}

/** The value after applying `mode` to `value` within `range`. */
export function applyControl(
  mode: ControlMode, value: number, range: IntRange, random: () => number = Math.random,
): number {
  const step = range.step && range.step > 0 ? range.step : 1;
  // Stepping stays exact up to 2^53; only randomize narrows to ±2^50 as the frontend does.
  const min = Math.max(range.min, -Number.MAX_SAFE_INTEGER);
  const max = Math.min(range.max, Number.MAX_SAFE_INTEGER);
  let next: number;
  switch (mode) {
    case 'fixed': return value;
    case 'increment': next = value + step; break;
    case 'decrement': next = value - step; break;
    case 'randomize': {
      const rMin = Math.max(min, -RANDOM_SEED_LIMIT);
      const rMax = Math.min(max, RANDOM_SEED_LIMIT);
      next = Math.floor((random() * (rMax - rMin)) / step) * step + rMin;
      break;
    }
  }
  return Math.min(max, Math.max(min, next));
}

/** The default seed range (KSampler's `seed`: 0 … 2^64−1, clamped to exact doubles). */
export const SEED_RANGE: IntRange = { min: 0, max: Number.MAX_SAFE_INTEGER, step: 1 };
