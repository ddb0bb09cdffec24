"""Measuring honestly: the phase timer, CPU contention, the thread and OpenMP choice, the machine's description."""
