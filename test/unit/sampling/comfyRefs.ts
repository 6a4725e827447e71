// Float64 reference ports of ComfyUI's samplers (comfy/k_diffusion/sampling.py,
// comfy/extra_samplers/uni_pc.py), written from reading ComfyUI and independent of src/: the parity
// tests run both on the same denoiser, sigmas and noise and compare every callback.

export type Vec = Float64Array;
export type RefModel = (x: Vec, sigma: number) => Vec;
export type RefNoise = (sigma: number, sigmaNext: number) => Vec;
export type RefCb = (i: number, x: Vec, denoised: Vec) => void;
export interface RefOpts { eta: number; sNoise: number }
export type RefSampler = (model: RefModel, x: Vec, sigmas: readonly number[], noise: RefNoise, cb: RefCb, o: RefOpts) => Vec;

/** Σ k·v over the given (k, v) terms, elementwise. */
function lc(...terms: [number, Vec][]): Vec {
  const out = new Float64Array(terms[0][1].length);
  for (const [k, v] of terms) for (let j = 0; j < out.length; j++) out[j] += k * v[j];
  return out;
}
const toD = (x: Vec, s: number, den: Vec): Vec => lc([1 / s, x], [-1 / s, den]);

function ancestral(from: number, to: number, eta: number): [number, number] {
  if (!eta) return [to, 0];
  const up = Math.min(to, eta * Math.sqrt((to ** 2 * (from ** 2 - to ** 2)) / from ** 2));
  return [Math.sqrt(to ** 2 - up ** 2), up];
}

const euler: RefSampler = (model, x, s, _n, cb) => {
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    cb(i, x, den);
    x = lc([1, x], [s[i + 1] - s[i], toD(x, s[i], den)]);
  }
  return x;
};

const eulerAncestral: RefSampler = (model, x, s, noise, cb, o) => {
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    const [down, up] = ancestral(s[i], s[i + 1], o.eta);
    cb(i, x, den);
    if (down === 0) x = den;
    else x = lc([1, x], [down - s[i], toD(x, s[i], den)], [o.sNoise * up, noise(s[i], s[i + 1])]);
  }
  return x;
};

const heun: RefSampler = (model, x, s, _n, cb) => {
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    const d = toD(x, s[i], den);
    cb(i, x, den);
    const dt = s[i + 1] - s[i];
    if (s[i + 1] === 0) {
      x = lc([1, x], [dt, d]);
    } else {
      const x2 = lc([1, x], [dt, d]);
      const d2 = toD(x2, s[i + 1], model(x2, s[i + 1]));
      x = lc([1, x], [dt / 2, d], [dt / 2, d2]);
    }
  }
  return x;
};

const heunpp2: RefSampler = (model, x, s, _n, cb) => {
  const sEnd = s[s.length - 1];
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    const d = toD(x, s[i], den);
    cb(i, x, den);
    const dt = s[i + 1] - s[i];
    if (s[i + 1] === sEnd) {
      x = lc([1, x], [dt, d]);
    } else if (s[i + 2] === sEnd) {
      const x2 = lc([1, x], [dt, d]);
      const d2 = toD(x2, s[i + 1], model(x2, s[i + 1]));
      const w2 = s[i + 1] / (2 * s[0]);
      x = lc([1, x], [dt * (1 - w2), d], [dt * w2, d2]);
    } else {
      const x2 = lc([1, x], [dt, d]);
      const d2 = toD(x2, s[i + 1], model(x2, s[i + 1]));
      const x3 = lc([1, x2], [s[i + 2] - s[i + 1], d2]);
      const d3 = toD(x3, s[i + 2], model(x3, s[i + 2]));
      const w2 = s[i + 1] / (3 * s[0]);
      const w3 = s[i + 2] / (3 * s[0]);
      x = lc([1, x], [dt * (1 - w2 - w3), d], [dt * w2, d2], [dt * w3, d3]);
    }
  }
  return x;
};

function dpm2Step(model: RefModel, x: Vec, d: Vec, sigma: number, target: number): Vec {
  const la = Math.log(sigma);
  const mid = Math.exp(la + 0.5 * (Math.log(target) - la)); // torch lerp
  const x2 = lc([1, x], [mid - sigma, d]);
  const d2 = toD(x2, mid, model(x2, mid));
  return lc([1, x], [target - sigma, d2]);
}

