// Package health tracks a factomd's block height against reference nodes and turns it into cached readiness, liveness and startup verdicts.
package health
