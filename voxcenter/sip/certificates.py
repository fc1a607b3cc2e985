"""Reading a TLS certificate's validity period (for the start-up log and ``voxcenter check``)."""

from __future__ import annotations

from cryptography import x509


def certificate_validity(path: str) -> tuple[float, float]:
    """When the first certificate of a PEM chain becomes valid and when it expires (Unix times).

    Raises OSError when the file cannot be read, ValueError when it holds no PEM certificate.
    """
    with open(path, "rb") as handle:
        certificate = x509.load_pem_x509_certificate(handle.read())
    return certificate.not_valid_before_utc.timestamp(), certificate.not_valid_after_utc.timestamp()
