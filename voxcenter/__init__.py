"""voxcenter: a contact-center telephony server in one asyncio process."""

__version__ = "0.1.0"
