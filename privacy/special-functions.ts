/**
 * Special functions the accountants need, to near machine precision: erfc, the scaled erfcx, log_ndtr
 * with scipy semantics, Opacus's _log_erfc, log-gamma, and binomial coefficients.
 *
 * The fractional-order RDP series (privacy/rdp.ts) evaluates log erfc at arguments far in the tail
 * (|x| in the hundreds), where erfc itself underflows; everything here therefore goes through erfcx.
 */

// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969)
// 631-637; coefficients and interval splits as in his SPECFUN routine CALERF (netlib, public domain).
// Relative error below 1e-16 in exact arithmetic on every interval, so what remains is rounding.
const ERF_A = [3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947, 0.185777706184603153];
const ERF_B = [23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062];
const ERFC_C = [
  0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131, 881.95222124176909,
  1712.04761263407058, 2051.07837782607147, 1230.33935479799725, 2.15311535474403846e-8,
];
const ERFC_D = [
  15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019, 3290.79923573345963,
  4362.61909014324716, 3439.36767414372164, 1230.33935480374942,
];
const ERFC_P = [
  0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766,
  6.58749161529837803e-4, 0.0163153871373020978,
];
const ERFC_Q = [2.56852019228982242, 1.87295284992346047, 0.527905102951428412, 0.0605183413124413191, 0.00233520497626869185];
const ONE_OVER_SQRT_PI = 0.56418958354775628695;
const ERF_THRESH = 0.46875;
const ERFC_XBIG = 26.543; // erfc(x) underflows beyond this
const ERFCX_XHUGE = 6.71e7; // erfcx(x) = 1/(x sqrt(pi)) to double precision beyond this
const ERFCX_XNEG = -26.628; // erfcx(x) overflows below this

/** Cody's CALERF: mode 0 = erf, 1 = erfc, 2 = erfcx (exp(x^2) erfc(x)). */
function calerf(x: number, mode: 0 | 1 | 2): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  let result: number;
  if (y <= ERF_THRESH) {
    const ysq = y > 1.11e-16 ? y * y : 0;
    let xnum = ERF_A[4] * ysq;
    let xden = ysq;
    for (let i = 0; i < 3; i++) {
      xnum = (xnum + ERF_A[i]) * ysq;
      xden = (xden + ERF_B[i]) * ysq;
    }
    result = (x * (xnum + ERF_A[3])) / (xden + ERF_B[3]);
    if (mode !== 0) result = 1 - result;
    if (mode === 2) result = Math.exp(ysq) * result;
    return result;
  }
  if (y <= 4) {
    let xnum = ERFC_C[8] * y;
    let xden = y;
    for (let i = 0; i < 7; i++) {
      xnum = (xnum + ERFC_C[i]) * y;
      xden = (xden + ERFC_D[i]) * y;
    }
    result = (xnum + ERFC_C[7]) / (xden + ERFC_D[7]);
    if (mode !== 2) result = scaleByExpMinusSquare(y, result);
  } else {
    result = 0;
    let done = false;
    if (y >= ERFC_XBIG) {
      if (mode !== 2 || y === Infinity) done = true;
      else if (y >= ERFCX_XHUGE) {
        result = ONE_OVER_SQRT_PI / y;
        done = true;
      }
    }
    if (!done) {
      const ysq = 1 / (y * y);
      let xnum = ERFC_P[5] * ysq;
      let xden = ysq;
      for (let i = 0; i < 4; i++) {
        xnum = (xnum + ERFC_P[i]) * ysq;
        xden = (xden + ERFC_Q[i]) * ysq;
      }
      result = (ysq * (xnum + ERFC_P[4])) / (xden + ERFC_Q[4]);
      result = (ONE_OVER_SQRT_PI - result) / y;
      if (mode !== 2) result = scaleByExpMinusSquare(y, result);
    }
  }
  if (mode === 0) {
    result = 0.5 - result + 0.5;
    return x < 0 ? -result : result;
  }
  if (mode === 1) return x < 0 ? 2 - result : result;
  if (x < 0) {
    if (x < ERFCX_XNEG) return Infinity;
    const ysq = Math.trunc(x * 16) / 16;
    const del = (x - ysq) * (x + ysq);
    const e = Math.exp(ysq * ysq) * Math.exp(del);
    return e + e - result;
  }
  return result;
}

/** exp(-y^2) * r with y^2 split as in CALERF so the exponential keeps full relative accuracy. */
function scaleByExpMinusSquare(y: number, r: number): number {
  const ysq = Math.trunc(y * 16) / 16;
  const del = (y - ysq) * (y + ysq);
  return Math.exp(-ysq * ysq) * Math.exp(-del) * r;
}

export function erf(x: number): number {
  return calerf(x, 0);
}

export function erfc(x: number): number {
  return calerf(x, 1);
}

