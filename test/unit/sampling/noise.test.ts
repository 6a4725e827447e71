import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { defaultNoiseSampler, prepareNoise, randn, randnFromSeed } from '../../../src/inference/sampling/noise';
import { fmaf, logf32Avx, sincosf32Avx } from '../../../src/inference/sampling/float32Math';
import { offsetSeed, toSeed, TorchCpuGenerator } from '../../../src/inference/sampling/torchGenerator';

// Printed torch outputs found in public code (cited per vector). Values printed with 9+ significant
// digits identify a float32 exactly, so those are compared bit for bit after Math.fround.

// torch.manual_seed(0); X = randn(6, 4); W = randn(3, 4); b = randn(3)  — full float32 values from a
// baked reference test ("test_19_matches_real_pytorch_on_a_baked_reference_case", code search).
// 24 elements = one AVX2 block + an overlapping recomputed tail; W and b take the scalar double path.
const SEED0_X_6x4 = [
  -1.1258398294448853, -1.152360200881958, -0.2505785822868347, -0.4338788092136383,
  0.8487103581428528, 0.6920091509819031, -0.31601276993751526, -2.1152193546295166,
  0.46809640526771545, -0.1577124446630478, 1.4436601400375366, 0.26604941487312317,
  0.16645534336566925, 0.8743818402290344, -0.14347384870052338, -0.1116093322634697,
  0.9318265914916992, 1.2590092420578003, 2.0049805641174316, 0.05373690277338028,
  0.6180566549301147, -0.41280221939086914, -0.8410648107528687, -2.316041946411133,
];
const SEED0_W_3x4 = [
  0.3703935444355011, 1.4565025568008423, 0.9398099184036255, 0.7748488187789917,
  0.19186942279338837, 1.2637947797775269, -1.2904350757598877, -0.7911027073860168,
  -0.02087947353720665, -0.7184800505638123, 0.5186367630958557, -1.3125219345092773,
];
const SEED0_B_3 = [0.1919950693845749, 0.5427713394165039, -2.2187793254852295];

// torch.manual_seed(0); randn(2, 3, 4, 5) — 120 values with 9 significant digits, from the input
// tensor of a LeakyReLU unit test (raul "TestActivationFuncLeakyReLU.DeterministicUnit", code search).
// 120 = 7 blocks + a recomputed tail of 8.
const SEED0_120 = [
  -1.12583983, -1.15236020, -2.50578582e-01, -4.33878809e-01, 8.48710358e-01, 6.92009151e-01,
  -3.16012770e-01, -2.11521935, 3.22274923e-01, -1.26333475, 3.49983186e-01, 3.08133930e-01, 1.19841509e-01,
  1.23765790, 1.11677718, -2.47278154e-01, -1.35265374, -1.69593120, 5.66650629e-01, 7.93508351e-01,
  5.98839462e-01, -1.55509508, -3.41360390e-01, 1.85300612, 7.50189483e-01, -5.85497558e-01, -1.73396751e-01,
  1.83477938e-01, 1.38936615, 1.58633423, 9.46298361e-01, -8.43676746e-01, -6.13583088e-01, 3.15927416e-02,
  -4.92676973e-01, 2.48414755e-01, 4.39695835e-01, 1.12411186e-01, 6.40792370e-01, 4.41156268e-01,
  -1.02309652e-01, 7.92443991e-01, -2.89667696e-01, 5.25074862e-02, 5.22860467e-01, 2.30220532, -1.46889389,
  -1.58668876, -6.73089921e-01, 8.72831225e-01, 1.05535746, 1.77843720e-01, -2.30335474e-01, -3.91754389e-01,
  5.43294728e-01, -3.95157546e-01, -4.46217179e-01, 7.44020700e-01, 1.52097952, 3.41050267, -1.53118432,
  -1.23413503, 1.81972528, -5.51528692e-01, -5.69248080e-01, 9.19971406e-01, 1.11081612, 1.28987408,
  -1.47817397, 2.56723285, -4.73119795e-01, 3.35550755e-01, -1.62932599, -5.49743652e-01, -4.79834259e-01,
  -4.99681532e-01, -1.06698036, 1.11493957, -1.40671432e-01, 8.05753589e-01, -9.33482349e-02, 6.87050223e-01,
  -8.38315368e-01, 8.91821750e-04, 8.41894090e-01, -4.00034159e-01, 1.03946197, 3.58153105e-01, -2.46000946e-01,
  2.30251646, -1.88168919, -4.97270226e-02, -1.04497862, -9.56500828e-01, 3.35318595e-02, 7.10086584e-01,
  1.64586699, -1.36016893, 3.44565421e-01, 5.19867718e-01, -2.61332250, -1.69647443, -2.28241786e-01,
  2.79955000e-01, -7.01523602e-01, 1.03668678, -6.03670120e-01, -1.27876520, 9.29502323e-02, -6.66099727e-01,
  6.08047187e-01, -7.30019867e-01, 1.37503791, 6.59631073e-01, 4.76557106e-01, -1.01630747, 1.80366978e-01,
  1.08331867e-01, -7.54823267e-01, 2.44318530e-01,
];