const dpm2: RefSampler = (model, x, s, _n, cb) => {
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    const d = toD(x, s[i], den);
    cb(i, x, den);
    x = s[i + 1] === 0 ? lc([1, x], [-s[i], d]) : dpm2Step(model, x, d, s[i], s[i + 1]);
  }
  return x;
};

const dpm2Ancestral: RefSampler = (model, x, s, noise, cb, o) => {
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    const [down, up] = ancestral(s[i], s[i + 1], o.eta);
    cb(i, x, den);
    const d = toD(x, s[i], den);
    if (down === 0) {
      x = lc([1, x], [-s[i], d]);
    } else {
      x = dpm2Step(model, x, d, s[i], down);
      x = lc([1, x], [o.sNoise * up, noise(s[i], s[i + 1])]);
    }
  }
  return x;
};

/** ∫ of the Lagrange basis by Simpson's rule, exact for the cubic (order ≤ 4) integrands. */
function lmsCoeff(order: number, t: readonly number[], i: number, j: number): number {
  const fn = (tau: number) => {
    let p = 1;
    for (let k = 0; k < order; k++) if (k !== j) p *= (tau - t[i - k]) / (t[i - j] - t[i - k]);
    return p;
  };
  const a = t[i];
  const b = t[i + 1];
  return ((b - a) / 6) * (fn(a) + 4 * fn((a + b) / 2) + fn(b));
}

const lms: RefSampler = (model, x, s, _n, cb) => {
  const ds: Vec[] = [];
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    ds.push(toD(x, s[i], den));
    if (ds.length > 4) ds.shift();
    cb(i, x, den);
    if (s[i + 1] === 0) {
      x = den;
    } else {
      const cur = Math.min(i + 1, 4);
      const rev = [...ds].reverse();
      x = lc([1, x], ...Array.from({ length: cur }, (_, j) => [lmsCoeff(cur, s, i, j), rev[j]] as [number, Vec]));
    }
  }
  return x;
};

const dpmpp2sAncestral: RefSampler = (model, x, s, noise, cb, o) => {
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    const [down, up] = ancestral(s[i], s[i + 1], o.eta);
    cb(i, x, den);
    if (down === 0) {
      x = lc([1, x], [-s[i], toD(x, s[i], den)]);
    } else {
      const t = -Math.log(s[i]);
      const tn = -Math.log(down);
      const h = tn - t;
      const sm = t + 0.5 * h;
      const x2 = lc([Math.exp(-sm) / Math.exp(-t), x], [-Math.expm1(-h * 0.5), den]);
      const den2 = model(x2, Math.exp(-sm));
      x = lc([Math.exp(-tn) / Math.exp(-t), x], [-Math.expm1(-h), den2]);
    }
    if (s[i + 1] > 0) x = lc([1, x], [o.sNoise * up, noise(s[i], s[i + 1])]);
  }
  return x;
};

const dpmppSde: RefSampler = (model, x, s, noise, cb, o) => {
  const r = 0.5;
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    cb(i, x, den);
    if (s[i + 1] === 0) {
      x = den;
      continue;
    }
    const ls = -Math.log(s[i]);
    const lt = -Math.log(s[i + 1]);
    const h = lt - ls;
    const ls1 = ls + r * h;
    const fac = 1 / (2 * r);
    const s1 = Math.exp(-ls1);
    const aS = s[i] * Math.exp(ls);
    const aS1 = s1 * Math.exp(ls1);
    const aT = s[i + 1] * Math.exp(lt);
    let [sd, su] = ancestral(Math.exp(-ls), Math.exp(-ls1), o.eta);
    let hh = -Math.log(sd) - ls;
    let x2 = lc([(aS1 / aS) * Math.exp(-hh), x], [-aS1 * Math.expm1(-hh), den]);
    if (o.eta > 0 && o.sNoise > 0) x2 = lc([1, x2], [aS1 * o.sNoise * su, noise(s[i], s1)]);
    const den2 = model(x2, s1);
    [sd, su] = ancestral(Math.exp(-ls), Math.exp(-lt), o.eta);
    hh = -Math.log(sd) - ls;
    const dd = lc([1 - fac, den], [fac, den2]);
    x = lc([(aT / aS) * Math.exp(-hh), x], [-aT * Math.expm1(-hh), dd]);
    if (o.eta > 0 && o.sNoise > 0) x = lc([1, x], [aT * o.sNoise * su, noise(s[i], s[i + 1])]);
  }
  return x;
};

