import { InvalidArgumentError, Option, type Command } from 'commander';
import { positiveInt, positiveNumber } from './options.ts';

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number >= 0, got "${value}"`);
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || Math.abs(n) > 2 ** 31 - 1) throw new InvalidArgumentError(`expected a whole number (32-bit), got "${value}"`);
  return n;
}

function widths(value: string): number[] {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.length === 0 || parts.some((n) => !Number.isInteger(n) || n < 1)) throw new InvalidArgumentError(`expected comma-separated positive widths such as 32,16, got "${value}"`);
  return parts;
}

function noisePair(value: string): { signals: number; demographics: number } {
  const [a, b, ...rest] = value.split(',').map((s) => Number(s.trim()));
  if (rest.length > 0 || !(a >= 0) || !(b >= 0) || !Number.isFinite(a) || !Number.isFinite(b)) {
    throw new InvalidArgumentError(`expected two numbers >= 0 such as 0.1,0.3 (signals,demographics), got "${value}"`);
  }
  return { signals: a, demographics: b };
}

function isoTime(value: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`expected an ISO-8601 date-time, got "${value}"`);
  return new Date(t).toISOString();
}

interface PretrainFlags {
  seed: number;
  out: string;
  users?: number;
  days?: number;
  evalDays?: number;
  evalDayUsers?: number;
  inputNoise?: { signals: number; demographics: number };
  heldOutUsers?: number;
  heldOutDays?: number;
  start?: string;
  hidden?: number[];
  activation?: 'tanh' | 'relu';
  epochs?: number;
  qatEpochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  created?: string;
}

const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

/** `fedwear model pretrain` and `fedwear model evaluate`: the base model (models/pretrain.ts). */
export function registerModel(program: Command): void {
  const model = program.command('model').description('the calorie model: pretrain the base model, evaluate a model directory');

  model
    .command('pretrain')
    .description('simulate a labelled population, train the base model (float + QAT), quantize to int8, write ONNX, manifest, params and evaluation')
    .requiredOption('--seed <s>', 'integer seed: same seed and options, same bytes', integer)
    .requiredOption('--out <dir>', 'output directory (created; files are replaced)')
    .option('--users <n>', 'training users (default 200)', positiveInt)
    .option('--days <n>', 'training days per user (default 1)', positiveInt)
    .option('--eval-days <n>', 'held-out days after the training days (default 1)', nonNegativeInt)
    .option('--eval-day-users <n>', 'how many training users get held-out days (default 50)', nonNegativeInt)
    .option('--held-out-users <n>', 'users never trained on (default 50)', nonNegativeInt)
    .option('--held-out-days <n>', 'days per held-out user (default 1)', positiveInt)
    .option('--start <iso>', 'simulated start, a UTC midnight (default 2026-01-05)', isoTime)
    .option('--hidden <widths>', 'hidden layer widths, the body (default 32,16)', widths)
    .addOption(new Option('--activation <name>', 'hidden activation (default tanh)').choices(['tanh', 'relu']))
    .option('--epochs <n>', 'float training epochs', positiveInt)
    .option('--qat-epochs <n>', 'quantization-aware epochs', nonNegativeInt)
    .option('--batch-size <n>', 'minibatch size', positiveInt)
    .option('--lr <x>', 'Adam step size', positiveNumber)
    .option('--weight-decay <x>', 'decoupled weight decay (AdamW)', (v) => {
      const n = Number(v);
      if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number >= 0, got "${v}"`);
      return n;
    })
    .option('--input-noise <signals,demographics>', 'SD of training input noise, standardised units (default 0.1,0.3)', noisePair)
    .option('--created <iso>', 'manifest "created" (pinned by default so bytes are reproducible)', isoTime)
    .action(async (flags: PretrainFlags) => {
      const { defaultPretrainConfig, pretrainBaseModel, writeModelFiles } = await import('../models/index.ts');
      const c = defaultPretrainConfig(flags.seed);
      const p = c.population;
      const config = {
        ...c,
        population: {
          ...p,
          trainUsers: flags.users ?? p.trainUsers,
          trainDays: flags.days ?? p.trainDays,
          evalDays: flags.evalDays ?? p.evalDays,
          evalDayUsers: flags.evalDayUsers ?? (flags.users !== undefined ? Math.min(flags.users, p.evalDayUsers ?? flags.users) : p.evalDayUsers),
          heldOutUsers: flags.heldOutUsers ?? p.heldOutUsers,
          heldOutDays: flags.heldOutDays ?? p.heldOutDays,
          startMs: flags.start !== undefined ? Date.parse(flags.start) : p.startMs,
        },
        hidden: flags.hidden ?? c.hidden,
        activation: flags.activation ?? c.activation,
        epochs: flags.epochs ?? c.epochs,
        qatEpochs: flags.qatEpochs ?? c.qatEpochs,
        batchSize: flags.batchSize ?? c.batchSize,
        lr: flags.lr ?? c.lr,
        weightDecay: flags.weightDecay ?? c.weightDecay,
        inputNoise: flags.inputNoise ?? c.inputNoise,
        created: flags.created ?? c.created,
      };
      const t0 = performance.now();
      const result = await pretrainBaseModel(config, log);
      await writeModelFiles(flags.out, result.files);
      log(`wrote ${Object.keys(result.files).join(', ')} to ${flags.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      process.stdout.write(new TextDecoder().decode(result.files['evaluation.md']));
    });

  model
    .command('evaluate')
    .description('re-run the held-out evaluation of a model directory (re-simulates its held-out data)')
    .requiredOption('--model <dir>', 'model directory written by `fedwear model pretrain`')
    .option('--json', 'print evaluation.json instead of the markdown tables')
    .action(async (flags: { model: string; json?: boolean }) => {
      const { evaluateModelDir } = await import('../models/index.ts');
      const { evaluation, markdown } = await evaluateModelDir(flags.model, log);
      process.stdout.write(flags.json ? `${JSON.stringify(evaluation, null, 2)}\n` : markdown);
    });
}
