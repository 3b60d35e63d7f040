/**
 * Adaptive 21-point Gauss–Kronrod quadrature with Wynn's epsilon extrapolation: the QAGS
 * algorithm of QUADPACK (Piessens, de Doncker-Kapenga, Überhuber, Kahaner 1983, routines
 * DQAGSE/DQK21/DQPSRT/DQELG), which is what scipy.integrate.quad runs for a finite interval
 * without break points.
 *
 * Why this algorithm and not any accurate integrator: Opacus computes the continuous mean of
 * the truncated PRV with `scipy.integrate.quad(cdf, left, right, limit=500)` at the default
 * tolerances (epsabs = epsrel = 1.49e-8). The mean shifts the discretised domain, and that shift
 * is multiplied by the number of composed steps, so a 1e-10 difference in the mean moves epsilon
 * by 1e-6 after 10,000 steps. Running the same subdivision and extrapolation logic reproduces
 * Opacus' numbers (including its quadrature error) instead of merely approximating them.
 * The control flow below mirrors DQAGSE step by step (1-based work arrays, same tests, same
 * order of floating-point operations) so that the decisions to bisect are taken identically.
 */

const EPMACH = Number.EPSILON;
const UFLOW = 2.2250738585072014e-308; // Fortran tiny(1d0)
const OFLOW = Number.MAX_VALUE;

// 21-point Kronrod abscissae/weights and 10-point Gauss weights on [-1, 1] (positive half).
// These are mathematical constants (Fullerton, Bell Labs 1981, as tabulated in QUADPACK).
const XGK = [
  0, // 1-based padding
  0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
  0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
  0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
  0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
  0.294392862701460198131126603103866, 0.14887433898163121088482600112972, 0,
];
const WGK = [
  0, 0.011694638867371874278064396062192, 0.03255816230796472747881897245939,
  0.05475589657435199603138130024458, 0.07503967481091995276704314091619,
  0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
  0.123491976262065851077958109831074, 0.134709217311473325928054001771707,
  0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
  0.149445554002916905664936468389821,
];
const WG = [
  0, 0.066671344308688137593568809893332, 0.149451349150580593145776339657697,
  0.219086362515982043995534934228163, 0.269266719309996355091226921569469,
  0.295524224714752870173892994651338,
];

interface Rule {
  result: number;
  abserr: number;
  resabs: number;
  resasc: number;
}

function gaussKronrod21(f: (x: number) => number, a: number, b: number): Rule {
  const fv1 = new Float64Array(11);
  const fv2 = new Float64Array(11);
  const centr = 0.5 * (a + b);
  const hlgth = 0.5 * (b - a);
  const dhlgth = Math.abs(hlgth);
  let resg = 0;
  const fc = f(centr);
  let resk = WGK[11] * fc;
  let resabs = Math.abs(resk);
  for (let j = 1; j <= 5; j++) {
    const jtw = 2 * j;
    const absc = hlgth * XGK[jtw];
    const fval1 = f(centr - absc);
    const fval2 = f(centr + absc);
    fv1[jtw] = fval1;
    fv2[jtw] = fval2;
    const fsum = fval1 + fval2;
    resg = resg + WG[j] * fsum;
    resk = resk + WGK[jtw] * fsum;
    resabs = resabs + WGK[jtw] * (Math.abs(fval1) + Math.abs(fval2));
  }
  for (let j = 1; j <= 5; j++) {
    const jtwm1 = 2 * j - 1;
    const absc = hlgth * XGK[jtwm1];
    const fval1 = f(centr - absc);
    const fval2 = f(centr + absc);
    fv1[jtwm1] = fval1;
    fv2[jtwm1] = fval2;
    const fsum = fval1 + fval2;
    resk = resk + WGK[jtwm1] * fsum;
    resabs = resabs + WGK[jtwm1] * (Math.abs(fval1) + Math.abs(fval2));
  }
  const reskh = resk * 0.5;
  let resasc = WGK[11] * Math.abs(fc - reskh);
  for (let j = 1; j <= 10; j++) resasc = resasc + WGK[j] * (Math.abs(fv1[j] - reskh) + Math.abs(fv2[j] - reskh));
  const result = resk * hlgth;
  resabs = resabs * dhlgth;
  resasc = resasc * dhlgth;
  let abserr = Math.abs((resk - resg) * hlgth);
  if (resasc !== 0 && abserr !== 0) abserr = resasc * Math.min(1, Math.pow((200 * abserr) / resasc, 1.5));
  if (resabs > UFLOW / (50 * EPMACH)) abserr = Math.max(EPMACH * 50 * resabs, abserr);
  return { result, abserr, resabs, resasc };
}

