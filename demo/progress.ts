/** The demo's terminal progress: cli-progress bars on stderr, one status line per step above them. */
import cliProgress from 'cli-progress';
import type { DemoProgress } from './federated-demo.ts';

const LABELS: Record<string, string> = { simulate: 'simulating users', gateways: 'gateways fed   ', rounds: 'rounds         ' };

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): DemoProgress {
  // Without a terminal, bars would print escape codes into logs: plain lines instead.
  if (!stream.isTTY) {
    const counts = new Map<string, [number, number]>();
    return {
      log: (line) => void stream.write(line + '\n'),
      phase: (name, total) => void counts.set(name, [0, total]),
      tick: (name, status) => {
        const c = counts.get(name) ?? [0, 0];
        c[0]++;
        counts.set(name, c);
        if (name === 'rounds' || name === 'gateways') stream.write(`[${name} ${c[0]}/${c[1]}] ${status ?? ''}\n`);
      },
      done: () => undefined,
    };
  }
  const multi = new cliProgress.MultiBar(
    { stream, format: '{label} [{bar}] {value}/{total} {status}', hideCursor: true, clearOnComplete: false, barsize: 30 },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    log: (line) => multi.log(line + '\n'),
    phase: (name, total) => bars.set(name, multi.create(total, 0, { label: LABELS[name] ?? name, status: '' })),
    tick: (name, status) => {
      bars.get(name)?.increment(1, { status: (status ?? '').slice(0, 60) });
      if (status && (name === 'rounds' || name === 'gateways')) multi.log(status + '\n');
    },
    done: () => multi.stop(),
  };
}