// torch.manual_seed(42); input = randn(2, 2, 4, 4); weight = randn(3, 2, 3, 3); bias = randn(3) —
// full float32 values from a conv2d GPU test ("TestConv2dForwardOp_gpu", code search). 54 elements =
// 3 blocks + a recomputed tail of 6.
const SEED42_64 = [
  1.9269152879714966, 1.4872840642929077, 0.9007171988487244, -2.1055209636688232,
  0.6784184575080872, -1.2345448732376099, -0.04306747764348984, -1.6046669483184814,
  -0.7521352767944336, 1.6487230062484741, -0.3924786448478699, -1.4036071300506592,
  -0.7278813123703003, -0.5594301819801331, -0.7688388824462891, 0.7624453902244568,
  1.6423169374465942, -0.1595974713563919, -0.4973975419998169, 0.439589262008667,
  -0.7581311464309692, 1.078317642211914, 0.8008005619049072, 1.680620551109314,
  1.27912437915802, 1.2964228391647339, 0.610466480255127, 1.334737777709961,
  -0.2316243201494217, 0.041759490966796875, -0.2515752911567688, 0.859858512878418,
  -1.3846737146377563, -0.8712361454963684, -0.223365917801857, 1.7173614501953125,
  0.3188803195953369, -0.42451897263526917, 0.3057209253311157, -0.7745925188064575,
  -1.5575724840164185, 0.9956361055374146, -0.8797858357429504, -0.6011420488357544,
  -1.2741512060165405, 2.1227850914001465, -1.234653115272522, -0.4879138767719269,
  -0.9138230085372925, -0.6581372618675232, 0.07802387326955795, 0.5258087515830994,
  -0.48799172043800354, 1.1913690567016602, -0.8140076398849487, -0.7359927892684937,
  -1.4032478332519531, 0.03600366786122322, -0.06347727030515671, 0.6756148934364319,
  -0.0978068932890892, 1.8445940017700195, -1.184537410736084, 1.3835493326187134,
];
const SEED42_54 = [
  1.4451338052749634, 0.8564125299453735, 2.218075752258301, 0.5231655240058899,
  0.34664666652679443, -0.19733144342899323, -1.0545889139175415, 1.2779955863952637,
  -0.1721901297569275, 0.5237884521484375, 0.056621819734573364, 0.4262961447238922,
  0.575005054473877, -0.6417241096496582, -2.2063984870910645, -0.7508030533790588,
  0.01086814422160387, -0.33874234557151794, -1.3406795263290405, -0.5853705406188965,
  0.5361881256103516, 0.5246226191520691, 1.1412016153335571, 0.05164359509944916,
  0.7439519762992859, -0.4815843999385834, -1.0494661331176758, 0.603898823261261,
  -1.7222950458526611, -0.827768862247467, 1.334702968597412, 0.48353928327560425,
  -2.5095443725585938, 0.4880010485649109, 0.7845868468284607, 0.02864718623459339,
  0.640755295753479, 0.5832474231719971, -0.3890652060508728, 0.5279164910316467,
  1.031091570854187, -0.7047650218009949, 1.013148307800293, -0.330817848443985,
  0.517693042755127, 0.38777846097946167, 0.7199674844741821, 0.41140761971473694,
  -0.5733190178871155, 0.5068639516830444, -0.4752098321914673, -0.49202650785446167,
  0.27037355303764343, -0.5628241896629333,
];
const SEED42_3 = [1.2175776958465576, -0.8914098143577576, 0.7859604954719543];

function assertBitExact(actual: Float32Array, expected: readonly number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Object.is(actual[i], Math.fround(expected[i])), `${label}[${i}]: got ${actual[i]}, expected ${Math.fround(expected[i])}`);
  }
}

