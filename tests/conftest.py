"""Test-suite settings: hypothesis runs derandomized, so a run is reproducible in CI."""

from hypothesis import settings

settings.register_profile("qenv", derandomize=True, print_blob=True)
settings.load_profile("qenv")
