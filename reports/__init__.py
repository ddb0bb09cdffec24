"""Renderings of the results store for people and tools: text tables, JSON and CSV."""
