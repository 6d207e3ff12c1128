"""Training stack: RLlib PPO, federated averaging with differential privacy."""
