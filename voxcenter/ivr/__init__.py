"""voxcenter.ivr."""