/** State of Wynn's epsilon table between calls (DQELG's epstab/res3la/nres). */
interface EpsilonTable {
  n: number;
  epstab: Float64Array; // 1-based, 52 used
  res3la: Float64Array; // 1-based, 3 used
  nres: number;
}

/** One step of Wynn's epsilon algorithm (DQELG); returns the extrapolated limit and its error. */
function epsilonExtrapolate(tab: EpsilonTable): { result: number; abserr: number } {
  const e = tab.epstab;
  let n = tab.n;
  tab.nres += 1;
  let abserr = OFLOW;
  let result = e[n];
  if (n < 3) {
    abserr = Math.max(abserr, 5 * EPMACH * Math.abs(result));
    return { result, abserr };
  }
  const limexp = 50;
  e[n + 2] = e[n];
  const newelm = (n - 1) >> 1;
  e[n] = OFLOW;
  const num = n;
  let k1 = n;
  let converged = false;
  for (let i = 1; i <= newelm; i++) {
    const k2 = k1 - 1;
    const k3 = k1 - 2;
    let res = e[k1 + 2];
    const e0 = e[k3];
    const e1 = e[k2];
    const e2 = res;
    const e1abs = Math.abs(e1);
    const delta2 = e2 - e1;
    const err2 = Math.abs(delta2);
    const tol2 = Math.max(Math.abs(e2), e1abs) * EPMACH;
    const delta3 = e1 - e0;
    const err3 = Math.abs(delta3);
    const tol3 = Math.max(e1abs, Math.abs(e0)) * EPMACH;
    if (!(err2 > tol2 || err3 > tol3)) {
      // e0, e1, e2 equal to machine accuracy: convergence is assumed
      result = res;
      abserr = err2 + err3;
      converged = true;
      break;
    }
    const e3 = e[k1];
    e[k1] = e1;
    const delta1 = e1 - e3;
    const err1 = Math.abs(delta1);
    const tol1 = Math.max(e1abs, Math.abs(e3)) * EPMACH;
    let irregular = err1 <= tol1 || err2 <= tol2 || err3 <= tol3;
    let ss = 0;
    if (!irregular) {
      ss = 1 / delta1 + 1 / delta2 - 1 / delta3;
      const epsinf = Math.abs(ss * e1);
      irregular = !(epsinf > 1e-4);
    }
    if (irregular) {
      n = i + i - 1;
      break;
    }
    res = e1 + 1 / ss;
    e[k1] = res;
    k1 = k1 - 2;
    const error = err2 + Math.abs(res - e2) + err3;
    if (error <= abserr) {
      abserr = error;
      result = res;
    }
  }
  if (!converged) {
    // shift the table
    if (n === limexp) n = 2 * (limexp >> 1) - 1;
    let ib = num % 2 === 0 ? 2 : 1;
    const ie = newelm + 1;
    for (let i = 1; i <= ie; i++) {
      const ib2 = ib + 2;
      e[ib] = e[ib2];
      ib = ib2;
    }
    if (num !== n) {
      let indx = num - n + 1;
      for (let i = 1; i <= n; i++) {
        e[i] = e[indx];
        indx++;
      }
    }
    if (tab.nres >= 4) {
      abserr = Math.abs(result - tab.res3la[3]) + Math.abs(result - tab.res3la[2]) + Math.abs(result - tab.res3la[1]);
      tab.res3la[1] = tab.res3la[2];
      tab.res3la[2] = tab.res3la[3];
      tab.res3la[3] = result;
    } else {
      tab.res3la[tab.nres] = result;
      abserr = OFLOW;
    }
  }
  tab.n = n;
  abserr = Math.max(abserr, 5 * EPMACH * Math.abs(result));
  return { result, abserr };
}

