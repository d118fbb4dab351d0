"""The VGG family in Keras: the builder, layer names, batch norm, whitening, widening, and the device it runs on."""
