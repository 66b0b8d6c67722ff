"""The runtime every paper shares: configuration, seeding, the training loop, checkpoints, tracking."""
