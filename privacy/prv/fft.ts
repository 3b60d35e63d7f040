/**
 * Discrete Fourier transforms over Float64Array for the PRV composition: an iterative radix-2
 * FFT, Bluestein's chirp-z algorithm for every other length, and the real-input transforms
 * (rfft/irfft with numpy's conventions) packed into a half-length complex transform.
 *
 * Why arbitrary lengths: Opacus composes with scipy.fft's rfft/irfft at the domain's own (even)
 * size, i.e. a *circular* convolution modulo that size. Padding to a power of two would change
 * which mass wraps around, so the length must be exactly the domain size.
 *
 * Accuracy: twiddles come from Math.cos/Math.sin of the exact angle (no recurrences), and the
 * Bluestein chirp uses k² reduced modulo 2M in integers, so the phase never loses precision;
 * round-off is O(ε·log N) relative to the largest coefficient (Bluestein's two extra transforms
 * add a small constant factor over pocketfft: ~2e-15 relative round trip at N ~ 10^4).
 */

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** cos/sin(2πj/n) for j < n/2, cached for the most recent sizes (they are reused in pairs). */
const twiddleCache = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddles(n: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddleCache.get(n);
  if (!t) {
    const half = n >> 1;
    const cos = new Float64Array(Math.max(half, 1));
    const sin = new Float64Array(Math.max(half, 1));
    for (let j = 0; j < half; j++) {
      const a = (2 * Math.PI * j) / n;
      cos[j] = Math.cos(a);
      sin[j] = Math.sin(a);
    }
    t = { cos, sin };
    if (twiddleCache.size >= 3) twiddleCache.delete(twiddleCache.keys().next().value as number);
    twiddleCache.set(n, t);
  }
  return t;
}

/** In-place unnormalised radix-2 DFT: sign -1 forward (e^{-2πijk/n}), +1 inverse. */
function fftRadix2(re: Float64Array, im: Float64Array, n: number, sign: 1 | -1): void {
  if (n <= 1) return;
  // bit-reversal permutation
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  const { cos, sin } = twiddles(n);
  let len = 2;
  if ((Math.log2(n) | 0) % 2 === 1) {
    // one plain radix-2 stage so that the rest pairs up
    for (let a = 0; a < n; a += 2) {
      const xr = re[a + 1];
      const xi = im[a + 1];
      re[a + 1] = re[a] - xr;
      im[a + 1] = im[a] - xi;
      re[a] += xr;
      im[a] += xi;
    }
    len = 4;
  }
  // Two radix-2 stages (spans h -> 2h -> 4h) fused per pass: the same butterflies and roundings as
  // the plain radix-2 algorithm, but each element is loaded and stored once per two stages, which
  // is what limits speed once the arrays are larger than the cache.
  for (; len <= n; len *= 4) {
    const h = len >> 1;
    const quad = 2 * len;
    const s1 = n / len; // W_{2h}^k = table[k * s1]
    const s2 = s1 >> 1; // W_{4h}^k = table[k * s2]
    for (let start = 0; start < n; start += quad) {
      for (let k = 0; k < h; k++) {
        const w1r = cos[k * s1];
        const w1i = sign * sin[k * s1];
        const w2r = cos[k * s2];
        const w2i = sign * sin[k * s2];
        const w3r = cos[(k + h) * s2];
        const w3i = sign * sin[(k + h) * s2];
        const i0 = start + k;
        const i1 = i0 + h;
        const i2 = i1 + h;
        const i3 = i2 + h;
        // stage of span 2h: (i0, i1) and (i2, i3) with W_{2h}^k
        let tr = re[i1] * w1r - im[i1] * w1i;
        let ti = re[i1] * w1i + im[i1] * w1r;
        const a0r = re[i0] + tr;
        const a0i = im[i0] + ti;
        const a1r = re[i0] - tr;
        const a1i = im[i0] - ti;
        tr = re[i3] * w1r - im[i3] * w1i;
        ti = re[i3] * w1i + im[i3] * w1r;
        const a2r = re[i2] + tr;
        const a2i = im[i2] + ti;
        const a3r = re[i2] - tr;
        const a3i = im[i2] - ti;
        // stage of span 4h: (i0, i2) with W_{4h}^k, (i1, i3) with W_{4h}^{k+h}
        tr = a2r * w2r - a2i * w2i;
        ti = a2r * w2i + a2i * w2r;
        re[i0] = a0r + tr;
        im[i0] = a0i + ti;
        re[i2] = a0r - tr;
        im[i2] = a0i - ti;
        tr = a3r * w3r - a3i * w3i;
        ti = a3r * w3i + a3i * w3r;
        re[i1] = a1r + tr;
        im[i1] = a1i + ti;
        re[i3] = a1r - tr;
        im[i3] = a1i - ti;
      }
    }
  }
}

