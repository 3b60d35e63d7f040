/**
 * A small seeded generator for initialisation, synthetic data, tests and benchmarks — reproducible,
 * NOT cryptographic (DP noise and Poisson sampling come from privacy/'s secure source).
 * mulberry32 (Tommy Ettinger, public domain): 32-bit state, passes gjrand/PractRand to 2^32 outputs,
 * plenty for drawing weights.
 */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draw (Box–Muller) from a uniform generator. */
export function gaussian(rng: () => number): number {
  let u = rng();
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/*
 * Ziggurat tables for the standard normal (Marsaglia & Tsang 2000, "The Ziggurat Method for
 * Generating Random Variables", J. Stat. Softw. 5(8), 128 layers): kn = acceptance thresholds on a
 * signed 32-bit draw, wn = layer widths / 2^31, fn = density at each layer edge.
 */
const ZIG_R = 3.442619855899;
const zigKn = new Int32Array(128);
const zigWn = new Float64Array(128);
const zigFn = new Float64Array(128);
{
  const m1 = 2147483648;
  const vn = 9.91256303526217e-3;
  let dn = ZIG_R;
  let tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  zigKn[0] = Math.floor((dn / q) * m1);
  zigKn[1] = 0;
  zigWn[0] = q / m1;
  zigWn[127] = dn / m1;
  zigFn[0] = 1;
  zigFn[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    zigKn[i + 1] = Math.floor((dn / tn) * m1);
    tn = dn;
    zigFn[i] = Math.exp(-0.5 * dn * dn);
    zigWn[i] = dn / m1;
  }
}

/** The rare Ziggurat path: a wedge or the tail beyond ZIG_R (about 2.5% of draws). */
function zigguratSlow(rng: () => number, hz0: number): number {
  let hz = hz0;
  for (;;) {
    const iz = hz & 127;
    const x = hz * zigWn[iz];
    if (iz === 0) {
      // Tail: Marsaglia's exponential-rejection sampler for |x| > ZIG_R.
      let tx: number;
      let ty: number;
      do {
        tx = -Math.log(1 - rng()) / ZIG_R;
        ty = -Math.log(1 - rng());
      } while (ty + ty < tx * tx);
      return hz > 0 ? ZIG_R + tx : -ZIG_R - tx;
    }
    if (zigFn[iz] + rng() * (zigFn[iz - 1] - zigFn[iz]) < Math.exp(-0.5 * x * x)) return x;
    hz = (rng() * 4294967296) | 0;
    if (Math.abs(hz) < zigKn[hz & 127]) return hz * zigWn[hz & 127];
  }
}

/**
 * Fills out with independent standard normal draws from `rng` (Ziggurat: ~97.5% of draws cost one
 * uniform, a table compare and a multiply). The bulk form exists for speed: one `gaussian` call per
 * coordinate cost ~40-100 ns (two uniforms, log, sqrt and cos), and for an 18.8k-parameter model the
 * per-step noise then cost more than the per-sample gradients. Seeded and NOT cryptographic: for
 * benchmarks and tests (DP noise in deployment comes from privacy/gaussian-noise.ts).
 */
export function fillGaussian(rng: () => number, out: Float64Array): void {
  for (let i = 0; i < out.length; i++) {
    const hz = (rng() * 4294967296) | 0;
    const iz = hz & 127;
    out[i] = Math.abs(hz) < zigKn[iz] ? hz * zigWn[iz] : zigguratSlow(rng, hz);
  }
}
