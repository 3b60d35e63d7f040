import fc from 'fast-check';

// npm test runs property tests at a fixed seed so CI is deterministic; FC_SEED explores others
// (a failure prints its seed and path, so any counterexample can be replayed).
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261128) });