/** Bluestein's re-expression of a length-m DFT as a power-of-two circular convolution. */
interface BluesteinPlan {
  m: number;
  p: number;
  chirpRe: Float64Array; // cos(π k²/m)
  chirpIm: Float64Array; // sin(π k²/m)
  filterRe: Float64Array; // FFT of conj-chirp filter (forward sign)
  filterIm: Float64Array;
}

let lastBluestein: BluesteinPlan | undefined;

/**
 * Drops the cached twiddle tables and Bluestein plan. They make the rfft/irfft pair of one
 * composition share work, but at 10^7 points they hold hundreds of MB; callers release them
 * after a large computation.
 */
export function releaseFftCaches(): void {
  twiddleCache.clear();
  lastBluestein = undefined;
}

function bluesteinPlan(m: number): BluesteinPlan {
  if (lastBluestein?.m === m) return lastBluestein;
  const p = nextPowerOfTwo(2 * m - 1);
  const chirpRe = new Float64Array(m);
  const chirpIm = new Float64Array(m);
  const twoM = 2 * m;
  for (let k = 0; k < m; k++) {
    // k² mod 2m is exact in doubles for k < 9.4e7; the angle then stays in [0, 2π).
    const r = (k * k) % twoM;
    const a = (Math.PI * r) / m;
    chirpRe[k] = Math.cos(a);
    chirpIm[k] = Math.sin(a);
  }
  const filterRe = new Float64Array(p);
  const filterIm = new Float64Array(p);
  filterRe[0] = chirpRe[0];
  filterIm[0] = chirpIm[0];
  for (let k = 1; k < m; k++) {
    filterRe[k] = filterRe[p - k] = chirpRe[k];
    filterIm[k] = filterIm[p - k] = chirpIm[k];
  }
  fftRadix2(filterRe, filterIm, p, -1);
  lastBluestein = { m, p, chirpRe, chirpIm, filterRe, filterIm };
  return lastBluestein;
}

/** Unnormalised complex DFT of any length, in place. sign -1 forward, +1 inverse. */
export function dft(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
  const m = re.length;
  if (im.length !== m) throw new RangeError(`dft: re and im lengths differ (${m} vs ${im.length})`);
  if (isPowerOfTwo(m)) {
    fftRadix2(re, im, m, sign);
    return;
  }
  const plan = bluesteinPlan(m);
  const { p, chirpRe, chirpIm, filterRe, filterIm } = plan;
  const ar = new Float64Array(p);
  const ai = new Float64Array(p);
  // forward: X_k = w_k Σ (x_j w_j) conj(w_{k-j}), w_k = e^{-iπk²/m}; the inverse conjugates w.
  for (let k = 0; k < m; k++) {
    const wr = chirpRe[k];
    const wi = sign * chirpIm[k];
    const xr = re[k];
    const xi = im[k];
    ar[k] = xr * wr - xi * wi;
    ai[k] = xr * wi + xi * wr;
  }
  fftRadix2(ar, ai, p, -1);
  // The filter was built for the forward sign; for the inverse its conjugate-reversal is needed,
  // which for this symmetric filter is the complex conjugate of the time signal, i.e.
  // F_inv[k] = conj(F_fwd[(p - k) mod p]).
  for (let k = 0; k < p; k++) {
    let fr: number;
    let fi: number;
    if (sign === -1) {
      fr = filterRe[k];
      fi = filterIm[k];
    } else {
      const kk = k === 0 ? 0 : p - k;
      fr = filterRe[kk];
      fi = -filterIm[kk];
    }
    const xr = ar[k];
    const xi = ai[k];
    ar[k] = xr * fr - xi * fi;
    ai[k] = xr * fi + xi * fr;
  }
  fftRadix2(ar, ai, p, 1);
  const scale = 1 / p;
  for (let k = 0; k < m; k++) {
    const wr = chirpRe[k];
    const wi = sign * chirpIm[k];
    const xr = ar[k] * scale;
    const xi = ai[k] * scale;
    re[k] = xr * wr - xi * wi;
    im[k] = xr * wi + xi * wr;
  }
}

/** numpy.fft.rfft for even n: the n/2 + 1 non-negative-frequency coefficients. */
export function rfft(x: Float64Array): { re: Float64Array; im: Float64Array } {
  const n = x.length;
  if (n % 2 !== 0 || n < 2) throw new RangeError(`rfft: length must be even and >= 2, got ${n}`);
  const m = n / 2;
  const zr = new Float64Array(m);
  const zi = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    zr[k] = x[2 * k];
    zi[k] = x[2 * k + 1];
  }
  dft(zr, zi, -1);
  const re = new Float64Array(m + 1);
  const im = new Float64Array(m + 1);
  for (let k = 0; k <= m; k++) {
    const a = k % m;
    const b = (m - k) % m;
    // even part E = (Z_k + conj Z_{m-k})/2, odd part O = (Z_k - conj Z_{m-k})/(2i)
    const er = 0.5 * (zr[a] + zr[b]);
    const ei = 0.5 * (zi[a] - zi[b]);
    const or = 0.5 * (zi[a] + zi[b]);
    const oi = -0.5 * (zr[a] - zr[b]);
    const ang = (-2 * Math.PI * k) / n;
    const c = Math.cos(ang);
    const s = Math.sin(ang);
    re[k] = er + (or * c - oi * s);
    im[k] = ei + (or * s + oi * c);
  }
  return { re, im };
}

