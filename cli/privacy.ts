import type { Command } from 'commander';

export function registerPrivacy(program: Command): void {
  void program;
}
