// Deterministic weights: the same seed must give byte-identical model files on every machine,
// so no Math.random and no platform-dependent math beyond IEEE basics.

/** mulberry32: tiny 32-bit state generator, good enough for weight initialisation. */
export class Prng {
  private state: number;
  private spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`modelgen: seed must be a finite number, got ${seed}`);
    // Mix the seed so that seeds 1, 2, 3 do not start in correlated states.
    this.state = (Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal via Box-Muller (pairs, so half the calls are free). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = 1 - this.next(); // (0, 1]: log never sees 0
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  normals(count: number, std: number, mean = 0): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** An independent stream, so adding a layer does not shift every later weight. */
  fork(label: string): Prng {
    let h = 2166136261;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619);
    return new Prng((this.state ^ h) >>> 0);
  }
}
