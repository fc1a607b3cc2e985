"""voxcenter.acd."""
