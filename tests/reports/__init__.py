"""Report and staffing tests."""