const dpmpp2m: RefSampler = (model, x, s, _n, cb) => {
  let old: Vec | null = null;
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    cb(i, x, den);
    const t = -Math.log(s[i]);
    const tn = -Math.log(s[i + 1]);
    const h = tn - t;
    const a = Math.exp(-tn) / Math.exp(-t);
    if (old === null || s[i + 1] === 0) {
      x = lc([a, x], [-Math.expm1(-h), den]);
    } else {
      const r = (t + Math.log(s[i - 1])) / h;
      x = lc([a, x], [-Math.expm1(-h) * (1 + 1 / (2 * r)), den], [Math.expm1(-h) / (2 * r), old]);
    }
    old = den;
  }
  return x;
};

function dpmpp2mSdeWith(solver: 'midpoint' | 'heun'): RefSampler {
  return (model, x, s, noise, cb, o) => {
    let old: Vec | null = null;
    let h = NaN;
    let hLast = NaN;
    for (let i = 0; i < s.length - 1; i++) {
      const den = model(x, s[i]);
      cb(i, x, den);
      if (s[i + 1] === 0) {
        x = den;
      } else {
        const ls = -Math.log(s[i]);
        const lt = -Math.log(s[i + 1]);
        h = lt - ls;
        const he = h * (o.eta + 1);
        const aT = s[i + 1] * Math.exp(lt);
        x = lc([(s[i + 1] / s[i]) * Math.exp(-h * o.eta), x], [-aT * Math.expm1(-he), den]);
        if (old) {
          const r = hLast / h;
          const k = solver === 'heun' ? aT * (-Math.expm1(-he) / -he + 1) / r : (0.5 * aT * -Math.expm1(-he)) / r;
          x = lc([1, x], [k, den], [-k, old]);
        }
        if (o.eta > 0 && o.sNoise > 0) x = lc([1, x], [s[i + 1] * Math.sqrt(-Math.expm1(-2 * h * o.eta)) * o.sNoise, noise(s[i], s[i + 1])]);
      }
      old = den;
      hLast = h;
    }
    return x;
  };
}

const dpmpp3mSde: RefSampler = (model, x, s, noise, cb, o) => {
  let d1: Vec | null = null;
  let d2: Vec | null = null;
  let h: number | null = null;
  let h1: number | null = null;
  let h2: number | null = null;
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    cb(i, x, den);
    if (s[i + 1] === 0) {
      x = den;
    } else {
      const ls = -Math.log(s[i]);
      const lt = -Math.log(s[i + 1]);
      h = lt - ls;
      const he = h * (o.eta + 1);
      const aT = s[i + 1] * Math.exp(lt);
      x = lc([(s[i + 1] / s[i]) * Math.exp(-h * o.eta), x], [-aT * Math.expm1(-he), den]);
      const phi2 = Math.expm1(-he) / he + 1;
      if (h2 !== null) {
        const r0 = h1! / h;
        const r1 = h2 / h;
        const d10 = lc([1 / r0, den], [-1 / r0, d1!]);
        const d11 = lc([1 / r1, d1!], [-1 / r1, d2!]);
        const dA = lc([1 + r0 / (r0 + r1), d10], [-r0 / (r0 + r1), d11]);
        const dB = lc([1 / (r0 + r1), d10], [-1 / (r0 + r1), d11]);
        x = lc([1, x], [aT * phi2, dA], [-aT * (phi2 / he - 0.5), dB]);
      } else if (h1 !== null) {
        const r = h1 / h;
        x = lc([1, x], [(aT * phi2) / r, den], [(-aT * phi2) / r, d1!]);
      }
      if (o.eta > 0 && o.sNoise > 0) x = lc([1, x], [s[i + 1] * Math.sqrt(-Math.expm1(-2 * h * o.eta)) * o.sNoise, noise(s[i], s[i + 1])]);
    }
    [d1, d2] = [den, d1];
    [h1, h2] = [h, h1];
  }
  return x;
};

const ddpm: RefSampler = (model, x, s, noise, cb) => {
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    cb(i, x, den);
    const sg = s[i];
    const sp = s[i + 1];
    const xin = lc([1 / Math.sqrt(1 + sg ** 2), x]);
    const eps = toD(x, sg, den);
    const ac = 1 / (sg * sg + 1);
    const acPrev = 1 / (sp * sp + 1);
    const alpha = ac / acPrev;
    let mu = lc([Math.sqrt(1 / alpha), xin], [(-Math.sqrt(1 / alpha) * (1 - alpha)) / Math.sqrt(1 - ac), eps]);
    if (sp > 0) mu = lc([1, mu], [Math.sqrt(((1 - alpha) * (1 - acPrev)) / (1 - ac)), noise(sg, sp)]);
    x = sp !== 0 ? lc([Math.sqrt(1 + sp ** 2), mu]) : mu;
  }
  return x;
};

