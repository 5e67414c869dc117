"""siamese_mnist: Siamese, triplet and CNN embeddings of MNIST, as a DVC pipeline (stages/ call this package)."""
