"""The app's pages: each draws what the vgg package computes, and nothing more."""