const lcm: RefSampler = (model, x, s, noise, cb, o) => {
  for (let i = 0; i < s.length - 1; i++) {
    const den = model(x, s[i]);
    cb(i, x, den);
    x = den;
    if (s[i + 1] > 0) x = lc([s[i + 1] * o.sNoise, noise(s[i], s[i + 1])], [1, x]); // EPS noise_scaling, max_denoise False
  }
  return x;
};

/** The shared loop of ipndm / ipndm_v / deis; the callback gets the sampler's input x. */
function bufferLoop(maxOrder: number, rule: (i: number, order: number, x: Vec, d: Vec, den: Vec, buf: Vec[]) => Vec): RefSampler {
  return (model, xIn, s, _n, cb) => {
    let x = xIn;
    const buf: Vec[] = [];
    for (let i = 0; i < s.length - 1; i++) {
      const den = model(x, s[i]);
      cb(i, xIn, den);
      const d = toD(x, s[i], den);
      x = rule(i, Math.min(maxOrder, i + 1), x, d, den, buf);
      if (buf.length === maxOrder - 1) {
        buf.shift();
        buf.push(d);
      } else buf.push(d);
    }
    return x;
  };
}

function ipndm(s: readonly number[]) {
  return bufferLoop(4, (i, order, x, d, den, b) => {
    const dt = s[i + 1] - s[i];
    if (s[i + 1] === 0) return den;
    if (order === 1) return lc([1, x], [dt, d]);
    if (order === 2) return lc([1, x], [(dt * 3) / 2, d], [-dt / 2, b[b.length - 1]]);
    if (order === 3) return lc([1, x], [(dt * 23) / 12, d], [(-dt * 16) / 12, b[b.length - 1]], [(dt * 5) / 12, b[b.length - 2]]);
    return lc([1, x], [(dt * 55) / 24, d], [(-dt * 59) / 24, b[b.length - 1]], [(dt * 37) / 24, b[b.length - 2]], [(-dt * 9) / 24, b[b.length - 3]]);
  });
}

function ipndmV(t: readonly number[]) {
  return bufferLoop(4, (i, order, x, d, den, b) => {
    const hn = t[i + 1] - t[i];
    if (t[i + 1] === 0) return den;
    if (order === 1) return lc([1, x], [hn, d]);
    const h1 = t[i] - t[i - 1];
    if (order === 2) return lc([1, x], [hn * ((2 + hn / h1) / 2), d], [hn * (-(hn / h1) / 2), b[b.length - 1]]);
    const h2 = t[i - 1] - t[i - 2];
    const temp = (1 - ((hn / (3 * (hn + h1))) * (hn * (hn + h1))) / (h1 * (h1 + h2))) / 2;
    if (order === 3) {
      return lc([1, x], [hn * ((2 + hn / h1) / 2 + temp), d], [hn * (-(hn / h1) / 2 - (1 + h1 / h2) * temp), b[b.length - 1]], [hn * ((temp * h1) / h2), b[b.length - 2]]);
    }
    const h3 = t[i - 2] - t[i - 3];
    const temp2 = ((1 - hn / (3 * (hn + h1))) / 2 + ((1 - hn / (2 * (hn + h1))) * hn) / (6 * (hn + h1 + h2)))
      * ((hn * (hn + h1) * (hn + h1 + h2)) / (h1 * (h1 + h2) * (h1 + h2 + h3)));
    const q = (h1 * (h1 + h2)) / (h2 * (h2 + h3));
    const c1 = (2 + hn / h1) / 2 + temp + temp2;
    const c2 = -(hn / h1) / 2 - (1 + h1 / h2) * temp - (1 + h1 / h2 + q) * temp2;
    const c3 = (temp * h1) / h2 + (h1 / h2 + q * (1 + h2 / h3)) * temp2;
    const c4 = -temp2 * q * (h1 / h2);
    return lc([1, x], [hn * c1, d], [hn * c2, b[b.length - 1]], [hn * c3, b[b.length - 2]], [hn * c4, b[b.length - 3]]);
  });
}