/** Scaled complementary error function exp(x^2) erfc(x); finite and ~1/(x sqrt(pi)) for large x. */
export function erfcx(x: number): number {
  return calerf(x, 2);
}

/** Standard normal CDF (the cephes ndtr split: erf near 0, erfc in the tails). */
export function ndtr(a: number): number {
  const t = a * Math.SQRT1_2;
  const z = Math.abs(t);
  if (z < Math.SQRT1_2) return 0.5 + 0.5 * erf(t);
  const half = 0.5 * erfc(z);
  return t > 0 ? 1 - half : half;
}

/**
 * log of the standard normal CDF, accurate in both tails. Same formula as scipy.special.log_ndtr
 * (scipy/special/_faddeeva.cxx, faddeeva_log_ndtr): for a < -1, log(erfcx(-t)/2) - t^2 with
 * t = a/sqrt(2), which stays accurate where the CDF underflows; otherwise log1p(-erfc(t)/2).
 */
export function logNdtr(a: number): number {
  const t = a * Math.SQRT1_2;
  if (a < -1) return Math.log(erfcx(-t) / 2) - t * t;
  return Math.log1p(-erfc(t) / 2);
}

/**
 * log(erfc(x)) exactly as Opacus computes it: opacus/accountants/analysis/rdp.py `_log_erfc`,
 * `np.log(2) + special.log_ndtr(-x * 2**0.5)` (same operations, same rounding order).
 */
export function logErfc(x: number): number {
  return Math.LN2 + logNdtr(-x * Math.SQRT2);
}

// ---------------------------------------------------------------------------------------------------
// log-gamma

const EULER_GAMMA = 0.5772156649015329;
/** zeta(k) - 1 for k = 2..40 (mpmath 1.3.0, 40 digits, rounded to doubles). */
const ZETA_MINUS_ONE = [
  0.6449340668482264, 0.2020569031595943, 0.08232323371113819, 0.03692775514336993, 0.01734306198444914,
  0.008349277381922827, 0.00407735619794434, 0.0020083928260822143, 0.0009945751278180853, 0.0004941886041194645,
  0.0002460865533080483, 0.00012271334757848915, 6.124813505870483e-5, 3.058823630702049e-5, 1.528225940865187e-5,
  7.637197637899763e-6, 3.81729326499984e-6, 1.908212716553939e-6, 9.539620338727962e-7, 4.769329867878064e-7,
  2.38450502727733e-7, 1.1921992596531106e-7, 5.960818905125948e-8, 2.980350351465228e-8, 1.4901554828365043e-8,
  7.45071178983543e-9, 3.725334024788457e-9, 1.862659723513049e-9, 9.313274324196682e-10, 4.656629065033784e-10,
  2.3283118336765053e-10, 1.164155017270052e-10, 5.820772087902701e-11, 2.9103850444971e-11, 1.4551921891041985e-11,
  7.275959835057482e-12, 3.637979547378651e-12, 1.818989650307066e-12, 9.094947840263888e-13,
];
const HALF_LOG_2PI = 0.91893853320467274178;
// Stirling series coefficients B_{2k} / (2k (2k-1)), k = 1..8 (Abramowitz & Stegun 6.1.40).
const STIRLING = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400];

/** log Gamma(2 + z) for |z| <= 0.5 by its Taylor series (A&S 6.1.33 shifted by one); no cancellation near the zero at 2. */
function logGammaNearTwo(z: number): number {
  let sum = 0;
  let power = z;
  for (let k = 2; k <= 40; k++) {
    power *= -z;
    sum += (ZETA_MINUS_ONE[k - 2] * power) / k;
  }
  // power carries (-1)^(k-1) z^k; the series term is (-1)^k (zeta(k)-1) z^k / k.
  return (1 - EULER_GAMMA) * z - sum;
}

/** sin(pi x) with exact argument reduction (x mod 2 is exact in binary floating point). */
function sinPi(x: number): number {
  let r = x % 2;
  if (r < 0) r += 2;
  let sign = 1;
  if (r >= 1) {
    r -= 1;
    sign = -1;
  }
  if (r > 0.5) r = 1 - r;
  return sign * Math.sin(Math.PI * r);
}

/**
 * log |Gamma(x)|, relative error about 1e-15 (including near the zeros at 1 and 2). +Infinity at the poles.
 * Stirling series for x >= 10; below that a Taylor series around 2 (A&S 6.1.33), reached by exact
 * downward recurrence from [2.5, 10) or by dividing out x (and x + 1) below 1.5; reflection for x < 0.
 */
