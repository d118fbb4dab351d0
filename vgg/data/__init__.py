"""CIFAR-10 on disk (loading, caching, the validation split, the training pipeline) and photos people upload."""
