"""QPUAllocation-v0: dispatching quantum tasks to heterogeneous QPUs (DESIGN.md §4)."""
