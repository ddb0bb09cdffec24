"""Running cells: the setting, caches, the method's context, evaluation, the runner, the store, suites, sweeps,
backends, populations."""
