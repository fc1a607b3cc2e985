"""voxcenter.api."""
