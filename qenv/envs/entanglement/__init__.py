"""EntanglementAllocation-v0 (DPEM): dynamics, observation layout, regions and the env classes."""
