/** The configured strategy (federation/strategies), built once at start so a bad value fails early. */
import { coordinateMedian, fedAdam, fedAvg, normBounding, trimmedMean, type RoundPolicy, type Strategy } from '../../federation/index.ts';
import type { AggregatorConfig } from './config.ts';

export function roundPolicyOf(config: AggregatorConfig): RoundPolicy {
  const t = config.training;
  return {
    durationMs: config.round.durationMs,
    quorum: config.mode === 'buffered' ? config.buffered!.bufferSize : config.round.quorum,
    // The announcement, not RoundConfig.dp, tells gateways the DP parameters: RoundPolicy has no
    // notion of an epsilon-per-round target, so with one the floor on sigma is left open.
    dp: { minNoiseMultiplier: t.noiseMultiplier ?? Number.MIN_VALUE, maxGradNorm: t.maxGradNorm, delta: t.delta, maxSampleRate: t.sampleRate },
    maxStaleness: config.mode === 'buffered' ? config.buffered!.maxStaleness : 0,
    updateNormBound: config.update.normBound,
  };
}

export function buildStrategy(config: AggregatorConfig): Strategy<unknown> {
  const round = roundPolicyOf(config);
  const s = config.strategy;
  // FedBuff's staleness discount (Nguyen et al. 2022) applies to the averaging strategies; the robust
  // ones ignore weights by design (federation/README.md).
  const staleness = config.mode === 'buffered' ? {} : undefined;
  switch (s.name) {
    case 'fedavg':
      return fedAvg({ round, serverLearningRate: s.serverLearningRate, staleness }) as Strategy<unknown>;
    case 'fedadam':
      return fedAdam({ round, serverLearningRate: s.serverLearningRate, beta1: s.beta1, beta2: s.beta2, tau: s.tau, staleness }) as Strategy<unknown>;
    case 'norm-bounding':
      return normBounding({ round, maxNorm: s.maxNorm, serverLearningRate: s.serverLearningRate, staleness }) as Strategy<unknown>;
    case 'coordinate-median':
      return coordinateMedian({ round, serverLearningRate: s.serverLearningRate }) as Strategy<unknown>;
    case 'trimmed-mean':
      return trimmedMean({ round, trimFraction: s.trimFraction, serverLearningRate: s.serverLearningRate }) as Strategy<unknown>;
  }
}
