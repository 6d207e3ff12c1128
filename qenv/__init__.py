"""qenv: reinforcement-learning environments for allocating quantum resources."""

__version__ = "0.1.0"
