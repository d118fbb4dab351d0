"""Inside a trained model: predictions, where it looks, feature maps, filters, top and nearest images, evaluations."""