function assert4(actual: Float32Array, expected: readonly number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= 0.00005 + 1e-9, `${label}[${i}]: ${actual[i]} vs ${e}`));
}

describe('sampling/noise: PyTorch CPU generator', () => {
  it('reproduces torch.manual_seed(0); torch.randn(5) and randn(2,3) (scalar double path)', () => {
    assert4(randnFromSeed(0, [5]), [1.5410, -0.2934, -2.1788, 0.5684, -1.0845], 'randn(5)');
    assert4(randnFromSeed(0, [2, 3]), [1.5410, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986], 'randn(2,3)');
  });

  it('is bit-exact for seed 0: randn(6,4) then randn(3,4) then randn(3) on one generator', () => {
    const g = new TorchCpuGenerator(0);
    assertBitExact(randn(g, [6, 4]), SEED0_X_6x4, 'X');
    assertBitExact(randn(g, [3, 4]), SEED0_W_3x4, 'W');
    assertBitExact(randn(g, [3]), SEED0_B_3, 'b');
  });

  it('is bit-exact for seed 0: randn(2,3,4,5) (120 values, recomputed tail)', () => {
    assertBitExact(randnFromSeed(0, [2, 3, 4, 5]), SEED0_120, 'randn(120)');
  });

  it('is bit-exact for seed 42: randn(2,2,4,4), then randn(3,2,3,3) and randn(3)', () => {
    const g = new TorchCpuGenerator(42);
    assertBitExact(randn(g, [2, 2, 4, 4]), SEED42_64, 'input');
    assertBitExact(randn(g, [3, 2, 3, 3]), SEED42_54, 'weight');
    assertBitExact(randn(g, [3]), SEED42_3, 'bias');
  });

  it('matches printed 4-decimal outputs with tails (seed 0 randn(4,5), seed 42 randn(2,3,4))', () => {
    // seed 0, randn(4, 5): logits in a softmax cross-entropy snippet (code search).
    assert4(randnFromSeed(0, [4, 5]), [
      -1.1258, -1.1524, -0.2506, -0.4339, 0.5988, -1.5551, -0.3414, 1.8530, 0.4681, -0.1577,
      1.4437, 0.2660, 1.3894, 1.5863, 0.9463, -0.8437, 0.9318, 1.2590, 2.0050, 0.0537,
    ], 'seed0 4x5');
    // seed 42, randn(2, 3, 4): karpathy/llm.c layernorm doc.
    assert4(randnFromSeed(42, [2, 3, 4]), [
      1.9269, 1.4873, 0.9007, -2.1055, 0.6784, -1.2345, -0.0431, -1.6047, 0.3559, -0.6866, -0.4934, 0.2415,
      -1.1109, 0.0915, -2.3169, -0.2168, -0.3097, -0.3957, 0.8034, -0.6216, -0.5920, -0.0631, -0.8286, 0.3309,
    ], 'seed42 2x3x4');
  });

  it('uses only the low 32 bits of a 64-bit seed, and accepts up to 2^64-1', () => {
    const a = randnFromSeed(5n, [32]);
    const b = randnFromSeed((1n << 40n) + 5n, [32]);
    assert.deepEqual(Array.from(a), Array.from(b));
    assert.doesNotThrow(() => randnFromSeed((1n << 64n) - 1n, [16]));
    assert.throws(() => toSeed(1n << 64n), /between 0 and 2\^64-1/);
    assert.throws(() => toSeed(-1), /between 0 and 2\^64-1/);
    assert.throws(() => toSeed(1.5), /must be an integer/);
    assert.equal(offsetSeed((1n << 64n) - 1n, 1), 0n);
  });

  it('takes a JSON seed above 2^53 as the exact value of the double it parsed to, as ComfyUI does with its frontend', () => {
    const parsed = JSON.parse('{"seed": 1152921504606846977}').seed as number; // 2^60 + 1 rounds to 2^60
    assert.equal(toSeed(parsed), 1n << 60n);
    assert.deepEqual(Array.from(randnFromSeed(parsed, [16])), Array.from(randnFromSeed(1n << 60n, [16])));
    // 2^64 - 1 is not a double: it parses to 2^64, which is out of torch's range.
    assert.throws(() => toSeed(JSON.parse('18446744073709551615')), /between 0 and 2\^64-1/);
    assert.throws(() => toSeed(Number.NaN), /must be an integer/);
  });

  it('same seed gives the same values; a batch draw continues the stream of one generator', () => {
    assert.deepEqual(Array.from(randnFromSeed(123, [1, 4, 8, 8])), Array.from(randnFromSeed(123, [1, 4, 8, 8])));
    // 256 is a multiple of 16, so two [1,4,8,8] draws equal one [2,4,8,8] draw (no tail recompute).
    const g = new TorchCpuGenerator(123);
    const first = randn(g, [1, 4, 8, 8]);
    const second = randn(g, [1, 4, 8, 8]);
    const both = randnFromSeed(123, [2, 4, 8, 8]);
    assert.deepEqual(Array.from(both.subarray(0, 256)), Array.from(first));
    assert.deepEqual(Array.from(both.subarray(256)), Array.from(second));
  });

  it('prepareNoise with batch_index draws per index in sequence and picks (ComfyUI prepare_noise)', () => {
    const shape = [3, 4, 4, 4];
    const g = new TorchCpuGenerator(7);
    const d0 = randn(g, [1, 4, 4, 4]);
    randn(g, [1, 4, 4, 4]);
    const d2 = randn(g, [1, 4, 4, 4]);
    const noise = prepareNoise(7, shape, [2, 0, 2]);
    assert.deepEqual(Array.from(noise.subarray(0, 64)), Array.from(d2));
    assert.deepEqual(Array.from(noise.subarray(64, 128)), Array.from(d0));
    assert.deepEqual(Array.from(noise.subarray(128)), Array.from(d2));
    assert.deepEqual(Array.from(prepareNoise(7, shape)), Array.from(randnFromSeed(7, shape)));
    assert.throws(() => prepareNoise(7, shape, [0, 1]), /batch_index has 2 entries/);
  });

  it('default noise sampler is torch randn seeded with seed+1, a fresh draw per call', () => {
    const ns = defaultNoiseSampler([1, 4, 2, 2], 10);
    const g = new TorchCpuGenerator(11);
    assert.deepEqual(Array.from(ns(1, 0.5)), Array.from(randn(g, [1, 4, 2, 2])));
    assert.deepEqual(Array.from(ns(0.5, 0.1)), Array.from(randn(g, [1, 4, 2, 2])));
  });

  it('has mean ≈ 0 and variance ≈ 1 over a latent-sized draw', () => {
    const v = randnFromSeed(2024, [1, 4, 64, 64]);
    let s = 0, s2 = 0;
    for (const x of v) { s += x; s2 += x * x; }
    const mean = s / v.length;
    assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
    assert.ok(Math.abs(s2 / v.length - mean * mean - 1) < 0.05, 'variance');
  });
});

