"""voxcenter.store."""