export function logGamma(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return Infinity;
  if (x <= 0) {
    if (Number.isInteger(x)) return Infinity;
    // Reflection: Gamma(x) Gamma(1-x) = pi / sin(pi x).
    return Math.log(Math.PI / Math.abs(sinPi(x))) - logGamma(1 - x);
  }
  if (x >= 10) {
    const inv = 1 / x;
    const inv2 = inv * inv;
    let series = 0;
    for (let k = STIRLING.length - 1; k >= 0; k--) series = series * inv2 + STIRLING[k];
    return (x - 0.5) * Math.log(x) - x + HALF_LOG_2PI + series * inv;
  }
  if (x >= 2.5) {
    // Gamma(x) = (x-1)(x-2)...(x-n) Gamma(x-n): all factors positive, no cancellation.
    let prod = 1;
    let y = x;
    while (y >= 2.5) {
      y -= 1;
      prod *= y;
    }
    return Math.log(prod) + logGammaNearTwo(y - 2);
  }
  if (x >= 1.5) return logGammaNearTwo(x - 2);
  // Gamma(1 + z) = Gamma(2 + z) / (1 + z). z = x - 1 is exact here (Sterbenz), and x + 1 would not be,
  // which near x = 1 would cost relative accuracy.
  if (x >= 0.5) {
    const z = x - 1;
    return logGammaNearTwo(z) - Math.log1p(z);
  }
  // Gamma(x) = Gamma(2 + x) / (x (1 + x)).
  return logGammaNearTwo(x) - Math.log1p(x) - Math.log(x);
}

// ---------------------------------------------------------------------------------------------------
// binomial coefficients

/** Exact C(n, k) for integers 0 <= k <= n, as a BigInt. */
export function binomialBigInt(n: number, k: number): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`binomialBigInt: n must be a non-negative safe integer, got ${n}`);
  if (!Number.isSafeInteger(k) || k < 0 || k > n) throw new RangeError(`binomialBigInt: k must be an integer in [0, n], got ${k}`);
  const kk = Math.min(k, n - k);
  let result = 1n;
  for (let i = 1; i <= kk; i++) result = (result * BigInt(n - kk + i)) / BigInt(i);
  return result;
}

/** Correctly rounded log C(n, k) for integers: exact BigInt value, converted once (Number(bigint) rounds to nearest). */
export function logBinomialExact(n: number, k: number): number {
  const b = binomialBigInt(n, k);
  const asNumber = Number(b);
  if (Number.isFinite(asNumber)) return Math.log(asNumber);
  // Beyond 1.8e308: log via the top 64 bits.
  const bits = b.toString(2).length;
  const shift = bits - 64;
  return Math.log(Number(b >> BigInt(shift))) + shift * Math.LN2;
}

/**
 * Generalised binomial coefficient C(n, k) for real n and integer k >= 0, as scipy.special.binom
 * computes it for k < 20 (scipy/special/orthogonal_eval.pxd `binom`, "integer case": the
 * multiplication formula prod_{i=1..k} (n - k + i) / i, with symmetry for integer n). For k >= 20 use
 * the recurrence in privacy/rdp.ts or logAbsBinomial.
 */
export function binomialSmallK(n: number, k: number): number {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`binomialSmallK: k must be a non-negative integer, got ${k}`);
  let kx = k;
  if (Number.isInteger(n) && kx > n / 2 && n > 0) kx = n - kx;
  if (kx < 0) return 0;
  if (kx >= 20) throw new RangeError(`binomialSmallK: k (after symmetry) must be below 20, got ${kx}`);
  let num = 1;
  let den = 1;
  for (let i = 1; i <= kx; i++) {
    num *= i + n - kx;
    den *= i;
    if (Math.abs(num) > 1e50) {
      num /= den;
      den = 1;
    }
  }
  return num / den;
}

/** log|C(n, k)| and the sign of C(n, k) for real n and integer k >= 0, through log-gamma (reflection for negative arguments). */
export function logAbsBinomial(n: number, k: number): { logAbs: number; sign: -1 | 0 | 1 } {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`logAbsBinomial: k must be a non-negative integer, got ${k}`);
  if (Number.isInteger(n) && n >= 0) {
    if (k > n) return { logAbs: -Infinity, sign: 0 };
    return { logAbs: logBinomialExact(n, k), sign: 1 };
  }
  // C(n, k) = Gamma(n+1) / (Gamma(k+1) Gamma(n-k+1)); the sign of Gamma(y) for y < 0 non-integer is (-1)^ceil(-y).
  const gammaSign = (y: number): number => (y > 0 ? 1 : Math.ceil(-y) % 2 === 0 ? 1 : -1);
  if (Number.isInteger(n)) {
    // Negative integer n: C(n, k) = (-1)^k C(k - n - 1, k).
    return { logAbs: logBinomialExact(k - n - 1, k), sign: k % 2 === 0 ? 1 : -1 };
  }
  const sign = gammaSign(n + 1) * gammaSign(n - k + 1);
  return { logAbs: logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1), sign: sign as -1 | 1 };
}
