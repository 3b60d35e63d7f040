/**
 * The privacy loss random variable (PRV) of one step of DP-SGD: the Poisson-subsampled Gaussian
 * mechanism, and its truncation to the accountant's domain.
 *
 * Formulas: Gopi, Lee, Wutschitz, "Numerical Composition of Differential Privacy" (NeurIPS 2021,
 * arXiv 2106.02848), Appendix B, Propositions B1 (pdf) and B4 (cdf), as implemented in Opacus
 * opacus/accountants/analysis/prv/prvs.py (`PoissonSubsampledGaussianPRV`,
 * `TruncatedPrivacyRandomVariable`; v1.4.0 and v1.5.4). With z(t) = log((e^t + q - 1)/q), defined
 * for t > log(1 - q):
 *   cdf(t) = 1 - q/2·erfc((2zσ² - 1)/(2√2σ)) - (1-q)/2·erfc((2zσ² + 1)/(2√2σ))
 *   pdf(t) = σ·exp(-σ²z²/2 - 1/(8σ²) + 2t) / (√(2π)·(e^t + q - 1)·((e^t + q - 1)/q)^½)
 * and 0 for t ≤ log(1 - q) (the loss is bounded below: with probability 1 - q the example is not
 * in the batch).
 */
import { erfc } from '../special-functions.ts';
import { integrateQags } from './quadrature.ts';

const SQRT2 = Math.SQRT2;
const SQRT_2PI = Math.sqrt(2 * Math.PI);

export class PoissonSubsampledGaussianPRV {
  readonly sampleRate: number;
  readonly noiseMultiplier: number;
  /** log(1 - q): the loss is supported on (log(1-q), ∞); -∞ when q = 1. */
  readonly supportMin: number;

  constructor(sampleRate: number, noiseMultiplier: number) {
    if (!(sampleRate > 0 && sampleRate <= 1)) throw new RangeError(`PRV sampleRate must be in (0, 1], got ${sampleRate}`);
    if (!(noiseMultiplier > 0 && Number.isFinite(noiseMultiplier))) {
      throw new RangeError(`PRV noiseMultiplier must be a finite number > 0, got ${noiseMultiplier}`);
    }
    this.sampleRate = sampleRate;
    this.noiseMultiplier = noiseMultiplier;
    this.supportMin = Math.log(1 - sampleRate);
  }

  /**
   * Prop. B4, with the operations in Opacus' order (prvs.py `cdf`): the discretised pmf is a
   * difference of these values, so the same rounding keeps our pmf equal to Opacus' bit for bit
   * up to the last ulp of erfc.
   */
  cdf(t: number): number {
    if (!(t > this.supportMin)) return 0;
    const q = this.sampleRate;
    const sigma = this.noiseMultiplier;
    const z = Math.log((Math.exp(t) + q - 1) / q);
    const s2 = sigma ** 2;
    const den = 2 * SQRT2 * sigma;
    return (-q * erfc((2 * z * s2 - 1) / den)) / 2 - ((1 - q) * erfc((2 * z * s2 + 1) / den)) / 2 + 1.0;
  }

  /**
   * Prop. B1, evaluated in log space so that it neither overflows for large t (e^{2t}) nor
   * loses the density to underflow before the Gaussian factor is applied.
   */
  pdf(t: number): number {
    if (!(t > this.supportMin)) return 0;
    const q = this.sampleRate;
    const sigma = this.noiseMultiplier;
    // log(e^t + q - 1) = t + log1p((q - 1)e^{-t}) stays finite for large t.
    const logU = t + Math.log1p((q - 1) * Math.exp(-t));
    const z = logU - Math.log(q);
    const logPdf = Math.log(sigma) - (sigma * sigma * z * z) / 2 - 1 / (8 * sigma * sigma) + 2 * t - Math.log(SQRT_2PI) - logU - 0.5 * z;
    return Math.exp(logPdf);
  }
}

