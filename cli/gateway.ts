import { Option, type Command } from 'commander';
import { nonNegativeNumber, positiveInt, positiveNumber, uint32 } from './options.ts';

interface IngestFlags {
  serial?: string;
  in?: string;
  firmata?: string;
  gatt?: string;
  deviceId?: number;
  baud?: number;
  store: string;
  statsJson?: string;
  exitAfter?: number;
  idleExit?: number;
  duration?: number;
  printAcks?: boolean;
}

export function registerGateway(program: Command): void {
  const gateway = program.command('gateway').description('the per-user gateway: ingest, local store, (later) private training');

  gateway
    .command('ingest')
    .description('read a wearable stream (serial port, file, Firmata board or Bluetooth LE GATT capture) into the durable local store')
    .option('--serial <path>', 'serial device to read (reconnects when it disappears)')
    .option('--in <file>', 'read protocol frames from a file instead')
    .option('--firmata <path>', 'a StandardFirmata board (pulse sensor on A0, step line on pin 2) on this serial device')
    .option('--gatt <file>', 'replay a Bluetooth LE GATT capture (JSON lines, as fedwear sim --gatt writes) through the GATT record mapping')
    .option('--device-id <id>', 'device id for the records of --firmata or --gatt (default: derived from the path)', uint32)
    .option('--baud <rate>', 'serial baud rate (default 115200; 57600 with --firmata)', positiveInt)
    .requiredOption('--store <dir>', 'store directory (created if missing)')
    .option('--stats-json <file>', 'write the counters as JSON on exit')
    .option('--exit-after <n>', 'stop once N records are stored', positiveInt)
    .option('--idle-exit <seconds>', 'stop after this long without data', positiveNumber)
    .option('--duration <seconds>', 'stop after this long', nonNegativeNumber)
    .option('--print-acks', 'print {"event":"ack","recordsStored":N} on stdout after each fsync')
    .action(async (flags: IngestFlags) => {
      // runIngest checks that exactly one source was given, with the same message.
      const { runIngest } = await import('../gateway/index.ts');
      await runIngest({
        serial: flags.serial,
        inFile: flags.in,
        firmata: flags.firmata,
        gatt: flags.gatt,
        deviceId: flags.deviceId,
        baudRate: flags.baud,
        store: flags.store,
        statsJson: flags.statsJson,
        exitAfter: flags.exitAfter,
        idleExitS: flags.idleExit,
        durationS: flags.duration,
        ackStream: flags.printAcks ? process.stdout : undefined,
        log: (line) => process.stderr.write(line + '\n'),
      });
    });

  gateway
    .command('run')
    .description('the long-running gateway service: ingest, windows, live estimates over HTTP, private rounds over MQTT (template: gateway/gateway.example.yaml)')
    .requiredOption('--config <file>', 'gateway config, YAML or JSON')
    .action(async (flags: { config: string }) => {
      const { runGatewayService } = await import('../gateway/index.ts');
      await runGatewayService(flags.config);
    });
  gateway
    .command('outbox')
    .description('the durable outbox of messages for the broker')
    .command('requeue')
    .description("put the messages the broker refused (outbox/refused.jsonl) back in the outbox, once the cause is fixed; the service must be stopped")
    .requiredOption('--config <file>', 'gateway config, YAML or JSON')
    .action(async (flags: { config: string }) => {
      const { requeueRefused } = await import('../gateway/index.ts');
      process.stdout.write(JSON.stringify(requeueRefused(flags.config)) + '\n');
    });

  gateway
    .command('package')
    .description('build the tarball a single-board computer installs from: bundled gateway, linux/<arch> native parts, base model, service files (gateway/package/README.md)')
    .addOption(new Option('--arch <arch>', 'target CPU').choices(['arm64', 'x64']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'folder for the .tar.gz (created if missing)')
    .option('--release <version>', "the package's version (default: package.json's)")
    .action(async (flags: { arch: 'arm64' | 'x64'; out: string; release?: string }) => {
      const { buildGatewayPackage } = await import('../gateway/package/index.ts');
      const r = await buildGatewayPackage({ arch: flags.arch, outDir: flags.out, version: flags.release });
      const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
      process.stderr.write(`${r.tarball}: ${mb(r.tarballBytes)} (${mb(r.unpackedBytes)} unpacked, ${r.files} files)\n`);
      process.stdout.write(JSON.stringify(r) + '\n');
    });

  const store = gateway.command('store').description('inspect the local store');
  store
    .command('export')
    .description('print the stored records as JSON lines, oldest first')
    .requiredOption('--store <dir>', 'store directory')
    .action(async (flags: { store: string }) => {
      const fs = await import('node:fs');
      if (!fs.existsSync(flags.store)) throw new Error(`no store at ${flags.store}`);
      const { RecordStore } = await import('../gateway/index.ts');
      for (const rec of RecordStore.readAll(flags.store)) {
        if (!process.stdout.write(JSON.stringify(rec) + '\n')) {
          await new Promise((r) => process.stdout.once('drain', r));
        }
      }
    });
}
