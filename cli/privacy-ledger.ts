import { Option, type Command } from 'commander';
import type { AccountantName } from '../privacy/types.ts';
import type { LedgerVerdict } from '../privacy/index.ts';
import { positiveNumber } from './options.ts';

/** Adds `ledger verify` and `ledger keygen` under `fedwear privacy`. */
export function registerLedgerCommands(privacyCommand: Command): void {
  const ledger = privacyCommand.command('ledger').description('the privacy ledger: verify a ledger file, make its signing keys');

  ledger
    .command('verify')
    .description('recompute epsilon from a ledger file, check its hash chain and signatures; exits 1 on any fault')
    .argument('<file>', 'ledger file (JSON lines)')
    .option('--public-key <pemfile>', "the gateway's Ed25519 public key (PEM); without it signatures are NOT checked")
    .addOption(new Option('--accountant <name>', 'accountant to recompute with (default: the one the ledger names)').choices(['rdp', 'prv']))
    .option('--delta <delta>', "the budget's delta (default: the first entry's)", positiveNumber)
    .option('--json', 'print the verdict as JSON')
    .action(async (file: string, opts: { publicKey?: string; accountant?: AccountantName; delta?: number; json?: boolean }) => {
      const lib = await import('../privacy/index.ts');
      const parsed = await lib.readLedgerFile(file);
      const named = parsed.lines.find((l) => l.check.ok);
      const accountantName: AccountantName = opts.accountant ?? (named?.check.ok ? named.check.entry.spend.accountant : 'rdp');
      const verdict = lib.verifyParsedLedger(parsed, {
        publicKey: opts.publicKey ? await lib.readPublicKeyFile(opts.publicKey) : null,
        accountant: await lib.loadAccountant(accountantName),
        ...(opts.delta !== undefined ? { delta: opts.delta } : {}),
      });
      process.stdout.write(opts.json ? JSON.stringify({ file, ...verdict }, null, 2) + '\n' : describeVerdict(file, verdict));
      if (!verdict.ok) process.exitCode = 1;
    });

  ledger
    .command('keygen')
    .description('write a new Ed25519 key pair for signing a ledger (private key mode 0600)')
    .requiredOption('--out <dir>', 'directory for ledger-key.pem and ledger-key.pub.pem (created if missing)')
    .action(async (opts: { out: string }) => {
      const { writeLedgerKeyPair } = await import('../privacy/index.ts');
      const k = await writeLedgerKeyPair(opts.out);
      process.stdout.write(`key id ${k.keyId}\nprivate key ${k.privateKeyPath} (0600)\npublic key  ${k.publicKeyPath}\n`);
    });
}

function describeVerdict(file: string, v: LedgerVerdict): string {
  const out = [`ledger ${file}: ${v.entries} entr${v.entries === 1 ? 'y' : 'ies'}`];
  if (v.tornTail) out.push(`torn tail at line ${v.tornTail.line} (${v.tornTail.bytes} bytes): an unfinished write, never acknowledged; ignored`);
  out.push(`epsilon ${v.epsilon} recomputed (${v.accountant}${v.delta !== null ? `, delta ${v.delta}` : ''})${v.claimedEpsilon !== null ? `; last entry claims ${v.claimedEpsilon}` : ''}`);
  out.push(v.signaturesChecked ? `signatures checked with key ${v.keyId}` : 'signatures NOT checked (no --public-key)');
  if (v.head) out.push(`head index ${v.head.index} hash ${v.head.hash}`);
  if (v.ok) out.push('verdict: OK');
  else {
    out.push(`verdict: FAILED, ${v.faults.length} fault${v.faults.length === 1 ? '' : 's'}`);
    for (const f of v.faults) out.push(`  ${f.line !== undefined ? `line ${f.line} ` : ''}(entry ${f.index}) ${f.kind}: ${f.detail}`);
  }
  return out.join('\n') + '\n';
}
