"""The forgetting scenarios every layer names."""

SCENARIOS = ("class", "partial", "random", "subclass")  # whole classes, part of classes, random rows, a fine class
