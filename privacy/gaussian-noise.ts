/**
 * Gaussian noise for DP-SGD, with defences against floating-point attacks on Gaussian samplers
 * (Mironov 2012 for the Laplace mechanism; Jin et al. 2021, arXiv 2112.05307, for Gaussians;
 * Holohan & Braghin 2021, arXiv 2107.10138). Three kinds; privacy/README.md explains the choice:
 *
 * - 'secure' (default): Opacus's secure_mode, shared/notes/opacus.md §1.5
 *   (opacus/optimizers/optimizer.py `_generate_noise`, secure_mode=True): one draw discarded, then
 *   (n1 + n2 + n3 + n4) / 2 for four independent N(0, std^2) draws (Holohan & Braghin sec. 5.1, n = 2),
 *   from the CSPRNG.
 * - 'discrete': an exact discrete Gaussian (Canonne, Kamath, Steinke 2020) on a power-of-two grid,
 *   with the data-dependent input rounded onto the same grid first, so the output is exactly a grid
 *   point and no low-order bits depend on the data.
 * - 'plain': one Box-Muller draw per coordinate; what Opacus does without secure_mode. Tests and
 *   benchmarks only.
 */
import { discreteGaussianSampler } from './discrete-gaussian.ts';
import type { RandomSource } from './secure-random.ts';

export type NoiseKind = 'secure' | 'discrete' | 'plain';

export interface GaussianNoise {
  readonly kind: NoiseKind;
  /** True when the random source is the CSPRNG and the kind is not 'plain'. */
  readonly cryptographicallySecure: boolean;
  /**
   * The standard deviation to pass to addTo so that the result is the Gaussian mechanism with this
   * noise multiplier for a query of L2 sensitivity `sensitivity` over `dim` coordinates
   * (noiseMultiplier * sensitivity for the continuous kinds; slightly more for 'discrete', to cover
   * the rounding onto the grid).
   */
  stdFor(noiseMultiplier: number, sensitivity: number, dim: number): number;
  /** Adds independent noise of standard deviation `std` to every element of `out`. std = 0 adds nothing (as Opacus). */
  addTo(out: Float64Array, std: number): void;
}

/**
 * Box-Muller: two independent N(0, 1) from two uniforms. u1 is taken in (0, 1] so log never sees 0.
 * Writes into pair[0], pair[1].
 */
function boxMullerPair(random: RandomSource, pair: Float64Array): void {
  const u1 = 1 - random.nextDouble();
  const u2 = random.nextDouble();
  const r = Math.sqrt(-2 * Math.log(u1));
  const theta = 2 * Math.PI * u2;
  pair[0] = r * Math.cos(theta);
  pair[1] = r * Math.sin(theta);
}

/** A stream of standard normal draws (Box-Muller, pairs used in order). */
export class StandardNormalStream {
  private readonly pair = new Float64Array(2);
  private hasSpare = false;
  constructor(private readonly random: RandomSource) {}

  next(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.pair[1];
    }
    boxMullerPair(this.random, this.pair);
    this.hasSpare = true;
    return this.pair[0];
  }
}

function checkStd(std: number): void {
  if (!(std >= 0) || !Number.isFinite(std)) throw new RangeError(`std must be finite and >= 0 (got ${std})`);
}

function checkStdForArgs(noiseMultiplier: number, sensitivity: number, dim: number): void {
  if (!(noiseMultiplier >= 0) || !Number.isFinite(noiseMultiplier)) throw new RangeError(`noiseMultiplier must be finite and >= 0 (got ${noiseMultiplier})`);
  if (!(sensitivity > 0) || !Number.isFinite(sensitivity)) throw new RangeError(`sensitivity must be finite and > 0 (got ${sensitivity})`);
  if (!Number.isSafeInteger(dim) || dim < 0) throw new RangeError(`dim must be a non-negative integer (got ${dim})`);
}

