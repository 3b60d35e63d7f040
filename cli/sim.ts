import type { Command } from 'commander';

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('Simulate wearables: wire-protocol frames to a serial port, a file or stdout, a JSONL dataset, a Firmata board on a serial port, or a Bluetooth LE GATT capture')
    .requiredOption('--duration <seconds>', 'simulated seconds')
    .option('--users <n>', 'number of simulated users', '1')
    .option('--seed <s>', 'integer seed (same seed, same records)', '1')
    .option('--start <time>', 'simulated start, epoch ms or ISO-8601 (default: now)')
    .option('--speed <x>', 'simulated seconds per real second; 0 or "max" = as fast as possible', '1')
    .option('--clusters <names>', 'comma-separated user clusters, assigned round-robin (default: all)')
    .option('--schedule <mode>', 'day (follow the clock) or session (back-to-back activity); default by duration')
    .option('--serial <path>', 'write frames to this serial port')
    .option('--firmata <path>', "serve one wearer's StandardFirmata board (pulse sensor on A0, step line on pin 2) on this serial port")
    .option('--gatt <file>', "write one wearer's Bluetooth LE notifications (Heart Rate 0x2A37, RSC 0x2A53) as JSON lines")
    .option('--baud <rate>', 'serial baud rate (default 115200; 57600 with --firmata)')
    .option('--out <file>', 'write frames to this file')
    .option('--stdout', 'write raw frames to stdout')
    .option('--dataset <dir>', 'write JSONL records, truth and users.json instead of frames')
    .action(async (opts: Record<string, unknown>) => {
      const { parseSimCommand, runSimCommand } = await import('../device-sim/index.ts');
      const cmd = parseSimCommand(opts);
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      try {
        await runSimCommand(cmd, { stdout: process.stdout, stderr: process.stderr, signal: abort.signal });
      } finally {
        process.off('SIGINT', stop);
      }
    });
}
