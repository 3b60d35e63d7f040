import type { Command } from 'commander';

export function registerSim(program: Command): void {
  void program;
}