/** Continuous Gaussian noise: 'secure' (Opacus secure_mode, the default) or 'plain'. */
export function createGaussianNoise(random: RandomSource, opts: { kind?: 'secure' | 'plain' } = {}): GaussianNoise {
  const kind = opts.kind ?? 'secure';
  if (kind !== 'secure' && kind !== 'plain') throw new RangeError(`kind must be 'secure' or 'plain' (got ${String(kind)})`);
  const normals = new StandardNormalStream(random);
  return {
    kind,
    cryptographicallySecure: random.cryptographicallySecure && kind === 'secure',
    stdFor(noiseMultiplier, sensitivity, dim) {
      checkStdForArgs(noiseMultiplier, sensitivity, dim);
      return noiseMultiplier * sensitivity;
    },
    addTo(out, std) {
      checkStd(std);
      if (std === 0) return;
      if (kind === 'plain') {
        for (let i = 0; i < out.length; i++) out[i] += std * normals.next();
        return;
      }
      // opacus/optimizers/optimizer.py `_generate_noise(secure_mode=True)`: one discarded draw per
      // call, then the sum of four draws over 2 (still N(0, std^2); each output mixes four samples,
      // which is what defeats the attack of arXiv 2112.05307 on a single sampler output).
      normals.next();
      for (let i = 0; i < out.length; i++) {
        const s = normals.next() + normals.next() + normals.next() + normals.next();
        out[i] += std * (s / 2);
      }
    },
  };
}

/** Largest power of two <= x (x > 0 finite), exact. */
function powerOfTwoAtMost(x: number): number {
  let e = Math.floor(Math.log2(x));
  while (2 ** e > x) e--;
  while (2 ** (e + 1) <= x) e++;
  return 2 ** e;
}

const TWO_POW_52 = 4503599627370496;

/**
 * Discrete Gaussian noise on the grid g * Z, g = (largest power of two <= std) * 2^-gridBitsBelowStd:
 * out[i] <- (round(out[i] / g) + K_i) * g with K_i ~ N_Z(0, (std/g)^2) sampled exactly
 * (privacy/discrete-gaussian.ts). Everything is exact in binary floating point (g is a power of two
 * and the integers stay below 2^53), so the output carries no information below the grid.
 *
 * Rounding moves each coordinate by at most g/2, so neighbouring inputs at L2 distance Delta land at
 * most Delta + sqrt(dim) g apart; stdFor inflates the std to sigma * Delta / (1 - sigma sqrt(dim) 2^-bits),
 * which covers that (g <= std 2^-bits). The accountant then treats it as the continuous Gaussian with
 * noise multiplier sigma: see privacy/README.md for the (tiny) gap between the two.
 */
export function createDiscreteGaussianNoise(random: RandomSource, opts: { gridBitsBelowStd?: number } = {}): GaussianNoise {
  const bits = opts.gridBitsBelowStd ?? 32;
  if (!Number.isInteger(bits) || bits < 8 || bits > 44) throw new RangeError(`gridBitsBelowStd must be an integer in [8, 44] (got ${bits})`);
  const samplerCache = new Map<number, () => bigint>();
  return {
    kind: 'discrete',
    cryptographicallySecure: random.cryptographicallySecure,
    stdFor(noiseMultiplier, sensitivity, dim) {
      checkStdForArgs(noiseMultiplier, sensitivity, dim);
      const slack = noiseMultiplier * Math.sqrt(dim) * 2 ** -bits;
      if (slack >= 0.5) throw new RangeError(`gridBitsBelowStd (${bits}) is too coarse for noiseMultiplier ${noiseMultiplier} over ${dim} coordinates`);
      // The factor (1 + 2^-40) absorbs the rounding of this floating-point expression itself.
      return ((noiseMultiplier * sensitivity) / (1 - slack)) * (1 + 2 ** -40);
    },
    addTo(out, std) {
      checkStd(std);
      if (std === 0) return;
      const g = powerOfTwoAtMost(std) * 2 ** -bits;
      const s = std / g; // exact: g is a power of two
      let sample = samplerCache.get(s);
      if (!sample) {
        sample = discreteGaussianSampler(random, s);
        samplerCache.clear();
        samplerCache.set(s, sample);
      }
      for (let i = 0; i < out.length; i++) {
        const scaled = Math.round(out[i] / g);
        if (!(Math.abs(scaled) < TWO_POW_52)) {
          throw new RangeError(`out[${i}] = ${out[i]} is too large (or not finite) for a grid of ${g}; lower gridBitsBelowStd`);
        }
        const k = Number(sample());
        out[i] = (scaled + k) * g;
      }
    },
  };
}
