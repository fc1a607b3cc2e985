"""voxcenter.media."""
