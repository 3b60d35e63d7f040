import type { Command } from 'commander';

export function registerGateway(program: Command): void {
  void program;
}
