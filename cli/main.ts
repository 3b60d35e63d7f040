import { Command } from 'commander';
import { registerSim } from './sim.ts';
import { registerGateway } from './gateway.ts';
import { registerPrivacy } from './privacy.ts';
import { registerModel } from './model.ts';
import { registerDemo } from './demo.ts';
import { registerBench } from './bench.ts';
import { registerBroker } from './broker.ts';
import { registerAggregator } from './aggregator.ts';

/** Builds the one `fedwear` command. Each area adds its own subcommands; actions load their code lazily. */
export function buildProgram(): Command {
  const program = new Command('fedwear')
    .description('Private on-device learning for wearables: simulators, gateways, DP-SGD, an MQTT aggregator')
    .version('0.1.0')
    .showHelpAfterError();
  registerSim(program);
  registerGateway(program);
  registerPrivacy(program);
  registerModel(program);
  registerDemo(program);
  registerBench(program);
  registerBroker(program);
  registerAggregator(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`fedwear: ${message}\n`);
    process.exitCode = process.exitCode || 1;
  }
}
