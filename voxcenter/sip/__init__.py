"""voxcenter's sans-IO SIP stack (RFC 3261 and friends)."""
