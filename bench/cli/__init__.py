"""The `unlearnbench` command line, a thin layer over the Python API and the execution layer."""