/** deis.get_deis_coeff_list in 'tab' mode (left Riemann sum, N = 10000). */
export function refDeisCoeffs(sigmas: readonly number[], maxOrder: number, N = 10000): number[][] {
  const epsS = 1e-3;
  const betaD = (2 * (Math.log(0.002 ** 2 + 1) / epsS - Math.log(80 ** 2 + 1))) / (epsS - 1);
  const betaMin = Math.log(80 ** 2 + 1) - 0.5 * betaD;
  const b0 = betaMin;
  const b1 = betaD + betaMin;
  const t = sigmas.map((sg) => (Math.sqrt(betaMin ** 2 + 2 * betaD * Math.log(sg ** 2 + 1)) - betaMin) / betaD);
  const C: number[][] = [];
  for (let i = 0; i < t.length - 1; i++) {
    const order = Math.min(i + 1, maxOrder);
    if (order === 1) {
      C.push([]);
      continue;
    }
    const prev = Array.from({ length: order }, (_, k) => t[i - k]);
    const dtau = (t[i + 1] - t[i]) / N;
    const sums = new Array<number>(order).fill(0);
    for (let q = 0; q < N; q++) {
      const tau = t[i] + ((t[i + 1] - t[i]) / (N - 1)) * q;
      const alpha = Math.exp(-0.5 * tau ** 2 * (b1 - b0) - tau * b0);
      const integrand = (-0.5 * -(tau * (b1 - b0) + b0)) / Math.sqrt(alpha * (1 - alpha));
      for (let j = 0; j < order; j++) {
        let poly = 1;
        for (let k = 0; k < order; k++) if (k !== j) poly *= (tau - prev[k]) / (prev[j] - prev[k]);
        sums[j] += integrand * poly;
      }
    }
    C.push(sums.map((v) => v * dtau));
  }
  return C;
}

function deis(s: readonly number[]) {
  const C = refDeisCoeffs(s, 3);
  return bufferLoop(3, (i, order0, x, d, _den, b) => {
    const order = s[i + 1] <= 0 ? 1 : order0;
    if (order === 1) return lc([1, x], [s[i + 1] - s[i], d]);
    const c = C[i];
    return lc([1, x], [c[0], d], ...c.slice(1).map((k, m) => [k, b[b.length - 1 - m]] as [number, Vec]));
  });
}

/** Cramer's rule for the ≤ 3×3 UniPC systems. */
function cramer(A: number[][], b: number[]): number[] {
  const det = (m: number[][]): number => (m.length === 1 ? m[0][0] : m.length === 2 ? m[0][0] * m[1][1] - m[0][1] * m[1][0]
    : m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]));
  const D = det(A);
  return b.map((_, c) => det(A.map((row, r) => row.map((v, k) => (k === c ? b[r] : v)))) / D);
}

