"""Training the queue's runs on a Ray cluster (VGG_CLUSTER): the head's backend, its relays, the workers' actor."""