describe('sampling/float32Math', () => {
  it('fmaf rounds once (differs from separately rounded multiply-add where that double-rounds)', () => {
    // (1+2^-12)^2 = 1 + 2^-11 + 2^-24: separate rounding loses the 2^-24 (a tie to even), fused keeps it.
    const a = Math.fround(1 + 2 ** -12);
    assert.equal(fmaf(a, a, -1), 2 ** -11 + 2 ** -24);
    assert.equal(Math.fround(Math.fround(a * a) - 1), 2 ** -11);
    // The float64 sum is exactly a float32 midpoint but the exact sum is not: the tiny addend decides.
    assert.equal(fmaf(a, a, 2 ** -80), Math.fround(1 + 2 ** -11 + 2 ** -23));
    assert.equal(fmaf(a, a, -(2 ** -80)), Math.fround(1 + 2 ** -11));
    assert.equal(fmaf(a, a, 0), Math.fround(1 + 2 ** -11));
  });

  it('log and sincos polynomials are accurate to float32 precision', () => {
    const sc = new Float64Array(2);
    for (let k = 1; k <= 200; k++) {
      const u = Math.fround(k / 200);
      assert.ok(Math.abs(logf32Avx(u) - Math.log(u)) < 4e-7 * Math.max(1, Math.abs(Math.log(u))), `log ${u}`);
      const th = Math.fround((2 * Math.PI * k) / 200);
      sincosf32Avx(th, sc);
      assert.ok(Math.abs(sc[0] - Math.sin(th)) < 3e-7 && Math.abs(sc[1] - Math.cos(th)) < 3e-7, `sincos ${th}`);
    }
  });
});
