"""The contracts every layer shares: errors, registries and plugins, Configs and search spaces, the Method
interface, seed streams, shipped defaults."""