/** Keeps iord ordered by decreasing error estimate (DQPSRT). Returns the new maxerr and nrmax. */
function maintainOrder(
  limit: number,
  last: number,
  maxerrIn: number,
  elist: Float64Array,
  iord: Int32Array,
  nrmaxIn: number,
): { maxerr: number; errmax: number; nrmax: number } {
  let nrmax = nrmaxIn;
  const maxerr = maxerrIn;
  if (last <= 2) {
    iord[1] = 1;
    iord[2] = 2;
  } else {
    const errmax = elist[maxerr];
    const ido = nrmax - 1;
    for (let i = 1; i <= ido; i++) {
      const isucc = iord[nrmax - 1];
      if (errmax <= elist[isucc]) break;
      iord[nrmax] = isucc;
      nrmax--;
    }
    let jupbn = last;
    if (last > (limit >> 1) + 2) jupbn = limit + 3 - last;
    const errmin = elist[last];
    const jbnd = jupbn - 1;
    const ibeg = nrmax + 1;
    let i = ibeg;
    let inserted = false;
    for (; i <= jbnd; i++) {
      const isucc = iord[i];
      if (errmax >= elist[isucc]) {
        inserted = true;
        break;
      }
      iord[i - 1] = isucc;
    }
    if (!inserted) {
      iord[jbnd] = maxerr;
      iord[jupbn] = last;
    } else {
      // insert errmin by traversing the list bottom-up
      iord[i - 1] = maxerr;
      let k = jbnd;
      let placed = false;
      for (let j = i; j <= jbnd; j++) {
        const isucc = iord[k];
        if (errmin < elist[isucc]) {
          iord[k + 1] = last;
          placed = true;
          break;
        }
        iord[k + 1] = isucc;
        k--;
      }
      if (!placed) iord[i] = last;
    }
  }
  const newMax = iord[nrmax];
  return { maxerr: newMax, errmax: elist[newMax], nrmax };
}

export interface QuadResult {
  /** Approximation of the integral. */
  value: number;
  /** QUADPACK's estimate of |integral - value|. */
  abserr: number;
  /** QUADPACK's ier: 0 = converged; 1..5 = the documented abnormal terminations. */
  ier: number;
  /** Number of subintervals used. */
  intervals: number;
}

export interface QuadOptions {
  epsabs?: number;
  epsrel?: number;
  limit?: number;
}

/**
 * ∫_a^b f(x) dx by QAGS. Defaults are scipy.integrate.quad's (epsabs = epsrel = 1.49e-8,
 * limit = 50); Opacus passes limit = 500. Never throws on non-convergence: ier says it.
 */
