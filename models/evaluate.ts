/**
 * Held-out evaluation of any energy predictor: MAE and MAPE in kcal/min per group (cluster) and
 * overall, and a markdown table. A predictor is a function from feature rows to predictions, so the
 * baselines, the TS model and an onnxruntime session are evaluated the same way.
 */

/** Feature rows X [n × nFeatures] → n predictions (kcal/min). May be async (onnxruntime). */
export type Predictor = (X: Float32Array, n: number) => ArrayLike<number> | Promise<ArrayLike<number>>;

export interface EvalSet {
  readonly name: string;
  /** Feature rows, row-major [n × nFeatures]. */
  readonly X: Float32Array;
  /** Reference kcal/min per row. */
  readonly y: ArrayLike<number>;
  /** Group (cluster) of each row. */
  readonly groups: readonly string[];
  readonly n: number;
}

export interface ErrorMetrics {
  readonly n: number;
  /** Mean absolute error, kcal/min. */
  readonly mae: number;
  /** Mean absolute percentage error, %, over rows with a positive reference (nMape of them). */
  readonly mape: number;
  readonly nMape: number;
  /** Mean signed error (prediction − reference), kcal/min. */
  readonly bias: number;
}

export const OVERALL = 'overall';

/**
 * MAE, MAPE and bias of pred against target over `rows` (all n if absent). Empty: NaN metrics, n 0.
 * MAPE = mean |pred − y| / y · 100 over y > 0 (EE is never zero in practice; a zero reference
 * would make the percentage undefined, so such rows are left out of MAPE only).
 */
export function errorMetrics(pred: ArrayLike<number>, target: ArrayLike<number>, rows?: ArrayLike<number>): ErrorMetrics {
  const count = rows ? rows.length : target.length;
  let abs = 0;
  let signed = 0;
  let pct = 0;
  let nPct = 0;
  for (let k = 0; k < count; k++) {
    const i = rows ? rows[k] : k;
    const p = pred[i];
    const y = target[i];
    if (!Number.isFinite(p)) throw new Error(`errorMetrics: prediction ${i} is ${p}`);
    if (!Number.isFinite(y)) throw new Error(`errorMetrics: reference ${i} is ${y}`);
    const e = p - y;
    abs += Math.abs(e);
    signed += e;
    if (y > 0) {
      pct += Math.abs(e) / y;
      nPct++;
    }
  }
  return {
    n: count,
    mae: count ? abs / count : NaN,
    mape: nPct ? (100 * pct) / nPct : NaN,
    nMape: nPct,
    bias: count ? signed / count : NaN,
  };
}

export interface EvaluationReport {
  readonly set: string;
  /** Group names in report order; OVERALL is last. */
  readonly groups: readonly string[];
  readonly predictors: readonly string[];
  /** metrics[predictor][group]. */
  readonly metrics: Readonly<Record<string, Readonly<Record<string, ErrorMetrics>>>>;
}

export interface EvaluateOptions {
  /** Order of the groups in the report; groups not listed follow in order of first appearance. */
  groupOrder?: readonly string[];
}

/** Runs every predictor on the set and scores it per group and overall. */
export async function evaluatePredictors(
  set: EvalSet,
  predictors: ReadonlyArray<readonly [name: string, predictor: Predictor]>,
  opts: EvaluateOptions = {},
): Promise<EvaluationReport> {
  if (set.groups.length !== set.n || set.y.length < set.n) {
    throw new Error(`evaluation set ${set.name}: ${set.n} rows but ${set.y.length} references and ${set.groups.length} groups`);
  }
  if (set.n > 0 && set.X.length % set.n !== 0) throw new Error(`evaluation set ${set.name}: X has ${set.X.length} values, not a multiple of ${set.n} rows`);
  const names = predictors.map(([name]) => name);
  if (new Set(names).size !== names.length) throw new Error(`evaluatePredictors: predictor names must be unique, got ${names.join(', ')}`);
  if (names.length === 0) throw new Error('evaluatePredictors: no predictors');

  const rowsByGroup = new Map<string, number[]>();
  for (const g of opts.groupOrder ?? []) rowsByGroup.set(g, []);
  set.groups.forEach((g, i) => {
    if (g === OVERALL) throw new Error(`evaluation set ${set.name}: "${OVERALL}" is reserved and cannot be a group name`);
    let rows = rowsByGroup.get(g);
    if (!rows) rowsByGroup.set(g, (rows = []));
    rows.push(i);
  });
  const groups = [...rowsByGroup.keys()];

  const metrics: Record<string, Record<string, ErrorMetrics>> = {};
  for (const [name, predict] of predictors) {
    const pred = set.n > 0 ? await predict(set.X, set.n) : new Float64Array(0);
    if (pred.length < set.n) throw new Error(`predictor ${name} returned ${pred.length} values for ${set.n} rows`);
    const m: Record<string, ErrorMetrics> = {};
    for (const g of groups) m[g] = errorMetrics(pred, set.y, rowsByGroup.get(g) as number[]);
    m[OVERALL] = errorMetrics(pred, set.y, Int32Array.from({ length: set.n }, (_, i) => i));
    metrics[name] = m;
  }
  return { set: set.name, groups: [...groups, OVERALL], predictors: names, metrics };
}

export interface TableOptions {
  /** Decimals for MAE (kcal/min); default 2. */
  maeDigits?: number;
  /** Decimals for MAPE (%); default 1. */
  mapeDigits?: number;
}

/**
 * Markdown table: one row per group (then overall), one column per predictor, each cell
 * "MAE (MAPE %)". A group without rows shows "–".
 */
export function formatEvaluationTable(report: EvaluationReport, opts: TableOptions = {}): string {
  const maeDigits = opts.maeDigits ?? 2;
  const mapeDigits = opts.mapeDigits ?? 1;
  const first = report.metrics[report.predictors[0]];
  const header = ['group', 'n', ...report.predictors.map((p) => `${p} MAE (MAPE)`)];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const g of report.groups) {
    const n = first?.[g]?.n ?? 0;
    const cells = report.predictors.map((p) => {
      const m = report.metrics[p][g];
      if (!m || m.n === 0) return '–';
      const mape = Number.isFinite(m.mape) ? `${m.mape.toFixed(mapeDigits)}%` : '–';
      return `${m.mae.toFixed(maeDigits)} (${mape})`;
    });
    lines.push(`| ${g === OVERALL ? `**${g}**` : g} | ${n} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
