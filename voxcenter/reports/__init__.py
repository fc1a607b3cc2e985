"""voxcenter.reports."""