function uniPc(variant: 'bh1' | 'bh2'): RefSampler {
  return (model, noise, sigmas, _n, cb) => {
    const ts = [...sigmas];
    if (ts[ts.length - 1] === 0) ts[ts.length - 1] = 0.001;
    const lmc = (sg: number) => 0.5 * Math.log(1 / (sg * sg + 1));
    const alpha = (sg: number) => Math.exp(lmc(sg));
    const std = (sg: number) => Math.sqrt(1 - Math.exp(2 * lmc(sg)));
    const lam = (sg: number) => lmc(sg) - 0.5 * Math.log(1 - Math.exp(2 * lmc(sg)));
    const modelFn = (x: Vec, sg: number): Vec => {
      const input = lc([Math.sqrt(sg ** 2 + 1), x]);
      const eps = lc([1 / sg, input], [-1 / sg, model(input, sg)]);
      return lc([1 / alpha(sg), x], [-std(sg) / alpha(sg), eps]);
    };
    const update = (x: Vec, mPrev: Vec[], tPrev: number[], t: number, order: number, useCorrector: boolean): [Vec, Vec | null] => {
      const t0 = tPrev[tPrev.length - 1];
      const m0 = mPrev[mPrev.length - 1];
      const h = lam(t) - lam(t0);
      const rks: number[] = [];
      const D1s: Vec[] = [];
      for (let i = 1; i < order; i++) {
        const rk = (lam(tPrev[tPrev.length - 1 - i]) - lam(t0)) / h;
        rks.push(rk);
        D1s.push(lc([1 / rk, mPrev[mPrev.length - 1 - i]], [-1 / rk, m0]));
      }
      rks.push(1);
      const hh = -h;
      const hPhi1 = Math.expm1(hh);
      const Bh = variant === 'bh1' ? hh : Math.expm1(hh);
      let hPhiK = Math.expm1(hh) / hh - 1;
      let fact = 1;
      const R: number[][] = [];
      const b: number[] = [];
      for (let i = 1; i <= order; i++) {
        R.push(rks.map((r) => r ** (i - 1)));
        b.push((hPhiK * fact) / Bh);
        fact *= i + 1;
        hPhiK = hPhiK / hh - 1 / fact;
      }
      const aT = alpha(t);
      const xt_ = lc([std(t) / std(t0), x], [-aT * hPhi1, m0]);
      let xt = xt_;
      if (D1s.length > 0) {
        const rhoP = order === 2 ? [0.5] : cramer(R.slice(0, -1).map((r) => r.slice(0, -1)), b.slice(0, -1));
        xt = lc([1, xt_], ...D1s.map((D, k) => [-aT * Bh * rhoP[k], D] as [number, Vec]));
      }
      let mt: Vec | null = null;
      if (useCorrector) {
        const rhoC = order === 1 ? [0.5] : cramer(R, b);
        mt = modelFn(xt, t);
        const last = rhoC[rhoC.length - 1];
        xt = lc([1, xt_], ...D1s.map((D, k) => [-aT * Bh * rhoC[k], D] as [number, Vec]), [-aT * Bh * last, mt], [aT * Bh * last, m0]);
      }
      return [xt, mt];
    };
    let x = lc([1 / Math.sqrt(1 + ts[0] ** 2), noise]);
    const steps = ts.length - 1;
    const order = Math.min(3, ts.length - 2);
    const mPrev: Vec[] = [];
    const tPrev: number[] = [];
    for (let si = 0; si < steps; si++) {
      if (si === 0) {
        mPrev.push(modelFn(x, ts[0]));
        tPrev.push(ts[0]);
      } else if (si < order) {
        const [nx, mx] = update(x, mPrev, tPrev, ts[si], si, true);
        x = nx;
        mPrev.push(mx ?? modelFn(x, ts[si]));
        tPrev.push(ts[si]);
      } else {
        const extra = si === steps - 1 ? 1 : 0;
        for (let step = si; step <= si + extra; step++) {
          const stepOrder = Math.min(order, steps + 1 - step);
          const [nx, mx] = update(x, mPrev, tPrev, ts[step], stepOrder, step !== steps);
          x = nx;
          for (let k = 0; k < order - 1; k++) {
            tPrev[k] = tPrev[k + 1];
            mPrev[k] = mPrev[k + 1];
          }
          tPrev[tPrev.length - 1] = ts[step];
          if (step < steps) mPrev[mPrev.length - 1] = mx ?? modelFn(x, ts[step]);
        }
      }
      cb(si, x, mPrev[mPrev.length - 1]);
    }
    return lc([1 / alpha(ts[ts.length - 1]), x]);
  };
}

/** ComfyUI sampler name → reference (sigma-dependent ones are built per schedule). */
export function refSampler(name: string, sigmas: readonly number[]): RefSampler {
  switch (name) {
    case 'euler': case 'ddim': return euler;
    case 'euler_ancestral': return eulerAncestral;
    case 'heun': return heun;
    case 'heunpp2': return heunpp2;
    case 'dpm_2': return dpm2;
    case 'dpm_2_ancestral': return dpm2Ancestral;
    case 'lms': return lms;
    case 'dpmpp_2s_ancestral': return dpmpp2sAncestral;
    case 'dpmpp_sde': return dpmppSde;
    case 'dpmpp_2m': return dpmpp2m;
    case 'dpmpp_2m_sde': return dpmpp2mSdeWith('midpoint');
    case 'dpmpp_2m_sde_heun': return dpmpp2mSdeWith('heun');
    case 'dpmpp_3m_sde': return dpmpp3mSde;
    case 'ddpm': return ddpm;
    case 'lcm': return lcm;
    case 'ipndm': return ipndm(sigmas);
    case 'ipndm_v': return ipndmV(sigmas);
    case 'deis': return deis(sigmas);
    case 'uni_pc': return uniPc('bh1');
    case 'uni_pc_bh2': return uniPc('bh2');
    default: throw new Error(`no reference for ${name}`);
  }
}
