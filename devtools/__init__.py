"""Development tools: what the README's run command, `.ci/services`, the tests and the benchmarks use
beside Conveyor itself (not installed with it)."""
