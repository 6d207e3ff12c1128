"""Allocation policies behind one interface: baselines now, learned PPO agents later."""