/**
 * numpy.fft.irfft(X, n) for even n, normalised by 1/n. Like pocketfft, the imaginary parts of
 * the zero and Nyquist frequencies are ignored (a real signal cannot have them).
 */
export function irfft(re: Float64Array, im: Float64Array, n: number): Float64Array {
  const m = n / 2;
  if (n % 2 !== 0 || re.length !== m + 1 || im.length !== m + 1) {
    throw new RangeError(`irfft: need n even and ${m + 1} coefficients, got n=${n} with ${re.length}`);
  }
  const zr = new Float64Array(m);
  const zi = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const xr = re[k];
    const xi = k === 0 ? 0 : im[k];
    // conj(X_{m-k}); at k = 0 that is the Nyquist term, whose imaginary part is dropped
    const yr = re[m - k];
    const yi = k === 0 ? 0 : -im[m - k];
    // E = (X_k + conj X_{m-k})/2, O = (X_k - conj X_{m-k})·e^{2πik/n}/2, Z = E + iO
    const er = 0.5 * (xr + yr);
    const ei = 0.5 * (xi + yi);
    const dr = 0.5 * (xr - yr);
    const di = 0.5 * (xi - yi);
    const ang = (2 * Math.PI * k) / n;
    const c = Math.cos(ang);
    const s = Math.sin(ang);
    const or = dr * c - di * s;
    const oi = dr * s + di * c;
    zr[k] = er - oi;
    zi[k] = ei + or;
  }
  dft(zr, zi, 1);
  const out = new Float64Array(n);
  const scale = 1 / m;
  for (let k = 0; k < m; k++) {
    out[2 * k] = zr[k] * scale;
    out[2 * k + 1] = zi[k] * scale;
  }
  return out;
}

/**
 * Full linear convolution of a and b (length a+b-1) by zero-padded power-of-two real FFTs,
 * the route scipy.signal.convolve takes for long inputs.
 */
export function convolveFull(a: Float64Array, b: Float64Array): Float64Array {
  const outLen = a.length + b.length - 1;
  const p = Math.max(2, nextPowerOfTwo(outLen));
  const pa = new Float64Array(p);
  pa.set(a);
  const pb = new Float64Array(p);
  pb.set(b);
  const fa = rfft(pa);
  const fb = rfft(pb);
  for (let k = 0; k < fa.re.length; k++) {
    const xr = fa.re[k];
    const xi = fa.im[k];
    fa.re[k] = xr * fb.re[k] - xi * fb.im[k];
    fa.im[k] = xr * fb.im[k] + xi * fb.re[k];
  }
  return irfft(fa.re, fa.im, p).subarray(0, outLen);
}

/** scipy.signal.convolve(a, b, mode="same"): the centre a.length points of the full convolution. */
export function convolveSame(a: Float64Array, b: Float64Array): Float64Array {
  const full = convolveFull(a, b);
  const start = (full.length - a.length) >> 1;
  return full.slice(start, start + a.length);
}

/**
 * z ** n elementwise for an integer n ≥ 1, with numpy's npy_cpow semantics: repeated squaring
 * for n < 100, else exp(n·log z) as C99 cpow. log|z| is taken as ½·log1p((re-1)(re+1) + im²)
 * near |z| = 1, where the characteristic function of a concentrated pmf lives and log(hypot)
 * would lose the digits that n then multiplies.
 */
export function complexPowInPlace(re: Float64Array, im: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`complexPow: exponent must be a positive integer, got ${n}`);
  const len = re.length;
  if (n === 1) return;
  if (n < 100) {
    for (let k = 0; k < len; k++) {
      let pr = re[k];
      let pi = im[k];
      let ar = 1;
      let ai = 0;
      for (let mask = 1; ; mask *= 2) {
        if (n & mask) {
          const t = ar * pr - ai * pi;
          ai = ar * pi + ai * pr;
          ar = t;
        }
        if (n < mask * 2) break;
        const t = pr * pr - pi * pi;
        pi = pr * pi + pi * pr;
        pr = t;
      }
      re[k] = ar;
      im[k] = ai;
    }
    return;
  }
  for (let k = 0; k < len; k++) {
    const x = re[k];
    const y = im[k];
    if (x === 0 && y === 0) continue;
    const ax = Math.abs(x);
    const ay = Math.abs(y);
    const logAbs = ax > 0.5 && ax < 2 && ay < 0.5 ? 0.5 * Math.log1p((x - 1) * (x + 1) + y * y) : Math.log(Math.hypot(x, y));
    const mag = Math.exp(n * logAbs);
    const ang = n * Math.atan2(y, x);
    re[k] = mag * Math.cos(ang);
    im[k] = mag * Math.sin(ang);
  }
}