/** Which break points the continuous mean is integrated over (see TruncatedPRV.mean). */
export type MeanBreakpoints = 'v1.5.4' | 'v1.4.0';

/**
 * 10^y as glibc's pow gives it to numpy: correctly rounded at integer y (V8's Math.pow(10, -4) is
 * one ulp below 1e-4; the decimal literal is parsed exactly), Math.pow in between.
 */
function pow10(y: number): number {
  return Number.isInteger(y) ? Number(`1e${y}`) : Math.pow(10, y);
}

/** numpy.logspace(start, stop, num): 10 ** linspace, with linspace's i·step + start and exact end. */
function logspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(pow10(i === num - 1 ? stop : i * step + start));
  return out;
}

/** A PRV conditioned on [tMin, tMax) (Opacus `TruncatedPrivacyRandomVariable`). */
export class TruncatedPRV {
  readonly prv: PoissonSubsampledGaussianPRV;
  readonly tMin: number;
  readonly tMax: number;
  readonly remainingMass: number;
  private readonly cdfAtMin: number;

  constructor(prv: PoissonSubsampledGaussianPRV, tMin: number, tMax: number) {
    if (!(tMin < tMax)) throw new RangeError(`TruncatedPRV needs tMin < tMax, got [${tMin}, ${tMax}]`);
    this.prv = prv;
    this.tMin = tMin;
    this.tMax = tMax;
    this.cdfAtMin = prv.cdf(tMin);
    this.remainingMass = prv.cdf(tMax) - this.cdfAtMin;
    if (!(this.remainingMass > 0)) throw new RangeError(`TruncatedPRV: no probability mass in [${tMin}, ${tMax}]`);
  }

  cdf(t: number): number {
    if (t < this.tMin) return 0;
    if (t < this.tMax) return (this.prv.cdf(t) - this.cdfAtMin) / this.remainingMass;
    return 1.0;
  }

  /** Integration break points for the mean; both lists are Opacus' own. */
  breakpoints(which: MeanBreakpoints = 'v1.5.4'): number[] {
    if (which === 'v1.4.0') {
      // v1.4.0: ±logspace(-5, -1, 5) only. For large q the loss spreads over tens of units and
      // the single interval [0.1, t_max] is too coarse for quad: the mean comes out wrong and
      // discretize() raises "Discrete mean differs significantly from continuous mean".
      const pos = logspace(-5, -1, 5);
      return [this.tMin, ...pos.map((x) => -x).reverse(), ...pos, this.tMax];
    }
    // v1.5.x (Opacus v1.5.4 prvs.py `mean`): log-spaced out to |t_min| and t_max, decades
    // truncated toward zero as Python's int() does, plus 0 itself.
    const lowerExponent = Math.trunc(Math.log10(Math.abs(this.tMin)));
    const upperExponent = Math.trunc(Math.log10(this.tMax));
    return [
      this.tMin,
      ...logspace(lowerExponent, -5, 10).map((x) => -x),
      0,
      ...logspace(-5, upperExponent, 10),
      this.tMax,
    ];
  }

  /**
   * E[T] = [t·F(t)] - ∫F dt over consecutive break points (integration by parts, as Opacus), each
   * piece by QAGS with scipy.integrate.quad's tolerances and Opacus' limit = 500. The result
   * carries quad's error (up to ~1e-8 relative per piece); reproducing it rather than computing
   * the mean more exactly is what makes our epsilon equal Opacus' to ~1e-9 after 10^4 steps.
   */
  mean(which: MeanBreakpoints = 'v1.5.4'): number {
    const points = this.breakpoints(which);
    const f = (t: number): number => this.cdf(t);
    let mean = 0.0;
    for (let i = 0; i + 1 < points.length; i++) {
      const left = points[i];
      const right = points[i + 1];
      const integral = integrateQags(f, left, right, { limit: 500 }).value;
      mean += right * this.cdf(right) - left * this.cdf(left) - integral;
    }
    return mean;
  }
}
