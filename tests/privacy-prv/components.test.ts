/** The pieces of the PRV accountant, each against something it must equal. */
import { describe, expect, it } from 'vitest';
import {
  Domain,
  PoissonSubsampledGaussianPRV,
  TruncatedPRV,
  composeFourier,
  composeTwo,
  computeEpsilon,
  integrateQags,
} from '../../privacy/prv/index.ts';
import { complexPowInPlace, convolveSame, dft, irfft, rfft } from '../../privacy/prv/fft.ts';

/** Deterministic pseudo-random numbers (no Math.random in tests). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('PoissonSubsampledGaussianPRV', () => {
  const cases: [number, number][] = [[0.01, 1.1], [0.1, 0.8], [0.5, 2], [0.004266666666666667, 1.1]];
  for (const [q, sigma] of cases) {
    const prv = new PoissonSubsampledGaussianPRV(q, sigma);
    it(`q=${q} sigma=${sigma}: support starts at log(1-q), cdf rises from 0 to 1`, () => {
      expect(prv.supportMin).toBe(Math.log(1 - q));
      expect(prv.cdf(prv.supportMin)).toBe(0);
      expect(prv.cdf(prv.supportMin - 1)).toBe(0);
      expect(prv.pdf(prv.supportMin - 1)).toBe(0);
      expect(prv.cdf(60)).toBeCloseTo(1, 15);
      let prev = 0;
      for (let t = prv.supportMin + 1e-6; t < 20; t += 0.37) {
        const c = prv.cdf(t);
        expect(c).toBeGreaterThanOrEqual(prev);
        prev = c;
      }
    });
    it(`q=${q} sigma=${sigma}: pdf (Prop. B1) integrates to cdf (Prop. B4) differences`, () => {
      const pdf = (t: number): number => prv.pdf(t);
      for (const [a, b] of [[prv.supportMin + 1e-3, -0.001], [-0.001, 0.05], [0.05, 3]]) {
        const r = integrateQags(pdf, a, b, { limit: 500, epsabs: 1e-14, epsrel: 1e-12 });
        expect(Math.abs(r.value - (prv.cdf(b) - prv.cdf(a)))).toBeLessThan(1e-11);
      }
    });
    it(`q=${q} sigma=${sigma}: E[exp(-Y)] = 1, the defining identity of a privacy loss variable`, () => {
      const f = (t: number): number => prv.pdf(t) * Math.exp(-t);
      const total =
        integrateQags(f, prv.supportMin, 0, { limit: 500, epsabs: 1e-14, epsrel: 1e-12 }).value +
        integrateQags(f, 0, 40, { limit: 500, epsabs: 1e-14, epsrel: 1e-12 }).value;
      expect(total).toBeCloseTo(1, 9);
    });
  }
  it('names the parameter it refuses', () => {
    expect(() => new PoissonSubsampledGaussianPRV(0, 1)).toThrow(/sampleRate/);
    expect(() => new PoissonSubsampledGaussianPRV(1.5, 1)).toThrow(/sampleRate/);
    expect(() => new PoissonSubsampledGaussianPRV(0.1, 0)).toThrow(/noiseMultiplier/);
  });
});

describe('TruncatedPRV', () => {
  const prv = new PoissonSubsampledGaussianPRV(0.05, 1.0);
  const t = new TruncatedPRV(prv, -4.2, 4.3);
  it('is 0 below, 1 from tMax on, renormalised between', () => {
    expect(t.cdf(-5)).toBe(0);
    expect(t.cdf(4.3)).toBe(1);
    expect(t.cdf(-4.2)).toBe(0);
    expect(t.cdf(0.2)).toBeCloseTo((prv.cdf(0.2) - prv.cdf(-4.2)) / (prv.cdf(4.3) - prv.cdf(-4.2)), 15);
  });
  it('v1.5.4 break points: log-spaced to |t_min| and t_max with 0, increasing', () => {
    const p = t.breakpoints('v1.5.4');
    expect(p.length).toBe(23);
    expect(p[0]).toBe(-4.2);
    expect(p[1]).toBe(-1); // 10^int(log10 4.2)
    expect(p[11]).toBe(0);
    expect(p[21]).toBe(1);
    expect(p[22]).toBe(4.3);
    for (let i = 1; i < p.length; i++) expect(p[i]).toBeGreaterThan(p[i - 1]);
    // numpy.logspace(-5, -1, 5), correctly rounded (numpy 2.4.6's pow gives 10^-5 one ulp low, V8's
    // Math.pow 10^-4; an ulp in a break point moves the mean by ~1e-21)
    expect(t.breakpoints('v1.4.0')).toEqual([-4.2, -0.1, -0.01, -0.001, -0.0001, -1e-5, 1e-5, 0.0001, 0.001, 0.01, 0.1, 4.3]);
  });
  it('mean() equals the mean computed from the density to 1e-8 (quad tolerance)', () => {
    const f = (x: number): number => (x * prv.pdf(x)) / t.remainingMass;
    const direct =
      integrateQags(f, -4.2, 0, { limit: 500, epsabs: 1e-15, epsrel: 1e-13 }).value +
      integrateQags(f, 0, 4.3, { limit: 500, epsabs: 1e-15, epsrel: 1e-13 }).value;
    expect(Math.abs(t.mean() - direct)).toBeLessThan(1e-8);
    expect(Math.abs(t.mean('v1.4.0') - direct)).toBeLessThan(1e-8);
  });
});

describe('Domain', () => {
  it('createAligned: even size, t = 0 on the grid at index size/2 - 1, mesh kept', () => {
    for (const [L, dt] of [[5.3, 0.01], [3.0000001, 1e-3], [12.345, 0.0007], [4, 0.5]]) {
      const d = Domain.createAligned(-L, L, dt);
      expect(d.size % 2).toBe(0);
      expect(Math.abs(d.dt - dt) / dt).toBeLessThan(1e-8);
      expect(d.tMin).toBeLessThanOrEqual(-L);
      expect(d.tMax).toBeGreaterThanOrEqual(L);
      const ts = d.ts();
      expect(Math.abs(ts[d.size / 2 - 1])).toBeLessThan(1e-9 * dt * d.size);
      expect(ts[d.size - 1]).toBe(d.tMax);
    }
  });
  it('shiftRight accumulates shifts', () => {
    const d = Domain.createAligned(-3, 3, 0.1).shiftRight(0.01).shiftRight(0.02);
    expect(d.shifts).toBeCloseTo(0.03, 15);
    expect(d.tMin).toBeCloseTo(-3.0 + 0.03, 12);
  });
  it('refuses odd sizes and bad meshes by name', () => {
    expect(() => new Domain(-1, 1, 11)).toThrow(/size must be even/);
    expect(() => Domain.createAligned(-1, 1, 0)).toThrow(/dt/);
    expect(() => Domain.createAligned(1, -1, 0.1)).toThrow(/tMin < tMax/);
  });
});

describe('integrateQags (QUADPACK QAGS)', () => {
  it('integrates smooth, singular and discontinuous functions to the requested accuracy', () => {
    const cases: [(x: number) => number, number, number, number][] = [
      [(x) => (x > 0 ? x ** -0.5 : 0), 0, 1, 2],
      [(x) => (x > 0 ? Math.log(x) : 0), 0, 1, -1],
      [(x) => Math.exp(-x * x), -30, 40, Math.sqrt(Math.PI)],
      [(x) => Math.sin(x), 0, Math.PI, 2],
      [(x) => (x > 0.3 ? 1 : 0), 0, 1, 0.7],
    ];
    for (const [f, a, b, exact] of cases) {
      const r = integrateQags(f, a, b);
      expect(r.ier).toBe(0);
      expect(Math.abs(r.value - exact)).toBeLessThan(1e-12);
      expect(r.abserr).toBeLessThan(1e-8);
    }
  });
  it('takes the same path as scipy.integrate.quad (scipy 1.17.1: value, subintervals)', () => {
    // scipy.integrate.quad(f, a, b, limit=500, full_output=1) -> (value, abserr, info['last'])
    const osc = integrateQags((x) => Math.cos(50 * x) * Math.exp(-x), 0, 3, { limit: 500 });
    expect(osc.intervals).toBe(16);
    expect(osc.value).toBeCloseTo(-0.0003256272417170834, 17);
    const peak = integrateQags((x) => 1 / ((x - 0.123) ** 2 + 1e-6), 0, 1, { limit: 500 });
    expect(peak.intervals).toBe(14);
    expect(peak.value).toBe(3132.3225010488345);
    expect(peak.abserr).toBe(1.6351309817252968e-6);
    const gauss = integrateQags((x) => Math.exp(-x * x), -30, 40, { limit: 500 });
    expect(gauss.intervals).toBe(8);
    expect(gauss.value).toBe(1.772453850905542);
  });
  it('reports non-convergence instead of looping: limit reached gives ier 1', () => {
    const r = integrateQags((x) => Math.sin(1 / x), 1e-6, 1, { limit: 5 });
    expect(r.ier).toBe(1);
    expect(r.intervals).toBe(5);
  });
  it('names bad arguments', () => {
    expect(() => integrateQags(Math.sin, 0, Infinity)).toThrow(/bounds/);
    expect(() => integrateQags(Math.sin, 0, 1, { limit: 0 })).toThrow(/limit/);
  });
});

describe('FFT', () => {
  const naiveDft = (x: Float64Array): { re: number[]; im: number[] } => {
    const n = x.length;
    const re: number[] = [];
    const im: number[] = [];
    for (let k = 0; k <= n / 2; k++) {
      let sr = 0;
      let si = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * ((j * k) % n)) / n;
        sr += x[j] * Math.cos(a);
        si += x[j] * Math.sin(a);
      }
      re.push(sr);
      im.push(si);
    }
    return { re, im };
  };
  const rand = lcg(7);
  for (const n of [2, 4, 6, 10, 30, 64, 98, 202, 250, 1024]) {
    it(`rfft/irfft n=${n} (m=${n / 2}: ${(n / 2) & (n / 2 - 1) ? 'Bluestein' : 'radix-2'}) match the naive DFT and invert`, () => {
      const x = Float64Array.from({ length: n }, () => rand() - 0.3);
      const X = rfft(x);
      const ref = naiveDft(x);
      for (let k = 0; k <= n / 2; k++) {
        expect(Math.abs(X.re[k] - ref.re[k])).toBeLessThan(1e-12 * n);
        expect(Math.abs(X.im[k] - ref.im[k])).toBeLessThan(1e-12 * n);
      }
      const back = irfft(X.re, X.im, n);
      for (let i = 0; i < n; i++) expect(Math.abs(back[i] - x[i])).toBeLessThan(1e-14);
    });
  }
  it('complex dft of a prime length inverts', () => {
    const n = 101;
    const re = Float64Array.from({ length: n }, () => rand());
    const im = Float64Array.from({ length: n }, () => rand());
    const r2 = re.slice();
    const i2 = im.slice();
    dft(r2, i2, -1);
    dft(r2, i2, 1);
    for (let i = 0; i < n; i++) {
      expect(r2[i] / n).toBeCloseTo(re[i], 13);
      expect(i2[i] / n).toBeCloseTo(im[i], 13);
    }
  });
  it('irfft ignores the imaginary parts of the zero and Nyquist terms, as numpy does', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5, 6]);
    const X = rfft(x);
    X.im[0] = 0.7;
    X.im[3] = -0.4;
    const back = irfft(X.re, X.im, 6);
    for (let i = 0; i < 6; i++) expect(back[i]).toBeCloseTo(x[i], 13);
  });
  it('convolveSame = the centred part of the direct full convolution (scipy "same")', () => {
    for (const n of [8, 9, 100]) {
      const a = Float64Array.from({ length: n }, () => rand());
      const b = Float64Array.from({ length: n }, () => rand());
      const full = new Float64Array(2 * n - 1);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) full[i + j] += a[i] * b[j];
      const start = (n - 1) >> 1;
      const same = convolveSame(a, b);
      expect(same.length).toBe(n);
      for (let i = 0; i < n; i++) expect(same[i]).toBeCloseTo(full[start + i], 12);
    }
  });
  it('complexPow: repeated squaring below 100, exp(n log z) above, both = repeated products', () => {
    for (const n of [2, 3, 7, 64, 99, 100, 150, 1000]) {
      const re = Float64Array.from([0.999, 0.3, -0.8, 0.99999]);
      const im = Float64Array.from([0.01, -0.9, 0.5, 0.001]);
      const er = Array.from(re);
      const ei = Array.from(im);
      for (let k = 0; k < re.length; k++) {
        let pr = 1;
        let pi = 0;
        for (let i = 0; i < n; i++) [pr, pi] = [pr * re[k] - pi * im[k], pr * im[k] + pi * re[k]];
        er[k] = pr;
        ei[k] = pi;
      }
      complexPowInPlace(re, im, n);
      for (let k = 0; k < re.length; k++) {
        const scale = Math.hypot(er[k], ei[k]);
        expect(Math.abs(re[k] - er[k])).toBeLessThan(1e-12 * Math.max(scale, 1e-300) + 1e-300);
        expect(Math.abs(im[k] - ei[k])).toBeLessThan(1e-12 * Math.max(scale, 1e-300) + 1e-300);
      }
    }
  });
});

describe('composition bookkeeping', () => {
  // A pmf on an aligned grid with its mass near 0: the n-fold sum must sit where index arithmetic
  // says (t of a sum = sum of t's), for odd and even n, and the shifts must add up.
  const domain = Domain.createAligned(-2, 2, 0.05).shiftRight(0.001);
  const ts = domain.ts();
  const pmf = new Float64Array(domain.size);
  const zero = domain.size / 2 - 1;
  pmf[zero - 1] = 0.2;
  pmf[zero] = 0.5;
  pmf[zero + 2] = 0.3;
  const mean1 = ts.reduce((s, t, i) => s + t * pmf[i], 0);
  for (const n of [1, 2, 3, 6, 7]) {
    it(`n=${n}: mass is conserved, the mean is n times the mean, the grid moved by n shifts`, () => {
      const c = composeFourier({ pmf, domain }, n);
      const t = c.domain.ts();
      const mass = c.pmf.reduce((s, p) => s + p, 0);
      const mean = t.reduce((s, x, i) => s + x * c.pmf[i], 0);
      expect(mass).toBeCloseTo(1, 13);
      expect(mean).toBeCloseTo(n * mean1, 11);
      expect(c.domain.shifts).toBeCloseTo(n * 0.001, 15);
      // exact position of the extreme atom: n copies of the top atom (index zero+2)
      const top = zero + 2 * n;
      expect(c.pmf[top]).toBeCloseTo(0.3 ** n, 13);
    });
  }
  it('composeTwo adds the right grid shift and convolves', () => {
    const other = { pmf: pmf.slice(), domain: domain.shiftRight(0.002) };
    const c = composeTwo({ pmf, domain }, other);
    expect(c.domain.shifts).toBeCloseTo(0.001 + 0.003, 15);
    expect(c.pmf.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 13);
    expect(c.pmf[zero + 4]).toBeCloseTo(0.09, 13);
  });
});

describe('computeEpsilon', () => {
  // Two atoms: loss +a with probability p, -b with 1-p. Then delta(eps) = p·(1 - e^{eps - a}) for
  // eps < a, i.e. eps(delta) = a + log(1 - delta/p): the inversion can be checked exactly.
  const domain = Domain.createAligned(-3, 3, 0.001);
  const ts = domain.ts();
  const pmf = new Float64Array(domain.size);
  const ia = domain.size / 2 - 1 + 1500;
  const ib = domain.size / 2 - 1 - 200;
  const p = 1e-3;
  pmf[ia] = p;
  pmf[ib] = 1 - p;
  it('matches the closed form on a two-atom loss', () => {
    const delta = 2e-4;
    const r = computeEpsilon({ pmf, domain }, delta, delta / 1000, 0.01);
    expect(r.estimate).toBeCloseTo(ts[ia] + Math.log(1 - delta / p), 12);
    expect(r.upper).toBeCloseTo(ts[ia] + Math.log(1 - (delta - delta / 1000) / p) + 0.01, 12);
    expect(r.lower).toBeCloseTo(ts[ia] + Math.log(1 - (delta + delta / 1000) / p) - 0.01, 12);
  });
  it('delta <= 0 gives infinity; delta below floating-point resolution is refused', () => {
    expect(computeEpsilon({ pmf, domain }, 0, 0, 0.01).upper).toBe(Infinity);
    expect(() => computeEpsilon({ pmf, domain }, 1e-18, 1e-21, 0.01)).toThrow(/floating point errors dominate/);
  });
});