export function integrateQags(f: (x: number) => number, a: number, b: number, opts: QuadOptions = {}): QuadResult {
  const epsabs = opts.epsabs ?? 1.49e-8;
  const epsrel = opts.epsrel ?? 1.49e-8;
  const limit = opts.limit ?? 50;
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw new RangeError(`integrateQags: bounds must be finite (a=${a}, b=${b})`);
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`integrateQags: limit must be a positive integer, got ${limit}`);
  if (epsabs <= 0 && epsrel < Math.max(50 * EPMACH, 0.5e-28)) {
    throw new RangeError(`integrateQags: epsabs (${epsabs}) <= 0 needs epsrel >= ${50 * EPMACH}, got ${epsrel}`);
  }

  const alist = new Float64Array(limit + 1);
  const blist = new Float64Array(limit + 1);
  const rlist = new Float64Array(limit + 1);
  const elist = new Float64Array(limit + 1);
  const iord = new Int32Array(limit + 2);
  const table: EpsilonTable = { n: 0, epstab: new Float64Array(56), res3la: new Float64Array(4), nres: 0 };
  const rlist2 = table.epstab;

  let ier = 0;
  alist[1] = a;
  blist[1] = b;
  let ierro = 0;
  const first = gaussKronrod21(f, a, b);
  let result = first.result;
  let abserr = first.abserr;
  const defabs = first.resabs;
  const resabs0 = first.resasc;

  const dres = Math.abs(result);
  let errbnd = Math.max(epsabs, epsrel * dres);
  let last = 1;
  rlist[1] = result;
  elist[1] = abserr;
  iord[1] = 1;
  if (abserr <= 100 * EPMACH * defabs && abserr > errbnd) ier = 2;
  if (limit === 1) ier = 1;
  if (ier !== 0 || (abserr <= errbnd && abserr !== resabs0) || abserr === 0) {
    return { value: result, abserr, ier, intervals: last };
  }

  rlist2[1] = result;
  let errmax = abserr;
  let maxerr = 1;
  let area = result;
  let errsum = abserr;
  abserr = OFLOW;
  let nrmax = 1;
  let numrl2 = 2;
  let ktmin = 0;
  let extrap = false;
  let noext = false;
  let iroff1 = 0;
  let iroff2 = 0;
  let iroff3 = 0;
  let ksgn = -1;
  if (dres >= (1 - 50 * EPMACH) * defabs) ksgn = 1;
  let small = 0;
  let erlarg = 0;
  let ertest = 0;
  let correc = 0;

  // exit paths of the main loop, as in DQAGSE's labels 100 and 115
  let exit: 'loopEnd' | 'finalize' | 'sum' = 'loopEnd';

  main: for (last = 2; last <= limit; last++) {
    const a1 = alist[maxerr];
    const b1 = 0.5 * (alist[maxerr] + blist[maxerr]);
    const a2 = b1;
    const b2 = blist[maxerr];
    const erlast = errmax;
    const left = gaussKronrod21(f, a1, b1);
    const right = gaussKronrod21(f, a2, b2);
    const area1 = left.result;
    const error1 = left.abserr;
    const defab1 = left.resasc;
    const area2 = right.result;
    const error2 = right.abserr;
    const defab2 = right.resasc;

    const area12 = area1 + area2;
    const erro12 = error1 + error2;
    errsum = errsum + erro12 - errmax;
    area = area + area12 - rlist[maxerr];
    if (!(defab1 === error1 || defab2 === error2)) {
      if (!(Math.abs(rlist[maxerr] - area12) > 1e-5 * Math.abs(area12) || erro12 < 0.99 * errmax)) {
        if (extrap) iroff2++;
        else iroff1++;
      }
      if (last > 10 && erro12 > errmax) iroff3++;
    }
    rlist[maxerr] = area1;
    rlist[last] = area2;
    errbnd = Math.max(epsabs, epsrel * Math.abs(area));

    if (iroff1 + iroff2 >= 10 || iroff3 >= 20) ier = 2;
    if (iroff2 >= 5) ierro = 3;
    if (last === limit) ier = 1;
    if (Math.max(Math.abs(a1), Math.abs(b2)) <= (1 + 100 * EPMACH) * (Math.abs(a2) + 1000 * UFLOW)) ier = 4;

    if (error2 > error1) {
      alist[maxerr] = a2;
      alist[last] = a1;
      blist[last] = b1;
      rlist[maxerr] = area2;
      rlist[last] = area1;
      elist[maxerr] = error2;
      elist[last] = error1;
    } else {
      alist[last] = a2;
      blist[maxerr] = b1;
      blist[last] = b2;
      elist[maxerr] = error1;
      elist[last] = error2;
    }

    const ord = maintainOrder(limit, last, maxerr, elist, iord, nrmax);
    maxerr = ord.maxerr;
    errmax = ord.errmax;
    nrmax = ord.nrmax;

    if (errsum <= errbnd) {
      exit = 'sum';
      break main;
    }
    if (ier !== 0) {
      exit = 'finalize';
      break main;
    }
    if (last === 2) {
      small = Math.abs(b - a) * 0.375;
      erlarg = errsum;
      ertest = errbnd;
      rlist2[2] = area;
      continue;
    }
    if (noext) continue;
    erlarg = erlarg - erlast;
    if (Math.abs(b1 - a1) > small) erlarg = erlarg + erro12;
    if (!extrap) {
      // test whether the interval to be bisected next is the smallest interval
      if (Math.abs(blist[maxerr] - alist[maxerr]) > small) continue;
      extrap = true;
      nrmax = 2;
    }
    if (!(ierro === 3 || erlarg <= ertest)) {
      // The smallest interval has the largest error: before bisecting, decrease the sum of
      // the errors over the larger intervals (erlarg) and extrapolate.
      const id = nrmax;
      let jupbnd = last;
      if (last > 2 + (limit >> 1)) jupbnd = limit + 3 - last;
      let largerFound = false;
      for (let k = id; k <= jupbnd; k++) {
        maxerr = iord[nrmax];
        errmax = elist[maxerr];
        if (Math.abs(blist[maxerr] - alist[maxerr]) > small) {
          largerFound = true;
          break;
        }
        nrmax++;
      }
      if (largerFound) continue;
    }
    // perform extrapolation
    numrl2++;
    rlist2[numrl2] = area;
    table.n = numrl2;
    const ex = epsilonExtrapolate(table);
    numrl2 = table.n;
    const reseps = ex.result;
    const abseps = ex.abserr;
    ktmin++;
    if (ktmin > 5 && abserr < 1e-3 * errsum) ier = 5;
    if (abseps < abserr) {
      ktmin = 0;
      abserr = abseps;
      result = reseps;
      correc = erlarg;
      ertest = Math.max(epsabs, epsrel * Math.abs(reseps));
      if (abserr <= ertest) {
        exit = 'finalize';
        break main;
      }
    }
    // prepare bisection of the smallest interval
    if (numrl2 === 1) noext = true;
    if (ier === 5) {
      exit = 'finalize';
      break main;
    }
    maxerr = iord[1];
    errmax = elist[maxerr];
    nrmax = 1;
    extrap = false;
    small = small * 0.5;
    erlarg = errsum;
  }
  if (last > limit) last = limit;

  // label 100: set final result and error estimate
  let sumIt = exit === 'sum';
  let divergenceTest = false;
  if (!sumIt) {
    if (abserr === OFLOW) sumIt = true;
    else if (ier + ierro === 0) divergenceTest = true;
    else {
      if (ierro === 3) abserr = abserr + correc;
      if (ier === 0) ier = 3;
      if (result !== 0 && area !== 0) {
        if (abserr / Math.abs(result) > errsum / Math.abs(area)) sumIt = true;
        else divergenceTest = true;
      } else if (abserr > errsum) sumIt = true;
      else if (area === 0) divergenceTest = false;
      else divergenceTest = true;
    }
  }
  if (sumIt) {
    result = 0;
    for (let k = 1; k <= last; k++) result = result + rlist[k];
    abserr = errsum;
  } else if (divergenceTest) {
    // label 110: test on divergence
    if (!(ksgn === -1 && Math.max(Math.abs(result), Math.abs(area)) <= defabs * 0.01)) {
      if (0.01 > result / area || result / area > 100 || errsum > Math.abs(area)) ier = 6;
    }
  }
  if (ier > 2) ier = ier - 1;
  return { value: result, abserr, ier, intervals: last };
}
